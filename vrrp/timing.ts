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
