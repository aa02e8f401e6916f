/**
 * healthReport turns what this node's health does to its routers (health-adjust.ts) into the report it publishes on
 * its Lease (src/model/node-health-report.ts), so `metal-vrrp status` can name the excluded and lowered nodes of each
 * VIP. Pure: the monotonic verdict times are turned into wall times by `toWall`.
 */
import type { NodeHealthReport, ReportedRouter } from '../model/node-health-report.ts';
import type { RouterKey, RouterSpec } from '../speaker/router-spec.ts';
import type { HealthAdjustment } from './health-adjust.ts';

/** healthReport lists every router health acts on, by family then VRID; none when the node is healthy. */
export function healthReport(
  node: string,
  adjustments: ReadonlyMap<RouterKey, HealthAdjustment>,
  routers: ReadonlyMap<RouterKey, RouterSpec>,
  toWall: (monotonicMs: number) => number,
): NodeHealthReport {
  const out: ReportedRouter[] = [];
  for (const [key, adj] of adjustments) {
    const spec = routers.get(key);
    if (spec === undefined) continue;
    out.push({
      family: spec.config.family,
      vrid: spec.config.vrid,
      vips: [...spec.vips],
      effect: adj.resign ? 'resign' : 'lower',
      basePriority: adj.basePriority,
      priority: adj.priority,
      checks: adj.findings.map((f) => ({
        check: f.check,
        kind: f.kind,
        since: new Date(Math.round(toWall(f.since))).toISOString(),
        detail: f.detail,
      })),
    });
  }
  out.sort((a, b) => (a.family !== b.family ? (a.family === 'ipv4' ? -1 : 1) : a.vrid - b.vrid));
  return { node, routers: out };
}
