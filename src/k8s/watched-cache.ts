/**
 * WatchedCache keeps one resource's objects in memory through a client-node informer (list, then watch from the
 * list's resourceVersion; a 410 Gone makes the informer re-list on its own). What the informer leaves to its user is
 * done here: an error (failed list, refused watch, 5xx) stops client-node's ListWatch, so each one is counted and
 * logged and the informer is started again after an exponential backoff — resuming the watch from the last
 * resourceVersion, or re-listing when that is gone. Nothing here throws at the caller: the controller never crashes
 * because the API server went away.
 */
import type { Informer, KubernetesObject, ObjectCache } from '@kubernetes/client-node';
import { type Cancel, type Clock, realClock } from '../clock.ts';
import type { Logger } from '../log.ts';
import { type BackoffOptions, backoffDelay } from './backoff.ts';
import { toPlain } from './plain.ts';

/** ChangeKind is what happened to an object in the cache. */
export type ChangeKind = 'add' | 'update' | 'delete';

/** ClientInformer is what client-node's makeInformer returns. */
export type ClientInformer = Informer<KubernetesObject> & ObjectCache<KubernetesObject>;

/** WatchedCacheDeps: the informer to drive, and where errors go. */
export interface WatchedCacheDeps {
  /** resource names the cache in logs and in the api_watch_errors metric (`services`, `ipaddresspools`). */
  readonly resource: string;
  readonly informer: ClientInformer;
  readonly logger: Logger;
  /** onWatchError is called once per list/watch failure (the controller counts them). */
  readonly onWatchError?: (resource: string, err: unknown) => void;
  readonly backoff?: BackoffOptions;
  readonly random?: () => number;
  /** clock times the backoff, so tests drive it virtually (default the process clock). */
  readonly clock?: Clock;
}

/** describeError is a one-line reason for a client error (HTTP status when there is one). */
export function describeError(err: unknown): string {
  if (err === null || typeof err !== 'object') return String(err);
  const e = err as { statusCode?: unknown; code?: unknown; message?: unknown };
  const status = typeof e.statusCode === 'number' ? e.statusCode : typeof e.code === 'number' ? e.code : undefined;
  const msg = typeof e.message === 'string' ? e.message.split('\n')[0] : String(err);
  return status === undefined ? String(msg) : `HTTP ${status}: ${msg}`;
}

/** WatchedCache: see the file comment. Objects are plain JSON of type T. */
export class WatchedCache<T extends { readonly metadata?: { readonly namespace?: string; readonly name?: string } }> {
  private readonly deps: WatchedCacheDeps;
  private readonly clock: Clock;
  private readonly objects = new Map<string, T>(); // "namespace/name" -> object
  private readonly listeners: ((kind: ChangeKind, obj: T) => void)[] = [];
  private attempt = 0;
  private errors = 0;
  private retry: Cancel | undefined; // set while a restart waits out its backoff
  private stopped = true;
  private isSynced = false;
  private resolveSynced: () => void = () => {};
  private readonly syncedPromise: Promise<void>;

  constructor(deps: WatchedCacheDeps) {
    this.deps = deps;
    this.clock = deps.clock ?? realClock;
    this.syncedPromise = new Promise((resolve) => {
      this.resolveSynced = resolve;
    });
    const inf = deps.informer;
    inf.on('add', (o) => this.apply('add', o));
    inf.on('update', (o) => this.apply('update', o));
    inf.on('delete', (o) => this.apply('delete', o));
    inf.on('error', (err) => this.failed(err));
  }

  /** synced resolves once the first list has filled the cache and the watch is running. */
  synced(): Promise<void> {
    return this.syncedPromise;
  }

  get hasSynced(): boolean {
    return this.isSynced;
  }

  /** list returns every cached object. */
  list(): T[] {
    return [...this.objects.values()];
  }

  /** get returns one cached object ('' namespace for cluster-scoped ones). */
  get(namespace: string, name: string): T | undefined {
    return this.objects.get(`${namespace}/${name}`);
  }

  /** onChange registers a listener for every add, update and delete, re-lists included. */
  onChange(listener: (kind: ChangeKind, obj: T) => void): void {
    this.listeners.push(listener);
  }

  /** start begins list and watch; errors are retried for ever, with backoff, until stop. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    void this.run();
  }

  /** stop ends the watch and any pending retry. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.retry?.();
    this.retry = undefined;
    await this.deps.informer.stop();
  }

  private async run(): Promise<void> {
    if (this.stopped) return;
    const before = this.errors;
    try {
      await this.deps.informer.start();
    } catch (err) {
      this.failed(err);
      return;
    }
    if (this.errors !== before || this.stopped) return;
    this.attempt = 0;
    if (!this.isSynced) {
      this.isSynced = true;
      this.resolveSynced();
    }
  }

  private failed(err: unknown): void {
    this.errors++;
    this.deps.onWatchError?.(this.deps.resource, err);
    if (this.stopped || this.retry !== undefined) return;
    const delay = backoffDelay(this.attempt++, this.deps.backoff, this.deps.random);
    this.deps.logger.warn(
      { resource: this.deps.resource, err: describeError(err), retryInMs: delay },
      'list/watch failed, retrying',
    );
    this.retry = this.clock.setTimer(() => {
      this.retry = undefined;
      void this.run();
    }, delay);
  }

  private apply(kind: ChangeKind, raw: KubernetesObject): void {
    const obj = toPlain<T>(raw);
    const key = `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`;
    if (kind === 'delete') this.objects.delete(key);
    else this.objects.set(key, obj);
    for (const l of this.listeners) {
      try {
        l(kind, obj);
      } catch (err) {
        this.deps.logger.error({ resource: this.deps.resource, err: describeError(err) }, 'change listener failed');
      }
    }
  }
}
