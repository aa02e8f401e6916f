import { VirtualClock } from '../../vrrp/sim/clock.ts';

/** settle lets pending promise callbacks and I/O callbacks run (a few turns of the event loop, no time passes). */
export async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
}

/**
 * FakeClock is the VirtualClock (vrrp/sim/clock.ts) with helpers for asynchronous code: tick() fires due timers
 * one at a time and lets promises settle after each, so a timer that starts async work sees that work finish
 * before the next timer fires, as it would on the real clock with a fast peer.
 */
export class FakeClock extends VirtualClock {
  /** tick advances `ms`, settling promises before and after each timer; `each` runs after every fired timer. */
  async tick(ms: number, each?: () => void): Promise<void> {
    const end = this.now() + Math.max(0, ms);
    await settle();
    while (this.runNext(end)) {
      await settle();
      each?.();
    }
    this.advance(end - this.now());
    await settle();
  }

  /** fireNext fires the earliest armed timer, however far away, and settles; false when none is armed. */
  async fireNext(): Promise<boolean> {
    const fired = this.runNext();
    await settle();
    return fired;
  }
}
