// control.ts — the test controls over HTTP, under `/__test/`, for a stand-in running in another process (the lab).
// In-process tests use the ApiServer handle instead. These paths bypass fault injection and the request log.
//
//   POST   /__test/compact        forget watch history (watches from older resourceVersions get 410)
//   POST   /__test/drop-watches   end every open watch stream
//   POST   /__test/fail-next      body {"count":N,"code":503,"message":"…","match":{"verb":"watch","resource":"services"}}
//   POST   /__test/unavailable    body {"unavailable":true|false}: 503 for every API request while true
//   POST   /__test/reset          clear pending failures and the unavailable switch
//   GET    /__test/requests       the request log (query: verb, resource, namespace, name, method)
//   DELETE /__test/requests       clear the request log

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Faults, RequestLog, RequestMatch, Verb } from './faults.ts';
import { sendJSON } from './handlers.ts';
import { isRecord } from './object.ts';
import type { Store } from './store.ts';

/** ControlDeps are the server parts the control paths act on. */
export interface ControlDeps {
  readonly store: Store;
  readonly faults: Faults;
  readonly log: RequestLog;
  readonly dropWatches: () => number;
}

function parse(body: string): Record<string, unknown> {
  try {
    const v: unknown = body.trim() ? JSON.parse(body) : {};
    return isRecord(v) ? v : {};
  } catch {
    return {};
  }
}

function matchFrom(v: unknown): RequestMatch | undefined {
  if (!isRecord(v)) return undefined;
  const str = (k: string): string | undefined => (typeof v[k] === 'string' ? (v[k] as string) : undefined);
  return {
    method: str('method'),
    verb: str('verb') as Verb | undefined,
    resource: str('resource'),
    namespace: str('namespace'),
    name: str('name'),
    subresource: str('subresource'),
    path: str('path'),
  };
}

/** makeControl returns the `/__test/` handler; false means "not a control path". */
export function makeControl(
  deps: ControlDeps,
): (req: IncomingMessage, res: ServerResponse, url: URL, body: string) => boolean {
  return (req, res, url, body) => {
    const action = `${req.method ?? 'GET'} ${url.pathname.slice('/__test/'.length)}`;
    const args = parse(body);
    switch (action) {
      case 'POST compact':
        deps.store.compact();
        sendJSON(res, 200, { resourceVersion: deps.store.resourceVersion });
        return true;
      case 'POST drop-watches':
        sendJSON(res, 200, { dropped: deps.dropWatches() });
        return true;
      case 'POST fail-next': {
        const count = typeof args['count'] === 'number' ? args['count'] : 1;
        const code = typeof args['code'] === 'number' ? args['code'] : undefined;
        const message = typeof args['message'] === 'string' ? args['message'] : undefined;
        deps.faults.failNext(count, { code, message, match: matchFrom(args['match']) });
        sendJSON(res, 200, { pending: count });
        return true;
      }
      case 'POST unavailable': {
        const on = args['unavailable'] !== false;
        deps.faults.setUnavailable(on);
        if (on) deps.dropWatches();
        sendJSON(res, 200, { unavailable: on });
        return true;
      }
      case 'POST reset':
        deps.faults.reset();
        sendJSON(res, 200, {});
        return true;
      case 'GET requests': {
        const q = Object.fromEntries(url.searchParams);
        sendJSON(res, 200, { items: deps.log.entries(matchFrom(q)) });
        return true;
      }
      case 'DELETE requests':
        deps.log.clear();
        sendJSON(res, 200, {});
        return true;
      default:
        return false;
    }
  };
}
