// DesiredMemo and sameData: an update that changes nothing the plan reads reuses the last plan (the same object);
// every change the plan does read (table below) plans again, and the reused plan always equals a fresh one.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type ClusterObjects, snapshotOf } from '../../src/model/cluster-objects.ts';
import type { LocalNode } from '../../src/model/local-node.ts';
import { DesiredMemo } from '../../src/speaker/cluster/desired-memo.ts';
import { desiredRouters } from '../../src/speaker/cluster/desired-routers.ts';
import { sameData } from '../../src/speaker/cluster/same-data.ts';

const NS = 'metallb-system';
// biome-ignore lint/suspicious/noExplicitAny: the tests mutate untyped API objects in place
type Json = Record<string, any>;

function objects(): Json {
  return {
    services: Array.from({ length: 6 }, (_, i) => ({
      metadata: {
        name: `svc${i}`,
        namespace: 'default',
        uid: `uid-${i}`,
        resourceVersion: '1',
        annotations: { 'metal-vrrp.io/vrids': `10.9.0.${100 + i}=${i + 1}`, 'other.tool/x': '1' },
      },
      spec: { type: 'LoadBalancer', ports: [{ port: 80, protocol: 'TCP' }], externalTrafficPolicy: 'Cluster' },
      status: { loadBalancer: { ingress: [{ ip: `10.9.0.${100 + i}` }] } },
    })),
    nodes: ['node-a', 'node-b', 'node-c'].map((name, i) => ({
      metadata: { name, labels: {}, resourceVersion: '1' },
      status: {
        addresses: [{ type: 'InternalIP', address: `10.9.0.${i + 1}` }],
        conditions: [{ type: 'Ready', status: 'True' }],
      },
    })),
    endpointSlices: [
      {
        metadata: { name: 'svc0-x', namespace: 'default', labels: { 'kubernetes.io/service-name': 'svc0' } },
        addressType: 'IPv4',
        endpoints: [{ nodeName: 'node-a', conditions: { ready: true } }],
      },
    ],
    pools: [
      {
        metadata: { name: 'lan', namespace: NS, annotations: { 'metal-vrrp.io/advert-interval': '20ms' } },
        spec: { addresses: ['10.9.0.100-10.9.0.150'] },
      },
    ],
    l2Advertisements: [{ metadata: { name: 'all', namespace: NS }, spec: { ipAddressPools: ['lan'] } }],
  };
}

const local = (): LocalNode => ({
  name: 'node-a',
  addresses: [{ ifname: 'eth0', address: '10.9.0.1', prefixLength: 24 }],
  defaultInterface: { ipv4: 'eth0' },
  sources: new Map([['eth0', { ipv4: '10.9.0.1' }]]),
});

const snap = (o: Json) => snapshotOf(o as unknown as ClusterObjects).snapshot;

describe('sameData', () => {
  const cases: [string, unknown, unknown, boolean][] = [
    ['numbers', 1, 1, true],
    ['NaN', Number.NaN, Number.NaN, true],
    ['bigint', 5n, 5n, true],
    ['different types', 1, '1', false],
    ['undefined and missing key', { a: undefined }, {}, false],
    ['nested objects', { a: { b: [1, 2] } }, { a: { b: [1, 2] } }, true],
    ['array order matters', [1, 2], [2, 1], false],
    [
      'maps, any order',
      new Map([
        ['a', 1],
        ['b', 2],
      ]),
      new Map([
        ['b', 2],
        ['a', 1],
      ]),
      true,
    ],
    ['maps, value differs', new Map([['a', { x: 1 }]]), new Map([['a', { x: 2 }]]), false],
    ['sets, any order', new Set(['a', 'b']), new Set(['b', 'a']), true],
    ['sets differ', new Set(['a']), new Set(['b']), false],
    ['bytes', Uint8Array.of(1, 2), Uint8Array.of(1, 2), true],
    ['bytes differ', Uint8Array.of(1, 2), Uint8Array.of(1, 3), false],
    ['class instances only by identity', new Date(0), new Date(0), false],
    ['map vs object', new Map(), {}, false],
  ];
  for (const [name, a, b, want] of cases) test(name, () => assert.equal(sameData(a, b), want));
});

describe('DesiredMemo', () => {
  test('an update the plan does not read (another annotation, resourceVersion) reuses the last plan', () => {
    const memo = new DesiredMemo();
    const o = objects();
    const first = memo.desired(snap(o), local());
    const next = objects();
    next.services[3].metadata.annotations['other.tool/x'] = '2';
    next.services[3].metadata.resourceVersion = '2';
    next.nodes[1].metadata.resourceVersion = '7';
    next.services.reverse(); // a cache's order is not the plan's
    assert.equal(memo.desired(snap(next), local()), first);
    assert.deepEqual(memo.counts, { hits: 1, misses: 1 });
  });

  // Each mutation changes something the plan reads: the memo must plan again, and agree with a fresh plan.
  const changes: [string, (o: Json) => void, (l: Json) => void][] = [
    [
      'a VRID annotation',
      (o) => (o.services[2].metadata.annotations['metal-vrrp.io/vrids'] = '10.9.0.102=40'),
      () => {},
    ],
    ['a Service deleted', (o) => o.services.pop(), () => {}],
    [
      'a Service added',
      (o) =>
        o.services.push({
          ...objects().services[0],
          metadata: {
            ...objects().services[0].metadata,
            name: 'new',
            annotations: { 'metal-vrrp.io/vrids': '10.9.0.140=60' },
          },
          status: { loadBalancer: { ingress: [{ ip: '10.9.0.140' }] } },
        }),
      () => {},
    ],
    ['externalTrafficPolicy Local', (o) => (o.services[0].spec.externalTrafficPolicy = 'Local'), () => {}],
    ['a node NotReady', (o) => (o.nodes[1].status.conditions[0].status = 'False'), () => {}],
    [
      'a node label',
      (o) => (o.nodes[2].metadata.labels['node.kubernetes.io/exclude-from-external-load-balancers'] = ''),
      () => {},
    ],
    ['an endpoint not ready', (o) => (o.endpointSlices[0].endpoints[0].conditions.ready = false), () => {}],
    ['a pool annotation', (o) => (o.pools[0].metadata.annotations['metal-vrrp.io/advert-interval'] = '50ms'), () => {}],
    ['an advertisement limited to an interface', (o) => (o.l2Advertisements[0].spec.interfaces = ['eth1']), () => {}],
    [
      'the address on another interface',
      () => {},
      (l) => {
        l.addresses = [{ ifname: 'eth1', address: '10.9.0.1', prefixLength: 24 }];
        l.sources = new Map([['eth1', { ipv4: '10.9.0.1' }]]);
      },
    ],
    ['the advert source address', () => {}, (l) => (l.sources = new Map([['eth0', { ipv4: '10.9.0.7' }]]))],
  ];
  for (const [name, mutate, mutateLocal] of changes) {
    test(`plans again on ${name}`, () => {
      const memo = new DesiredMemo();
      const first = memo.desired(snap(objects()), local());
      const o = objects();
      mutate(o);
      const l = local() as unknown as Json;
      mutateLocal(l);
      const s = snap(o);
      const again = memo.desired(s, l as unknown as LocalNode);
      assert.notEqual(again, first);
      assert.deepEqual(memo.counts, { hits: 0, misses: 2 });
      assert.deepEqual(again, desiredRouters(s, l as unknown as LocalNode));
      assert.equal(sameData(again.routers, first.routers) && sameData(again.problems, first.problems), false);
    });
  }
});
