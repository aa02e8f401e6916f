/**
 * One health check's verdict, as keepalived's vrrp_script / track_script keeps it: results come in one at a time with
 * the time passed in; `fall` failures in a row take an up check down, `rise` successes in a row bring a down check
 * back up; a result agreeing with the current status clears the opposite streak. No I/O, no clock: the probe edge
 * (src/net/health-probe.ts) and the link watch (src/net/link-watch.ts) feed it.
 *
 * A check starts `unknown`, and its first result decides at once (no rise or fall yet): a node that boots with a
 * broken endpoint must not hold a VIP for `fall` intervals, and a healthy one must not wait `rise` intervals before
 * it may serve. health-adjust.ts treats `unknown` as up (keepalived's scripts also start good): nothing is known
 * against the node.
 */

/** CheckStatus is a check's verdict. */
export type CheckStatus = 'unknown' | 'up' | 'down';

/** Thresholds are keepalived's rise and fall counts (1 each: every result decides). */
export interface Thresholds {
  readonly rise: number;
  readonly fall: number;
}

/** CheckState is one check's verdict and what it rests on. Plain data. */
export interface CheckState {
  readonly status: CheckStatus;
  /** since is when the status last changed (ms; the creation time while unknown). */
  readonly since: number;
  /** streak counts results in a row that disagree with `status` (toward rise or fall). */
  readonly streak: number;
  /** detail is the last result's text (e.g. "HTTP 503", "connect ECONNREFUSED", "carrier down"). */
  readonly detail: string;
}

/** CheckResult is one probe outcome. */
export interface CheckResult {
  readonly ok: boolean;
  readonly detail: string;
}

/** initialCheckState is a check that has had no result yet. */
export function initialCheckState(now: number): CheckState {
  return { status: 'unknown', since: now, streak: 0, detail: '' };
}

/** recordResult folds one result in at time `now`; `changed` is true when the status moved. */
export function recordResult(
  state: CheckState,
  result: CheckResult,
  now: number,
  thresholds: Thresholds,
): { readonly state: CheckState; readonly changed: boolean } {
  const { ok, detail } = result;
  if (state.status === 'unknown') {
    return { state: { status: ok ? 'up' : 'down', since: now, streak: 0, detail }, changed: true };
  }
  const agrees = (state.status === 'up') === ok;
  if (agrees) return { state: { ...state, streak: 0, detail }, changed: false };
  const streak = state.streak + 1;
  const needed = state.status === 'up' ? thresholds.fall : thresholds.rise;
  if (streak < needed) return { state: { ...state, streak, detail }, changed: false };
  return { state: { status: ok ? 'up' : 'down', since: now, streak: 0, detail }, changed: true };
}
