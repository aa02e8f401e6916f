/**
 * The health report a speaker publishes about its own node (issue 13), so `metal-vrrp status` can say which nodes are
 * excluded (resigned) or lowered for a VIP, by which check and since when. A node that resigned does not announce, so
 * the ServiceL2Status objects (written by masters) cannot carry it; each speaker instead keeps one
 * coordination.k8s.io/v1 Lease in metal-vrrp's namespace, the convention of kubelet's node Leases:
 *   - name `metal-vrrp-speaker-<node>` (nodeHealthLeaseName), holderIdentity = the node, the label below;
 *   - the annotation `metal-vrrp.io/health` holds this report as JSON;
 *   - renewTime + leaseDurationSeconds say how fresh it is: the speaker renews it while it reports a finding, so a
 *     report left by a speaker that died is recognised as stale and not shown.
 * Plain data, no API client: the speaker builds it (src/health/health-report.ts), src/k8s writes and lists it, the
 * status command reads it (src/status/table.ts).
 */
import type { Family } from '../../vrrp/advert.ts';

/** NODE_HEALTH_ANNOTATION carries the report (JSON) on the node's Lease. */
export const NODE_HEALTH_ANNOTATION = 'metal-vrrp.io/health';
/** NODE_HEALTH_LABEL marks the speakers' health Leases, so status lists them with a label selector. */
export const NODE_HEALTH_LABEL = 'metal-vrrp.io/node-health';
/** NODE_HEALTH_LEASE_PREFIX starts every health Lease's name (the admission policy checks it). */
export const NODE_HEALTH_LEASE_PREFIX = 'metal-vrrp-speaker-';
/** NODE_HEALTH_LEASE_SECONDS: a report not renewed for this long is stale (the speaker renews every third of it). */
export const NODE_HEALTH_LEASE_SECONDS = 90;

/** nodeHealthLeaseName is the Lease of `node`, or undefined when the name would exceed a DNS subdomain (253). */
export function nodeHealthLeaseName(node: string): string | undefined {
  const name = `${NODE_HEALTH_LEASE_PREFIX}${node}`;
  return name.length <= 253 ? name : undefined;
}

/** ReportedCheck is one failed check acting on a router. */
export interface ReportedCheck {
  /** check names it as Events do: `interface eth0`, a probe URL, or `cordoned`. */
  readonly check: string;
  readonly kind: 'interface' | 'kube-proxy' | 'probe' | 'cordon';
  /** since: RFC 3339, when the check turned failed. */
  readonly since: string;
  /** detail: the last result (`HTTP 503`, `connect ECONNREFUSED`, `carrier down`). */
  readonly detail: string;
}

/** ReportedRouter is what health does to one router of the node. */
export interface ReportedRouter {
  readonly family: Family;
  readonly vrid: number;
  readonly vips: readonly string[];
  /** effect: `resign` (excluded: priority 1, a master hands over) or `lower` (priority − weight). */
  readonly effect: 'resign' | 'lower';
  readonly basePriority: number;
  readonly priority: number;
  readonly checks: readonly ReportedCheck[];
}

/** NodeHealthReport is the annotation's content: the node and every router its health acts on (none: healthy). */
export interface NodeHealthReport {
  readonly node: string;
  readonly routers: readonly ReportedRouter[];
}

/** NodeHealthEntry is one node's report as listed, with its freshness. */
export interface NodeHealthEntry {
  readonly report: NodeHealthReport;
  /** renewTime: ms since the epoch; expiresAt = renewTime + leaseDurationSeconds. */
  readonly renewTime: number;
  readonly expiresAt: number;
}

const KINDS = new Set(['interface', 'kube-proxy', 'probe', 'cordon']);

function isCheck(v: unknown): v is ReportedCheck {
  const c = v as ReportedCheck;
  return (
    typeof c === 'object' &&
    c !== null &&
    typeof c.check === 'string' &&
    KINDS.has(c.kind) &&
    typeof c.since === 'string' &&
    typeof c.detail === 'string'
  );
}

function isRouter(v: unknown): v is ReportedRouter {
  const r = v as ReportedRouter;
  return (
    typeof r === 'object' &&
    r !== null &&
    (r.family === 'ipv4' || r.family === 'ipv6') &&
    Number.isInteger(r.vrid) &&
    Array.isArray(r.vips) &&
    r.vips.every((x) => typeof x === 'string') &&
    (r.effect === 'resign' || r.effect === 'lower') &&
    Number.isInteger(r.basePriority) &&
    Number.isInteger(r.priority) &&
    Array.isArray(r.checks) &&
    r.checks.every(isCheck)
  );
}

/**
 * parseNodeHealthReport reads the annotation; undefined when it is not a report (another writer's Lease, a newer
 * format): status then shows nothing for that node rather than a guess.
 */
export function parseNodeHealthReport(json: string | undefined): NodeHealthReport | undefined {
  if (json === undefined) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch {
    return undefined;
  }
  const r = v as NodeHealthReport;
  if (typeof r !== 'object' || r === null || typeof r.node !== 'string' || !Array.isArray(r.routers)) return undefined;
  if (!r.routers.every(isRouter)) return undefined;
  return r;
}

/** NodeHealthNote is what status shows for one node on one VIP. */
export interface NodeHealthNote {
  readonly node: string;
  readonly effect: 'resign' | 'lower';
  readonly basePriority: number;
  readonly priority: number;
  readonly checks: readonly ReportedCheck[];
}

/**
 * healthNotesByVip indexes the fresh reports (expiresAt after `now`) by VIP: vip -> the nodes whose health acts on
 * it, by node name. A report of a speaker that stopped renewing is left out: its node is gone or its speaker is, and
 * VRRP has already moved its VIPs for that reason, not for health.
 */
export function healthNotesByVip(
  entries: readonly NodeHealthEntry[],
  now: number,
): ReadonlyMap<string, readonly NodeHealthNote[]> {
  const out = new Map<string, NodeHealthNote[]>();
  for (const e of entries) {
    if (e.expiresAt <= now) continue;
    for (const r of e.report.routers) {
      const note: NodeHealthNote = {
        node: e.report.node,
        effect: r.effect,
        basePriority: r.basePriority,
        priority: r.priority,
        checks: r.checks,
      };
      for (const vip of r.vips) {
        const list = out.get(vip) ?? [];
        list.push(note);
        out.set(vip, list);
      }
    }
  }
  for (const list of out.values()) list.sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
  return out;
}
