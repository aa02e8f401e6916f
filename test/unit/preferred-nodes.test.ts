/**
 * L2Advertisement preferredNodeSelectors (MetalLB main; issue 14): the scores (model/preferred-nodes.ts, each case
 * naming the rule of MetalLB's design "Preferred Node Selection for L2 Mode" it pins) and the ranking they give in
 * routerGroups: preferred members first by score, the placement orders nodes of one score, and a node loss still
 * moves only the VIPs it mastered.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ClusterSnapshot, NodeView, ServiceView } from '../../src/model/cluster-snapshot.ts';
import { type IPAddressPoolObject, type L2AdvertisementObject, parseConfig } from '../../src/model/config.ts';
import { parsePoolTunings } from '../../src/model/pool-tuning.ts';
import { preferenceScores } from '../../src/model/preferred-nodes.ts';
import { routerGroups } from '../../src/speaker/cluster/desired-routers.ts';
import { rankNodes } from '../../vrrp/rendezvous.ts';

const node = (name: string, labels: Record<string, string> = {}): NodeView => ({
  name,
  labels,
  ready: true,
  networkUnavailable: false,
  internalIps: [],
});

const l2 = (name: string, spec: Record<string, unknown>) => ({ metadata: { name }, spec }) as L2AdvertisementObject;
const prefer = (weight: number, matchLabels: Record<string, string>) => ({ weight, preference: { matchLabels } });

const POOL: IPAddressPoolObject = { metadata: { name: 'p' }, spec: { addresses: ['10.0.0.100-10.0.0.200'] } };

function advertisements(ads: L2AdvertisementObject[], pools: IPAddressPoolObject[] = [POOL]) {
  const { config, problems } = parseConfig({ pools, l2Advertisements: ads });
  assert.deepEqual(problems, []);
  return config;
}

describe('preferenceScores (MetalLB design, "Score Calculation")', () => {
  const nodes = [
    node('edge-a', { role: 'edge', zone: 'primary' }),
    node('edge-b', { role: 'edge', zone: 'secondary' }),
    node('worker-a', { role: 'worker', zone: 'primary' }),
    node('worker-b', { role: 'worker' }),
  ];
  const table: readonly { name: string; ads: L2AdvertisementObject[]; want: Record<string, number> }[] = [
    { name: 'no preferences: no scores (pure hash order, as before)', ads: [l2('a', {})], want: {} },
    {
      name: 'one selector scores the matching nodes',
      ads: [l2('a', { preferredNodeSelectors: [prefer(100, { role: 'edge' })] })],
      want: { 'edge-a': 100, 'edge-b': 100 },
    },
    {
      name: 'weights within one advertisement add up (60 + 50 = 110)',
      ads: [l2('a', { preferredNodeSelectors: [prefer(60, { zone: 'primary' }), prefer(50, { role: 'edge' })] })],
      want: { 'edge-a': 110, 'edge-b': 50, 'worker-a': 60 },
    },
    {
      name: 'an advertisement scores only the nodes its own nodeSelectors select',
      ads: [
        l2('a', {
          nodeSelectors: [{ matchLabels: { role: 'edge' } }],
          preferredNodeSelectors: [prefer(100, { zone: 'primary' })],
        }),
      ],
      want: { 'edge-a': 100 },
    },
    {
      name: 'an empty preference matches every node the advertisement selects',
      ads: [l2('a', { preferredNodeSelectors: [{ weight: 10, preference: {} }] })],
      want: { 'edge-a': 10, 'edge-b': 10, 'worker-a': 10, 'worker-b': 10 },
    },
    {
      name: 'scores add up over the advertisements of the pool (70 + 30)',
      ads: [
        l2('ad1', { preferredNodeSelectors: [prefer(70, { zone: 'primary' })] }),
        l2('ad2', { preferredNodeSelectors: [prefer(30, { role: 'edge' })] }),
      ],
      want: { 'edge-a': 100, 'edge-b': 30, 'worker-a': 70 },
    },
    {
      name: 'a selector matching no node scores nobody',
      ads: [l2('a', { preferredNodeSelectors: [prefer(50, { role: 'gpu' })] })],
      want: {},
    },
  ];
  for (const c of table) {
    test(c.name, () => {
      const config = advertisements(c.ads);
      assert.deepEqual(Object.fromEntries(preferenceScores(config.l2Advertisements, nodes)), c.want);
    });
  }
});

const svc = (name: string, vrid: number, vip: string) =>
  ({
    namespace: 'default',
    name,
    vips: [vip],
    externalTrafficPolicy: 'Cluster',
    vridAnnotation: `${vip}=${vrid}`,
  }) as ServiceView;

function snap(
  services: ServiceView[],
  nodes: NodeView[],
  ads: L2AdvertisementObject[],
  pools: IPAddressPoolObject[] = [POOL],
): ClusterSnapshot {
  const config = advertisements(ads, pools);
  return {
    services,
    nodes,
    readyEndpoints: new Map(),
    pools: config.pools,
    l2Advertisements: config.l2Advertisements,
    tunings: parsePoolTunings(pools).tunings,
  };
}

const NAMES = ['node-a', 'node-b', 'node-c', 'node-d', 'node-e', 'node-f'];
const SERVICES = Array.from({ length: 30 }, (_, i) => svc(`s${i}`, i + 1, `10.0.0.${100 + i}`));
const BALANCED: IPAddressPoolObject = {
  metadata: { name: 'p', annotations: { 'metal-vrrp.io/placement': 'balanced' } },
  spec: { addresses: ['10.0.0.100-10.0.0.200'] },
};

describe('routerGroups with preferredNodeSelectors', () => {
  test('a preferred node masters a VIP that another node wins by hash; the others keep their hash order below it', () => {
    // The router whose rendezvous order puts node-c last: preferring node-c must lift it over the hash winner.
    const key = 'ipv4/1';
    const byHash = rankNodes(key, ['node-a', 'node-b', 'node-c']);
    const loser = byHash.at(-1)!;
    const nodes = ['node-a', 'node-b', 'node-c'].map((n) => node(n, n === loser ? { lb: 'preferred' } : {}));
    const plain = routerGroups(snap([svc('web', 1, '10.0.0.100')], nodes, [l2('l2', {})])).groups[0]!;
    assert.deepEqual(
      plain.ranking.map((r) => r.node),
      byHash,
    );
    const ads = [l2('l2', { preferredNodeSelectors: [prefer(100, { lb: 'preferred' })] })];
    const { groups, problems } = routerGroups(snap([svc('web', 1, '10.0.0.100')], nodes, ads));
    assert.deepEqual(problems, []);
    assert.deepEqual(
      groups[0]!.ranking.map((r) => [r.node, r.preference]),
      [[loser, 100], ...byHash.slice(0, -1).map((n) => [n, undefined])],
    );
    // Same ladder of priorities, only the order changes.
    assert.deepEqual(
      groups[0]!.ranking.map((r) => r.priority),
      plain.ranking.map((r) => r.priority),
    );
  });

  for (const [placement, pool] of [
    ['rendezvous', POOL],
    ['balanced', BALANCED],
  ] as const) {
    test(`${placement}: ranks by score (zone-a 100 > gpu 50 > rest), each tier ordered as the placement orders it`, () => {
      const labels: Record<string, Record<string, string>> = {
        'node-a': { zone: 'a' },
        'node-b': { gpu: 'true' },
        'node-d': { zone: 'a' },
        'node-e': { gpu: 'true' },
      };
      const nodes = NAMES.map((n) => node(n, labels[n] ?? {}));
      const ads = [l2('l2', { preferredNodeSelectors: [prefer(100, { zone: 'a' }), prefer(50, { gpu: 'true' })] })];
      const { groups } = routerGroups(snap(SERVICES, nodes, ads, [pool]));
      assert.equal(groups.length, 30);
      const tier = (n: string) => (labels[n]?.zone ? 0 : labels[n]?.gpu ? 1 : 2);
      const masters = new Map<string, number>();
      for (const g of groups) {
        const order = g.ranking.map((r) => r.node);
        assert.deepEqual(order.map(tier), [0, 0, 1, 1, 2, 2], `${g.key}: ${order}`);
        assert.deepEqual(
          g.ranking.map((r) => r.preference ?? 0),
          [100, 100, 50, 50, 0, 0],
        );
        if (placement === 'rendezvous') {
          // Within a tier: the rendezvous order of that tier's nodes.
          for (const t of [0, 1, 2]) {
            const members = NAMES.filter((n) => tier(n) === t);
            assert.deepEqual(
              order.filter((n) => tier(n) === t),
              rankNodes(g.key, members),
            );
          }
        }
        masters.set(order[0]!, (masters.get(order[0]!) ?? 0) + 1);
      }
      // Both preferred nodes master some of the 30 routers; balanced shares them evenly (15 each, slack 10 %).
      assert.deepEqual([...masters.keys()].sort(), ['node-a', 'node-d']);
      if (placement === 'balanced') assert.ok(Math.max(...masters.values()) <= 16, JSON.stringify([...masters]));
    });

    test(`${placement}: a preferred node going NotReady moves only the VIPs it mastered, to the next preferred node`, () => {
      const nodes = NAMES.map((n) => node(n, n === 'node-b' || n === 'node-e' ? { role: 'edge' } : {}));
      const ads = [l2('l2', { preferredNodeSelectors: [prefer(100, { role: 'edge' })] })];
      const before = routerGroups(snap(SERVICES, nodes, ads, [pool])).groups;
      for (const down of ['node-b', 'node-c']) {
        const after = routerGroups(
          snap(
            SERVICES,
            nodes.map((n) => (n.name === down ? { ...n, ready: false } : n)),
            ads,
            [pool],
          ),
        ).groups;
        for (const [i, g] of after.entries()) {
          const old = before[i]!;
          assert.deepEqual(
            g.ranking.map((r) => [r.node, r.priority]),
            old.ranking.filter((r) => r.node !== down).map((r) => [r.node, r.priority]),
          );
          if (old.ranking[0]!.node === down) assert.equal(g.ranking[0]!.node, 'node-e');
        }
      }
    });
  }

  test('preferences of an advertisement of another pool do not count', () => {
    const pools: IPAddressPoolObject[] = [POOL, { metadata: { name: 'q' }, spec: { addresses: ['10.0.1.0/24'] } }];
    const nodes = ['node-a', 'node-b', 'node-c'].map((n) => node(n, { name: n }));
    const ads = [
      l2('for-p', { ipAddressPools: ['p'] }),
      l2('for-q', { ipAddressPools: ['q'], preferredNodeSelectors: [prefer(100, { name: 'node-c' })] }),
    ];
    const { groups } = routerGroups(
      snap([svc('web', 1, '10.0.0.100'), svc('other', 2, '10.0.1.5')], nodes, ads, pools),
    );
    const [p, q] = groups;
    assert.ok(p!.ranking.every((r) => r.preference === undefined));
    assert.deepEqual(
      p!.ranking.map((r) => r.node),
      rankNodes('ipv4/1', ['node-a', 'node-b', 'node-c']),
    );
    assert.deepEqual(q!.ranking[0], { node: 'node-c', priority: 254, preference: 100 });
  });
});
