// timeline.ts — the lab's failover pictures: the drill hands each event's ARP/NDP probe results here (drill.ts
// `onProbes`), and one SVG per event (lab/timeline-svg.ts) is written into the lab's log directory, next to the
// speakers' logs, its path printed beside the text report.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ArpProbeResult } from './netlab/probe.ts';
import type { RunPlan } from './plan.ts';
import { renderTimelineSvg } from './timeline-svg.ts';

/** writeDrillTimeline draws one drill event (`what` happened to `node` at `at`, epoch ms); returns the file path. */
export function writeDrillTimeline(
  plan: RunPlan,
  what: string,
  node: string,
  at: number,
  probes: readonly ArpProbeResult[],
  probeIntervalMs: number,
): string {
  const nodeOf = new Map(plan.nodes.map((n) => [n.host.mac, n.nodeName] as const));
  const lanes = [...probes]
    .sort((a, b) => a.vip.localeCompare(b.vip, 'en', { numeric: true }))
    .map((p) => ({
      label: p.vip,
      answers: p.answers
        .filter((a) => a.kind === 'reply')
        .map((a) => ({ t: a.t - at, who: nodeOf.get(a.mac) ?? a.mac })),
    }));
  const from = Math.max(...probes.map((p) => p.startedAt - at), -1000);
  const to = Math.min(...probes.map((p) => p.stoppedAt - at));
  const svg = renderTimelineSvg({
    title: `metal-vrrp lab: ${what} of ${node}`,
    subtitle: `${plan.nodes.length} nodes; the client ARP-probes every VIP every ${probeIntervalMs} ms; ${new Date(at).toISOString()}`,
    fromMs: from,
    toMs: Math.max(from + 1, to),
    probeIntervalMs,
    lanes,
    marks: [{ t: 0, label: `${what} ${node}` }],
  });
  const path = join(plan.dir, `failover-${what.replace(/\W+/g, '-')}-${node}.svg`);
  writeFileSync(path, svg);
  return path;
}
