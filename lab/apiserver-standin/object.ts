// object.ts — the plain-JSON shape of a stored object and the small helpers every other file uses on it.

/** ObjectMeta is the part of meta/v1 ObjectMeta the stand-in reads or writes; the rest passes through. */
export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  [field: string]: unknown;
}

/** KubeObject is any object as JSON: apiVersion, kind, metadata and whatever else its kind has. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  [field: string]: unknown;
}

/** JsonRecord is a JSON object whose fields are not yet known. */
export type JsonRecord = Record<string, unknown>;

/** isRecord is true for a JSON object (not an array, not null). */
export function isRecord(value: unknown): value is JsonRecord {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** asRecord returns value when it is a JSON object, else undefined. */
export function asRecord(value: unknown): JsonRecord | undefined {
  return isRecord(value) ? value : undefined;
}

/** clone deep-copies JSON data, so nothing the store hands out aliases what it keeps. */
export function clone<T>(value: T): T {
  return structuredClone(value);
}

/** deepEqual compares JSON values; key order does not matter. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((v, i) => deepEqual(v, b[i]));
  }
  if (isRecord(a) && isRecord(b)) {
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined);
    return ka.length === kb.length && ka.every((k) => deepEqual(a[k], b[k]));
  }
  return false;
}

/** getPath reads a dotted path (`spec.clusterIP`); undefined when any step is missing. */
export function getPath(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const step of path.split('.')) {
    if (!isRecord(cur)) return undefined;
    cur = cur[step];
  }
  return cur;
}

/** toKubeObject checks that a parsed body is an object with an object `metadata` (added when absent). */
export function toKubeObject(value: unknown): KubeObject | undefined {
  if (!isRecord(value)) return undefined;
  if (value['metadata'] === undefined || value['metadata'] === null) value['metadata'] = {};
  if (!isRecord(value['metadata'])) return undefined;
  return value as KubeObject;
}

/** rfc3339 formats a time the way metav1.Time does: whole seconds, UTC (`2024-05-01T10:00:00Z`). */
export function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
