/**
 * Clock is the one source of time and timers in the program. The engine itself never reads it (a router is given
 * `now`); the edges that drive work over time — the deadline scheduler, the work queue, the watched caches, leader
 * election, debounces and retries — each get one injected, so tests run them on a VirtualClock (vrrp/sim/clock.ts)
 * and the processes on the real one (src/clock.ts, the only caller of the global timers).
 */

/** Cancel stops a timer; calling it after the timer fired, or twice, does nothing. */
export type Cancel = () => void;

/** TimerOptions: a background timer does not by itself keep the process alive (Node's unref). */
export interface TimerOptions {
  readonly background?: boolean;
}

/** Clock: monotonic time for deadlines, wall time for timestamps written into API objects, and one-shot timers. */
export interface Clock {
  /** now returns monotonic milliseconds: the time base of every deadline and interval. */
  now(): number;
  /** wallNow returns milliseconds since the Unix epoch, only for times other processes read (a Lease's renewTime). */
  wallNow(): number;
  /** setTimer runs `fn` once, `delayMs` from now (0 or less: as soon as possible); the result cancels it. */
  setTimer(fn: () => void, delayMs: number, options?: TimerOptions): Cancel;
  /**
   * afterPendingIo runs `fn` once the I/O already waiting has been delivered (Node: setImmediate, which runs after the
   * event loop's poll phase). A timer that fires late runs before the packets queued meanwhile are read; a decision
   * that those packets could overturn waits for them this way. Clocks without real I/O leave it out: run `fn` at once.
   */
  afterPendingIo?(fn: () => void): Cancel;
}

/** AbortedError is what sleep rejects with when its signal aborts and the signal gives no reason of its own. */
export class AbortedError extends Error {
  constructor() {
    super('aborted');
    this.name = 'AbortError';
  }
}

/** sleep resolves `ms` from now on `clock`, or rejects (the signal's reason) as soon as `signal` aborts. */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const reason = () => (signal?.reason as unknown) ?? new AbortedError();
    if (signal?.aborted) {
      reject(reason());
      return;
    }
    const onAbort = () => {
      cancel();
      reject(reason());
    };
    const cancel = clock.setTimer(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
