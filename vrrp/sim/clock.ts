/**
 * Virtual time for simulations: a queue of timed events served in (time, insertion) order, and a seeded PRNG, so a
 * run is a pure function of its inputs and seed.
 */

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
