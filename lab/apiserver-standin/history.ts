// history.ts — one resource's change history, the watch cache of the stand-in: a bounded window of committed
// changes that watches resume from, the live listeners, and the view of a change through a watcher's selectors.

import { expired } from './errors.ts';
import { clone, type KubeObject } from './object.ts';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

/** WatchEvent is one event as a watcher sees it (after its selectors). */
export interface WatchEvent {
  readonly type: WatchEventType;
  readonly object: KubeObject;
}

/** Change is one committed write; `previous` is the object before it (undefined for a create). */
export interface Change {
  readonly rv: number;
  readonly type: WatchEventType;
  readonly object: KubeObject;
  readonly previous: KubeObject | undefined;
}

/** History keeps the last `limit` changes of one resource and feeds its listeners. */
export class History {
  readonly #limit: number;
  #changes: Change[] = [];
  /** #compactedRV: a watch may resume from resourceVersion N only when N >= #compactedRV. */
  #compactedRV = 0;
  readonly #listeners = new Set<(c: Change) => void>();

  constructor(limit: number) {
    this.#limit = limit;
  }

  /** record appends a change, trims the window and notifies listeners. */
  record(change: Change): void {
    this.#changes.push(change);
    while (this.#changes.length > this.#limit) {
      const dropped = this.#changes.shift();
      if (dropped) this.#compactedRV = dropped.rv;
    }
    for (const l of this.#listeners) {
      try {
        l(change);
      } catch {
        // A failing watcher must not fail the write that fed it.
      }
    }
  }

  /** since returns the changes after resourceVersion n, or throws 410 Expired when some were dropped. */
  since(n: number): readonly Change[] {
    if (n < this.#compactedRV) throw expired(n, this.#compactedRV);
    return this.#changes.filter((c) => c.rv > n);
  }

  /** compact drops every change up to `rv`. */
  compact(rv: number): void {
    this.#changes = this.#changes.filter((c) => c.rv > rv);
    this.#compactedRV = Math.max(this.#compactedRV, rv);
  }

  /** subscribe adds a listener for future changes; returns the unsubscribe function. */
  subscribe(listener: (c: Change) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}

/**
 * watchView maps a change to what one watcher sees: an object that starts matching the selectors arrives as
 * ADDED and one that stops matching as DELETED, as from the real watch cache; undefined when the watcher sees
 * nothing.
 */
export function watchView(
  match: (o: KubeObject) => boolean,
  namespace: string | undefined,
): (c: Change) => WatchEvent | undefined {
  return (c) => {
    if (namespace && c.object.metadata.namespace !== namespace) return undefined;
    const now = match(c.object);
    const was = c.previous !== undefined && match(c.previous);
    let type: WatchEventType | undefined;
    if (c.type === 'ADDED' || c.type === 'DELETED') type = now ? c.type : undefined;
    else if (now) type = was ? 'MODIFIED' : 'ADDED';
    else type = was ? 'DELETED' : undefined;
    return type ? { type, object: clone(c.object) } : undefined;
  };
}
