/**
 * realClock is the process's Clock (vrrp/clock.ts): performance.now() for deadlines, Date.now() for timestamps that
 * leave the process, and Node's timers. This file is the only one in src/ that touches the global clock and timers;
 * everything else is handed a Clock, so tests can drive it virtually.
 */
import type { Clock } from '../vrrp/clock.ts';

export type { Cancel, Clock, TimerOptions } from '../vrrp/clock.ts';
export { sleep } from '../vrrp/clock.ts';

/** realClock: see the file comment. */
export const realClock: Clock = {
  now: () => performance.now(),
  wallNow: () => Date.now(),
  setTimer(fn, delayMs, options) {
    const handle = setTimeout(fn, Math.max(0, delayMs));
    if (options?.background) handle.unref();
    return () => clearTimeout(handle);
  },
  afterPendingIo(fn) {
    const handle = setImmediate(fn);
    return () => clearImmediate(handle);
  },
};
