/**
 * VRRPv3 timer formulas (RFC 5798 §6.1, unchanged in RFC 9568 §6.1, which renames Master_* to Active_*).
 *
 * Intervals travel in centiseconds (the 12-bit Max Advertise Interval field, §5.2.7); the engine runs on milliseconds.
 * Results are exact, not rounded: (256 − priority) × interval / 256 has a power-of-two denominator, so every value is a
 * dyadic fraction of a millisecond (e.g. 0.78125 ms) that a float64 holds exactly, and sums such as
 * `now + masterDownIntervalMs(…)` stay exact for any realistic clock (`performance.now()` or a virtual one). Truncating
 * to whole milliseconds would make two backups whose skews differ by less than 1 ms fire at the same instant. Whoever
 * arms a real timer rounds up, so a deadline is never served early.
 */

/** MS_PER_CENTISECOND converts the wire unit of the Max Advertise Interval (§5.2.7) to engine milliseconds. */
export const MS_PER_CENTISECOND = 10;

/**
 * DEFAULT_ADVERT_INTERVAL_CS is metal-vrrp's Advertisement_Interval: 10 cs = 100 ms. The RFC default is 100 cs = 1 s
 * (§6.1); sub-second failover is the point of this project.
 */
export const DEFAULT_ADVERT_INTERVAL_CS = 10;

/** centisecondsToMs converts an interval from the wire's centiseconds to milliseconds. */
export function centisecondsToMs(cs: number): number {
  return cs * MS_PER_CENTISECOND;
}

/**
 * skewTimeMs is Skew_Time in ms: ((256 − Priority) × Master_Adver_Interval) / 256 (RFC 5798 §6.1, RFC 9568 §6.1).
 * The better a backup's priority, the shorter its skew, so it claims mastership first.
 */
export function skewTimeMs(priority: number, masterAdverIntervalCs: number): number {
  return ((256 - priority) * centisecondsToMs(masterAdverIntervalCs)) / 256;
}

/**
 * masterDownIntervalMs is Master_Down_Interval in ms: (3 × Master_Adver_Interval) + Skew_Time (RFC 5798 §6.1,
 * Active_Down_Interval in RFC 9568 §6.1): how long a backup waits without an acceptable advert before taking over.
 */
export function masterDownIntervalMs(priority: number, masterAdverIntervalCs: number): number {
  return 3 * centisecondsToMs(masterAdverIntervalCs) + skewTimeMs(priority, masterAdverIntervalCs);
}

/**
 * livenessHoldMs is the wait a backup adds to Skew_Time on a liveness signal (router.ts, `peer-down` `holdMs`), so
 * that backups told at different moments still claim in rank order: `liveAhead` is the number of backups ranked
 * above it that are alive, `livenessIntervalMs` the liveness session's transmit interval. Each backup's session
 * times out Detect Mult intervals after the last packet the dead node sent on that session; those packets leave
 * per session with up to 25 % jitter (RFC 5880 §6.8.7), so two backups learn of the loss up to one interval apart,
 * plus their own timer lateness. Each live backup ahead is given one interval plus LIVENESS_LATENESS_MS (or a second
 * interval, if longer) to claim and be heard first. 0 for the best surviving backup: its failover is not delayed.
 */
export function livenessHoldMs(liveAhead: number, livenessIntervalMs: number): number {
  if (!(liveAhead > 0)) return 0;
  return liveAhead * (livenessIntervalMs + Math.max(livenessIntervalMs, LIVENESS_LATENESS_MS));
}

/** LIVENESS_LATENESS_MS allows for a loaded event loop serving a session's detection timer late. */
export const LIVENESS_LATENESS_MS = 20;
