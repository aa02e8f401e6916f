// rules.ts — the API server's write rules as pure functions over (stored object, incoming object): type meta,
// server-managed metadata, optimistic concurrency, the status subresource split, generation, deletion
// preconditions and finalizers. The store decides *where* objects live; these decide *what* gets written.

import { randomUUID } from 'node:crypto';
import { badRequest, conflict, invalid, type StatusCause } from './errors.ts';
import { hooksFor, type ServiceAllocator, validateMeta } from './kinds.ts';
import { clone, deepEqual, type KubeObject, rfc3339, toKubeObject } from './object.ts';
import type { ResourceDef } from './resources.ts';

/** decodeBody copies a request body into a KubeObject, or throws 400. */
export function decodeBody(body: unknown): KubeObject {
  const obj = toKubeObject(clone(body));
  if (!obj) throw badRequest('the body of the request must be a JSON object with an object metadata');
  return obj;
}

/** checkTypeMeta refuses a body of another kind and fills apiVersion/kind when absent (the URL decides them). */
export function checkTypeMeta(def: ResourceDef, obj: KubeObject): void {
  if (obj.apiVersion !== undefined && obj.apiVersion !== def.groupVersion) {
    throw badRequest(
      `the API version in the data (${obj.apiVersion}) does not match the expected API version (${def.groupVersion})`,
    );
  }
  if (obj.kind !== undefined && obj.kind !== def.kind) {
    throw badRequest(`the kind in the data (${obj.kind}) does not match the expected kind (${def.kind})`);
  }
  obj.apiVersion = def.groupVersion;
  obj.kind = def.kind;
}

/** checkURLName: the object's name must be the one in the URL. */
export function checkURLName(obj: KubeObject, urlName: string): void {
  if (obj.metadata.name !== urlName) {
    throw badRequest(
      `the name of the object (${obj.metadata.name ?? ''}) does not match the name on the URL (${urlName})`,
    );
  }
}

/** validate runs the common and per-kind validation; a decode-level failure is a 400, the rest one 422. */
export function validate(def: ResourceDef, obj: KubeObject, prev: KubeObject | undefined): void {
  const causes: StatusCause[] = [...validateMeta(def, obj), ...(hooksFor(def).validate?.(obj, prev) ?? [])];
  const decode = causes.find((c) => c.reason === 'BadRequest');
  if (decode) {
    throw badRequest(`${def.kind} in version "${def.version}" cannot be handled as a ${def.kind}: ${decode.message}`);
  }
  if (causes.length > 0) throw invalid(def.kind, def.group, obj.metadata.name ?? '', causes);
}

/** prepareCreate stamps server-managed metadata on a new object, applies defaults and validates it. */
export function prepareCreate(def: ResourceDef, obj: KubeObject, now: Date, alloc: ServiceAllocator): void {
  const m = obj.metadata;
  m.uid = randomUUID();
  m.creationTimestamp = rfc3339(now);
  delete m.deletionTimestamp;
  delete m.deletionGracePeriodSeconds;
  if (def.custom) m.generation = 1;
  else delete m.generation;
  hooksFor(def).applyDefaults?.(obj, undefined, alloc);
  validate(def, obj, undefined);
}

function specPart(o: KubeObject): unknown {
  const { metadata: _m, status: _s, apiVersion: _a, kind: _k, ...rest } = o;
  return rest;
}

/** UpdateMode: which endpoint wrote, and whether a PUT without resourceVersion is refused (custom resources). */
export interface UpdateMode {
  readonly subresource: 'status' | undefined;
  readonly requireRV: boolean;
}

/**
 * prepareUpdate builds the object an update or patch stores (its resourceVersion still the old one). A stale
 * `metadata.resourceVersion` is a 409. A `/status` write takes only status from the body; a main-endpoint
 * write ignores status when the kind has a status subresource. uid, creationTimestamp, generation and
 * deletion fields always come from the stored object; generation goes up when a custom resource's spec changes.
 */
export function prepareUpdate(
  def: ResourceDef,
  prev: KubeObject,
  incoming: KubeObject,
  mode: UpdateMode,
  alloc: ServiceAllocator,
): KubeObject {
  const name = prev.metadata.name ?? '';
  const rv = incoming.metadata.resourceVersion;
  if (rv && rv !== prev.metadata.resourceVersion) throw conflict(def, name);
  if (!rv && mode.requireRV && def.custom) {
    throw invalid(def.kind, def.group, name, [
      { field: 'metadata.resourceVersion', message: 'Invalid value: 0x0: must be specified for an update' },
    ]);
  }
  let next: KubeObject;
  if (mode.subresource === 'status') {
    next = clone(prev);
    if (incoming['status'] === undefined) delete next['status'];
    else next['status'] = clone(incoming['status']);
  } else {
    next = clone(incoming);
    const p = prev.metadata;
    next.metadata = { ...next.metadata, name: p.name, uid: p.uid, creationTimestamp: p.creationTimestamp };
    if (def.namespaced) next.metadata.namespace = p.namespace;
    const meta: Record<string, unknown> = next.metadata;
    for (const f of ['generation', 'deletionTimestamp', 'deletionGracePeriodSeconds']) {
      if (p[f] === undefined) delete meta[f];
      else meta[f] = p[f];
    }
    if (def.hasStatus) {
      if (prev['status'] === undefined) delete next['status'];
      else next['status'] = clone(prev['status']);
    }
    hooksFor(def).applyDefaults?.(next, prev, alloc);
  }
  next.metadata.resourceVersion = prev.metadata.resourceVersion;
  validate(def, next, prev);
  if (def.custom && !deepEqual(specPart(next), specPart(prev))) {
    next.metadata.generation = (prev.metadata.generation ?? 1) + 1;
  }
  return next;
}

/** isNoop: a write that changes nothing is not written (same resourceVersion, no watch event), as on etcd. */
export function isNoop(prev: KubeObject, next: KubeObject): boolean {
  return deepEqual(next, prev);
}

/** finalized: the object was being deleted and its last finalizer is gone, so the update deletes it. */
export function finalized(next: KubeObject): boolean {
  return !!next.metadata.deletionTimestamp && !next.metadata.finalizers?.length;
}

/** Preconditions are DeleteOptions.preconditions. */
export interface Preconditions {
  readonly uid?: string | undefined;
  readonly resourceVersion?: string | undefined;
}

/** checkPreconditions throws 409 when a delete's preconditions do not hold. */
export function checkPreconditions(def: ResourceDef, prev: KubeObject, pre: Preconditions | undefined): void {
  const name = prev.metadata.name ?? '';
  if (pre?.uid && pre.uid !== prev.metadata.uid) {
    throw conflict(
      def,
      name,
      `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${prev.metadata.uid}`,
    );
  }
  if (pre?.resourceVersion && pre.resourceVersion !== prev.metadata.resourceVersion) {
    const meta = prev.metadata.resourceVersion;
    throw conflict(
      def,
      name,
      `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in meta: ${meta}`,
    );
  }
}

/** markDeleting is a delete of an object with finalizers: set deletionTimestamp and keep it. */
export function markDeleting(def: ResourceDef, prev: KubeObject, now: Date): KubeObject {
  const next = clone(prev);
  next.metadata.deletionTimestamp = rfc3339(now);
  next.metadata.deletionGracePeriodSeconds = 0;
  if (def.custom) next.metadata.generation = (prev.metadata.generation ?? 1) + 1;
  return next;
}
