/**
 * Retry delays for list/watch and API writes: exponential from `baseMs` up to `maxMs`, with "equal jitter" (half
 * fixed, half random) so a fleet of controllers and speakers that lost the API server together do not come back in
 * step. Pure: the random source is injected, so tests get exact delays.
 */

/** BackoffOptions shape the delays; defaults: 250 ms doubling up to 30 s. */
export interface BackoffOptions {
  readonly baseMs?: number;
  readonly maxMs?: number;
}

/** backoffDelay is the wait before retry number `attempt` (0 for the first retry). */
export function backoffDelay(attempt: number, opts: BackoffOptions = {}, random: () => number = Math.random): number {
  const base = opts.baseMs ?? 250;
  const max = opts.maxMs ?? 30_000;
  const full = Math.min(max, base * 2 ** Math.min(attempt, 30));
  return Math.round(full / 2 + (full / 2) * random());
}
