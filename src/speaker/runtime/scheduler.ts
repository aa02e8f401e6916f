/**
 * DeadlineScheduler keeps one deadline per key (one per virtual router) and arms a single timer for the earliest,
 * as keepalived's scheduler does: the engine returns its next deadline after every step; the edge waits for it.
 *
 * A deadline that moves later is recorded, not re-sorted: a backup pushes its Master_Down_Timer back on every advert
 * it hears (hundreds of routers, every interval), and only the last push matters. The heap keeps the earlier time;
 * when that comes, the entry goes back in at its real deadline instead of firing. So a key is re-sorted about once
 * per Master_Down_Interval instead of once per advert, and a deadline never fires late.
 */

import type { Cancel, Clock } from '../../../vrrp/clock.ts';

export interface SchedulerDeps<K> {
  readonly clock: Clock;
  /** onDue is called once per key whose deadline has come; it usually sets the key's next deadline. */
  readonly onDue: (key: K, now: number) => void;
  /**
   * slice caps the keys fired per timer callback (default: all that are due). The rest fire from a timer of 0 ms,
   * so the event loop polls its sockets in between: 510 routers due in one tick would otherwise hold ARP / NDP
   * answers back for the whole tick (bench/arp-latency.ts measured p99 ≈ the tick's length).
   */
  readonly slice?: number;
}

/** FIRING marks an entry taken off the heap while its onDue runs: a set() from there puts the same entry back. */
const FIRING = -1;
/** REMOVED marks a FIRING entry its onDue removed (the key may have a new entry by then). */
const REMOVED = -2;

interface Entry<K> {
  key: K;
  /** at orders the heap: the deadline when the entry was last sorted, at or before `due`. */
  at: number;
  /** due is the key's real deadline. */
  due: number;
  index: number;
}

export class DeadlineScheduler<K> {
  readonly #deps: SchedulerDeps<K>;
  // A binary min-heap on `at`, with each entry's position kept so a key's deadline can move in O(log n).
  readonly #heap: Entry<K>[] = [];
  // key -> its heap entry
  readonly #entries = new Map<K, Entry<K>>();
  #cancel: Cancel | undefined;
  #armedFor: number | undefined;
  #stopped = false;
  #running = false;

  constructor(deps: SchedulerDeps<K>) {
    this.#deps = deps;
  }

  /**
   * set gives `key` a new deadline (absolute ms), or removes it with `undefined`. A later deadline is sorted when the
   * earlier one comes (see the file comment), unless `sortNow`: then at once, so a timer armed for the earlier one
   * fires at most once for nothing (for a caller that moves many deadlines later at one time, and would otherwise be
   * woken at each of the old ones).
   */
  set(key: K, at: number | undefined, sortNow = false): void {
    const entry = this.#entries.get(key);
    if (at === undefined) {
      if (entry) this.#remove(entry);
    } else if (entry?.index === FIRING) {
      // Re-armed by its own onDue (a master's next advert): back into the heap, same entry, no map churn.
      entry.at = at;
      entry.due = at;
      entry.index = this.#heap.length;
      this.#heap.push(entry);
      this.#up(entry.index);
    } else if (entry) {
      entry.due = at;
      if (at >= entry.at && !sortNow) return; // later: sorted when `at` comes (see the file comment); timer stays
      const later = at > entry.at;
      entry.at = at;
      if (later) {
        this.#down(entry.index);
        return; // a timer armed earlier stays: it finds nothing due and arms for the new earliest
      }
      this.#up(entry.index);
    } else {
      const e: Entry<K> = { key, at, due: at, index: this.#heap.length };
      this.#heap.push(e);
      this.#entries.set(key, e);
      this.#up(e.index);
    }
    if (!this.#running) this.#arm();
  }

  /** deadline returns the key's current deadline, if any. */
  deadline(key: K): number | undefined {
    const entry = this.#entries.get(key);
    return entry === undefined || entry.index === FIRING ? undefined : entry.due;
  }

  get size(): number {
    return this.#heap.length;
  }

  /** stop cancels the timer; later set() calls are kept but never fire. */
  stop(): void {
    this.#stopped = true;
    this.#cancel?.();
    this.#cancel = undefined;
    this.#armedFor = undefined;
  }

  /** runDue fires every key whose deadline is at or before now (the timer calls it; tests may too). */
  runDue(): void {
    this.#cancel?.(); // a no-op when the timer itself called; cancels it when a test did
    this.#cancel = undefined;
    this.#armedFor = undefined;
    this.#running = true;
    try {
      // A key re-armed for "now" by its own handler would loop forever; bound the work to one pass of what was due.
      let budget = Math.min(this.#heap.length, this.#deps.slice ?? Number.POSITIVE_INFINITY);
      const now = this.#deps.clock.now();
      while (budget-- > 0) {
        const top = this.#heap[0];
        if (!top || top.at > now) break;
        if (top.due > top.at) {
          // Its deadline moved later since it was sorted: sort it at the real one (after now when that is later, so
          // this pass meets it at most once more, due) and look at the new top.
          top.at = top.due;
          this.#down(0);
          budget++;
          continue;
        }
        this.#pop();
        top.index = FIRING;
        try {
          this.#deps.onDue(top.key, now);
        } finally {
          if (top.index === FIRING) this.#entries.delete(top.key);
        }
      }
    } finally {
      this.#running = false;
    }
    this.#arm();
  }

  #arm(): void {
    if (this.#stopped) return;
    const top = this.#heap[0];
    if (!top) {
      this.#cancel?.();
      this.#cancel = undefined;
      this.#armedFor = undefined;
      return;
    }
    // A timer already armed at or before the earliest deadline stays: when it fires early, runDue finds nothing due
    // and arms for the new earliest. A backup pushes its earliest deadline later on nearly every advert it hears;
    // re-arming each time would cost a clearTimeout + setTimeout per received advert.
    if (this.#armedFor !== undefined && this.#armedFor <= top.at) return;
    this.#cancel?.();
    this.#armedFor = top.at;
    // The timer forgets its own cancel before runDue: cancelling a timer that has fired still costs Node a search
    // of its timer lists.
    this.#cancel = this.#deps.clock.setTimer(() => {
      this.#cancel = undefined;
      this.runDue();
    }, top.at - this.#deps.clock.now());
  }

  /** pop takes the top entry off the heap, leaving it in #entries (runDue marks it FIRING). */
  #pop(): void {
    const h = this.#heap;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      last.index = 0;
      this.#down(0);
    }
  }

  #remove(entry: Entry<K>): void {
    if (entry.index === FIRING) {
      this.#entries.delete(entry.key);
      entry.index = REMOVED;
      return;
    }
    const last = this.#heap.pop()!;
    this.#entries.delete(entry.key);
    if (last !== entry) {
      this.#heap[entry.index] = last;
      last.index = entry.index;
      this.#up(last.index);
      this.#down(last.index);
    }
  }

  #up(i: number): void {
    const h = this.#heap;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p]!.at <= h[i]!.at) break;
      this.#swap(i, p);
      i = p;
    }
  }

  #down(i: number): void {
    const h = this.#heap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && h[l]!.at < h[m]!.at) m = l;
      if (r < h.length && h[r]!.at < h[m]!.at) m = r;
      if (m === i) return;
      this.#swap(i, m);
      i = m;
    }
  }

  #swap(a: number, b: number): void {
    const h = this.#heap;
    const ea = h[a]!;
    const eb = h[b]!;
    h[a] = eb;
    h[b] = ea;
    ea.index = b;
    eb.index = a;
  }
}
