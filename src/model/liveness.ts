/**
 * The liveness signal's settings: whether the speakers of a pool's routers watch each other with BFD (RFC 5880 /
 * RFC 5881, asynchronous mode, single hop) and at what pace. A pool says what it wants through annotations; what it
 * leaves out comes from the speaker's cluster default (`--liveness`, `--liveness-interval`, `--liveness-multiplier`).
 *
 * Liveness only shortens detection: a backup whose master's session times out treats that master as if it had sent
 * priority 0 (vrrp/router.ts, `peer-down`). Adverts keep flowing at the pool's interval.
 */

import { parseDuration } from './duration.ts';

/** LivenessMode: `bfd` watches the other candidates of the pool's routers; `off` relies on adverts alone. */
export type LivenessMode = 'bfd' | 'off';

/** LIVENESS_INTERVAL_MIN_MS / MAX bound the BFD transmit and receive interval a pool or the flag may ask for. */
export const LIVENESS_INTERVAL_MIN_MS = 10;
export const LIVENESS_INTERVAL_MAX_MS = 10_000;
/** LIVENESS_MULTIPLIER_MIN / MAX bound bfd.DetectMult (RFC 5880 §6.8.1: nonzero, 8 bits); 1 would fire on one loss. */
export const LIVENESS_MULTIPLIER_MIN = 2;
export const LIVENESS_MULTIPLIER_MAX = 255;

/** LivenessTuning is what one pool asks for; an undefined field takes the cluster default. Frozen. */
export interface LivenessTuning {
  readonly mode?: LivenessMode;
  /** intervalMs is both bfd.DesiredMinTxInterval and bfd.RequiredMinRxInterval, in ms. */
  readonly intervalMs?: number;
  /** detectMult is bfd.DetectMult: the session is down after this many intervals of silence. */
  readonly detectMult?: number;
}

/** LivenessSettings is a resolved setting: the mode and, for `bfd`, the pace. */
export interface LivenessSettings {
  readonly mode: LivenessMode;
  readonly intervalMs: number;
  readonly detectMult: number;
}

/**
 * DEFAULT_LIVENESS is the cluster default when the speaker gets no flag: off. Measured on a loaded 2-core machine, a
 * BFD session in Node costs about 10 % of a core at 10 ms, and sessions flap at 10 ms × 3 unless the speaker runs
 * with SCHED_FIFO; the cost grows with the number of other candidate nodes. Turning it on is a choice of CPU for
 * detection time that the operator should make (README, "Liveness"). When on, 20 ms × 3 is the pace: a dead
 * master is seen after 60 ms, twice the 10 ms floor's margin against event-loop stalls.
 */
export const DEFAULT_LIVENESS: LivenessSettings = Object.freeze({ mode: 'off', intervalMs: 20, detectMult: 3 });

/** NO_LIVENESS_TUNING is a pool that says nothing: everything from the cluster default. */
export const NO_LIVENESS_TUNING: LivenessTuning = Object.freeze({});

/** resolveLiveness fills a pool's unset fields from the cluster default. */
export function resolveLiveness(pool: LivenessTuning, cluster: LivenessSettings): LivenessSettings {
  return Object.freeze({
    mode: pool.mode ?? cluster.mode,
    intervalMs: pool.intervalMs ?? cluster.intervalMs,
    detectMult: pool.detectMult ?? cluster.detectMult,
  });
}

type Parsed<T> = { readonly value: T } | { readonly error: string };

/** parseLivenessMode reads `bfd` or `off`. */
export function parseLivenessMode(text: string): Parsed<LivenessMode> {
  const t = text.trim().toLowerCase();
  if (t === 'bfd' || t === 'off') return { value: t };
  return { error: `"${text}" is not bfd or off` };
}

/** parseLivenessInterval reads a duration with a unit ("20ms", "0.05s") into whole ms within the bounds. */
export function parseLivenessInterval(text: string): Parsed<number> {
  if (/^\s*\d+(\.\d+)?\s*$/.test(text)) return { error: `"${text}" has no unit (write e.g. 20ms)` };
  const parsed = parseDuration(text);
  if (parsed === undefined) return { error: `"${text}" is not a duration (e.g. 20ms)` };
  const ms = Math.round(parsed * 1000) / 1000; // undo float noise such as 0.07 s × 1000
  if (!Number.isInteger(ms) || ms < LIVENESS_INTERVAL_MIN_MS || ms > LIVENESS_INTERVAL_MAX_MS) {
    return {
      error: `"${text}" is not a whole number of ms in ${LIVENESS_INTERVAL_MIN_MS}ms..${LIVENESS_INTERVAL_MAX_MS / 1000}s`,
    };
  }
  return { value: ms };
}

/** parseLivenessMultiplier reads bfd.DetectMult. */
export function parseLivenessMultiplier(text: string): Parsed<number> {
  const n = /^\s*\d{1,3}\s*$/.test(text) ? Number(text) : Number.NaN;
  if (!(n >= LIVENESS_MULTIPLIER_MIN && n <= LIVENESS_MULTIPLIER_MAX)) {
    return { error: `"${text}" is not a whole number ${LIVENESS_MULTIPLIER_MIN}..${LIVENESS_MULTIPLIER_MAX}` };
  }
  return { value: n };
}

/** sameLivenessTuning compares two pools' liveness settings. */
export function sameLivenessTuning(a: LivenessTuning, b: LivenessTuning): boolean {
  return a.mode === b.mode && a.intervalMs === b.intervalMs && a.detectMult === b.detectMult;
}
