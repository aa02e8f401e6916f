// fake-timers.ts — a Clock (vrrp/clock.ts) whose time moves only when a test calls advance(), letting promise
// callbacks run between timers so async loops (a probe awaited, then the next one armed) make progress.
import type { Cancel, Clock } from '../../vrrp/clock.ts';

/** FakeTimers fires due timers in deadline order during advance(), settling microtasks between them. */
export class FakeTimers implements Clock {
  #now = 0;
  #seq = 0;
  // id -> pending timer
  readonly #timers = new Map<number, { at: number; fn: () => void }>();

  now(): number {
    return this.#now;
  }

  wallNow(): number {
    return this.#now;
  }

  setTimer(fn: () => void, delayMs: number): Cancel {
    const id = ++this.#seq;
    this.#timers.set(id, { at: this.#now + Math.max(0, delayMs), fn });
    return () => this.#timers.delete(id);
  }

  get pending(): number {
    return this.#timers.size;
  }

  /** advance moves time by ms; between timers it lets promise callbacks run. */
  async advance(ms: number): Promise<void> {
    const end = this.#now + ms;
    await settle();
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.#timers) if (e[1].at <= end && (!next || e[1].at < next[1].at)) next = e;
      if (!next) break;
      this.#timers.delete(next[0]);
      this.#now = Math.max(this.#now, next[1].at);
      next[1].fn();
      await settle();
    }
    this.#now = end;
  }
}

/** settle lets queued promise callbacks run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise<void>((r) => setImmediate(r));
}
