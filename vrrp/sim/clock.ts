/**
 * Virtual time for simulations and tests: a queue of timed events served in (time, insertion) order, a VirtualClock
 * that implements the program's Clock on it, and a seeded PRNG, so a run is a pure function of its inputs and seed.
 */

import type { Cancel, Clock } from '../clock.ts';

interface Entry<T> {
  readonly at: number;
  readonly seq: number;
  readonly item: T;
}

function before<T>(x: Entry<T>, y: Entry<T>): boolean {
  return x.at < y.at || (x.at === y.at && x.seq < y.seq);
}

/** EventQueue is a binary min-heap of items by time; items due at the same time come out in insertion order. */
export class EventQueue<T> {
  readonly #heap: Entry<T>[] = [];
  #seq = 0;

  /** push schedules `item` at time `at` (ms). */
  push(at: number, item: T): void {
    const heap = this.#heap;
    heap.push({ at, seq: this.#seq++, item });
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  /** peekTime is the time of the earliest item, or undefined when empty. */
  peekTime(): number | undefined {
    return this.#heap[0]?.at;
  }

  /** peek returns the earliest item with its time, leaving it queued. */
  peek(): { readonly at: number; readonly item: T } | undefined {
    const top = this.#heap[0];
    return top && { at: top.at, item: top.item };
  }

  /** pop removes and returns the earliest item with its time. */
  pop(): { readonly at: number; readonly item: T } | undefined {
    const heap = this.#heap;
    const top = heap[0];
    if (!top) return undefined;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && before(heap[l]!, heap[m]!)) m = l;
        if (r < heap.length && before(heap[r]!, heap[m]!)) m = r;
        if (m === i) break;
        [heap[i], heap[m]] = [heap[m]!, heap[i]!];
        i = m;
      }
    }
    return { at: top.at, item: top.item };
  }

  get size(): number {
    return this.#heap.length;
  }
}

/** seededRandom returns a PRNG (mulberry32) yielding floats in [0, 1), the same sequence for the same seed. */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** VirtualClockOptions: where monotonic time starts, and the wall time (epoch ms) at monotonic 0. */
export interface VirtualClockOptions {
  readonly start?: number;
  readonly epochMs?: number;
}

interface VirtualTimer {
  readonly at: number;
  readonly fn: () => void;
}

/**
 * VirtualClock is a Clock whose time moves only when its owner calls advance() or runNext(); timers fire in (due
 * time, arming order), each with now() equal to its due time, so a test of a timing rule needs no real waiting.
 */
export class VirtualClock implements Clock {
  #now: number;
  readonly #epochMs: number;
  readonly #queue = new EventQueue<number>(); // due time -> timer id; cancelled ids are skipped when popped
  readonly #timers = new Map<number, VirtualTimer>(); // id -> live timer
  #nextId = 0;

  constructor(options: VirtualClockOptions = {}) {
    this.#now = options.start ?? 0;
    this.#epochMs = options.epochMs ?? 0;
  }

  now(): number {
    return this.#now;
  }

  wallNow(): number {
    return this.#epochMs + this.#now;
  }

  setTimer(fn: () => void, delayMs: number): Cancel {
    const id = ++this.#nextId;
    const at = this.#now + Math.max(0, delayMs);
    this.#timers.set(id, { at, fn });
    this.#queue.push(at, id);
    return () => {
      this.#timers.delete(id);
    };
  }

  /** pending counts armed timers (fired and cancelled ones excluded). */
  get pending(): number {
    return this.#timers.size;
  }

  /** pendingDelays lists how far from now each armed timer is due, earliest first. */
  pendingDelays(): number[] {
    return [...this.#timers.values()].map((t) => t.at - this.#now).sort((a, b) => a - b);
  }

  /** nextDue is the due time of the earliest armed timer, or undefined when none is armed. */
  nextDue(): number | undefined {
    this.#dropCancelled();
    return this.#queue.peekTime();
  }

  /** runNext moves time to the earliest timer due at or before `limit` and fires it; false when there is none. */
  runNext(limit = Number.POSITIVE_INFINITY): boolean {
    this.#dropCancelled();
    const at = this.#queue.peekTime();
    if (at === undefined || at > limit) return false;
    const id = this.#queue.pop()!.item;
    const timer = this.#timers.get(id)!;
    this.#timers.delete(id);
    this.#now = Math.max(this.#now, at);
    timer.fn();
    return true;
  }

  /** advance moves time forward by `ms`, firing on the way every timer that falls due, timers they arm included. */
  advance(ms: number): void {
    const end = this.#now + Math.max(0, ms);
    while (this.runNext(end)) {}
    this.#now = end;
  }

  /** #dropCancelled pops cancelled timers off the top of the queue, so its head is a live one. */
  #dropCancelled(): void {
    for (let head = this.#queue.peek(); head && !this.#timers.has(head.item); head = this.#queue.peek()) {
      this.#queue.pop();
    }
  }
}
