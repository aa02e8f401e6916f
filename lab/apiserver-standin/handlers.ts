// handlers.ts — one HTTP request to one store call: read the body, pick the verb from method + path + `watch`,
// decode by Content-Type, and answer with the object, the list, or the failure as a Status (always JSON).

import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseYaml } from 'yaml';
import {
  type ApiError,
  badRequest,
  internalError,
  methodNotAllowed,
  successStatus,
  unsupportedMediaType,
} from './errors.ts';
import type { Faults, RequestLog, RequestRecord, Verb } from './faults.ts';
import { isRecord } from './object.ts';
import { CONTENT_TYPES, patchTypeOf } from './patch.ts';
import { qualifiedName, type Registry } from './resources.ts';
import { type ResourceRoute, route } from './router.ts';
import { isApiError, type Store } from './store.ts';
import { type OpenWatch, serveWatch, type WatchStreamOptions } from './watch.ts';

/** HandlerDeps is everything a request needs; the server owns all of it. */
export interface HandlerDeps {
  readonly store: Store;
  readonly registry: Registry;
  readonly faults: Faults;
  readonly log: RequestLog;
  readonly openWatches: Set<OpenWatch>;
  readonly watch: WatchStreamOptions;
  /** serverAddress is `host:port`, for `GET /api`. */
  readonly serverAddress: () => string;
  /** control handles `/__test/…`; returns false when the path is not a control path. */
  readonly control: (req: IncomingMessage, res: ServerResponse, url: URL, body: string) => boolean;
}

/** sendJSON writes a complete JSON response. */
export function sendJSON(res: ServerResponse, code: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function sendError(res: ServerResponse, err: unknown): void {
  const e: ApiError = isApiError(err) ? err : internalError(err instanceof Error ? err.message : String(err));
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const retryAfter = e.status.details?.retryAfterSeconds;
  sendJSON(res, e.status.code, e.status, retryAfter === undefined ? {} : { 'Retry-After': String(retryAfter) });
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function mediaType(req: IncomingMessage): string {
  return (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

/** decodeObject parses a POST/PUT body: JSON, or YAML when sent as application/yaml. */
function decodeObject(req: IncomingMessage, body: string): unknown {
  const type = mediaType(req);
  if (type !== '' && type !== 'application/json' && type !== 'application/yaml' && type !== '*/*') {
    throw unsupportedMediaType(type, ['application/json', 'application/yaml']);
  }
  try {
    return type === 'application/yaml' ? parseYaml(body) : JSON.parse(body);
  } catch (err) {
    throw badRequest(`the body of the request could not be decoded: ${(err as Error).message}`);
  }
}

function verbOf(method: string, r: ResourceRoute, query: URLSearchParams): Verb {
  const watch = r.watchPath || query.get('watch') === 'true' || query.get('watch') === '1';
  switch (method) {
    case 'GET':
      if (watch) return 'watch';
      return r.name === undefined ? 'list' : 'get';
    case 'POST':
      return 'create';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return r.name === undefined ? 'deletecollection' : 'delete';
    default:
      return 'unknown';
  }
}

function listObject(r: ResourceRoute, result: ReturnType<Store['list']>): Record<string, unknown> {
  const metadata: Record<string, unknown> = { resourceVersion: result.resourceVersion };
  if (result.continue) metadata['continue'] = result.continue;
  return { kind: `${r.def.kind}List`, apiVersion: r.def.groupVersion, metadata, items: result.items };
}

function serveResource(
  deps: HandlerDeps,
  req: IncomingMessage,
  res: ServerResponse,
  r: ResourceRoute,
  verb: Verb,
  query: URLSearchParams,
  body: string,
): void {
  const { store } = deps;
  const def = r.def;
  const dryRun = query.get('dryRun') === 'All';
  const selectors = {
    namespace: r.namespace,
    labelSelector: query.get('labelSelector') ?? undefined,
    fieldSelector: query.get('fieldSelector') ?? undefined,
  };
  const name = r.name ?? '';
  switch (verb) {
    case 'get':
      sendJSON(res, 200, store.mustGet(def, r.namespace, name));
      return;
    case 'list': {
      const limit = Number(query.get('limit') ?? 0);
      const cont = query.get('continue') ?? undefined;
      sendJSON(res, 200, listObject(r, store.list(def, { ...selectors, limit, continue: cont })));
      return;
    }
    case 'watch':
      serveWatch(res, r, query, store, deps.openWatches, deps.watch);
      return;
    case 'create':
      if (r.name !== undefined) throw methodNotAllowed();
      sendJSON(res, 201, store.create(def, decodeObject(req, body), { namespace: r.namespace, dryRun }));
      return;
    case 'update': {
      const obj = store.update(def, decodeObject(req, body), {
        namespace: r.namespace,
        name,
        subresource: r.subresource,
        dryRun,
      });
      sendJSON(res, 200, obj);
      return;
    }
    case 'patch': {
      const type = patchTypeOf(req.headers['content-type']);
      if (!type) throw unsupportedMediaType(mediaType(req), Object.keys(CONTENT_TYPES));
      let patch: unknown;
      try {
        patch = type === 'apply' ? parseYaml(body) : JSON.parse(body);
      } catch (err) {
        throw badRequest(`the patch could not be decoded: ${(err as Error).message}`);
      }
      const fieldManager = query.get('fieldManager') ?? undefined;
      const out = store.patch(def, r.namespace, name, type, patch, {
        subresource: r.subresource,
        fieldManager,
        dryRun,
      });
      sendJSON(res, out.created ? 201 : 200, out.object);
      return;
    }
    case 'delete': {
      if (r.subresource) throw methodNotAllowed();
      const opts = body.trim() ? decodeObject(req, body) : {};
      const pre = isRecord(opts) && isRecord(opts['preconditions']) ? opts['preconditions'] : {};
      const { object, deleted } = store.delete(def, r.namespace, name, {
        dryRun,
        preconditions: {
          uid: typeof pre['uid'] === 'string' ? pre['uid'] : undefined,
          resourceVersion: typeof pre['resourceVersion'] === 'string' ? pre['resourceVersion'] : undefined,
        },
      });
      const answer = deleted && !def.deleteReturnsObject ? successStatus(def, name, object.metadata.uid) : object;
      sendJSON(res, 200, answer);
      return;
    }
    case 'deletecollection': {
      if (r.subresource) throw methodNotAllowed();
      const items = store.deleteCollection(def, { ...selectors, dryRun });
      sendJSON(res, 200, listObject(r, { items, resourceVersion: store.resourceVersion }));
      return;
    }
    default:
      throw methodNotAllowed();
  }
}

function describe(rec: RequestRecord, r: ResourceRoute, verb: Verb): void {
  rec.verb = verb;
  rec.resource = qualifiedName(r.def);
  rec.namespace = r.namespace;
  rec.name = r.name;
  rec.subresource = r.subresource;
}

/** makeHandler returns the server's request listener. */
export function makeHandler(deps: HandlerDeps): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    void handle(deps, req, res).catch((err: unknown) => sendError(res, err));
  };
}

async function handle(deps: HandlerDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://stand-in');
  const method = (req.method ?? 'GET').toUpperCase();
  const body = await readBody(req);
  if (url.pathname.startsWith('/__test/') && deps.control(req, res, url, body)) return;
  const rec = deps.log.start(method, url.pathname, url.searchParams, req.headers['content-type']);
  res.on('close', () => {
    rec.status = res.statusCode;
  });
  try {
    const r = route(url.pathname, deps.registry, deps.serverAddress());
    if (r.type === 'resource') describe(rec, r, verbOf(method, r, url.searchParams));
    else rec.verb = 'discovery';
    const fault = deps.faults.take(rec);
    if (fault) {
      rec.injected = true;
      throw fault;
    }
    if (r.type === 'health') {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('ok');
      return;
    }
    if (r.type === 'document') {
      if (method !== 'GET') throw methodNotAllowed();
      sendJSON(res, 200, r.body);
      return;
    }
    serveResource(deps, req, res, r, rec.verb, url.searchParams, body);
  } catch (err) {
    sendError(res, err);
  }
}
