/**
 * RateLimiter lets one event per key through per window: RFC 5798 §7.1 says a receiver "SHOULD log" a mismatched
 * advert, and a peer that disagrees sends ten a second, so the log line must be rate-limited. Time is passed in.
 */
export class RateLimiter {
  readonly #windowMs: number;
  // key -> time the last event was let through
  readonly #last = new Map<string, number>();

  constructor(windowMs: number) {
    this.#windowMs = windowMs;
  }

  /** allow says whether an event for `key` at `now` (ms) passes, and records it when it does. */
  allow(key: string, now: number): boolean {
    const last = this.#last.get(key);
    if (last !== undefined && now - last < this.#windowMs) return false;
    this.#last.set(key, now);
    return true;
  }
}
