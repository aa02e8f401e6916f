/**
 * Who watches whom: planLiveness over routers planned by desiredRouters from a snapshot, as the speaker does. One
 * session per other candidate node on the routers' interface, whatever the number of VIPs; pool annotation over the
 * cluster default; IPv6 routers and off-link nodes left to plain VRRP; the fastest pace of a link's pools.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ClusterSnapshot, NodeView, ServiceView } from '../../src/model/cluster-snapshot.ts';
import { type IPAddressPoolObject, parseConfig } from '../../src/model/config.ts';
import { DEFAULT_LIVENESS, type LivenessSettings } from '../../src/model/liveness.ts';
import type { LocalNode } from '../../src/model/local-node.ts';
import { parsePoolTunings } from '../../src/model/pool-tuning.ts';
import { desiredRouters } from '../../src/speaker/cluster/desired-routers.ts';
import { planLiveness } from '../../src/speaker/cluster/liveness-plan.ts';

const NODES: NodeView[] = [
  { name: 'node-a', labels: {}, ready: true, networkUnavailable: false, internalIps: ['10.0.0.1', 'fd00::1'] },
  { name: 'node-b', labels: {}, ready: true, networkUnavailable: false, internalIps: ['fd00::2', '10.0.0.2'] },
  { name: 'node-c', labels: {}, ready: true, networkUnavailable: false, internalIps: ['192.168.9.3', '10.0.0.3'] },
];

const local: LocalNode = {
  name: 'node-a',
  addresses: [
    { ifname: 'eth0', address: '10.0.0.1', prefixLength: 24 },
    { ifname: 'eth0', address: 'fd00::1', prefixLength: 64 },
  ],
  defaultInterface: { ipv4: 'eth0', ipv6: 'eth0' },
  sources: new Map([['eth0', { ipv4: '10.0.0.1', ipv6: 'fe80::1' }]]),
};

const ON: LivenessSettings = { mode: 'bfd', intervalMs: 20, detectMult: 3 };

function pool(name: string, range: string | string[], annotations: Record<string, string> = {}): IPAddressPoolObject {
  return { metadata: { name, annotations }, spec: { addresses: [range].flat() } };
}

/** services makes `n` Services with one VIP each from 10.0.0.100 (or fd00::100), VRIDs 1..n. */
function services(n: number, family: 'ipv4' | 'ipv6' = 'ipv4', first = 100, vrid0 = 1): ServiceView[] {
  return Array.from({ length: n }, (_, i) => {
    const vip = family === 'ipv4' ? `10.0.0.${first + i}` : `fd00::${(first + i).toString(16)}`;
    return {
      namespace: 'default',
      name: `s${family}${first + i}`,
      vips: [vip],
      externalTrafficPolicy: 'Cluster',
      vridAnnotation: `${vip}=${vrid0 + i}`,
    } as ServiceView;
  });
}

function plan(svcs: ServiceView[], pools: IPAddressPoolObject[], cluster = DEFAULT_LIVENESS, nodes = NODES) {
  const { config } = parseConfig({ pools, l2Advertisements: [{ metadata: { name: 'l2' } }] });
  const snapshot: ClusterSnapshot = {
    services: svcs,
    nodes,
    readyEndpoints: new Map(),
    pools: config.pools,
    l2Advertisements: config.l2Advertisements,
    tunings: parsePoolTunings(pools).tunings,
  };
  const desired = desiredRouters(snapshot, local);
  assert.equal(desired.routers.size, svcs.length, 'this node runs every router');
  return planLiveness(desired.routers, snapshot, local, cluster);
}

const V4 = '10.0.0.100-10.0.0.199';

describe('planLiveness: who watches whom', () => {
  test('cluster default off and no annotation: no session', () => {
    assert.deepEqual(plan(services(3), [pool('p', V4)]), []);
  });

  test('pool says bfd: one session per other node, on the link, from the advert source, at the default pace', () => {
    const links = plan(services(3), [pool('p', V4, { 'metal-vrrp.io/liveness': 'bfd' })]);
    assert.deepEqual(links, [
      {
        interface: 'eth0',
        family: 'ipv4',
        localAddress: '10.0.0.1',
        intervalMs: 20,
        detectMult: 3,
        // node-c's first InternalIP (192.168.9.3) is off link: its on-link one is used
        peers: [
          { node: 'node-b', address: '10.0.0.2' },
          { node: 'node-c', address: '10.0.0.3' },
        ],
      },
    ]);
  });

  test('the session count follows the nodes, not the VIPs: 1 and 90 Services give the same peers', () => {
    const one = plan(services(1), [pool('p', V4)], ON);
    const many = plan(services(90), [pool('p', V4)], ON);
    assert.equal(one[0]!.peers.length, 2);
    assert.deepEqual(many[0]!.peers, one[0]!.peers);
  });

  test('cluster default bfd, pool says off: no session', () => {
    assert.deepEqual(plan(services(3), [pool('p', V4, { 'metal-vrrp.io/liveness': 'off' })], ON), []);
  });

  test('IPv6 routers take no part (their masters are known by link-local addresses the snapshot lacks)', () => {
    const links = plan([...services(3, 'ipv6', 256, 10), ...services(1)], [pool('p', [V4, 'fd00::100/120'])], ON);
    assert.deepEqual(
      links.map((l) => `${l.interface}/${l.family}`),
      ['eth0/ipv4'],
    );
  });

  test('a candidate with no InternalIP on the link gets no session', () => {
    const nodes = NODES.map((n) => (n.name === 'node-c' ? { ...n, internalIps: ['192.168.9.3'] } : n));
    const links = plan(services(3), [pool('p', V4)], ON, nodes);
    assert.deepEqual(
      links[0]!.peers.map((p) => p.node),
      ['node-b'],
    );
  });

  test('several pools on one link: the fastest pace any of them asks', () => {
    const links = plan(
      [...services(2, 'ipv4', 100, 1), ...services(2, 'ipv4', 150, 50)],
      [
        pool('a', '10.0.0.100-10.0.0.149', { 'metal-vrrp.io/liveness-interval': '50ms' }),
        pool('b', '10.0.0.150-10.0.0.199', { 'metal-vrrp.io/liveness-multiplier': '2' }),
      ],
      { mode: 'bfd', intervalMs: 100, detectMult: 5 },
    );
    assert.deepEqual([links[0]!.intervalMs, links[0]!.detectMult], [50, 2]);
  });
});
