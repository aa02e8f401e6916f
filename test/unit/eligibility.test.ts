import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type ClusterSnapshot,
  EXCLUDE_LABEL,
  type NodeView,
  nodeView,
  poolForVip,
  readyEndpointNodes,
  type ServiceView,
  serviceView,
} from '../../src/model/cluster-snapshot.ts';
import { type L2AdvertisementObject, parseConfig } from '../../src/model/config.ts';
import { eligibleNodes } from '../../src/speaker/cluster/eligibility.ts';

const node = (
  name: string,
  labels: Record<string, string> = {},
  ready = true,
  networkUnavailable = false,
): NodeView => ({
  name,
  labels,
  ready,
  networkUnavailable,
  internalIps: [],
});

const svc = (name: string, etp: 'Cluster' | 'Local' = 'Cluster', vips = ['10.0.0.10']): ServiceView => ({
  namespace: 'default',
  name,
  vips,
  externalTrafficPolicy: etp,
  vridAnnotation: undefined,
});

function snapshot(
  ads: L2AdvertisementObject[],
  nodes: NodeView[],
  endpoints: Record<string, string[]> = {},
): Pick<ClusterSnapshot, 'nodes' | 'readyEndpoints' | 'pools' | 'l2Advertisements'> {
  const { config } = parseConfig({
    pools: [
      { metadata: { name: 'gold', labels: { tier: 'gold' } }, spec: { addresses: ['10.0.0.0/24', 'fd00::/64'] } },
      { metadata: { name: 'silver' }, spec: { addresses: ['10.0.1.0/24'] } },
    ],
    l2Advertisements: ads,
  });
  return {
    nodes,
    pools: config.pools,
    l2Advertisements: config.l2Advertisements,
    readyEndpoints: new Map(Object.entries(endpoints).map(([k, v]) => [k, new Set(v)])),
  };
}

const ad = (name: string, spec: L2AdvertisementObject['spec']): L2AdvertisementObject => ({ metadata: { name }, spec });
const nodes3 = [node('a', { zone: 'x' }), node('b', { zone: 'y' }), node('c', { zone: 'x' })];

describe('eligibleNodes', () => {
  // [name, advertisements, nodes, service, vip, endpoints, eligible, excluded (node=reason), interfaces (node=list)]
  const cases: readonly [
    string,
    L2AdvertisementObject[],
    NodeView[],
    ServiceView,
    string,
    Record<string, string[]>,
    string[],
    Record<string, string>,
    Record<string, string[]>,
  ][] = [
    [
      'an advertisement naming the pool covers every node',
      [ad('l2', { ipAddressPools: ['gold'] })],
      nodes3,
      svc('s'),
      '10.0.0.10',
      {},
      ['a', 'b', 'c'],
      {},
      { a: [], b: [], c: [] },
    ],
    [
      'an advertisement with no pools covers every pool (MetalLB default)',
      [ad('l2', {})],
      nodes3,
      svc('s', 'Cluster', ['10.0.1.5']),
      '10.0.1.5',
      {},
      ['a', 'b', 'c'],
      {},
      { a: [], b: [], c: [] },
    ],
    [
      'a pool selector covers the pool',
      [ad('l2', { ipAddressPoolSelectors: [{ matchLabels: { tier: 'gold' } }] })],
      nodes3,
      svc('s', 'Cluster', ['fd00::10']),
      'fd00::10',
      {},
      ['a', 'b', 'c'],
      {},
      { a: [], b: [], c: [] },
    ],
    [
      'the pool is not advertised',
      [ad('l2', { ipAddressPools: ['silver'] })],
      nodes3,
      svc('s'),
      '10.0.0.10',
      {},
      [],
      { a: 'not-advertised', b: 'not-advertised', c: 'not-advertised' },
      {},
    ],
    [
      'the VIP lies in no pool',
      [ad('l2', {})],
      [node('a')],
      svc('s', 'Cluster', ['192.0.2.1']),
      '192.0.2.1',
      {},
      [],
      { a: 'no-pool' },
      {},
    ],
    [
      'nodeSelectors limit the nodes',
      [ad('l2', { ipAddressPools: ['gold'], nodeSelectors: [{ matchLabels: { zone: 'x' } }] })],
      nodes3,
      svc('s'),
      '10.0.0.10',
      {},
      ['a', 'c'],
      { b: 'node-selector' },
      { a: [], c: [] },
    ],
    [
      'two advertisements: their node sets add up',
      [
        ad('l2x', { ipAddressPools: ['gold'], nodeSelectors: [{ matchLabels: { zone: 'x' } }] }),
        ad('l2y', { ipAddressPools: ['gold'], nodeSelectors: [{ matchLabels: { zone: 'y' } }] }),
      ],
      nodes3,
      svc('s'),
      '10.0.0.10',
      {},
      ['a', 'b', 'c'],
      {},
      { a: [], b: [], c: [] },
    ],
    [
      'a node that is not Ready, and one excluded by label',
      [ad('l2', {})],
      [node('a', {}, false), node('b', { [EXCLUDE_LABEL]: '' }), node('c')],
      svc('s'),
      '10.0.0.10',
      {},
      ['c'],
      { a: 'node-not-ready', b: 'node-excluded' },
      { c: [] },
    ],
    [
      // MetalLB #1759: a node whose NetworkUnavailable condition is True does not announce.
      'a node whose network is unavailable',
      [ad('l2', {})],
      [node('a', {}, true, true), node('b'), node('c', {}, false, true)],
      svc('s'),
      '10.0.0.10',
      {},
      ['b'],
      { a: 'network-unavailable', c: 'node-not-ready' },
      { b: [] },
    ],
    [
      'Local: only nodes with a ready endpoint',
      [ad('l2', {})],
      nodes3,
      svc('s', 'Local'),
      '10.0.0.10',
      { 'default/s': ['b', 'zzz'], 'default/other': ['a'] },
      ['b'],
      { a: 'no-local-endpoint', c: 'no-local-endpoint' },
      { b: [] },
    ],
    [
      'Local without any endpoint: nobody',
      [ad('l2', {})],
      nodes3,
      svc('s', 'Local'),
      '10.0.0.10',
      {},
      [],
      { a: 'no-local-endpoint', b: 'no-local-endpoint', c: 'no-local-endpoint' },
      {},
    ],
    [
      'Cluster: one ready endpoint anywhere lets every node announce',
      [ad('l2', {})],
      nodes3,
      svc('s', 'Cluster'),
      '10.0.0.10',
      { 'default/s': ['b'] },
      ['a', 'b', 'c'],
      {},
      { a: [], b: [], c: [] },
    ],
    [
      'Cluster: EndpointSlices with no ready endpoint: nobody announces (MetalLB)',
      [ad('l2', {})],
      nodes3,
      svc('s', 'Cluster'),
      '10.0.0.10',
      { 'default/s': [], 'default/other': ['a'] },
      [],
      { a: 'no-endpoint', b: 'no-endpoint', c: 'no-endpoint' },
      {},
    ],
    [
      'Cluster: a ready endpoint without nodeName counts',
      [ad('l2', {})],
      nodes3,
      svc('s', 'Cluster'),
      '10.0.0.10',
      { 'default/s': [''] },
      ['a', 'b', 'c'],
      {},
      { a: [], b: [], c: [] },
    ],
    [
      'Cluster: no EndpointSlice at all (a selector-less Service): announced',
      [ad('l2', {})],
      nodes3,
      svc('s', 'Cluster'),
      '10.0.0.10',
      { 'default/other': [] },
      ['a', 'b', 'c'],
      {},
      { a: [], b: [], c: [] },
    ],
    [
      'interfaces: union of the selecting advertisements, sorted',
      [
        ad('l2x', { ipAddressPools: ['gold'], interfaces: ['eth1'], nodeSelectors: [{ matchLabels: { zone: 'x' } }] }),
        ad('l2all', { ipAddressPools: ['gold'], interfaces: ['eth2', 'eth0'] }),
      ],
      nodes3,
      svc('s'),
      '10.0.0.10',
      {},
      ['a', 'b', 'c'],
      {},
      { a: ['eth0', 'eth1', 'eth2'], b: ['eth0', 'eth2'], c: ['eth0', 'eth1', 'eth2'] },
    ],
    [
      'interfaces: an advertisement without a list lifts the limit',
      [ad('l2a', { ipAddressPools: ['gold'], interfaces: ['eth1'] }), ad('l2b', { ipAddressPools: ['gold'] })],
      [node('a')],
      svc('s'),
      '10.0.0.10',
      {},
      ['a'],
      {},
      { a: [] },
    ],
  ];
  for (const [name, ads, nodes, service, vip, endpoints, eligible, excluded, interfaces] of cases) {
    test(name, () => {
      const e = eligibleNodes(service, vip, snapshot(ads, nodes, endpoints));
      assert.deepEqual(e.nodes, eligible);
      assert.deepEqual(Object.fromEntries(e.excluded), excluded);
      assert.deepEqual(Object.fromEntries(e.interfaces), interfaces);
    });
  }
});

test('a node listed twice counts once (first entry wins)', () => {
  const e = eligibleNodes(
    svc('s'),
    '10.0.0.10',
    snapshot([ad('l2', {})], [node('a'), node('a', {}, false), node('b')]),
  );
  assert.deepEqual(e.nodes, ['a', 'b']);
  assert.deepEqual(Object.fromEntries(e.excluded), {});
});

describe('snapshot adapters', () => {
  test('nodeView reads Ready, labels and InternalIPs (canonical, deduplicated)', () => {
    const v = nodeView({
      metadata: { name: 'n1', labels: { a: 'b' } },
      status: {
        conditions: [
          { type: 'MemoryPressure', status: 'False' },
          { type: 'Ready', status: 'True' },
        ],
        addresses: [
          { type: 'Hostname', address: 'n1' },
          { type: 'InternalIP', address: '10.0.0.1' },
          { type: 'InternalIP', address: 'FD00:0::1' },
          { type: 'ExternalIP', address: '203.0.113.1' },
          { type: 'InternalIP', address: 'fd00::1' },
          { type: 'InternalIP', address: 'bogus' },
        ],
      },
    });
    assert.deepEqual(v, {
      name: 'n1',
      labels: { a: 'b' },
      ready: true,
      networkUnavailable: false,
      internalIps: ['10.0.0.1', 'fd00::1'],
    });
    const down = nodeView({
      metadata: { name: 'n3' },
      status: {
        conditions: [
          { type: 'Ready', status: 'True' },
          { type: 'NetworkUnavailable', status: 'True' },
        ],
      },
    });
    assert.equal(down?.networkUnavailable, true);
    assert.equal(
      nodeView({ metadata: { name: 'n2' }, status: { conditions: [{ type: 'Ready', status: 'Unknown' }] } })?.ready,
      false,
    );
    assert.equal(nodeView({ metadata: {} }), undefined);
  });

  test('serviceView keeps managed Services with IP ingress only', () => {
    const base = {
      metadata: { namespace: 'ns', name: 's', annotations: { 'metal-vrrp.io/vrids': '10.0.0.1=7' } },
      spec: { type: 'LoadBalancer', externalTrafficPolicy: 'Local' },
      status: {
        loadBalancer: { ingress: [{ ip: '10.0.0.1' }, { hostname: 'x' } as { ip?: string }, { ip: '2001:DB8::1' }] },
      },
    };
    assert.deepEqual(serviceView(base), {
      namespace: 'ns',
      name: 's',
      vips: ['10.0.0.1', '2001:db8::1'],
      externalTrafficPolicy: 'Local',
      vridAnnotation: '10.0.0.1=7',
    });
    assert.equal(serviceView({ ...base, spec: { type: 'ClusterIP' } }), undefined);
    assert.equal(serviceView({ ...base, spec: { type: 'LoadBalancer', loadBalancerClass: 'other' } }), undefined);
    assert.equal(serviceView({ ...base, status: {} }), undefined);
  });

  test('readyEndpointNodes: ready or unknown counts, not-ready does not; node-less ready ones count under ""', () => {
    const m = readyEndpointNodes([
      {
        metadata: { namespace: 'ns', labels: { 'kubernetes.io/service-name': 's' } },
        endpoints: [
          { nodeName: 'a', conditions: { ready: true } },
          { nodeName: 'b', conditions: { ready: false } },
          { nodeName: 'c' },
          { conditions: { ready: true } },
        ],
      },
      { metadata: { namespace: 'ns', labels: { 'kubernetes.io/service-name': 's' } }, endpoints: [{ nodeName: 'd' }] },
      { metadata: { namespace: 'ns', labels: { 'kubernetes.io/service-name': 'empty' } }, endpoints: null },
      { metadata: { namespace: 'ns' }, endpoints: [{ nodeName: 'x' }] },
    ]);
    assert.deepEqual(
      [...m].map(([k, v]) => [k, [...v].sort()]),
      [
        ['ns/s', ['', 'a', 'c', 'd']],
        ['ns/empty', []],
      ],
    );
  });

  test('poolForVip finds the pool by range, both families', () => {
    const s = snapshot([], []);
    assert.equal(poolForVip(s.pools, '10.0.1.9')?.name, 'silver');
    assert.equal(poolForVip(s.pools, 'fd00::99')?.name, 'gold');
    assert.equal(poolForVip(s.pools, '10.0.2.1'), undefined);
    assert.equal(poolForVip(s.pools, 'nope'), undefined);
  });
});
