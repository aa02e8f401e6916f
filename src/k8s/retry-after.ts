/**
 * Retry-After for one-shot reads (`metal-vrrp status`): an API server that sheds load (max-inflight or API Priority
 * and Fairness) answers 429 Too Many Requests with a `Retry-After` header in seconds; client-go and kubectl wait that
 * long and try again (up to 10 times). The informers of the controller and speaker retry on their own backoff; this is
 * for calls made once, which would otherwise fail outright.
 */
import { type Clock, sleep as clockSleep, realClock } from '../clock.ts';
import { statusCodeOf } from './clients.ts';

/** RetryAfterOptions: attempts in all (default 10, as client-go), the longest single wait, and the clock that waits. */
export interface RetryAfterOptions {
  readonly attempts?: number;
  readonly maxWaitMs?: number;
  readonly clock?: Clock;
}

/** retryAfterMs reads the wait a 429 asks for: its Retry-After header (seconds), else 1 s, at most `maxMs`. */
export function retryAfterMs(err: unknown, maxMs = 30_000): number {
  const headers = (err as { headers?: Record<string, string | undefined> } | null)?.headers ?? {};
  const raw = headers['retry-after'] ?? headers['Retry-After'];
  const seconds = raw !== undefined && /^\d+$/.test(raw.trim()) ? Number(raw) : 1;
  return Math.min(maxMs, Math.max(0, seconds) * 1000);
}

/** withRetryAfter runs `call`, and again after the asked wait while it fails with 429; other errors pass through. */
export async function withRetryAfter<T>(call: () => Promise<T>, opts: RetryAfterOptions = {}): Promise<T> {
  const attempts = opts.attempts ?? 10;
  const clock = opts.clock ?? realClock;
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      if (statusCodeOf(err) !== 429 || attempt >= attempts) throw err;
      await clockSleep(clock, retryAfterMs(err, opts.maxWaitMs));
    }
  }
}
