/**
 * `metal-vrrp status`: which node serves each VIP. Pure: rows are built from plain data the CLI lists from the API
 * (Services, ServiceL2Status objects, and the router groups every speaker computes from the same snapshot), then
 * rendered as a kubectl-style table or as JSON. No clock is read: `now` is passed in.
 *
 * Where each column comes from:
 * - POOL, VRID, INTERVAL, BACKUPS: the router group of the VIP (routerGroups in src/speaker/desired-routers.ts), i.e.
 *   the VRID the controller recorded, the pool's tuning, and the rendezvous ranking over the eligible nodes. A speaker
 *   may report the backups it actually hears (`reported`), which then win over the computed ranking.
 * - PREFERRED: the candidates the L2Advertisements' preferredNodeSelectors rank first, `node=score`, in rank order
 *   (from the router group's ranking, never from `reported`: a speaker reports priorities, not scores).
 * - MASTER: the ServiceL2Status naming the VIP (annotation metal-vrrp.io/vips; an object without it, as MetalLB
 *   writes them, covers every VIP of its Service). If two nodes claim a VIP (split brain: each wrote its object as
 *   master), the cell names every claimant, newest first, and says how many (`node-b,node-a (2 masters)`); `-o json`
 *   lists them in `masters`. The speakers' metal_vrrp_masters_seen shows the same on the wire within one interval.
 * - LAST TRANSITION: the creationTimestamp of that object. `status.node` is immutable and the old master deletes its
 *   object, so the object is exactly as old as the current mastership.
 * - HEALTH: the nodes whose own health checks exclude them from the VIP (`resigned`: priority 1) or lower their
 *   priority (`lowered-W`), with each failed check and how long it has failed, from the health reports the speakers
 *   publish on their Leases (src/model/node-health-report.ts); BACKUPS then shows those nodes at the priority they
 *   actually run with, in that order.
 */
import type { Family } from '../../vrrp/advert.ts';
import { parseIp } from '../../vrrp/ip.ts';
import { familyOf, poolForVip, type ServiceView } from '../model/cluster-snapshot.ts';
import type { Pool } from '../model/config.ts';
import type { NodeHealthNote } from '../model/node-health-report.ts';
import { L2_STATUS_LABELS, L2_STATUS_VIPS_ANNOTATION, type ServiceL2StatusObject } from '../model/service-l2-status.ts';
import { parseServiceVrids } from '../model/service-vrids.ts';
import type { RankedNode, RouterGroup, RouterKey } from '../speaker/cluster/desired-routers.ts';

/** StatusRow is one VIP of one Service. Nulls are unknowns (rendered `<none>` / `<unknown>`). */
export interface StatusRow {
  readonly namespace: string;
  readonly name: string;
  readonly vip: string;
  readonly family: Family;
  readonly pool: string | null;
  readonly vrid: number | null;
  readonly master: string | null;
  /** masters: every node claiming the VIP, newest first; more than one is a split brain (absent: just `master`). */
  readonly masters?: readonly string[];
  /** backups: the other candidates, best first. */
  readonly backups: readonly RankedNode[];
  /** preferred: the candidates with a preferredNodeSelectors score, in rank order (highest score first). */
  readonly preferred: readonly PreferredNode[];
  readonly advertIntervalMs: number | null;
  /** lastTransitionTime: RFC 3339, when the current master took over. */
  readonly lastTransitionTime: string | null;
  /** health: the nodes whose failed checks exclude or lower them for this VIP, by node name (absent: none). */
  readonly health?: readonly NodeHealthNote[];
}

/** PreferredNode is a candidate ranked up by preferredNodeSelectors, with its score (summed weights). */
export interface PreferredNode {
  readonly node: string;
  readonly score: number;
}

/** StatusInput is what the CLI gathers before rendering. */
export interface StatusInput {
  readonly services: readonly ServiceView[];
  readonly l2Statuses: readonly ServiceL2StatusObject[];
  readonly groups: readonly RouterGroup[];
  /** pools locate a VIP that has no router yet (no VRID recorded). */
  readonly pools?: readonly Pool[];
  /** reported: router key -> backups a speaker reports, best first; wins over the group's ranking. */
  readonly reported?: ReadonlyMap<RouterKey, readonly RankedNode[]>;
  /** health: vip -> the nodes whose health acts on it (healthNotesByVip over the fresh reports). */
  readonly health?: ReadonlyMap<string, readonly NodeHealthNote[]>;
}

/** withHealth gives the backups the priority their health leaves them, best first (stable for equal ones). */
function withHealth(backups: readonly RankedNode[], notes: readonly NodeHealthNote[]): RankedNode[] {
  if (notes.length === 0) return [...backups];
  const prio = new Map(notes.map((n) => [n.node, n.priority]));
  return backups
    .map((b) => (prio.has(b.node) ? { ...b, priority: prio.get(b.node)! } : b))
    .sort((a, b) => b.priority - a.priority);
}

interface Claim {
  readonly node: string;
  readonly since: string | null;
}

/** claimsOf maps "namespace/name/vip" (or "namespace/name/*" for objects without a VIP list) to master claims. */
function claimsOf(objects: readonly ServiceL2StatusObject[]): Map<string, Claim[]> {
  const out = new Map<string, Claim[]>();
  for (const o of objects) {
    const labels = o.metadata.labels ?? {};
    const ns = o.status?.serviceNamespace ?? labels[L2_STATUS_LABELS.serviceNamespace];
    const name = o.status?.serviceName ?? labels[L2_STATUS_LABELS.serviceName];
    const node = o.status?.node ?? labels[L2_STATUS_LABELS.node];
    if (!ns || !name || !node) continue;
    const listed = o.metadata.annotations?.[L2_STATUS_VIPS_ANNOTATION];
    const vips = listed === undefined ? ['*'] : listed.split(',').map((v) => v.trim());
    for (const vip of vips) {
      const key = `${ns}/${name}/${vip}`;
      const list = out.get(key) ?? [];
      list.push({ node, since: o.metadata.creationTimestamp ?? null });
      out.set(key, list);
    }
  }
  return out;
}

/** byNewest orders claims latest first (an unknown time counts as oldest), ties by node name. */
function byNewest(claims: readonly Claim[]): Claim[] {
  return [...claims].sort((a, b) => {
    const ta = a.since ?? '';
    const tb = b.since ?? '';
    if (ta !== tb) return ta < tb ? 1 : -1;
    return a.node < b.node ? -1 : a.node > b.node ? 1 : 0;
  });
}

function compareRows(a: StatusRow, b: StatusRow): number {
  if (a.namespace !== b.namespace) return a.namespace < b.namespace ? -1 : 1;
  if (a.name !== b.name) return a.name < b.name ? -1 : 1;
  if (a.family !== b.family) return a.family === 'ipv4' ? -1 : 1;
  const x = parseIp(a.vip)?.value ?? 0n;
  const y = parseIp(b.vip)?.value ?? 0n;
  return x < y ? -1 : x > y ? 1 : 0;
}

/** buildStatusRows joins the inputs into one row per Service VIP, sorted by namespace, name, family, address. */
export function buildStatusRows(input: StatusInput): StatusRow[] {
  // vip -> its router group
  const groupOf = new Map<string, RouterGroup>();
  for (const g of input.groups) for (const vip of g.vips) groupOf.set(vip, g);
  const claims = claimsOf(input.l2Statuses);
  const rows: StatusRow[] = [];
  for (const svc of input.services) {
    const recorded = svc.vridAnnotation === undefined ? undefined : parseServiceVrids(svc.vridAnnotation);
    for (const vip of svc.vips) {
      const group = groupOf.get(vip);
      const ordered = byNewest([
        ...(claims.get(`${svc.namespace}/${svc.name}/${vip}`) ?? []),
        ...(claims.get(`${svc.namespace}/${svc.name}/*`) ?? []),
      ]);
      const claim = ordered[0];
      const master = claim?.node ?? null;
      const masters = [...new Set(ordered.map((c) => c.node))];
      const ranking = (group && input.reported?.get(group.key)) ?? group?.ranking ?? [];
      const vrid = group?.vrid ?? (recorded && 'vrids' in recorded ? recorded.vrids.get(vip) : undefined) ?? null;
      const health = input.health?.get(vip) ?? [];
      const pool = group?.pools.length === 1 ? group.pools[0]! : (poolForVip(input.pools ?? [], vip)?.name ?? null);
      rows.push({
        namespace: svc.namespace,
        name: svc.name,
        vip,
        family: familyOf(vip),
        pool,
        vrid,
        master,
        masters,
        backups: withHealth(
          ranking.filter((r) => !masters.includes(r.node)),
          health,
        ),
        preferred: (group?.ranking ?? []).flatMap((r) =>
          r.preference === undefined ? [] : [{ node: r.node, score: r.preference }],
        ),
        advertIntervalMs: group ? group.tuning.advertIntervalCs * 10 : null,
        lastTransitionTime: claim?.since ?? null,
        ...(health.length > 0 ? { health } : {}),
      });
    }
  }
  return rows.sort(compareRows);
}

/**
 * humanDuration prints an age as kubectl does (apimachinery's duration.HumanDuration): seconds up to 2 minutes,
 * then minutes and seconds up to 10 minutes, minutes up to 3 hours, hours and minutes up to 8 hours, hours up to 2
 * days, days and hours up to 8 days, days up to 2 years, years and days up to 8 years, then years.
 */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000); // Go int() truncates toward zero
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  const days = Math.floor(hours / 24);
  if (hours < 24 * 8) return hours % 24 === 0 ? `${days}d` : `${days}d${hours % 24}h`;
  if (hours < 24 * 365 * 2) return `${days}d`;
  const years = Math.floor(days / 365);
  if (hours < 24 * 365 * 8) return days % 365 === 0 ? `${years}y` : `${years}y${days % 365}d`;
  return `${years}y`;
}

/** formatInterval prints an advert interval: "100ms", "1s", "40.95s". */
export function formatInterval(ms: number): string {
  return ms < 1000 ? `${ms}ms` : `${Number((ms / 1000).toFixed(3))}s`;
}

/** STATUS_COLUMNS are the table's headers, in order. */
export const STATUS_COLUMNS = [
  'NAMESPACE',
  'NAME',
  'VIP',
  'POOL',
  'VRID',
  'MASTER',
  'BACKUPS',
  'PREFERRED',
  'HEALTH',
  'INTERVAL',
  'LAST TRANSITION',
] as const;

/** masterCell names the master, or every claimant and how many when several nodes claim the VIP. */
function masterCell(row: StatusRow): string {
  const all = row.masters ?? [];
  return all.length > 1 ? `${all.join(',')} (${all.length} masters)` : (row.master ?? '<none>');
}

/**
 * healthCell names each node health acts on: `node-b:resigned(http://:10256/healthz 42s)`, a lowered node
 * `node-c:lowered-20(…)`, several checks separated by `;`, nodes by `,`.
 */
export function healthCell(notes: readonly NodeHealthNote[], now: number): string {
  if (notes.length === 0) return '<none>';
  return notes
    .map((n) => {
      const effect = n.effect === 'resign' ? 'resigned' : `lowered-${n.basePriority - n.priority}`;
      const checks = n.checks.map((c) => {
        const since = Date.parse(c.since);
        return `${c.check} ${Number.isNaN(since) ? '<unknown>' : humanDuration(now - since)}`;
      });
      return `${n.node}:${effect}(${checks.join(';')})`;
    })
    .join(',');
}

/**
 * statusCells renders one row's cells; backups read `node:priority`, comma-separated, best first; preferred nodes
 * `node=score`, in rank order.
 */
export function statusCells(row: StatusRow, now: number): string[] {
  const since = row.lastTransitionTime === null ? Number.NaN : Date.parse(row.lastTransitionTime);
  return [
    row.namespace,
    row.name,
    row.vip,
    row.pool ?? '<none>',
    row.vrid === null ? '<none>' : String(row.vrid),
    masterCell(row),
    row.backups.length === 0 ? '<none>' : row.backups.map((b) => `${b.node}:${b.priority}`).join(','),
    row.preferred.length === 0 ? '<none>' : row.preferred.map((p) => `${p.node}=${p.score}`).join(','),
    healthCell(row.health ?? [], now),
    row.advertIntervalMs === null ? '<unknown>' : formatInterval(row.advertIntervalMs),
    Number.isNaN(since) ? '<unknown>' : humanDuration(now - since),
  ];
}

/**
 * renderStatusTable lays rows out as kubectl does (text/tabwriter, padding 3): each column as wide as its widest
 * cell plus three spaces, the last column unpadded, one line per row, a trailing newline. No rows: kubectl's message.
 */
export function renderStatusTable(rows: readonly StatusRow[], now: number): string {
  if (rows.length === 0) return 'No resources found\n';
  const lines = [[...STATUS_COLUMNS] as string[], ...rows.map((r) => statusCells(r, now))];
  const widths = STATUS_COLUMNS.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)));
  const last = STATUS_COLUMNS.length - 1;
  return lines
    .map((cells) => cells.map((c, i) => (i === last ? c : c.padEnd(widths[i]! + 3))).join(''))
    .join('\n')
    .concat('\n');
}

/** renderStatusJson is `-o json`: a list object with one item per row, as the rows hold them, two-space indented. */
export function renderStatusJson(rows: readonly StatusRow[]): string {
  const items = rows.map((r) => ({
    service: { namespace: r.namespace, name: r.name },
    vip: r.vip,
    family: r.family,
    pool: r.pool,
    vrid: r.vrid,
    master: r.master,
    masters: r.masters ?? (r.master === null ? [] : [r.master]),
    backups: r.backups.map((b) => ({ node: b.node, priority: b.priority })),
    preferred: r.preferred.map((p) => ({ node: p.node, score: p.score })),
    advertIntervalMs: r.advertIntervalMs,
    lastTransitionTime: r.lastTransitionTime,
    health: (r.health ?? []).map((n) => ({
      node: n.node,
      effect: n.effect,
      basePriority: n.basePriority,
      priority: n.priority,
      checks: n.checks.map((c) => ({ check: c.check, kind: c.kind, since: c.since, detail: c.detail })),
    })),
  }));
  return `${JSON.stringify({ kind: 'VIPStatusList', items }, null, 2)}\n`;
}
