/**
 * VIP spread benchmark: how evenly the speakers' priorities spread VIP masters over the nodes, and how many VIPs move
 * when a node dies, leaves or joins. Prints figures, asserts nothing. Run: `node --import tsx bench/spread.ts`.
 *
 * Each scenario builds a real cluster snapshot (one Service per VIP, VRIDs handed out by the controller's
 * VridAllocator, so VIPs share routers past 255 per family) and runs the speakers' own decision, routerGroups; the
 * master of a router is its best-ranked node. Columns:
 * - max/mean: most VIPs mastered by one node over the mean, with balanced placement (vrrp/placement.ts) and, for
 *   comparison, with plain rendezvous hashing (`hrw`), the ranking before issue 16;
 * - after 1 / 2 losses: max/mean over the survivors when the busiest node (then the next busiest) goes NotReady:
 *   rank 2, then ranks 2 and 3, at work;
 * - moved on loss: VIPs whose master changed when the busiest node went NotReady, other than that node's own (0 is
 *   the point), and of its own, how many did not land on their former rank-2 node (a second move; 0 is the point);
 * - moved on removal: the same node deleted from the cluster instead (the member set changes, so placement re-runs):
 *   VIPs moved besides that node's own;
 * - moved on join: VIPs whose master changed when a node joins, and the ideal (what the new node should take).
 */

import { VridAllocator } from '../src/controller/vrid-allocator.ts';
import type { ClusterSnapshot, NodeView, ServiceView } from '../src/model/cluster-snapshot.ts';
import { parseConfig } from '../src/model/config.ts';
import { formatServiceVrids } from '../src/model/service-vrids.ts';
import { routerGroups } from '../src/speaker/cluster/desired-routers.ts';
import type { Family } from '../vrrp/advert.ts';
import { rankNodes } from '../vrrp/priority.ts';

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

function snapshot(svcs: ServiceView[], nodes: string[], notReady: readonly string[] = []): ClusterSnapshot {
  const views: NodeView[] = nodes.map((name) => ({
    name,
    labels: {},
    ready: !notReady.includes(name),
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

/** Placement is each VIP's master and, per router, the node order (for the rank-2 check). */
interface Placement {
  readonly masters: Map<string, string>;
  readonly second: Map<string, string | undefined>;
}

function placement(snap: ClusterSnapshot): Placement {
  const masters = new Map<string, string>();
  const second = new Map<string, string | undefined>();
  for (const g of routerGroups(snap).groups) {
    const top = g.ranking[0];
    if (!top) continue;
    for (const vip of g.vips) {
      masters.set(vip, top.node);
      second.set(vip, g.ranking[1]?.node);
    }
  }
  return { masters, second };
}

/** hrwMasters is the master of each VIP under plain rendezvous hashing over `nodes`, for comparison. */
function hrwMasters(snap: ClusterSnapshot, nodes: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const g of routerGroups(snap).groups) for (const vip of g.vips) out.set(vip, rankNodes(g.key, nodes)[0]!);
  return out;
}

function perNode(m: Map<string, string>, nodes: readonly string[]): Map<string, number> {
  const count = new Map(nodes.map((n) => [n, 0]));
  for (const node of m.values()) count.set(node, (count.get(node) ?? 0) + 1);
  return count;
}

function ratio(m: Map<string, string>, nodes: readonly string[]): { max: number; min: number; ratio: number } {
  const counts = [...perNode(m, nodes).values()];
  const max = Math.max(...counts);
  return { max, min: Math.min(...counts), ratio: max / (m.size / nodes.length) };
}

function busiestOf(m: Map<string, string>, nodes: readonly string[], skip: readonly string[] = []): string {
  const counts = perNode(m, nodes);
  let best = '';
  for (const n of nodes) if (!skip.includes(n) && (best === '' || counts.get(n)! > counts.get(best)!)) best = n;
  return best;
}

const rows: string[][] = [
  [
    'nodes',
    'v4',
    'v6',
    'routers',
    'min',
    'max',
    'mean',
    'max/mean',
    'hrw',
    'after 1 loss',
    'after 2',
    'moved on loss (2nd moves)',
    'moved on removal',
    'moved on join (ideal)',
  ],
];
const scenarios: [number, number, number][] = [
  [3, 10, 0],
  [3, 255, 255],
  [5, 255, 255],
  [10, 255, 255],
  [3, 1000, 0],
  [10, 1000, 0],
  [50, 255, 255],
  [100, 255, 255],
];
for (const [n, v4, v6] of scenarios) {
  const started = performance.now();
  const nodes = Array.from({ length: n }, (_, i) => `node-${i + 1}`);
  const svcs = services(v4, v6);
  const snap = snapshot(svcs, nodes);
  const before = placement(snap);
  const spread = ratio(before.masters, nodes);
  const mean = before.masters.size / n;
  const hrw = ratio(hrwMasters(snap, nodes), nodes);

  // A node loss as the speakers see it: the busiest node goes NotReady (then a second one).
  const dead = busiestOf(before.masters, nodes);
  const afterLoss = placement(snapshot(svcs, nodes, [dead]));
  const survivors = nodes.filter((x) => x !== dead);
  let movedOnLoss = 0;
  let secondMoves = 0;
  for (const [vip, node] of before.masters) {
    const now = afterLoss.masters.get(vip);
    if (node !== dead && now !== node) movedOnLoss++;
    if (node === dead && now !== before.second.get(vip)) secondMoves++;
  }
  const dead2 = busiestOf(afterLoss.masters, survivors, [dead]);
  const afterTwo = placement(snapshot(svcs, nodes, [dead, dead2]));

  // The same node deleted from the cluster: the member set changes.
  const afterRemoval = placement(snapshot(svcs, survivors));
  let movedOnRemoval = 0;
  for (const [vip, node] of before.masters)
    if (node !== dead && afterRemoval.masters.get(vip) !== node) movedOnRemoval++;

  const afterJoin = placement(snapshot(svcs, [...nodes, 'node-new']));
  let movedOnJoin = 0;
  for (const [vip, node] of before.masters) if (afterJoin.masters.get(vip) !== node) movedOnJoin++;

  rows.push([
    String(n),
    String(v4),
    String(v6),
    String(routerGroups(snap).groups.length),
    String(spread.min),
    String(spread.max),
    mean.toFixed(1),
    spread.ratio.toFixed(2),
    hrw.ratio.toFixed(2),
    ratio(afterLoss.masters, survivors).ratio.toFixed(2),
    ratio(
      afterTwo.masters,
      survivors.filter((x) => x !== dead2),
    ).ratio.toFixed(2),
    `${movedOnLoss} (${secondMoves})`,
    String(movedOnRemoval),
    `${movedOnJoin} (${(before.masters.size / (n + 1)).toFixed(1)})`,
  ]);
  process.stderr.write(`${n} nodes, ${v4}+${v6} VIPs: ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
}

const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
for (const r of rows) console.log(r.map((c, i) => c.padStart(widths[i]!)).join('  '));
console.log('n = 1 run per row (deterministic: the placement depends only on node names and router keys)');
