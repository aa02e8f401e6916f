/**
 * BFD timing formulas (RFC 5880 §6.8.2–§6.8.4, §6.8.7). Intervals are microseconds as on the wire; deadlines are
 * milliseconds (fractions allowed) like every other time in this project.
 */

/** SLOW_TX_US is the floor of bfd.DesiredMinTxInterval while the session is not Up: one second (§6.8.3). */
export const SLOW_TX_US = 1_000_000;

/**
 * advertisedMinTxUs is bfd.DesiredMinTxInterval for a session in `up` or not: the configured value when Up, at least
 * one second otherwise, "to ensure that the bandwidth consumed by BFD sessions that are not Up is negligible" (§6.8.3).
 */
export function advertisedMinTxUs(configuredUs: number, up: boolean): number {
  return up ? configuredUs : Math.max(configuredUs, SLOW_TX_US);
}

/**
 * transmitIntervalUs is the negotiated transmit interval: the larger of bfd.DesiredMinTxInterval and
 * bfd.RemoteMinRxInterval — "the system reporting the slower rate determines the transmission rate" (§6.8.2, §6.8.7).
 */
export function transmitIntervalUs(desiredMinTxUs: number, remoteMinRxUs: number): number {
  return Math.max(desiredMinTxUs, remoteMinRxUs);
}

/**
 * jitteredMs is the time to the next periodic packet (§6.8.7): the interval reduced by a random 0–25 %; with
 * bfd.DetectMult 1, between 75 % and 90 % of it. `r` is a uniform draw in [0, 1) from the caller's random source.
 */
export function jitteredMs(intervalUs: number, detectMult: number, r: number): number {
  const factor = detectMult === 1 ? 0.75 + 0.15 * r : 1 - 0.25 * r;
  return (intervalUs * factor) / 1000;
}

/**
 * detectionTimeMs is the asynchronous-mode Detection Time (§6.8.4): the remote's Detect Mult times the agreed
 * transmit interval of the remote system, the greater of our bfd.RequiredMinRxInterval and the remote's last
 * received Desired Min TX Interval.
 */
export function detectionTimeMs(
  remoteDetectMult: number,
  requiredMinRxUs: number,
  remoteDesiredMinTxUs: number,
): number {
  return (remoteDetectMult * Math.max(requiredMinRxUs, remoteDesiredMinTxUs)) / 1000;
}
