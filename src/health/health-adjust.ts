/**
 * Health as an input to the election (issue 13), as a pure function: this node's own check verdicts turn the desired
 * RouterSpecs (desired-routers.ts) into health-adjusted ones. No node sees another's health, and none needs to: VRRP
 * elects the highest priority that is advertising, so a node that lowers only itself moves the VIP.
 *
 * The rule, per router, from the first pool's HealthTuning (the pool whose tuning the router runs with):
 * - resign (the interface's carrier is down and track-interface is on; the node is cordoned and resign-when-cordoned
 *   is on; a probe failed and health-weight is 0): priority RESIGN_PRIORITY (1). RFC 5798 §5.2.4 reserves priority 0
 *   for a master that stops, so 0 cannot be configured; instead resignSteps turns the master's priority drop into a
 *   restart, whose stop sends the priority-0 advert (§6.4.3) so a backup takes over after Skew_Time (§6.4.2), and
 *   whose start keeps this node in the election as a priority-1 backup: it can come back, and it still serves when
 *   every other node is worse off.
 * - lower (a probe failed and health-weight > 0): priority − weight per failed probe, floor 1 (keepalived's
 *   track_script weight): applied live, so a master keeps the VIP until a higher backup preempts it (§6.4.2).
 * When no eligible node is healthy, every node has only lowered itself: the router still elects the highest remaining
 * priority (ties: the highest primary address, §6.4.3), so the healthiest node serves rather than nobody.
 * Recovery is the engine's preemption: after `rise` good results the priority returns, and the pool's preempt-delay
 * holds the take-back (router.ts backupOnAdvert), so a recovering node does not flap the VIP back.
 *
 * A check with no result yet (`unknown`) counts as up.
 */
import { PRIORITY_MIN } from '../../vrrp/router-config.ts';
import type { HealthTuning, ProbeTarget } from '../model/health-checks.ts';
import { type PoolTuning, tuningOf } from '../model/pool-tuning.ts';
import type { RouterKey, RouterSpec, RouterStep, StateName } from '../speaker/router-spec.ts';
import type { CheckStatus } from './check-state.ts';

/** RESIGN_PRIORITY is the priority a resigned node keeps: the lowest configurable one (RFC 5798 §5.2.4). */
export const RESIGN_PRIORITY = PRIORITY_MIN;

/** CheckVerdict is a check's current verdict, as the monitor keeps it (check-state.ts). */
export interface CheckVerdict {
  readonly status: CheckStatus;
  /** since: when the status last changed (ms). */
  readonly since: number;
  readonly detail: string;
}

/** NodeHealth is this node's own health. */
export interface NodeHealth {
  /** links: ifname -> carrier verdict (no entry: not watched yet, counts as up). */
  readonly links: ReadonlyMap<string, CheckVerdict>;
  /** probes: probe key (probeKey) -> verdict (no entry: counts as up). */
  readonly probes: ReadonlyMap<string, CheckVerdict>;
  /** cordonedSince: since when the node has been seen with spec.unschedulable; undefined when it is not cordoned. */
  readonly cordonedSince: number | undefined;
}

/** HEALTHY is a node with no verdict against it. */
export const HEALTHY: NodeHealth = Object.freeze({ links: new Map(), probes: new Map(), cordonedSince: undefined });

/** CheckKind says what kind of check a finding comes from. */
export type CheckKind = 'interface' | 'kube-proxy' | 'probe' | 'cordon';

/** ProbeSpec is one probe the monitor must run: a target with the pool's timing and counts. */
export interface ProbeSpec {
  /** key identifies the probe (probeKey): pools with the same URL and settings share one probe. */
  readonly key: string;
  readonly kind: 'kube-proxy' | 'probe';
  readonly target: ProbeTarget;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly rise: number;
  readonly fall: number;
}

/** probeKey names a probe by its URL and settings, e.g. `http://:10256/healthz 1000/500/3/1`. */
export function probeKey(target: ProbeTarget, h: HealthTuning): string {
  return `${target.url} ${h.intervalMs}/${h.timeoutMs}/${h.rise}/${h.fall}`;
}

/** HealthFinding is one failed check that acts on a router. */
export interface HealthFinding {
  /** check names the check: `interface eth0`, a probe URL, or `cordoned`. */
  readonly check: string;
  readonly kind: CheckKind;
  readonly effect: 'resign' | 'lower';
  /** weight subtracted ('lower'); 0 for 'resign'. */
  readonly weight: number;
  readonly since: number;
  readonly detail: string;
}

/** HealthAdjustment is what health did to one router of this node. */
export interface HealthAdjustment {
  readonly key: RouterKey;
  /** basePriority is the priority the cluster's ranking gives this node. */
  readonly basePriority: number;
  readonly priority: number;
  readonly resign: boolean;
  readonly findings: readonly HealthFinding[];
}

function healthOf(spec: RouterSpec, tunings: ReadonlyMap<string, PoolTuning>): HealthTuning {
  return tuningOf(tunings, spec.pools[0]).health;
}

function probesOf(h: HealthTuning): ProbeSpec[] {
  const out: ProbeSpec[] = [];
  const add = (kind: ProbeSpec['kind'], target: ProbeTarget | undefined) => {
    if (target === undefined) return;
    const { intervalMs, timeoutMs, rise, fall } = h;
    out.push({ key: probeKey(target, h), kind, target, intervalMs, timeoutMs, rise, fall });
  };
  add('kube-proxy', h.kubeProxy);
  add('probe', h.check);
  return out;
}

/** WantedChecks is what the monitor must watch for the given routers. */
export interface WantedChecks {
  /** links are the interfaces whose carrier is tracked, sorted. */
  readonly links: readonly string[];
  /** probes by key, sorted by key. */
  readonly probes: readonly ProbeSpec[];
}

/** wantedChecks lists the checks the routers' pools ask for (the monitor starts and stops probes to match). */
export function wantedChecks(
  routers: ReadonlyMap<RouterKey, RouterSpec>,
  tunings: ReadonlyMap<string, PoolTuning>,
): WantedChecks {
  const links = new Set<string>();
  // probe key -> spec
  const probes = new Map<string, ProbeSpec>();
  for (const spec of routers.values()) {
    const h = healthOf(spec, tunings);
    if (h.trackInterface) links.add(spec.interface);
    for (const p of probesOf(h)) probes.set(p.key, p);
  }
  const keys = [...probes.keys()].sort();
  return { links: [...links].sort(), probes: keys.map((k) => probes.get(k)!) };
}

function findingsFor(spec: RouterSpec, h: HealthTuning, health: NodeHealth): HealthFinding[] {
  const out: HealthFinding[] = [];
  const link = health.links.get(spec.interface);
  if (h.trackInterface && link?.status === 'down') {
    const check = `interface ${spec.interface}`;
    out.push({ check, kind: 'interface', effect: 'resign', weight: 0, since: link.since, detail: link.detail });
  }
  if (h.resignWhenCordoned && health.cordonedSince !== undefined) {
    const since = health.cordonedSince;
    out.push({ check: 'cordoned', kind: 'cordon', effect: 'resign', weight: 0, since, detail: 'spec.unschedulable' });
  }
  for (const p of probesOf(h)) {
    const v = health.probes.get(p.key);
    if (v?.status !== 'down') continue;
    const effect = h.weight === 0 ? 'resign' : 'lower';
    out.push({ check: p.target.url, kind: p.kind, effect, weight: h.weight, since: v.since, detail: v.detail });
  }
  return out;
}

/** HealthResult is the adjusted routers (same keys) and, for each router health acted on, what it did. */
export interface HealthResult {
  readonly routers: ReadonlyMap<RouterKey, RouterSpec>;
  readonly adjustments: ReadonlyMap<RouterKey, HealthAdjustment>;
}

/** applyHealth adjusts this node's desired routers to its own health (see the file comment). */
export function applyHealth(
  routers: ReadonlyMap<RouterKey, RouterSpec>,
  tunings: ReadonlyMap<string, PoolTuning>,
  health: NodeHealth,
): HealthResult {
  const out = new Map<RouterKey, RouterSpec>();
  const adjustments = new Map<RouterKey, HealthAdjustment>();
  for (const [key, spec] of routers) {
    const findings = findingsFor(spec, healthOf(spec, tunings), health);
    if (findings.length === 0) {
      out.set(key, spec);
      continue;
    }
    const base = spec.config.priority;
    const resign = findings.some((f) => f.effect === 'resign');
    const lowered = base - findings.reduce((sum, f) => sum + f.weight, 0);
    const priority = resign ? RESIGN_PRIORITY : Math.max(RESIGN_PRIORITY, lowered);
    out.set(key, priority === base ? spec : withPriority(spec, priority));
    adjustments.set(
      key,
      Object.freeze({ key, basePriority: base, priority, resign, findings: Object.freeze(findings) }),
    );
  }
  return { routers: out, adjustments };
}

/** withPriority is `spec` with another priority (1..254 stays within validateRouterConfig's bounds). */
function withPriority(spec: RouterSpec, priority: number): RouterSpec {
  return Object.freeze({ ...spec, config: Object.freeze({ ...spec.config, priority }) });
}

/**
 * resignSteps turns the priority drop of a router this node masters into a restart when health resigns it: the stop
 * sends priority 0 (§6.4.3) so the next node takes over after Skew_Time instead of Master_Down_Interval, and the start
 * rejoins at RESIGN_PRIORITY. Backups, and lowered (not resigned) masters, keep the live reconfigure.
 */
export function resignSteps(
  steps: readonly RouterStep[],
  adjustments: ReadonlyMap<RouterKey, HealthAdjustment>,
  stateOf: (key: RouterKey) => StateName | undefined,
): RouterStep[] {
  return steps.map((s) => {
    if (s.op !== 'reconfigure' || s.configure.priority === undefined) return s;
    const adj = adjustments.get(s.key);
    if (!adj?.resign || s.configure.priority !== RESIGN_PRIORITY || stateOf(s.key) !== 'master') return s;
    return { op: 'restart', key: s.key, spec: s.spec, from: s.spec.interface };
  });
}
