/**
 * LoopClock is a FakeClock whose afterPendingIo callbacks wait for an explicit checkPhase(), as setImmediate waits
 * for the poll phase: tests of code that lets received packets drain before it acts.
 */
import type { Cancel } from '../../src/clock.ts';
import { FakeClock } from './fake-clock.ts';

export class LoopClock extends FakeClock {
  #immediates: (() => void)[] = [];
  afterPendingIo(fn: () => void): Cancel {
    let live = true;
    this.#immediates.push(() => live && fn());
    return () => {
      live = false;
    };
  }
  /** checkPhase runs the callbacks queued so far (those they queue wait for the next round); returns how many. */
  checkPhase(): number {
    const now = this.#immediates;
    this.#immediates = [];
    for (const fn of now) fn();
    return now.length;
  }
}
