/**
 * VIP spread benchmark: how evenly rendezvous priorities spread VIP masters over the nodes, and how many move when a
 * node dies or joins. Prints figures, asserts nothing. Run: `node --import tsx bench/spread.ts`.
 *
 * Each scenario builds a real cluster snapshot (one Service per VIP, VRIDs handed out by the controller's
 * VridAllocator, so VIPs share routers past 255 per family) and runs the speakers' own decision, routerGroups; the
 * master of a router is its best-ranked node. Spread is max/mean of VIPs mastered per node (target ≤ 1.3).
 * - moved on loss: VIPs whose master changed when one node (the busiest) leaves, other than that node's own VIPs
 *   (rendezvous hashing should make this 0);
 * - moved on join: share of VIPs that move to a new node (ideal 1/(N+1)).
 */

import { VridAllocator } from '../src/controller/vrid-allocator.ts';
import type { ClusterSnapshot, NodeView, ServiceView } from '../src/model/cluster-snapshot.ts';
import { parseConfig } from '../src/model/config.ts';
import { formatServiceVrids } from '../src/model/service-vrids.ts';
import { routerGroups } from '../src/speaker/cluster/desired-routers.ts';
import type { Family } from '../vrrp/advert.ts';

const POOLS = [{ metadata: { name: 'p' }, spec: { addresses: ['10.0.0.0/16', 'fd00::/112'] } }];
const { config } = parseConfig({ pools: POOLS, l2Advertisements: [{ metadata: { name: 'l2' } }] });

function vipAt(family: Family, i: number): string {
  return family === 'ipv4' ? `10.0.${Math.floor(i / 256)}.${i % 256}` : `fd00::${i.toString(16)}`;
}

function services(v4: number, v6: number): ServiceView[] {
  const vrids = new VridAllocator();
  const out: ServiceView[] = [];
  const add = (family: Family, count: number) => {
    for (let i = 1; i <= count; i++) {
      const vip = vipAt(family, i);
      const r = vrids.acquire(family, vip, { lo: 1, hi: 255 });
      if (!r.ok) throw new Error(r.error.message);
      out.push({
        namespace: 'bench',
        name: `${family}-${i}`,
        vips: [vip],
        externalTrafficPolicy: 'Cluster',
        vridAnnotation: formatServiceVrids([[vip, r.vrid]]),
      });
    }
  };
  add('ipv4', v4);
  add('ipv6', v6);
  return out;
}

function snapshot(svcs: ServiceView[], nodes: string[]): ClusterSnapshot {
  const views: NodeView[] = nodes.map((name) => ({
    name,
    labels: {},
    ready: true,
    networkUnavailable: false,
    internalIps: [],
  }));
  return {
    services: svcs,
    nodes: views,
    readyEndpoints: new Map(),
    pools: config.pools,
    l2Advertisements: config.l2Advertisements,
    tunings: new Map(),
  };
}

/** masters maps each VIP to its master node. */
function masters(snap: ClusterSnapshot): Map<string, string> {
  const out = new Map<string, string>();
  for (const g of routerGroups(snap).groups) {
    const top = g.ranking[0];
    if (top) for (const vip of g.vips) out.set(vip, top.node);
  }
  return out;
}

function perNode(m: Map<string, string>, nodes: string[]): Map<string, number> {
  const count = new Map(nodes.map((n) => [n, 0]));
  for (const node of m.values()) count.set(node, (count.get(node) ?? 0) + 1);
  return count;
}

const rows: string[][] = [
  [
    'nodes',
    'v4 VIPs',
    'v6 VIPs',
    'routers',
    'min',
    'max',
    'mean',
    'max/mean',
    'moved on loss',
    'moved on join (ideal)',
  ],
];
const scenarios: [number, number, number][] = [
  [3, 10, 0],
  [3, 255, 0],
  [3, 255, 255],
  [5, 255, 255],
  [10, 255, 255],
  [3, 1000, 0],
  [10, 1000, 0],
  [50, 255, 255],
];
for (const [n, v4, v6] of scenarios) {
  const nodes = Array.from({ length: n }, (_, i) => `node-${i + 1}`);
  const svcs = services(v4, v6);
  const snap = snapshot(svcs, nodes);
  const before = masters(snap);
  const counts = [...perNode(before, nodes).values()];
  const mean = before.size / n;
  const max = Math.max(...counts);
  const busiest = nodes[counts.indexOf(max)]!;

  const afterLoss = masters(
    snapshot(
      svcs,
      nodes.filter((x) => x !== busiest),
    ),
  );
  let movedOnLoss = 0;
  for (const [vip, node] of before) if (node !== busiest && afterLoss.get(vip) !== node) movedOnLoss++;

  const afterJoin = masters(snapshot(svcs, [...nodes, 'node-new']));
  let movedOnJoin = 0;
  for (const [vip, node] of before) if (afterJoin.get(vip) !== node) movedOnJoin++;

  rows.push([
    String(n),
    String(v4),
    String(v6),
    String(routerGroups(snap).groups.length),
    String(Math.min(...counts)),
    String(max),
    mean.toFixed(1),
    (max / mean).toFixed(2),
    String(movedOnLoss),
    `${((100 * movedOnJoin) / before.size).toFixed(1)}% (${(100 / (n + 1)).toFixed(1)}%)`,
  ]);
}

const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
for (const r of rows) console.log(r.map((c, i) => c.padStart(widths[i]!)).join('  '));
