/** parseDuration reads "100ms", "1.5s", "2m" or a bare number of milliseconds; undefined when it is not one. */
export function parseDuration(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$/.exec(value);
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = m[2] ?? 'ms';
  return unit === 'ms' ? n : unit === 's' ? n * 1000 : n * 60_000;
}

/** VRRP advert interval bounds: 12 bits of centiseconds (RFC 5798 §5.2.7), so 10 ms to 40.95 s in 10 ms steps. */
export const ADVERT_INTERVAL_MIN_MS = 10;
export const ADVERT_INTERVAL_MAX_MS = 40_950;

/** advertIntervalCs converts a duration to VRRP centiseconds, or explains why it cannot be one. */
export function advertIntervalCs(ms: number): { cs: number } | { error: string } {
  if (ms < ADVERT_INTERVAL_MIN_MS || ms > ADVERT_INTERVAL_MAX_MS) {
    return { error: `advert interval ${ms} ms is outside 10 ms – 40.95 s` };
  }
  if (!Number.isInteger(ms / 10)) return { error: `advert interval ${ms} ms is not a whole number of centiseconds` };
  return { cs: ms / 10 };
}
