import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AllocationRequest } from '../../src/controller/allocator.ts';
import type { ErrorCode } from '../../src/errors.ts';
import {
  DEFAULT_LOAD_BALANCER_CLASS,
  isManaged,
  type ServiceObject,
  serviceKey,
  toServiceRequest,
} from '../../src/model/service-request.ts';

/** svc builds a LoadBalancer Service with the given annotations and spec fields. */
function svc(annotations: Record<string, string> = {}, spec: Record<string, unknown> = {}): ServiceObject {
  return {
    metadata: { namespace: 'shop', name: 'web', annotations, labels: { app: 'web' } },
    spec: {
      type: 'LoadBalancer',
      ipFamilies: ['IPv4'],
      ipFamilyPolicy: 'SingleStack',
      ports: [{ port: 80, protocol: 'TCP' }],
      externalTrafficPolicy: 'Cluster',
      selector: { app: 'web' },
      ...spec,
    },
  };
}

const base: AllocationRequest = {
  namespace: 'shop',
  labels: { app: 'web' },
  namespaceLabels: {},
  families: ['ipv4'],
  ipFamilyPolicy: 'SingleStack',
  ports: [{ port: 80, protocol: 'TCP' }],
  externalTrafficPolicy: 'Cluster',
  selector: { app: 'web' },
};

interface Case {
  readonly name: string;
  readonly svc: ServiceObject;
  /** want: the fields that differ from `base`; error: the expected code. */
  readonly want?: Partial<AllocationRequest>;
  readonly warnings?: readonly ErrorCode[];
  readonly error?: ErrorCode;
}

const cases: readonly Case[] = [
  { name: 'plain Service', svc: svc(), want: {} },
  { name: 'address-pool, current prefix', svc: svc({ 'metallb.io/address-pool': 'gold' }), want: { pool: 'gold' } },
  {
    name: 'address-pool, deprecated prefix',
    svc: svc({ 'metallb.universe.tf/address-pool': 'gold' }),
    want: { pool: 'gold' },
  },
  {
    name: 'both prefixes agree: no warning',
    svc: svc({ 'metallb.io/address-pool': 'gold', 'metallb.universe.tf/address-pool': 'gold' }),
    want: { pool: 'gold' },
  },
  {
    name: 'both prefixes disagree: metallb.io wins, reported',
    svc: svc({ 'metallb.io/address-pool': 'gold', 'metallb.universe.tf/address-pool': 'silver' }),
    want: { pool: 'gold' },
    warnings: ['ANNOTATION_CONFLICT'],
  },
  { name: 'empty address-pool means none', svc: svc({ 'metallb.io/address-pool': '' }), want: {} },
  {
    name: 'allow-shared-ip under both prefixes',
    svc: svc({ 'metallb.universe.tf/allow-shared-ip': 'k1', 'metallb.io/allow-shared-ip': 'k2' }),
    want: { sharingKey: 'k2' },
    warnings: ['ANNOTATION_CONFLICT'],
  },
  {
    name: 'loadBalancerIPs, dual-stack, spaces',
    svc: svc(
      { 'metallb.io/loadBalancerIPs': '10.0.0.1, 2001:db8::1' },
      { ipFamilies: ['IPv4', 'IPv6'], ipFamilyPolicy: 'RequireDualStack' },
    ),
    want: { requestedIps: ['10.0.0.1', '2001:db8::1'], families: ['ipv4', 'ipv6'], ipFamilyPolicy: 'RequireDualStack' },
  },
  {
    name: 'loadBalancerIPs, deprecated prefix',
    svc: svc({ 'metallb.universe.tf/loadBalancerIPs': '10.0.0.1' }),
    want: { requestedIps: ['10.0.0.1'] },
  },
  {
    name: 'loadBalancerIPs with an invalid address',
    svc: svc({ 'metallb.io/loadBalancerIPs': '10.0.0.1,10.0.0.256' }),
    error: 'INVALID_ANNOTATION',
  },
  {
    name: 'loadBalancerIPs with two of one family',
    svc: svc({ 'metallb.io/loadBalancerIPs': '10.0.0.1,10.0.0.2' }),
    error: 'INVALID_ANNOTATION',
  },
  {
    name: 'loadBalancerIPs and spec.loadBalancerIP together',
    svc: svc({ 'metallb.io/loadBalancerIPs': '10.0.0.1' }, { loadBalancerIP: '10.0.0.1' }),
    error: 'INVALID_ANNOTATION',
  },
  { name: 'spec.loadBalancerIP', svc: svc({}, { loadBalancerIP: '10.0.0.9' }), want: { requestedIps: ['10.0.0.9'] } },
  { name: 'spec.loadBalancerIP invalid', svc: svc({}, { loadBalancerIP: 'ten' }), error: 'INVALID_SERVICE' },
  {
    name: 'no ipFamilies: the requested address decides, as the API server would',
    svc: svc({}, { ipFamilies: undefined, ipFamilyPolicy: undefined, loadBalancerIP: '2001:db8::5' }),
    want: { families: ['ipv6'], requestedIps: ['2001:db8::5'] },
  },
  {
    name: 'ipv6-primary PreferDualStack, Local, UDP port, default protocol',
    svc: svc(
      {},
      {
        ipFamilies: ['IPv6', 'IPv4'],
        ipFamilyPolicy: 'PreferDualStack',
        externalTrafficPolicy: 'Local',
        ports: [{ port: 53, protocol: 'UDP' }, { port: 53 }],
      },
    ),
    want: {
      families: ['ipv6', 'ipv4'],
      ipFamilyPolicy: 'PreferDualStack',
      externalTrafficPolicy: 'Local',
      ports: [
        { port: 53, protocol: 'UDP' },
        { port: 53, protocol: 'TCP' },
      ],
    },
  },
  { name: 'bad ipFamilies', svc: svc({}, { ipFamilies: ['IPv5'] }), error: 'INVALID_SERVICE' },
  { name: 'bad ipFamilyPolicy', svc: svc({}, { ipFamilyPolicy: 'Sometimes' }), error: 'INVALID_SERVICE' },
  { name: 'bad externalTrafficPolicy', svc: svc({}, { externalTrafficPolicy: 'Global' }), error: 'INVALID_SERVICE' },
  { name: 'bad port', svc: svc({}, { ports: [{ port: 70000 }] }), error: 'INVALID_SERVICE' },
  { name: 'not a LoadBalancer', svc: svc({}, { type: 'ClusterIP' }), error: 'INVALID_SERVICE' },
  { name: 'no name', svc: { spec: { type: 'LoadBalancer' } }, error: 'INVALID_SERVICE' },
];

describe('toServiceRequest', () => {
  for (const c of cases) {
    test(c.name, () => {
      const res = toServiceRequest(c.svc);
      if (c.error) {
        assert.equal('error' in res ? res.error.code : 'ok', c.error);
        return;
      }
      assert.ok('request' in res, 'error' in res ? res.error.message : '');
      assert.deepEqual(res.request, { ...base, ...c.want });
      assert.deepEqual(
        res.warnings.map((w) => w.code),
        c.warnings ?? [],
      );
    });
  }

  test('namespace labels are carried for namespaceSelectors', () => {
    const res = toServiceRequest(svc(), { team: 'a' });
    assert.ok('request' in res);
    assert.deepEqual(res.request.namespaceLabels, { team: 'a' });
    assert.equal(serviceKey(svc()), 'shop/web');
  });
});

describe('isManaged', () => {
  const table: readonly [string, ServiceObject, string | undefined, boolean][] = [
    // MetalLB's --lb-class: none configured serves only Services with no class; a class serves only that class.
    ['LoadBalancer without class, none configured', svc(), undefined, true],
    ['empty class configured is none', svc(), '', true],
    ['our class name, none configured', svc({}, { loadBalancerClass: DEFAULT_LOAD_BALANCER_CLASS }), undefined, false],
    [
      'our class name configured',
      svc({}, { loadBalancerClass: DEFAULT_LOAD_BALANCER_CLASS }),
      DEFAULT_LOAD_BALANCER_CLASS,
      true,
    ],
    ['no class while a class is configured', svc(), DEFAULT_LOAD_BALANCER_CLASS, false],
    ['another class', svc({}, { loadBalancerClass: 'example.com/other' }), undefined, false],
    ['a configured class', svc({}, { loadBalancerClass: 'example.com/mine' }), 'example.com/mine', true],
    ['ClusterIP', svc({}, { type: 'ClusterIP' }), undefined, false],
    [
      'NodePort with our class',
      svc({}, { type: 'NodePort', loadBalancerClass: DEFAULT_LOAD_BALANCER_CLASS }),
      undefined,
      false,
    ],
  ];
  for (const [name, s, cls, want] of table) test(name, () => assert.equal(isManaged(s, cls), want));
});
