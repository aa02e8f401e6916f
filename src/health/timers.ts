/**
 * Timers is the clock-like dependency of the health edges (probe loops, the link watch's restart): the time now and
 * a cancellable one-shot timer. It has the shape of the project's shared Clock, so the speaker can pass that one in;
 * tests pass a fake that moves only when told.
 */
export interface Timers {
  now(): number;
  setTimeout(fn: () => void, ms: number): { cancel(): void };
}

/** realTimers is wall-clock time; its timers do not keep the process alive. */
export const realTimers: Timers = Object.freeze({
  now: () => Date.now(),
  setTimeout(fn: () => void, ms: number) {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return { cancel: () => clearTimeout(t) };
  },
});
