import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ServiceView } from '../../src/model/cluster-snapshot.ts';
import { L2_STATUS_VIPS_ANNOTATION, type ServiceL2StatusObject } from '../../src/model/service-l2-status.ts';
import {
  buildL2Status,
  l2StatusesFor,
  l2StatusName,
  masterChangeEvents,
  planL2StatusWrites,
} from '../../src/speaker/cluster/l2-status.ts';

const NS = 'metallb-system';
const svc = (name: string, vips: string[]): ServiceView => ({
  namespace: 'default',
  name,
  vips,
  externalTrafficPolicy: 'Cluster',
  vridAnnotation: undefined,
});

describe('ServiceL2Status object', () => {
  test('MetalLB shape: apiVersion, kind, labels, status; our VIP annotation; owner when given', () => {
    const owner = { apiVersion: 'v1', kind: 'Pod', name: 'speaker-x', uid: 'u1' };
    const o = buildL2Status({
      namespace: NS,
      node: 'node-a',
      serviceNamespace: 'default',
      serviceName: 'web',
      vips: ['10.0.0.100'],
      interfaces: ['eth1', 'eth0', 'eth1'],
      owner,
    });
    assert.deepEqual(o, {
      apiVersion: 'metallb.io/v1beta1',
      kind: 'ServiceL2Status',
      metadata: {
        name: l2StatusName('node-a', 'default', 'web'),
        namespace: NS,
        labels: {
          'metallb.io/node': 'node-a',
          'metallb.io/service-name': 'web',
          'metallb.io/service-namespace': 'default',
        },
        annotations: { 'metal-vrrp.io/vips': '10.0.0.100' },
        ownerReferences: [owner],
      },
      spec: {},
      status: {
        node: 'node-a',
        serviceName: 'web',
        serviceNamespace: 'default',
        interfaces: [{ name: 'eth0' }, { name: 'eth1' }],
      },
    });
  });

  test('names: l2- and 16 hex digits, stable, different per node and per Service, a valid DNS name', () => {
    const n = l2StatusName('node-a', 'default', 'web');
    assert.match(n, /^l2-[0-9a-f]{16}$/);
    assert.equal(l2StatusName('node-a', 'default', 'web'), n);
    const others = [
      l2StatusName('node-b', 'default', 'web'),
      l2StatusName('node-a', 'other', 'web'),
      l2StatusName('node-a', 'default', 'web2'),
      l2StatusName('node-a', 'defaultw', 'eb'),
    ];
    assert.equal(new Set([n, ...others]).size, 5);
  });

  test('l2StatusesFor: one object per Service with mastered VIPs; a split dual-stack Service lists only ours', () => {
    const objs = l2StatusesFor({
      namespace: NS,
      node: 'node-a',
      mastered: [
        { vips: ['10.0.0.100', '10.0.0.101'], interface: 'eth0' },
        { vips: ['fd00::100'], interface: 'eth1' },
      ],
      services: [
        svc('web', ['10.0.0.100', 'fd00::100']),
        svc('api', ['10.0.0.101', 'fd00::101']),
        svc('idle', ['10.0.0.102']),
      ],
    });
    const summary = objs.map((o) => [
      o.status?.serviceName,
      o.metadata.annotations?.[L2_STATUS_VIPS_ANNOTATION],
      o.status?.interfaces?.map((i) => i.name),
    ]);
    assert.deepEqual(
      summary.sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
      [
        ['api', '10.0.0.101', ['eth0']],
        ['web', '10.0.0.100,fd00::100', ['eth0', 'eth1']],
      ],
    );
  });
});

describe('planL2StatusWrites', () => {
  const want = (service: string, vips = ['10.0.0.100'], node = 'node-a', ifs = ['eth0']) =>
    buildL2Status({ namespace: NS, node, serviceNamespace: 'default', serviceName: service, vips, interfaces: ifs });
  const stored = (o: ServiceL2StatusObject, over: Partial<ServiceL2StatusObject['metadata']> = {}, rv = '7') => ({
    ...o,
    metadata: { ...o.metadata, resourceVersion: rv, creationTimestamp: '2026-01-01T00:00:00Z', ...over },
  });
  const summary = (ws: ReturnType<typeof planL2StatusWrites>) =>
    ws.map((w) =>
      w.op === 'delete'
        ? [w.op, w.name]
        : w.op === 'create'
          ? [w.op, w.object.status?.serviceName]
          : [w.op, w.object.metadata.name, w.object.metadata.resourceVersion, w.metadata, w.status],
    );
  const web = want('web');
  // [name, wanted, stored, writes]
  const cases: readonly [string, ServiceL2StatusObject[], ServiceL2StatusObject[], unknown[]][] = [
    ['nothing either side', [], [], []],
    ['new master: create', [web], [], [['create', 'web']]],
    ['unchanged (e.g. another advert): no write', [web], [stored(web)], []],
    ['no longer master: delete our own', [], [stored(web)], [['delete', web.metadata.name]]],
    [
      'interface changed: status update only',
      [want('web', ['10.0.0.100'], 'node-a', ['eth1'])],
      [stored(web)],
      [['update', web.metadata.name, '7', false, true]],
    ],
    [
      'VIP set changed: metadata update only',
      [want('web', ['10.0.0.100', '10.0.0.101'])],
      [stored(web)],
      [['update', web.metadata.name, '7', true, false]],
    ],
    [
      'an object MetalLB made (generated name) is reused, not duplicated',
      [web],
      [stored({ ...web, metadata: { ...web.metadata, name: 'l2-abcde', annotations: {} } })],
      [['update', 'l2-abcde', '7', true, false]],
    ],
    [
      'two objects for one Service: ours is kept, the other deleted',
      [web],
      [stored({ ...web, metadata: { ...web.metadata, name: 'l2-abcde' } }), stored(web)],
      [['delete', 'l2-abcde']],
    ],
    [
      'stored status names another node (immutable): delete and create',
      [web],
      [stored({ ...web, status: { ...web.status!, node: 'node-z' } })],
      [
        ['delete', web.metadata.name],
        ['create', 'web'],
      ],
    ],
    [
      'a mix: deletes come first',
      [want('api'), web],
      [stored(web), stored(want('old'))],
      [
        ['delete', want('old').metadata.name],
        ['create', 'api'],
      ],
    ],
  ];
  for (const [name, wanted, have, writes] of cases) {
    test(name, () => assert.deepEqual(summary(planL2StatusWrites(wanted, have)), writes));
  }
});

describe('master change Event', () => {
  test('MetalLB reason and wording, one per Service on the router, only VIPs of the router family', () => {
    const events = masterChangeEvents('node-b', { family: 'ipv4', vrid: 7, vips: ['10.0.0.100', '10.0.0.101'] }, [
      svc('web', ['10.0.0.100', 'fd00::100']),
      svc('api', ['10.0.0.101']),
      svc('other', ['10.0.0.102']),
    ]);
    assert.deepEqual(events, [
      {
        namespace: 'default',
        name: 'api',
        type: 'Normal',
        reason: 'nodeAssigned',
        message: 'announcing from node "node-b" with protocol "layer2": VRRP master of 10.0.0.101 (ipv4 VRID 7)',
      },
      {
        namespace: 'default',
        name: 'web',
        type: 'Normal',
        reason: 'nodeAssigned',
        message: 'announcing from node "node-b" with protocol "layer2": VRRP master of 10.0.0.100 (ipv4 VRID 7)',
      },
    ]);
  });
});
