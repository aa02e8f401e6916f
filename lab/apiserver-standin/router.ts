// router.ts — turns a request path into what it names: a discovery document, a health probe, or a resource
// (collection, object or subresource, with its namespace). Paths follow the real server:
//   /api/v1/[watch/][namespaces/{ns}/]{plural}[/{name}[/{subresource}]]
//   /apis/{group}/{version}/[watch/][namespaces/{ns}/]{plural}[/{name}[/{subresource}]]

import { pathNotFound } from './errors.ts';
import {
  apiGroupDoc,
  apiGroupListDoc,
  apiResourceListDoc,
  apiVersionsDoc,
  type Registry,
  type ResourceDef,
  versionDoc,
} from './resources.ts';

/** ResourceRoute is a request for a collection, an object or an object's subresource. */
export interface ResourceRoute {
  readonly type: 'resource';
  readonly def: ResourceDef;
  /** namespace from the path; undefined for cluster-scoped kinds and for all-namespaces collections. */
  readonly namespace: string | undefined;
  readonly name: string | undefined;
  readonly subresource: 'status' | undefined;
  /** watchPath: the deprecated `/watch/` path form, which means `?watch=true`. */
  readonly watchPath: boolean;
}

export type Route =
  | { readonly type: 'document'; readonly body: Record<string, unknown> }
  | { readonly type: 'health' }
  | ResourceRoute;

// Subresources of a namespace, which would otherwise read as "namespaces/{ns}/{plural}".
const NAMESPACE_SUBRESOURCES = new Set(['status', 'finalize']);

function resourceRoute(
  def: ResourceDef | undefined,
  rest: readonly string[],
  namespace: string | undefined,
  watchPath: boolean,
): ResourceRoute {
  if (!def || rest.length > 3) throw pathNotFound();
  const [, name, sub] = rest;
  if (def.namespaced === false && namespace !== undefined) throw pathNotFound();
  if (def.namespaced && namespace === undefined && name !== undefined) throw pathNotFound();
  if (sub !== undefined && !(sub === 'status' && def.hasStatus)) throw pathNotFound();
  return { type: 'resource', def, namespace, name, subresource: sub === undefined ? undefined : 'status', watchPath };
}

/** route resolves a path; throws the 404 Status for anything the stand-in does not serve. */
export function route(pathname: string, registry: Registry, serverAddress: string): Route {
  let segments: string[];
  try {
    segments = pathname
      .split('/')
      .filter((s) => s !== '')
      .map(decodeURIComponent);
  } catch {
    throw pathNotFound();
  }
  const [root, a, b] = segments;
  if (segments.length === 1 && (root === 'healthz' || root === 'livez' || root === 'readyz')) return { type: 'health' };
  if (segments.length === 1 && root === 'version') return { type: 'document', body: versionDoc() };
  let group: string;
  let version: string;
  let rest: string[];
  if (root === 'api') {
    if (segments.length === 1) return { type: 'document', body: apiVersionsDoc(serverAddress) };
    if (a !== 'v1') throw pathNotFound();
    group = '';
    version = 'v1';
    rest = segments.slice(2);
  } else if (root === 'apis') {
    if (segments.length === 1) return { type: 'document', body: apiGroupListDoc(registry) };
    if (segments.length === 2) {
      const doc = apiGroupDoc(registry, a ?? '');
      if (!doc) throw pathNotFound();
      return { type: 'document', body: doc };
    }
    group = a ?? '';
    version = b ?? '';
    rest = segments.slice(3);
  } else {
    throw pathNotFound();
  }
  if (rest.length === 0) {
    const doc = apiResourceListDoc(registry, group, version);
    if (!doc) throw pathNotFound();
    return { type: 'document', body: doc };
  }
  const watchPath = rest[0] === 'watch';
  if (watchPath) rest = rest.slice(1);
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3 && !NAMESPACE_SUBRESOURCES.has(rest[2] ?? '')) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  return resourceRoute(registry.byPath(group, version, rest[0] ?? ''), rest, namespace, watchPath);
}
