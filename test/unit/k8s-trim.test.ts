// k8s-trim.test.ts — the speaker's informers cache objects trimmed to what it reads: the views the decisions build
// (nodeView, readyEndpointNodes, serviceView) are the same from a trimmed object as from the whole one, what is dropped
// is dropped, and a ListWatch built by makeTrimmedInformer caches trimmed plain objects from its list and its watch.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KubeConfig, type KubernetesObject, type Watch } from '@kubernetes/client-node';
import { trimObject } from '../../src/k8s/trim.ts';
import { makeTrimmedInformer } from '../../src/k8s/trimmed-informer.ts';
import {
  type EndpointSliceObject,
  type LoadBalancerServiceObject,
  type NodeObject,
  nodeView,
  readyEndpointNodes,
  serviceView,
} from '../../src/model/cluster-snapshot.ts';

const managedFields = [{ manager: 'kubelet', operation: 'Update', fieldsV1: { 'f:status': { 'f:images': {} } } }];

const node = {
  apiVersion: 'v1',
  kind: 'Node',
  metadata: {
    name: 'n1',
    uid: 'u-n1',
    resourceVersion: '42',
    labels: { 'kubernetes.io/hostname': 'n1', zone: 'a' },
    annotations: { 'node.alpha.kubernetes.io/ttl': '0' },
    managedFields,
  },
  spec: { unschedulable: true, podCIDR: '10.244.0.0/24', taints: [{ key: 'k', effect: 'NoSchedule' }] },
  status: {
    conditions: [
      { type: 'Ready', status: 'True', reason: 'KubeletReady', lastHeartbeatTime: '2026-01-01T00:00:00Z' },
      { type: 'NetworkUnavailable', status: 'False', reason: 'RouteCreated' },
    ],
    addresses: [
      { type: 'InternalIP', address: '10.0.0.1' },
      { type: 'InternalIP', address: 'fd00::1' },
      { type: 'Hostname', address: 'n1' },
    ],
    images: [{ names: ['registry.example/a@sha256:00', 'registry.example/a:1'], sizeBytes: 123 }],
    nodeInfo: { kubeletVersion: 'v1.37.2', osImage: 'Debian' },
    capacity: { cpu: '2', memory: '24Gi' },
  },
};

test('Node: what nodeView reads is kept (spec, condition types and statuses, addresses), the rest dropped', () => {
  const t = trimObject('node', node) as typeof node;
  assert.deepEqual(nodeView(t as NodeObject), nodeView(node as NodeObject));
  assert.deepEqual(t.status, {
    conditions: [
      { type: 'Ready', status: 'True' },
      { type: 'NetworkUnavailable', status: 'False' },
    ],
    addresses: node.status.addresses,
  });
  assert.deepEqual(t.spec, node.spec);
  assert.deepEqual(t.metadata, {
    name: 'n1',
    uid: 'u-n1',
    resourceVersion: '42',
    labels: node.metadata.labels,
    annotations: node.metadata.annotations,
  });
});

test('EndpointSlice: per endpoint its node and ready condition; readyEndpointNodes unchanged', () => {
  const slice = {
    metadata: {
      name: 's-abc',
      namespace: 'default',
      resourceVersion: '7',
      labels: { 'kubernetes.io/service-name': 's' },
      managedFields,
    },
    addressType: 'IPv4',
    ports: [{ port: 8080, protocol: 'TCP' }],
    endpoints: [
      {
        addresses: ['10.1.0.5'],
        nodeName: 'n1',
        conditions: { ready: true, serving: true, terminating: false },
        targetRef: { kind: 'Pod', name: 'p1', namespace: 'default', uid: 'u-p1' },
        zone: 'a',
      },
      { addresses: ['10.1.0.6'], nodeName: 'n2', conditions: { ready: false, serving: false } },
      { addresses: ['10.1.0.7'], conditions: {} },
    ],
  };
  const t = trimObject('endpointslice', slice) as typeof slice;
  assert.deepEqual(readyEndpointNodes([t as EndpointSliceObject]), readyEndpointNodes([slice as EndpointSliceObject]));
  assert.deepEqual(t, {
    metadata: { name: 's-abc', namespace: 'default', resourceVersion: '7', labels: slice.metadata.labels },
    addressType: 'IPv4',
    endpoints: [{ nodeName: 'n1', conditions: { ready: true } }, { nodeName: 'n2', conditions: { ready: false } }, {}],
  });
});

test('other kinds lose only managedFields and the last-applied annotation', () => {
  const svc = {
    metadata: {
      name: 's',
      namespace: 'default',
      uid: 'u-s',
      resourceVersion: '9',
      annotations: { 'metal-vrrp.io/vrids': '10.0.0.100=1', 'kubectl.kubernetes.io/last-applied-configuration': '{}' },
      managedFields,
    },
    spec: { type: 'LoadBalancer', ports: [{ port: 80, protocol: 'TCP' }], externalTrafficPolicy: 'Local' },
    status: { loadBalancer: { ingress: [{ ip: '10.0.0.100' }] } },
  };
  const t = trimObject('generic', svc) as typeof svc;
  assert.deepEqual(serviceView(t as LoadBalancerServiceObject), serviceView(svc as LoadBalancerServiceObject));
  assert.deepEqual(t, {
    ...svc,
    metadata: {
      name: 's',
      namespace: 'default',
      uid: 'u-s',
      resourceVersion: '9',
      annotations: { 'metal-vrrp.io/vrids': '10.0.0.100=1' },
    },
  });
  assert.ok('managedFields' in svc.metadata, 'the input is not modified');
});

test('a watch ERROR (a Status, no metadata) passes as it is', () => {
  const status = { kind: 'Status', code: 410, reason: 'Expired' };
  assert.equal(trimObject('node', status), status);
  assert.equal(trimObject('generic', null), null);
});

test('makeTrimmedInformer: the list (model classes, Dates) and the watch events are cached trimmed and plain', async () => {
  class V1NodeLike {
    metadata = { name: 'n1', resourceVersion: '1', creationTimestamp: new Date(0), managedFields };
    status = { images: node.status.images, addresses: node.status.addresses };
  }
  let callback: ((phase: string, obj: unknown) => void) | undefined;
  const fakeWatch = {
    watch: async (_path: string, params: Record<string, unknown>, cb: (phase: string, obj: unknown) => void) => {
      assert.equal(params['resourceVersion'], '5', 'watches from the list resourceVersion');
      callback = cb;
      return new AbortController();
    },
  } as unknown as Watch;
  const inf = makeTrimmedInformer(
    new KubeConfig(),
    '/api/v1/nodes',
    async () => ({ metadata: { resourceVersion: '5' }, items: [new V1NodeLike() as unknown as KubernetesObject] }),
    'node',
    fakeWatch,
  );
  const added: unknown[] = [];
  inf.on('add', (o) => added.push(o));
  await inf.start();
  assert.deepEqual(inf.list(), [
    {
      metadata: { name: 'n1', resourceVersion: '1', creationTimestamp: '1970-01-01T00:00:00.000Z' },
      status: { addresses: node.status.addresses },
    },
  ]);
  assert.equal(Object.getPrototypeOf(inf.list()[0]), Object.prototype, 'plain JSON');
  callback?.('ADDED', node);
  assert.deepEqual(inf.get('n1'), trimObject('node', node));
  assert.equal(added.length, 1, 'n1 from the list; the watch ADDED is an update of it');
  await inf.stop();
});
