import type { Clock } from '../../src/speaker/runtime/scheduler.ts';

/** FakeClock is a Clock whose time moves only when a test calls advance(); timers fire in deadline order. */
export class FakeClock implements Clock {
  #now = 0;
  #seq = 0;
  // handle id -> pending timer
  readonly #timers = new Map<number, { at: number; fn: () => void; seq: number }>();

  now(): number {
    return this.#now;
  }

  setTimer(fn: () => void, delayMs: number): unknown {
    const id = ++this.#seq;
    this.#timers.set(id, { at: this.#now + Math.max(0, delayMs), fn, seq: id });
    return id;
  }

  clearTimer(handle: unknown): void {
    this.#timers.delete(handle as number);
  }

  /** pending counts armed timers, so tests can check that at most one is armed. */
  get pending(): number {
    return this.#timers.size;
  }

  /** advance moves time forward by ms, firing every timer that falls due on the way, in order. */
  advance(ms: number): void {
    const end = this.#now + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void; seq: number }] | undefined;
      for (const entry of this.#timers) {
        if (entry[1].at > end) continue;
        if (!next || entry[1].at < next[1].at || (entry[1].at === next[1].at && entry[1].seq < next[1].seq)) {
          next = entry;
        }
      }
      if (!next) break;
      this.#timers.delete(next[0]);
      this.#now = Math.max(this.#now, next[1].at);
      next[1].fn();
    }
    this.#now = end;
  }
}
