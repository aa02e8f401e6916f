// patch.ts — the four patch types the API server accepts, as pure functions over JSON values:
//   JSON merge patch (RFC 7386), JSON patch (RFC 6902), a strategic-merge-patch subset, and server-side apply
//   (treated as a JSON merge patch: no field ownership, no removal of fields another manager set).
// Functions never mutate their inputs; they throw PatchError, which the store turns into a 422.

import { clone, deepEqual, isRecord, type JsonRecord } from './object.ts';

/** PatchType names a patch by its Content-Type. */
export type PatchType = 'json' | 'merge' | 'strategic' | 'apply';

/** CONTENT_TYPES maps each patch Content-Type (client-node's PatchStrategy values) to its type. */
export const CONTENT_TYPES: Readonly<Record<string, PatchType>> = {
  'application/json-patch+json': 'json',
  'application/merge-patch+json': 'merge',
  'application/strategic-merge-patch+json': 'strategic',
  'application/apply-patch+yaml': 'apply',
};

/** patchTypeOf reads a Content-Type header (parameters ignored); undefined for anything that is not a patch. */
export function patchTypeOf(contentType: string | undefined): PatchType | undefined {
  const bare = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  return CONTENT_TYPES[bare];
}

/** PatchError is a patch that cannot be applied (bad operation, failed `test`, missing path). */
export class PatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PatchError';
  }
}

// ---- RFC 7386 JSON merge patch ----

/** mergePatch applies an RFC 7386 merge patch: objects merge recursively, null deletes, anything else replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isRecord(patch)) return clone(patch);
  const out: JsonRecord = isRecord(target) ? clone(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

// ---- strategic merge patch (subset) ----

/** SET marks a list of scalars merged as a set (`patchStrategy:"merge"` on a []string). */
const SET = Symbol('set');

/**
 * MERGE_KEYS lists the lists that strategic merge patch merges instead of replacing, by path from the object
 * root (`[]` steps into list items), with their `patchMergeKey`. Every other list is replaced, as lists
 * without a patch strategy are. Custom resources refuse strategic merge patches, so only built-in kinds appear.
 */
const MERGE_KEYS: ReadonlyMap<string, string | typeof SET> = new Map<string, string | typeof SET>([
  ['metadata.finalizers', SET],
  ['metadata.ownerReferences', 'uid'],
  ['spec.ports', 'port'], // Service
  ['status.conditions', 'type'], // Service, Node, Pod
  ['status.addresses', 'type'], // Node
  ['spec.containers', 'name'],
  ['spec.initContainers', 'name'],
  ['spec.volumes', 'name'],
  ['spec.containers[].env', 'name'],
  ['spec.containers[].ports', 'containerPort'],
  ['spec.containers[].volumeMounts', 'mountPath'],
]);

const DIRECTIVE = '$patch';
const RETAIN_KEYS = '$retainKeys';
const SET_ORDER_PREFIX = '$setElementOrder/';
const DELETE_FROM_PRIMITIVE_PREFIX = '$deleteFromPrimitiveList/';

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

function mergeList(current: unknown, patch: readonly unknown[], path: string): unknown[] {
  const strategy = MERGE_KEYS.get(path);
  const base = Array.isArray(current) ? clone(current) : [];
  if (strategy === undefined) {
    return clone([...patch]);
  }
  if (strategy === SET) {
    const out = [...base];
    for (const v of patch) if (!out.some((o) => deepEqual(o, v))) out.push(clone(v));
    return out;
  }
  if (patch.some((p) => isRecord(p) && p[DIRECTIVE] === 'replace')) {
    return patch.filter((p) => !(isRecord(p) && p[DIRECTIVE] === 'replace')).map((p) => clone(p));
  }
  const itemPath = `${path}[]`;
  let out = base;
  for (const p of patch) {
    if (!isRecord(p)) throw new PatchError(`${path}: list with merge key "${strategy}" holds a non-object`);
    const key = p[strategy];
    if (key === undefined) throw new PatchError(`${path}: item lacks merge key "${strategy}"`);
    const at = out.findIndex((o) => isRecord(o) && deepEqual(o[strategy], key));
    if (p[DIRECTIVE] === 'delete') {
      if (at >= 0) out = out.filter((_, i) => i !== at);
      continue;
    }
    if (at >= 0) out[at] = strategicPatch(out[at], p, itemPath);
    else out.push(strategicPatch(undefined, p, itemPath));
  }
  return out;
}

/**
 * strategicPatch applies a strategic merge patch: merge-patch semantics, plus merging of the lists in MERGE_KEYS by
 * key, `$patch: replace|delete` on maps and list items, `$retainKeys` and `$deleteFromPrimitiveList/<field>`.
 * `$setElementOrder/<field>` is accepted and ignored (list order is kept as merged).
 */
export function strategicPatch(target: unknown, patch: unknown, path = ''): unknown {
  if (Array.isArray(patch)) return mergeList(target, patch, path);
  if (!isRecord(patch)) return clone(patch);
  const directive = patch[DIRECTIVE];
  if (directive === 'replace') {
    const { [DIRECTIVE]: _, ...rest } = patch;
    return clone(rest);
  }
  if (directive !== undefined && directive !== 'merge') throw new PatchError(`${path}: unknown $patch "${directive}"`);
  let out: JsonRecord = isRecord(target) ? clone(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (k === DIRECTIVE || k === RETAIN_KEYS || k.startsWith(SET_ORDER_PREFIX)) continue;
    if (k.startsWith(DELETE_FROM_PRIMITIVE_PREFIX)) {
      const field = k.slice(DELETE_FROM_PRIMITIVE_PREFIX.length);
      const list = out[field];
      if (Array.isArray(list) && Array.isArray(v)) out[field] = list.filter((x) => !v.some((d) => deepEqual(d, x)));
      continue;
    }
    if (v === null) delete out[k];
    else if (isRecord(v) && v[DIRECTIVE] === 'delete') delete out[k];
    else out[k] = strategicPatch(out[k], v, join(path, k));
  }
  const retain = patch[RETAIN_KEYS];
  if (Array.isArray(retain)) {
    out = Object.fromEntries(Object.entries(out).filter(([k]) => retain.includes(k)));
  }
  return out;
}

// ---- RFC 6902 JSON patch ----

/** parsePointer splits an RFC 6901 JSON pointer into unescaped tokens. */
function parsePointer(pointer: unknown): string[] {
  if (typeof pointer !== 'string') throw new PatchError('path must be a string');
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new PatchError(`invalid JSON pointer "${pointer}"`);
  return pointer
    .slice(1)
    .split('/')
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function arrayIndex(arr: readonly unknown[], token: string, forAdd: boolean): number {
  if (forAdd && token === '-') return arr.length;
  if (!/^(0|[1-9]\d*)$/.test(token)) throw new PatchError(`invalid array index "${token}"`);
  const i = Number(token);
  if (i > arr.length || (!forAdd && i === arr.length)) throw new PatchError(`array index ${i} out of bounds`);
  return i;
}

/** parentOf walks to the container of the pointer's last token. */
function parentOf(doc: unknown, tokens: readonly string[]): { parent: unknown; last: string } {
  let cur = doc;
  for (const t of tokens.slice(0, -1)) {
    if (Array.isArray(cur)) cur = cur[arrayIndex(cur, t, false)];
    else if (isRecord(cur) && Object.hasOwn(cur, t)) cur = cur[t];
    else throw new PatchError(`path "/${tokens.join('/')}" does not exist`);
  }
  return { parent: cur, last: tokens[tokens.length - 1] ?? '' };
}

function getAt(doc: unknown, tokens: readonly string[]): unknown {
  if (tokens.length === 0) return doc;
  const { parent, last } = parentOf(doc, tokens);
  if (Array.isArray(parent)) return parent[arrayIndex(parent, last, false)];
  if (isRecord(parent) && Object.hasOwn(parent, last)) return parent[last];
  throw new PatchError(`path "/${tokens.join('/')}" does not exist`);
}

function removeAt(doc: unknown, tokens: readonly string[]): unknown {
  if (tokens.length === 0) throw new PatchError('cannot remove the document root');
  const { parent, last } = parentOf(doc, tokens);
  if (Array.isArray(parent)) return parent.splice(arrayIndex(parent, last, false), 1)[0];
  if (isRecord(parent) && Object.hasOwn(parent, last)) {
    const old = parent[last];
    delete parent[last];
    return old;
  }
  throw new PatchError(`unable to remove nonexistent key "${last}"`);
}

function addAt(doc: unknown, tokens: readonly string[], value: unknown, replace: boolean): unknown {
  if (tokens.length === 0) return clone(value);
  const { parent, last } = parentOf(doc, tokens);
  if (Array.isArray(parent)) {
    const i = arrayIndex(parent, last, !replace);
    if (replace) parent[i] = clone(value);
    else parent.splice(i, 0, clone(value));
  } else if (isRecord(parent)) {
    if (replace && !Object.hasOwn(parent, last))
      throw new PatchError(`replace operation does not apply: "${last}" is missing`);
    parent[last] = clone(value);
  } else {
    throw new PatchError(`path "/${tokens.join('/')}" has no container`);
  }
  return doc;
}

/** jsonPatch applies an RFC 6902 patch (add, remove, replace, move, copy, test); all-or-nothing. */
export function jsonPatch(target: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw new PatchError('a JSON patch must be an array of operations');
  let doc = clone(target);
  for (const raw of ops) {
    if (!isRecord(raw)) throw new PatchError('a JSON patch operation must be an object');
    const path = parsePointer(raw['path']);
    switch (raw['op']) {
      case 'add':
        doc = addAt(doc, path, raw['value'], false);
        break;
      case 'replace':
        doc = addAt(doc, path, raw['value'], true);
        break;
      case 'remove':
        removeAt(doc, path);
        break;
      case 'move': {
        const value = removeAt(doc, parsePointer(raw['from']));
        doc = addAt(doc, path, value, false);
        break;
      }
      case 'copy':
        doc = addAt(doc, path, getAt(doc, parsePointer(raw['from'])), false);
        break;
      case 'test':
        if (!deepEqual(getAt(doc, path), raw['value'])) {
          throw new PatchError(`testing value ${String(raw['path'])} failed`);
        }
        break;
      default:
        throw new PatchError(`unexpected JSON patch operation "${String(raw['op'])}"`);
    }
  }
  return doc;
}

/** applyPatch dispatches on the patch type. */
export function applyPatch(type: PatchType, target: unknown, body: unknown): unknown {
  switch (type) {
    case 'json':
      return jsonPatch(target, body);
    case 'merge':
    case 'apply':
      if (!isRecord(body)) throw new PatchError('a merge patch must be a JSON object');
      return mergePatch(target, body);
    case 'strategic':
      if (!isRecord(body)) throw new PatchError('a strategic merge patch must be a JSON object');
      return strategicPatch(target, body);
  }
}
