// store.ts — the stand-in's etcd plus registry: objects per resource, one global resourceVersion counter, a
// bounded history of changes per resource for watches, and the write rules of the real API server (optimistic
// concurrency, status subresource, generation, finalizers, no-op writes). No HTTP here: tests in the same process
// may call it directly, and every rejected request is an ApiError carrying the Status the server would send.

import { randomInt } from 'node:crypto';
import {
  type ApiError,
  alreadyExists,
  badRequest,
  internalError,
  invalid,
  notFound,
  unsupportedMediaType,
} from './errors.ts';
import { type Change, History, type WatchEvent, type WatchEventType, watchView } from './history.ts';
import { ServiceAllocator } from './kinds.ts';
import { clone, type KubeObject, toKubeObject } from './object.ts';
import { applyPatch, CONTENT_TYPES, PatchError, type PatchType } from './patch.ts';
import { Registry, type ResourceDef } from './resources.ts';
import {
  checkPreconditions,
  checkTypeMeta,
  checkURLName,
  decodeBody,
  finalized,
  isNoop,
  markDeleting,
  type Preconditions,
  prepareCreate,
  prepareUpdate,
  type UpdateMode,
} from './rules.ts';
import { compileSelector, type SelectorQuery } from './selectors.ts';

/** DEFAULT_NAMESPACES exist from the start, as on a fresh cluster (plus MetalLB's). */
export const DEFAULT_NAMESPACES: readonly string[] = [
  'default',
  'kube-system',
  'kube-public',
  'kube-node-lease',
  'metallb-system',
];

/** StoreOptions configure a Store; every field has a default. */
export interface StoreOptions {
  readonly registry?: Registry;
  /** historyLimit is how many changes per resource a watch can resume from (default 1000). */
  readonly historyLimit?: number;
  /** now is the clock for creationTimestamp and deletionTimestamp. */
  readonly now?: () => Date;
  readonly namespaces?: readonly string[];
}

interface Bucket {
  readonly def: ResourceDef;
  // "namespace/name" ("" namespace for cluster-scoped) -> stored object; stored objects are never mutated
  readonly objects: Map<string, KubeObject>;
  readonly history: History;
}

/** ResourceRef names a resource: a ResourceDef, or `services`, `svc`, `ipaddresspools.metallb.io`, … */
export type ResourceRef = string | ResourceDef;

export interface WriteOptions {
  /** dryRun validates and returns the result without storing it (`?dryRun=All`). */
  readonly dryRun?: boolean;
}

export interface CreateOptions extends WriteOptions {
  /** namespace from the URL; defaults to the object's, then `default`. */
  readonly namespace?: string;
}

export interface UpdateOptions extends WriteOptions {
  readonly namespace?: string;
  /** name from the URL; must match the object's. */
  readonly name?: string;
  readonly subresource?: 'status';
}

export interface PatchOptions extends WriteOptions {
  readonly subresource?: 'status';
  readonly fieldManager?: string;
}

export interface DeleteOptions extends WriteOptions {
  readonly preconditions?: Preconditions;
}

export interface ListOptions extends SelectorQuery {
  readonly namespace?: string;
  readonly limit?: number;
  readonly continue?: string;
}

export interface ListResult {
  readonly items: KubeObject[];
  readonly resourceVersion: string;
  readonly continue?: string;
}

export interface WatchOptions extends SelectorQuery {
  readonly namespace?: string;
  /** resourceVersion: "" or "0" start with ADDED for every current object; N resumes after N. */
  readonly resourceVersion?: string;
  readonly sendInitialEvents?: boolean;
}

export type { WatchEvent, WatchEventType } from './history.ts';

export interface WatchHandle {
  /** initial events: the current objects, or the history after the requested resourceVersion. */
  readonly initial: readonly WatchEvent[];
  stop(): void;
}

const NAME_CHARS = 'bcdfghjklmnpqrstvwxz2456789';

function keyOf(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

/** Store holds every object of every resource in the registry. */
export class Store {
  readonly registry: Registry;
  readonly #buckets = new Map<ResourceDef, Bucket>();
  readonly #historyLimit: number;
  readonly #now: () => Date;
  readonly #alloc = new ServiceAllocator();
  #rv = 0;

  constructor(opts: StoreOptions = {}) {
    this.registry = opts.registry ?? new Registry();
    this.#historyLimit = opts.historyLimit ?? 1000;
    this.#now = opts.now ?? (() => new Date());
    for (const def of this.registry.all) {
      this.#buckets.set(def, { def, objects: new Map(), history: new History(this.#historyLimit) });
    }
    for (const name of opts.namespaces ?? DEFAULT_NAMESPACES) this.create('namespaces', { metadata: { name } });
  }

  /** resourceVersion is the latest committed resourceVersion, as lists report it. */
  get resourceVersion(): string {
    return String(this.#rv);
  }

  #bucket(ref: ResourceRef): Bucket {
    const b = this.#buckets.get(this.registry.resolve(ref));
    if (!b) throw new Error(`apiserver stand-in: resource ${String(ref)} is not in this store's registry`);
    return b;
  }

  #ns(def: ResourceDef, namespace: string | undefined): string {
    return def.namespaced ? namespace || 'default' : '';
  }

  /** get returns a copy of one object, or undefined. */
  get(resource: ResourceRef, namespace: string | undefined, name: string): KubeObject | undefined {
    const b = this.#bucket(resource);
    const o = b.objects.get(keyOf(this.#ns(b.def, namespace), name));
    return o ? clone(o) : undefined;
  }

  /** mustGet is get that throws the 404 the server would send. */
  mustGet(resource: ResourceRef, namespace: string | undefined, name: string): KubeObject {
    const b = this.#bucket(resource);
    const o = this.get(b.def, namespace, name);
    if (!o) throw notFound(b.def, name);
    return o;
  }

  /** list returns matching objects sorted by namespace/name, and the current resourceVersion. */
  list(resource: ResourceRef, opts: ListOptions = {}): ListResult {
    const b = this.#bucket(resource);
    const match = compileSelector(b.def, opts);
    const ns = b.def.namespaced && opts.namespace ? `${opts.namespace}/` : '';
    let start = '';
    if (opts.continue) {
      try {
        start = String(JSON.parse(Buffer.from(opts.continue, 'base64url').toString()).after);
      } catch {
        throw badRequest('continue key is not valid');
      }
    }
    const keys = [...b.objects.keys()].filter((k) => k.startsWith(ns) && k > start).sort();
    const items: KubeObject[] = [];
    let last = '';
    let more = false;
    for (const k of keys) {
      const o = b.objects.get(k);
      if (!o || !match(o)) continue;
      if (opts.limit && items.length >= opts.limit) {
        more = true;
        break;
      }
      const item = clone(o);
      // Lists of built-in kinds carry no kind/apiVersion on their items; lists of custom resources do.
      if (!b.def.custom) {
        delete item.apiVersion;
        delete item.kind;
      }
      items.push(item);
      last = k;
    }
    const resourceVersion = String(this.#rv);
    if (!more) return { items, resourceVersion };
    return { items, resourceVersion, continue: Buffer.from(JSON.stringify({ after: last })).toString('base64url') };
  }

  /** create stores a new object (POST). Fills uid, creationTimestamp, resourceVersion, generateName. */
  create(resource: ResourceRef, body: unknown, opts: CreateOptions = {}): KubeObject {
    const b = this.#bucket(resource);
    const def = b.def;
    const obj = decodeBody(body);
    checkTypeMeta(def, obj);
    if (def.namespaced) {
      const fromBody = obj.metadata.namespace;
      if (opts.namespace && fromBody && fromBody !== opts.namespace) {
        throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
      }
      obj.metadata.namespace = opts.namespace || fromBody || 'default';
      if (!this.#bucket('namespaces').objects.has(keyOf('', obj.metadata.namespace))) {
        throw notFound({ group: '', plural: 'namespaces' }, obj.metadata.namespace);
      }
    } else {
      delete obj.metadata.namespace;
    }
    const ns = obj.metadata.namespace ?? '';
    if (!obj.metadata.name && obj.metadata.generateName) {
      do {
        let suffix = '';
        for (let i = 0; i < 5; i++) suffix += NAME_CHARS[randomInt(NAME_CHARS.length)];
        obj.metadata.name = obj.metadata.generateName + suffix;
      } while (b.objects.has(keyOf(ns, obj.metadata.name)));
    }
    if (obj.metadata.resourceVersion) {
      throw internalError('resourceVersion should not be set on objects to be created');
    }
    prepareCreate(def, obj, this.#now(), this.#alloc);
    const key = keyOf(ns, obj.metadata.name ?? '');
    if (b.objects.has(key)) throw alreadyExists(def, obj.metadata.name ?? '');
    return this.#commit(b, key, 'ADDED', obj, undefined, opts.dryRun);
  }

  /** update replaces an object (PUT), or only its status when `subresource: 'status'`. */
  update(resource: ResourceRef, body: unknown, opts: UpdateOptions = {}): KubeObject {
    const b = this.#bucket(resource);
    const obj = decodeBody(body);
    checkTypeMeta(b.def, obj);
    const name = opts.name ?? obj.metadata.name ?? '';
    checkURLName(obj, name);
    const ns = this.#ns(b.def, opts.namespace ?? obj.metadata.namespace);
    if (b.def.namespaced && obj.metadata.namespace && obj.metadata.namespace !== ns) {
      throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    const prev = b.objects.get(keyOf(ns, name));
    if (!prev) throw notFound(b.def, name);
    return this.#replace(b, prev, obj, { subresource: opts.subresource, requireRV: true }, opts.dryRun);
  }

  /**
   * patch applies a patch of the given type to the stored object (PATCH). Server-side apply creates the object
   * when it does not exist; `created` tells the HTTP layer to answer 201.
   */
  patch(
    resource: ResourceRef,
    namespace: string | undefined,
    name: string,
    type: PatchType,
    body: unknown,
    opts: PatchOptions = {},
  ): { object: KubeObject; created: boolean } {
    const b = this.#bucket(resource);
    const def = b.def;
    if (type === 'strategic' && def.custom) {
      const accepted = Object.keys(CONTENT_TYPES).filter((t) => CONTENT_TYPES[t] !== 'strategic');
      throw unsupportedMediaType('application/strategic-merge-patch+json', accepted);
    }
    if (type === 'apply' && !opts.fieldManager) {
      throw invalid('PatchOptions', 'meta.k8s.io', '', [
        { field: 'fieldManager', message: 'Required value: is required for apply patch' },
      ]);
    }
    const ns = this.#ns(def, namespace);
    const prev = b.objects.get(keyOf(ns, name));
    if (!prev) {
      if (type !== 'apply' || opts.subresource) throw notFound(def, name);
      const obj = decodeBody(body);
      obj.metadata.name ??= name;
      checkURLName(obj, name);
      return { object: this.create(def, obj, { namespace: ns, dryRun: opts.dryRun }), created: true };
    }
    let patched: KubeObject | undefined;
    try {
      patched = toKubeObject(applyPatch(type, prev, body));
    } catch (err) {
      if (err instanceof PatchError) throw invalid(def.kind, def.group, name, [{ message: err.message }]);
      throw err;
    }
    if (!patched)
      throw invalid(def.kind, def.group, name, [{ message: 'the patch must leave an object with metadata' }]);
    checkURLName(patched, name);
    checkTypeMeta(def, patched);
    const object = this.#replace(b, prev, patched, { subresource: opts.subresource, requireRV: false }, opts.dryRun);
    return { object, created: false };
  }

  /**
   * delete removes an object (DELETE). With finalizers it only sets deletionTimestamp (`deleted: false`); the
   * object goes when an update empties its finalizers. Deleting a namespace deletes its contents at once.
   */
  delete(
    resource: ResourceRef,
    namespace: string | undefined,
    name: string,
    opts: DeleteOptions = {},
  ): { object: KubeObject; deleted: boolean } {
    const b = this.#bucket(resource);
    const def = b.def;
    const key = keyOf(this.#ns(def, namespace), name);
    const prev = b.objects.get(key);
    if (!prev) throw notFound(def, name);
    checkPreconditions(def, prev, opts.preconditions);
    if (prev.metadata.finalizers?.length) {
      if (prev.metadata.deletionTimestamp) return { object: clone(prev), deleted: false };
      const next = markDeleting(def, prev, this.#now());
      return { object: this.#commit(b, key, 'MODIFIED', next, prev, opts.dryRun), deleted: false };
    }
    if (def.plural === 'namespaces' && def.group === '' && !opts.dryRun) {
      for (const other of this.#buckets.values()) {
        if (!other.def.namespaced) continue;
        for (const [k, o] of [...other.objects]) {
          if (o.metadata.namespace === name) this.#commit(other, k, 'DELETED', clone(o), o, false);
        }
      }
    }
    return { object: this.#commit(b, key, 'DELETED', clone(prev), prev, opts.dryRun), deleted: true };
  }

  /** deleteCollection deletes every matching object (DELETE on a collection) and returns them. */
  deleteCollection(resource: ResourceRef, opts: ListOptions & WriteOptions = {}): KubeObject[] {
    const b = this.#bucket(resource);
    const { items } = this.list(b.def, { ...opts, limit: undefined, continue: undefined });
    return items.map((o) => this.delete(b.def, o.metadata.namespace, o.metadata.name ?? '', opts).object);
  }

  /**
   * watch subscribes to changes. The listener sees events through the watcher's selectors: an object that starts
   * matching arrives as ADDED and one that stops matching as DELETED, as from the real watch cache. Throws the
   * 410 Expired ApiError when resourceVersion is older than the kept history.
   */
  watch(resource: ResourceRef, opts: WatchOptions, listener: (ev: WatchEvent) => void): WatchHandle {
    const b = this.#bucket(resource);
    const match = compileSelector(b.def, opts);
    const ns = b.def.namespaced ? opts.namespace : undefined;
    const view = watchView(match, ns);
    const rv = opts.resourceVersion ?? '';
    let initial: WatchEvent[];
    if (opts.sendInitialEvents || rv === '' || rv === '0') {
      const { items } = this.list(b.def, opts);
      initial = items.map((o) => ({
        type: 'ADDED',
        object: { ...o, apiVersion: b.def.groupVersion, kind: b.def.kind },
      }));
    } else {
      if (!/^\d+$/.test(rv)) throw badRequest(`invalid resource version "${rv}"`);
      initial = b.history.since(Number(rv)).flatMap((c) => view(c) ?? []);
    }
    const stop = b.history.subscribe((c: Change) => {
      const ev = view(c);
      if (ev) listener(ev);
    });
    return { initial, stop };
  }

  /** compact forgets every change so far: any watch resuming from an older resourceVersion gets 410 Expired. */
  compact(): void {
    for (const b of this.#buckets.values()) b.history.compact(this.#rv);
  }

  #replace(
    b: Bucket,
    prev: KubeObject,
    incoming: KubeObject,
    mode: UpdateMode,
    dryRun: boolean | undefined,
  ): KubeObject {
    const next = prepareUpdate(b.def, prev, incoming, mode, this.#alloc);
    const key = keyOf(prev.metadata.namespace ?? '', prev.metadata.name ?? '');
    if (finalized(next)) return this.#commit(b, key, 'DELETED', next, prev, dryRun);
    if (isNoop(prev, next)) return clone(prev);
    return this.#commit(b, key, 'MODIFIED', next, prev, dryRun);
  }

  #commit(
    b: Bucket,
    key: string,
    type: WatchEventType,
    next: KubeObject,
    prev: KubeObject | undefined,
    dryRun: boolean | undefined,
  ): KubeObject {
    if (dryRun) return clone(next);
    const rv = ++this.#rv;
    next.metadata.resourceVersion = String(rv);
    if (type === 'DELETED') b.objects.delete(key);
    else b.objects.set(key, next);
    b.history.record({ rv, type, object: next, previous: prev });
    return clone(next);
  }
}

/** isApiError narrows unknown errors from the store. */
export function isApiError(err: unknown): err is ApiError {
  return err instanceof Error && err.name === 'ApiError' && 'status' in err;
}
