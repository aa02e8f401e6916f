/**
 * realClock is the process's Clock (vrrp/clock.ts): performance.now() for deadlines, Date.now() for timestamps that
 * leave the process, and Node's timers. This file is the only one in src/ that touches the global clock and timers;
 * everything else is handed a Clock, so tests can drive it virtually.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
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

/** LoopDelay is how late the event loop ran since the last reset, in ns (a histogram's view). */
export interface LoopDelay {
  readonly count: number;
  readonly max: number;
  percentile(p: number): number;
  reset(): void;
}

/**
 * loopDelayMonitor samples how late the event loop runs (node:perf_hooks monitorEventLoopDelay at `resolutionMs`):
 * the lateness of this process's timers, so it lives with the real clock. For metrics.ts.
 */
export function loopDelayMonitor(resolutionMs = 10): LoopDelay {
  const h = monitorEventLoopDelay({ resolution: resolutionMs });
  h.enable();
  return h;
}
