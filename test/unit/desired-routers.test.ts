import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type ClusterSnapshot,
  EXCLUDE_LABEL,
  type NodeView,
  type ServiceView,
} from '../../src/model/cluster-snapshot.ts';
import { type IPAddressPoolObject, type L2AdvertisementObject, parseConfig } from '../../src/model/config.ts';
import type { LocalNode } from '../../src/model/local-node.ts';
import { parsePoolTunings } from '../../src/model/pool-tuning.ts';
import { formatServiceVrids, parseServiceVrids } from '../../src/model/service-vrids.ts';
import {
  chooseInterface,
  desiredRouters,
  diffRouters,
  type RouterKey,
  type RouterSpec,
  routerGroups,
} from '../../src/speaker/cluster/desired-routers.ts';
import { inSubnet } from '../../vrrp/ip.ts';
import { routerPriorities } from '../../vrrp/priority.ts';
import type { RouterConfig } from '../../vrrp/router-config.ts';

const NODES: NodeView[] = [
  { name: 'node-a', labels: {}, ready: true, networkUnavailable: false, internalIps: ['10.0.0.1', 'fd00::1'] },
  { name: 'node-b', labels: {}, ready: true, networkUnavailable: false, internalIps: ['10.0.0.2', 'fd00::2'] },
  { name: 'node-c', labels: {}, ready: true, networkUnavailable: false, internalIps: ['10.0.0.3'] },
];

const local = (name: string, extra: Partial<LocalNode> = {}): LocalNode => ({
  name,
  addresses: [
    { ifname: 'eth0', address: `10.0.0.${name.at(-1)!.charCodeAt(0) - 96}`, prefixLength: 24 },
    { ifname: 'eth0', address: 'fe80::1', prefixLength: 64 },
    { ifname: 'eth0', address: `fd00::${name.at(-1)!.charCodeAt(0) - 96}`, prefixLength: 64 },
  ],
  defaultInterface: { ipv4: 'eth0', ipv6: 'eth0' },
  sources: new Map([['eth0', { ipv4: `10.0.0.${name.at(-1)!.charCodeAt(0) - 96}`, ipv6: 'fe80::1' }]]),
  ...extra,
});

const svc = (name: string, vrids: string | undefined, vips: string[], etp: 'Cluster' | 'Local' = 'Cluster') =>
  ({ namespace: 'default', name, vips, externalTrafficPolicy: etp, vridAnnotation: vrids }) as ServiceView;

function snap(
  services: ServiceView[],
  opts: {
    pools?: IPAddressPoolObject[];
    ads?: L2AdvertisementObject[];
    nodes?: NodeView[];
    endpoints?: Record<string, string[]>;
  } = {},
): ClusterSnapshot {
  const poolObjs = opts.pools ?? [
    { metadata: { name: 'p' }, spec: { addresses: ['10.0.0.100-10.0.0.200', 'fd00::100/120'] } },
  ];
  const { config } = parseConfig({ pools: poolObjs, l2Advertisements: opts.ads ?? [{ metadata: { name: 'l2' } }] });
  return {
    services,
    nodes: opts.nodes ?? NODES,
    readyEndpoints: new Map(Object.entries(opts.endpoints ?? {}).map(([k, v]) => [k, new Set(v)])),
    pools: config.pools,
    l2Advertisements: config.l2Advertisements,
    tunings: parsePoolTunings(poolObjs).tunings,
  };
}

describe('service VRID annotation', () => {
  const good: readonly [string, [string, number][]][] = [
    ['10.0.0.100=7', [['10.0.0.100', 7]]],
    [
      ' 10.0.0.100 = 7 , FD00::100=255',
      [
        ['10.0.0.100', 7],
        ['fd00::100', 255],
      ],
    ],
    ['', []],
  ];
  for (const [text, want] of good) {
    test(`parses "${text}"`, () => {
      const r = parseServiceVrids(text);
      assert.ok('vrids' in r);
      assert.deepEqual([...r.vrids], want);
      assert.deepEqual(parseServiceVrids(formatServiceVrids(r.vrids)), r);
    });
  }
  for (const text of [
    '10.0.0.100',
    '10.0.0.100=0',
    '10.0.0.100=256',
    'x=7',
    '10.0.0.100=7,10.0.0.100=8',
    '10.0.0.1=7.5',
  ]) {
    test(`refuses "${text}"`, () => assert.ok('error' in parseServiceVrids(text)));
  }
});

describe('routerGroups', () => {
  test('groups VIPs by family and VRID; ranking is routerPriorities over all routers at once', () => {
    const { groups, problems } = routerGroups(
      snap([
        svc('web', '10.0.0.100=7,fd00::100=7', ['10.0.0.100', 'fd00::100']),
        svc('api', '10.0.0.101=9', ['10.0.0.101']),
        svc('shared', '10.0.0.150=9', ['10.0.0.150']),
      ]),
    );
    assert.deepEqual(problems, []);
    assert.deepEqual(
      groups.map((g) => [g.key, g.vips, g.services]),
      [
        ['ipv4/7', ['10.0.0.100'], ['default/web']],
        ['ipv4/9', ['10.0.0.101', '10.0.0.150'], ['default/api', 'default/shared']],
        ['ipv6/7', ['fd00::100'], ['default/web']],
      ],
    );
    const members = ['node-a', 'node-b', 'node-c'];
    const all = routerPriorities([
      { key: 'ipv4/7', members, weight: 1, intervalCs: 10 },
      { key: 'ipv4/9', members, weight: 2, intervalCs: 10 },
      { key: 'ipv6/7', members, weight: 1, intervalCs: 10 },
    ]);
    for (const g of groups) {
      const want = all.get(g.key);
      assert.ok(want && 'priorities' in want);
      assert.deepEqual(
        g.ranking.map((r) => [r.node, r.priority]),
        [...want.priorities],
      );
      assert.deepEqual(g.pools, ['p']);
    }
  });

  test('a node going NotReady or drained moves only the VIPs it mastered, to their rank-2 node; the rest keep theirs', () => {
    // 60 VIPs on 6 nodes: enough routers that the balanced placement differs from plain rendezvous hashing.
    const nodes = ['node-a', 'node-b', 'node-c', 'node-d', 'node-e', 'node-f'].map(
      (name): NodeView => ({ name, labels: {}, ready: true, networkUnavailable: false, internalIps: [] }),
    );
    const services = Array.from({ length: 60 }, (_, i) =>
      svc(`s${i}`, `10.0.0.${100 + i}=${i + 1}`, [`10.0.0.${100 + i}`]),
    );
    const pools = [
      {
        metadata: { name: 'p', annotations: { 'metal-vrrp.io/placement': 'balanced' } },
        spec: { addresses: ['10.0.0.100-10.0.0.200', 'fd00::100/120'] },
      },
    ];
    const before = routerGroups(snap(services, { nodes, pools })).groups;
    const masters = new Map(before.map((g) => [g.key, g.ranking[0]!.node]));
    const perNode = new Map<string, number>();
    for (const m of masters.values()) perNode.set(m, (perNode.get(m) ?? 0) + 1);
    // Balanced: at most ⌊1.1 × 10⌋ each (vrrp/placement.ts); all six nodes master some.
    assert.ok(Math.max(...perNode.values()) <= 11, JSON.stringify([...perNode]));
    assert.equal(perNode.size, 6);
    const down = 'node-c';
    const notReady = nodes.map((n) => (n.name === down ? { ...n, ready: false } : n));
    const drained = nodes.map((n) => (n.name === down ? { ...n, labels: { [EXCLUDE_LABEL]: 'true' } } : n));
    for (const variant of [notReady, drained]) {
      const after = routerGroups(snap(services, { nodes: variant, pools })).groups;
      for (const [i, g] of after.entries()) {
        const old = before[i]!;
        assert.equal(g.key, old.key);
        assert.ok(!g.ranking.some((r) => r.node === down), `${down} runs nothing while down or drained`);
        // Same nodes and priorities as before without the node that went: only its VIPs change master, each to its
        // rank-2 node, and no other node's priority (so no Skew_Time) changes on the way.
        assert.deepEqual(
          g.ranking.map((r) => [r.node, r.priority]),
          old.ranking.filter((r) => r.node !== down).map((r) => [r.node, r.priority]),
        );
      }
    }
  });

  test('default placement: deleting a Service moves no other VIP (each order is its own)', () => {
    const services = Array.from({ length: 30 }, (_, i) =>
      svc(`s${i}`, `10.0.0.${100 + i}=${i + 1}`, [`10.0.0.${100 + i}`]),
    );
    const ranking = (list: ServiceView[]) =>
      new Map(routerGroups(snap(list)).groups.map((g) => [g.key, g.ranking.map((r) => [r.node, r.priority])]));
    const before = ranking(services);
    const after = ranking(services.filter((s) => s.name !== 's3' && s.name !== 's17'));
    assert.equal(after.size, before.size - 2);
    for (const [key, r] of after) assert.deepEqual(r, before.get(key), key);
  });

  test('a missing or bad annotation, and a VIP without a VRID, are reported and left out', () => {
    const { groups, problems } = routerGroups(
      snap([
        svc('none', undefined, ['10.0.0.100']),
        svc('bad', 'oops', ['10.0.0.101']),
        svc('partial', '10.0.0.102=3', ['10.0.0.102', '10.0.0.103']),
      ]),
    );
    assert.deepEqual(
      groups.map((g) => [g.key, g.vips]),
      [['ipv4/3', ['10.0.0.102']]],
    );
    assert.deepEqual(
      problems.map((p) => [p.error.code, p.service, p.vip]),
      [
        ['INVALID_VRID_ANNOTATION', 'default/bad', undefined],
        ['INVALID_VRID_ANNOTATION', 'default/none', undefined],
        ['INVALID_VRID_ANNOTATION', 'default/partial', '10.0.0.103'],
      ],
    );
  });

  test('pinned priorities from the pool win', () => {
    const pools = [
      {
        metadata: { name: 'p', annotations: { 'metal-vrrp.io/priorities': 'node-c=254,node-a=100' } },
        spec: { addresses: ['10.0.0.100-10.0.0.200'] },
      },
    ];
    const { groups } = routerGroups(snap([svc('s', '10.0.0.100=1', ['10.0.0.100'])], { pools }));
    assert.deepEqual(
      groups[0]!.ranking.map((r) => [r.node, r.priority]),
      [
        ['node-c', 254],
        ['node-b', 253],
        ['node-a', 100],
      ],
    );
  });

  test('shared router: different tunings are reported, the first pool by name wins', () => {
    const pools = [
      {
        metadata: { name: 'b', annotations: { 'metal-vrrp.io/advert-interval': '1s' } },
        spec: { addresses: ['10.0.1.0/24'] },
      },
      {
        metadata: { name: 'a', annotations: { 'metal-vrrp.io/advert-interval': '20ms' } },
        spec: { addresses: ['10.0.0.0/24'] },
      },
    ];
    const { groups, problems } = routerGroups(
      snap([svc('x', '10.0.0.5=4', ['10.0.0.5']), svc('y', '10.0.1.5=4', ['10.0.1.5'])], { pools }),
    );
    assert.deepEqual(groups[0]!.pools, ['a', 'b']);
    assert.equal(groups[0]!.tuning.advertIntervalCs, 2);
    assert.deepEqual(
      problems.map((p) => [p.error.code, p.key]),
      [['TUNING_CONFLICT', 'ipv4/4']],
    );
  });

  test('shared router: eligible sets that do not meet fall back to their union, reported', () => {
    const { groups, problems } = routerGroups(
      snap([svc('x', '10.0.0.100=4', ['10.0.0.100'], 'Local'), svc('y', '10.0.0.101=4', ['10.0.0.101'], 'Local')], {
        endpoints: { 'default/x': ['node-a'], 'default/y': ['node-b'] },
      }),
    );
    assert.deepEqual(groups[0]!.ranking.map((r) => r.node).sort(), ['node-a', 'node-b']);
    assert.deepEqual(
      problems.map((p) => p.error.code),
      ['SPLIT_ELIGIBILITY'],
    );
    const met = routerGroups(
      snap([svc('x', '10.0.0.100=4', ['10.0.0.100'], 'Local'), svc('y', '10.0.0.101=4', ['10.0.0.101'])], {
        endpoints: { 'default/x': ['node-b'] },
      }),
    );
    assert.deepEqual(
      met.groups[0]!.ranking.map((r) => r.node),
      ['node-b'],
    );
    assert.deepEqual(met.problems, []);
  });

  test('more eligible nodes than priorities: pinned ones and the best 254 − pins by rank are kept', () => {
    const many: NodeView[] = Array.from({ length: 300 }, (_, i) => ({
      name: `n${i}`,
      labels: {},
      ready: true,
      networkUnavailable: false,
      internalIps: [],
    }));
    const pools = [
      {
        metadata: { name: 'p', annotations: { 'metal-vrrp.io/priorities': 'n299=254,ghost=1' } },
        spec: { addresses: ['10.0.0.0/24'] },
      },
    ];
    const { groups, problems } = routerGroups(snap([svc('s', '10.0.0.9=1', ['10.0.0.9'])], { pools, nodes: many }));
    assert.deepEqual(problems, []);
    const ranking = groups[0]!.ranking;
    assert.equal(ranking.length, 253); // 254 priorities, one held by the absent pinned node "ghost"
    assert.deepEqual(ranking[0], { node: 'n299', priority: 254 });
    assert.equal(new Set(ranking.map((r) => r.priority)).size, 253);
    assert.ok(ranking.every((r) => r.priority >= 2 && r.priority <= 254));
  });

  test('deterministic: the answer does not depend on list order', () => {
    const services = [
      svc('a', '10.0.0.100=1', ['10.0.0.100']),
      svc('b', '10.0.0.101=1,fd00::101=2', ['10.0.0.101', 'fd00::101']),
    ];
    const one = routerGroups(snap(services));
    const two = routerGroups(snap([...services].reverse(), { nodes: [...NODES].reverse() }));
    assert.deepEqual(
      two.groups.map((g) => [g.key, g.vips, g.services, g.ranking]),
      one.groups.map((g) => [g.key, g.vips, g.services, g.ranking]),
    );
  });
});

describe('desiredRouters', () => {
  test('every eligible node runs the router with its own priority; exactly one has the top priority', () => {
    const s = snap([svc('web', '10.0.0.100=7', ['10.0.0.100'])]);
    const mine = NODES.map((n) => desiredRouters(s, local(n.name)).routers.get('ipv4/7'));
    assert.ok(mine.every((r) => r !== undefined));
    // The ladder at 100 ms: Skew_Times 4.3 ms apart.
    assert.deepEqual(mine.map((r) => r!.config.priority).sort(), [232, 243, 254]);
    const r = mine[0]!;
    assert.deepEqual(
      [
        r.config.vrid,
        r.config.family,
        r.vips,
        r.interface,
        r.config.advertIntervalCs,
        r.config.preempt,
        r.config.preemptDelayMs,
        r.peerMode,
        r.peers,
      ],
      [7, 'ipv4', ['10.0.0.100'], 'eth0', 10, true, 0, 'multicast', []],
    );
    // The one planning step: the engine config is complete (source address of the interface, validated).
    assert.equal(r.config.primaryAddress, '10.0.0.1');
    assert.deepEqual(r.config.addresses, ['10.0.0.100']);
  });

  test('IPv6 routers get the virtual link-local first and send from the interface link-local', () => {
    const s = snap([svc('web', 'fd00::100=7', ['fd00::100'])]);
    const r = desiredRouters(s, local('node-a')).routers.get('ipv6/7')!;
    assert.deepEqual(r.config.addresses, ['fe80::200:5eff:fe00:207', 'fd00::100']);
    assert.deepEqual(r.vips, ['fd00::100']);
    assert.equal(r.config.primaryAddress, 'fe80::1');
  });

  test('an interface without an advert source of the family: NO_SOURCE and no router', () => {
    const s = snap([svc('web', 'fd00::100=7', ['fd00::100'])]);
    const r = desiredRouters(s, local('node-a', { sources: new Map([['eth0', { ipv4: '10.0.0.1' }]]) }));
    assert.equal(r.routers.size, 0);
    assert.deepEqual(
      r.problems.map((p) => [p.error.code, p.key]),
      [['NO_SOURCE', 'ipv6/7']],
    );
  });

  test('a node that is not eligible runs nothing', () => {
    const s = snap([svc('web', '10.0.0.100=7', ['10.0.0.100'], 'Local')], { endpoints: { 'default/web': ['node-b'] } });
    assert.equal(desiredRouters(s, local('node-a')).routers.size, 0);
    assert.equal(desiredRouters(s, local('node-b')).routers.get('ipv4/7')?.config.priority, 254);
  });

  test('unicast: peers are the other candidates’ InternalIPs of the family; nodes without one are named', () => {
    const pools = [
      {
        metadata: { name: 'p', annotations: { 'metal-vrrp.io/peers': 'unicast' } },
        spec: { addresses: ['10.0.0.100-10.0.0.200', 'fd00::100/120'] },
      },
    ];
    const s = snap([svc('web', '10.0.0.100=7,fd00::100=7', ['10.0.0.100', 'fd00::100'])], { pools });
    const { routers, problems } = desiredRouters(s, local('node-a'));
    const v4 = routers.get('ipv4/7')!;
    const v6 = routers.get('ipv6/7')!;
    assert.deepEqual([v4.peerMode, v4.peers, v4.unreachablePeers], ['unicast', ['10.0.0.2', '10.0.0.3'], []]);
    // IPv6 routers advertise by unicast too (link-local source, peer MAC from the neighbour table).
    assert.deepEqual([v6.peerMode, v6.peers, v6.unreachablePeers], ['unicast', ['fd00::2'], ['node-c']]);
    assert.deepEqual(problems, []);
  });

  test('adverts are accepted from Nodes’ InternalIPs only; a candidate without one leaves them unchecked', () => {
    const s = snap([svc('web', '10.0.0.100=7,fd00::100=7', ['10.0.0.100', 'fd00::100'])]);
    const { routers } = desiredRouters(s, local('node-a'));
    assert.deepEqual(routers.get('ipv4/7')!.candidateSources, ['10.0.0.1', '10.0.0.2', '10.0.0.3']);
    // node-c has no IPv6 InternalIP: its IPv6 adverts (link-local source) could not be tied to it.
    assert.deepEqual(routers.get('ipv6/7')!.candidateSources, []);
    // With one, IPv6 adverts are checked too (their MACs against these addresses' MACs, receive-filter.ts).
    const dual = [...NODES.slice(0, 2), { ...NODES[2]!, internalIps: ['10.0.0.3', 'fd00::3'] }];
    const s6 = snap([svc('web', 'fd00::100=7', ['fd00::100'])], { nodes: dual });
    assert.deepEqual(desiredRouters(s6, local('node-a')).routers.get('ipv6/7')!.candidateSources, [
      'fd00::1',
      'fd00::2',
      'fd00::3',
    ]);
    // A node that just stopped being a candidate (its Local endpoint gone) is still an accepted source: it resigns
    // with a priority-0 advert, which must reach the next node (Skew_Time, not Master_Down_Interval).
    const local2 = snap([svc('web', '10.0.0.100=7', ['10.0.0.100'], 'Local')], {
      endpoints: { 'default/web': ['node-a', 'node-c'] },
    });
    const local2Router = desiredRouters(local2, local('node-a')).routers.get('ipv4/7')!;
    assert.deepEqual(local2Router.ranking.map((r) => r.node).sort(), ['node-a', 'node-c'], 'node-b is no candidate');
    assert.deepEqual(local2Router.candidateSources, ['10.0.0.1', '10.0.0.2', '10.0.0.3']);
    // A candidate without an IPv4 InternalIP: its source cannot be known, so the check is off rather than split.
    const nodes = [...NODES.slice(0, 2), { ...NODES[2]!, internalIps: [] }];
    const blind = snap([svc('web', '10.0.0.100=7', ['10.0.0.100'])], { nodes });
    assert.deepEqual(desiredRouters(blind, local('node-a')).routers.get('ipv4/7')!.candidateSources, []);
  });

  test('no interface for the family: NO_INTERFACE and no router', () => {
    const s = snap([svc('web', 'fd00::100=7', ['fd00::100'])]);
    const r = desiredRouters(
      s,
      local('node-a', { addresses: [{ ifname: 'eth0', address: '10.0.0.1', prefixLength: 24 }], defaultInterface: {} }),
    );
    assert.equal(r.routers.size, 0);
    assert.deepEqual(
      r.problems.map((p) => [p.error.code, p.key]),
      [['NO_INTERFACE', 'ipv6/7']],
    );
  });
});

describe('chooseInterface', () => {
  const node: LocalNode = {
    name: 'n',
    addresses: [
      { ifname: 'eth0', address: '192.168.1.5', prefixLength: 24 },
      { ifname: 'eth1', address: '10.0.0.5', prefixLength: 24 },
      { ifname: 'eth2', address: '10.1.0.5', prefixLength: 16 },
      { ifname: 'eth2', address: 'fd00::5', prefixLength: 64 },
    ],
    defaultInterface: { ipv4: 'eth0' },
    sources: new Map(),
  };
  // [name, family, vips, allowed, want]
  const cases: readonly [string, 'ipv4' | 'ipv6', string[], string[], string | undefined][] = [
    ['the subnet holding the VIP', 'ipv4', ['10.0.0.100'], [], 'eth1'],
    ['any VIP of the router may match', 'ipv4', ['172.16.0.1', '10.1.200.1'], [], 'eth2'],
    ['no subnet: the default route', 'ipv4', ['172.16.0.1'], [], 'eth0'],
    ['no subnet, no default route for the family', 'ipv6', ['fd01::1'], [], undefined],
    ['IPv6 on-link', 'ipv6', ['fd00::100'], [], 'eth2'],
    ['limited: the on-link interface outside the limit is not used', 'ipv4', ['10.0.0.100'], ['eth2'], 'eth2'],
    ['limited: default route allowed', 'ipv4', ['172.16.0.1'], ['eth0', 'eth2'], 'eth0'],
    [
      'limited: default route not allowed, first allowed with the family',
      'ipv4',
      ['172.16.0.1'],
      ['eth2', 'eth1'],
      'eth1',
    ],
    ['limited to an interface without the family', 'ipv6', ['fd00::100'], ['eth1'], undefined],
    ['limited to a missing interface', 'ipv4', ['10.0.0.100'], ['bond0'], undefined],
  ];
  for (const [name, family, vips, allowed, want] of cases) {
    test(name, () => assert.equal(chooseInterface(node, family, vips, allowed), want));
  }

  const subnets: readonly [string, string, number, boolean][] = [
    ['10.0.0.200', '10.0.0.1', 24, true],
    ['10.0.1.200', '10.0.0.1', 24, false],
    ['10.0.1.200', '10.0.0.1', 0, true],
    ['fd00::1:2', 'fd00::9', 64, true],
    ['fd01::1', 'fd00::9', 64, false],
    ['10.0.0.1', 'fd00::9', 0, false],
  ];
  for (const [ip, addr, len, want] of subnets) {
    test(`inSubnet(${ip}, ${addr}/${len}) = ${want}`, () => assert.equal(inSubnet(ip, addr, len), want));
  }
});

describe('diffRouters', () => {
  const s = snap([svc('web', '10.0.0.100=7', ['10.0.0.100'])]);
  const base = desiredRouters(s, local('node-a')).routers.get('ipv4/7')!;
  // r builds a spec from base: engine fields go into config (vips also become the engine's addresses, as for IPv4).
  type EngineOver = Partial<Pick<RouterConfig, 'priority' | 'advertIntervalCs' | 'preempt' | 'preemptDelayMs'>>;
  type SpecOver = Partial<Omit<RouterSpec, 'config'>> & EngineOver & { primaryAddress?: string };
  const r = (over: SpecOver, key: RouterKey = 'ipv4/7'): RouterSpec => {
    const { priority, advertIntervalCs, preempt, preemptDelayMs, primaryAddress, ...rest } = over;
    const engine = Object.fromEntries(
      Object.entries({ priority, advertIntervalCs, preempt, preemptDelayMs, primaryAddress }).filter(
        ([, v]) => v !== undefined,
      ),
    );
    const addresses = rest.vips ?? base.config.addresses;
    return { ...base, key, ...rest, config: { ...base.config, ...engine, addresses } };
  };
  const m = (...rs: RouterSpec[]) => new Map(rs.map((x) => [x.key, x]));
  // [name, desired, running, steps summarised as [op, key, extra]]
  const cases: readonly [string, Map<RouterKey, RouterSpec>, Map<RouterKey, RouterSpec>, unknown[]][] = [
    ['nothing running: start', m(r({})), m(), [['start', 'ipv4/7']]],
    ['no longer desired: stop with resignation', m(), m(r({})), [['stop', 'ipv4/7', true]]],
    ['unchanged: nothing', m(r({})), m(r({})), []],
    ['ranking or services alone: nothing', m(r({ services: ['x/y'], ranking: [] })), m(r({})), []],
    ['priority', m(r({ priority: 200 })), m(r({})), [['reconfigure', 'ipv4/7', { priority: 200 }, false, false]]],
    [
      'interval, preempt, delay and VIPs together',
      m(r({ advertIntervalCs: 2, preempt: false, preemptDelayMs: 500, vips: ['10.0.0.100', '10.0.0.101'] })),
      m(r({})),
      [
        [
          'reconfigure',
          'ipv4/7',
          { advertIntervalCs: 2, preempt: false, preemptDelayMs: 500, addresses: ['10.0.0.100', '10.0.0.101'] },
          false,
          false,
        ],
      ],
    ],
    [
      'peer mode: transport only',
      m(r({ peerMode: 'unicast', peers: ['10.0.0.2'] })),
      m(r({})),
      [['reconfigure', 'ipv4/7', {}, true, false]],
    ],
    [
      'gratuitous only',
      m(r({ gratuitous: { count: 5, spacingMs: 100, refreshMs: 60_000 } })),
      m(r({})),
      [['reconfigure', 'ipv4/7', {}, false, true]],
    ],
    [
      'candidate sources only: reconfigure with nothing for the engine',
      m(r({ candidateSources: ['10.0.0.1', '10.0.0.2'] })),
      m(r({})),
      [['reconfigure', 'ipv4/7', {}, false, false]],
    ],
    ['interface moved: restart', m(r({ interface: 'eth1' })), m(r({})), [['restart', 'ipv4/7', 'eth0']]],
    [
      'source address changed: restart',
      m(r({ primaryAddress: '10.0.0.9' })),
      m(r({})),
      [['restart', 'ipv4/7', 'eth0']],
    ],
    [
      'order: stops, restarts, reconfigures, starts',
      m(r({}, 'ipv4/9'), r({ priority: 1 }, 'ipv4/2'), r({ interface: 'eth9' }, 'ipv6/1'), r({}, 'ipv4/1')),
      m(r({}, 'ipv4/2'), r({}, 'ipv6/1'), r({}, 'ipv4/5'), r({}, 'ipv4/3')),
      [
        ['stop', 'ipv4/3', true],
        ['stop', 'ipv4/5', true],
        ['restart', 'ipv6/1', 'eth0'],
        ['reconfigure', 'ipv4/2', { priority: 1 }, false, false],
        ['start', 'ipv4/1'],
        ['start', 'ipv4/9'],
      ],
    ],
  ];
  for (const [name, desired, running, want] of cases) {
    test(name, () => {
      const steps = diffRouters(desired, running).map((st) => {
        if (st.op === 'start') return [st.op, st.key];
        if (st.op === 'stop') return [st.op, st.key, st.resign];
        if (st.op === 'restart') return [st.op, st.key, st.from];
        return [st.op, st.key, st.configure, st.transport, st.gratuitous];
      });
      assert.deepEqual(steps, want);
    });
  }

  test('scenario: the Local endpoint leaves the master node, which resigns; the next node takes the top priority', () => {
    const before = snap([svc('web', '10.0.0.100=7', ['10.0.0.100'], 'Local')], {
      endpoints: { 'default/web': ['node-a', 'node-b', 'node-c'] },
    });
    const top = routerGroups(before).groups[0]!.ranking[0]!.node;
    const rest = NODES.map((n) => n.name).filter((n) => n !== top);
    const after = snap([svc('web', '10.0.0.100=7', ['10.0.0.100'], 'Local')], { endpoints: { 'default/web': rest } });
    const topSteps = diffRouters(desiredRouters(after, local(top)).routers, desiredRouters(before, local(top)).routers);
    assert.deepEqual(topSteps, [{ op: 'stop', key: 'ipv4/7', resign: true }]);
    const next = routerGroups(before).groups[0]!.ranking[1]!.node;
    const nextSteps = diffRouters(
      desiredRouters(after, local(next)).routers,
      desiredRouters(before, local(next)).routers,
    );
    assert.equal(nextSteps.length, 1);
    assert.equal(nextSteps[0]!.op, 'reconfigure');
    assert.deepEqual(nextSteps[0]!.op === 'reconfigure' && nextSteps[0]!.configure, { priority: 254 });
  });
});
