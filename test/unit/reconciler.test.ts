// The reconciler's decisions against fake API ports: what it writes (and in which order), which Events it records,
// what it tells the controller to do next. No API server: the integration tests cover the wire.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Allocator } from '../../src/controller/allocator.ts';
import { Reconciler } from '../../src/controller/reconciler.ts';
import type { EventRecorder, ObjectRef } from '../../src/k8s/event-recorder.ts';
import type { ObjectKey, PoolStatus, StatusWriter, WriteOutcome } from '../../src/k8s/status-writer.ts';
import { silentLogger } from '../../src/log.ts';
import { createControllerMetrics } from '../../src/metrics.ts';
import { type IPAddressPoolObject, parseConfig } from '../../src/model/config.ts';
import type { ObservedService } from '../../src/model/observed-service.ts';

type Write = [string, string, unknown];

class FakeApi implements StatusWriter, EventRecorder {
  readonly writes: Write[] = [];
  readonly events: { ref: ObjectRef; type: string; reason: string; message: string }[] = [];
  failWrites = 0;
  private next(kind: string, svc: ObjectKey, what: unknown): Promise<WriteOutcome> {
    if (this.failWrites > 0) {
      this.failWrites--;
      return Promise.reject(new Error('HTTP 503'));
    }
    this.writes.push([kind, `${svc.namespace}/${svc.name}`, what]);
    return Promise.resolve('written');
  }
  patchServiceAnnotations(svc: ObjectKey, a: Readonly<Record<string, string | null>>) {
    return this.next('annotations', svc, a);
  }
  setServiceIngress(svc: ObjectKey, ips: readonly string[]) {
    return this.next('ingress', svc, ips);
  }
  setPoolStatus(pool: ObjectKey, status: PoolStatus) {
    return this.next('pool', pool, status);
  }
  record(ref: ObjectRef, type: string, reason: string, message: string): void {
    this.events.push({ ref, type, reason, message });
  }
  flush() {
    return Promise.resolve();
  }
}

function setup(
  pools: IPAddressPoolObject[] = [{ metadata: { name: 'p' }, spec: { addresses: ['10.0.0.1-10.0.0.2'] } }],
  opts: { keepAddressOnFailure?: boolean } = {},
) {
  const api = new FakeApi();
  const metrics = createControllerMetrics({ processMetrics: false });
  const allocator = new Allocator();
  const r = new Reconciler({
    allocator,
    status: api,
    events: api,
    metrics,
    logger: silentLogger(),
    namespace: 'metallb-system',
    ...opts,
  });
  r.applyConfig(parseConfig({ pools, l2Advertisements: [] }));
  return { api, r, allocator, metrics };
}

function svc(
  name: string,
  extra: { spec?: object; annotations?: Record<string, string>; ips?: string[]; ts?: string } = {},
) {
  return {
    metadata: {
      namespace: 'ns',
      name,
      uid: `uid-${name}`,
      creationTimestamp: extra.ts ?? '2026-01-01T00:00:00Z',
      annotations: extra.annotations ?? {},
    },
    spec: { type: 'LoadBalancer', ports: [{ port: 80, protocol: 'TCP' }], ...(extra.spec ?? {}) },
    status: { loadBalancer: { ingress: (extra.ips ?? []).map((ip) => ({ ip })) } },
  } as ObservedService;
}

/** written applies what the fake recorded to a Service, as the informer would show it next. */
function written(s: ObservedService, api: FakeApi): ObservedService {
  const key = `${s.metadata?.namespace}/${s.metadata?.name}`;
  let ann = { ...(s.metadata?.annotations ?? {}) } as Record<string, string>;
  let ips = (s.status?.loadBalancer?.ingress ?? []).map((i) => i.ip as string);
  for (const [kind, k, what] of api.writes) {
    if (k !== key) continue;
    if (kind === 'annotations') {
      for (const [n, v] of Object.entries(what as Record<string, string | null>)) {
        if (v === null) delete ann[n];
        else ann = { ...ann, [n]: v };
      }
    }
    if (kind === 'ingress') ips = [...(what as string[])];
  }
  return {
    ...s,
    metadata: { ...s.metadata, annotations: ann },
    status: { loadBalancer: { ingress: ips.map((ip) => ({ ip })) } },
  };
}

describe('Reconciler', () => {
  test('allocates: annotations first, then status; one IPAllocated Event; a re-sync writes nothing', async () => {
    const { api, r } = setup();
    assert.equal(await r.sync('ns/a', svc('a')), 'done');
    assert.deepEqual(api.writes, [
      ['annotations', 'ns/a', { 'metallb.io/ip-allocated-from-pool': 'p', 'metal-vrrp.io/vrids': '10.0.0.1=1' }],
      ['ingress', 'ns/a', ['10.0.0.1']],
    ]);
    assert.deepEqual(
      api.events.map((e) => [e.ref.name, e.ref.uid, e.type, e.reason, e.message]),
      [['a', 'uid-a', 'Normal', 'IPAllocated', 'Assigned IP ["10.0.0.1"]']],
    );
    const after = written(svc('a'), api);
    api.writes.length = 0;
    assert.equal(await r.sync('ns/a', after), 'done');
    assert.deepEqual(api.writes, []);
    assert.equal(api.events.length, 1);
  });

  test('a transient failure warns once per cause, counts, and waits; a release says "freed"', async () => {
    const { api, r, metrics } = setup();
    await r.sync('ns/a', svc('a'));
    await r.sync('ns/b', svc('b'));
    assert.equal(await r.sync('ns/c', svc('c')), 'waiting');
    assert.equal(await r.sync('ns/c', svc('c')), 'waiting');
    const failed = api.events.filter((e) => e.reason === 'AllocationFailed');
    assert.equal(failed.length, 1);
    assert.equal(failed[0]?.type, 'Warning');
    assert.match(
      failed[0]?.message ?? '',
      /^Failed to allocate IP for "ns\/c": no free address left in the eligible pools: p$/,
    );
    assert.deepEqual(r.waiting(), ['ns/c']);
    assert.match(
      await metrics.registry.metrics(),
      /metal_vrrp_allocation_errors_total\{reason="POOL_EXHAUSTED",component="controller"\} 1/,
    );
    assert.equal(await r.sync('ns/a', undefined), 'freed');
    assert.equal(await r.sync('ns/c', svc('c')), 'done');
    assert.deepEqual(r.waiting(), []);
  });

  test('a failed write asks for a retry and does not announce', async () => {
    const { api, r } = setup();
    api.failWrites = 1;
    assert.equal(await r.sync('ns/a', svc('a')), 'retry');
    assert.equal(api.events.length, 0);
    assert.equal(await r.sync('ns/a', svc('a')), 'done');
    assert.equal(api.events.filter((e) => e.reason === 'IPAllocated').length, 1);
  });

  test('type ClusterIP: released, our annotations and status cleared, IPReleased', async () => {
    const { api, r } = setup();
    await r.sync('ns/a', svc('a'));
    const now = written(svc('a', { spec: { type: 'ClusterIP' } }), api);
    api.writes.length = 0;
    assert.equal(await r.sync('ns/a', now), 'freed');
    assert.deepEqual(api.writes, [
      ['annotations', 'ns/a', { 'metallb.io/ip-allocated-from-pool': null, 'metal-vrrp.io/vrids': null }],
      ['ingress', 'ns/a', []],
    ]);
    assert.equal(api.events.at(-1)?.reason, 'IPReleased');
  });

  test('another loadBalancerClass is never written to', async () => {
    const { api, r } = setup();
    assert.equal(
      await r.sync('ns/x', svc('x', { spec: { loadBalancerClass: 'other/lb' }, ips: ['10.0.0.1'] })),
      'done',
    );
    assert.deepEqual(api.writes, []);
    assert.deepEqual(api.events, []);
  });

  test('a Service holding nothing has a stale status cleared', async () => {
    const { api, r } = setup();
    const stale = svc('s', { ips: ['192.0.2.9'], annotations: { 'metallb.io/address-pool': 'nope' } });
    assert.equal(await r.sync('ns/s', stale), 'waiting');
    assert.deepEqual(api.writes, [['ingress', 'ns/s', []]]);
  });

  test('restore keeps addresses and recorded VRIDs, older first; the younger claimant is told', async () => {
    const { api, r, allocator } = setup();
    const old = svc('old', {
      ips: ['10.0.0.2'],
      annotations: { 'metal-vrrp.io/vrids': '10.0.0.2=9' },
      ts: '2026-01-01T00:00:00Z',
    });
    const young = svc('young', { ips: ['10.0.0.2'], ts: '2026-01-02T00:00:00Z' });
    assert.deepEqual(r.restore([young, old]), { restored: 1, failed: 1 });
    assert.deepEqual(allocator.get('ns/old'), { key: 'ns/old', ips: ['10.0.0.2'], pool: 'p', vrids: [9] });
    assert.equal(api.events[0]?.reason, 'IPNotRestored');
    assert.equal(api.events[0]?.ref.name, 'young');
    // The restored one is not announced again.
    assert.equal(await r.sync('ns/old', written(old, api)), 'done');
    assert.equal(api.events.filter((e) => e.reason === 'IPAllocated').length, 0);
  });

  test('an invalid pool is an Event on the pool and a metric; valid pools still serve', async () => {
    const { api, r, metrics } = setup([
      { metadata: { name: 'bad' }, spec: { addresses: ['10.9.9.9/40'] } },
      { metadata: { name: 'p' }, spec: { addresses: ['10.0.0.1/32'] } },
    ]);
    const ev = api.events.find((e) => e.ref.name === 'bad');
    assert.equal(ev?.ref.kind, 'IPAddressPool');
    assert.equal(ev?.ref.namespace, 'metallb-system');
    assert.equal(ev?.reason, 'InvalidConfiguration');
    assert.match(
      await metrics.registry.metrics(),
      /metal_vrrp_config_errors_total\{kind="IPAddressPool",code="INVALID_POOL",component="controller"\} 1/,
    );
    assert.equal(await r.sync('ns/a', svc('a')), 'done');
    // Re-applying the same problems reports nothing new.
    r.applyConfig(
      parseConfig({
        pools: [{ metadata: { name: 'bad' }, spec: { addresses: ['10.9.9.9/40'] } }],
        l2Advertisements: [],
      }),
    );
    assert.equal(api.events.filter((e) => e.ref.name === 'bad').length, 1);
  });
});

describe('Reconciler restore of a Service whose spec became invalid', () => {
  test('its address stays reserved and in status; the invalid spec is reported', async () => {
    const { api, r, allocator } = setup();
    const broken = svc('broken', {
      ips: ['10.0.0.2'],
      annotations: {
        'metallb.io/loadBalancerIPs': 'not-an-ip',
        'metallb.io/ip-allocated-from-pool': 'p',
        'metal-vrrp.io/vrids': '10.0.0.2=4',
      },
    });
    assert.deepEqual(r.restore([broken]), { restored: 1, failed: 0 });
    assert.deepEqual(allocator.get('ns/broken')?.ips, ['10.0.0.2']);
    assert.equal(await r.sync('ns/broken', broken), 'done');
    assert.deepEqual(api.writes, [], 'status and annotations left as they are');
    assert.match(api.events.at(-1)?.message ?? '', /invalid service annotation.*\(keeping \["10\.0\.0\.2"\]\)/);
    // Nobody else is given the address meanwhile.
    await r.sync('ns/a', svc('a'));
    assert.deepEqual(allocator.get('ns/a')?.ips, ['10.0.0.1']);
    assert.equal(await r.sync('ns/b', svc('b')), 'waiting');
  });
});

// MetalLB's allocation semantics (controller/service.go convergeBalancer and main.go SetBalancer), one scenario each.
describe('MetalLB parity: clearing what can no longer be kept', () => {
  const P = (name: string, addresses: string[], spec: object = {}) =>
    ({ metadata: { name }, spec: { addresses, ...spec } }) as IPAddressPoolObject;
  const reasons = (api: FakeApi, name: string) =>
    api.events.filter((e) => e.ref.name === name).map((e) => `${e.type}/${e.reason}`);

  test('pool no longer admits the Service: ClearAssignment, then a new address from another pool', async () => {
    const { api, r, allocator } = setup([P('a', ['10.0.0.1/32']), P('b', ['10.0.1.1/32'])]);
    await r.sync('ns/x', svc('x'));
    const first = allocator.get('ns/x')?.ips;
    r.applyConfig(parseConfig({ pools: [P('b', ['10.0.1.1/32'])], l2Advertisements: [] }));
    await r.sync(
      'ns/x',
      svc('x', { ips: first as string[], annotations: { 'metallb.io/ip-allocated-from-pool': 'a' } }),
    );
    assert.deepEqual(allocator.get('ns/x')?.ips, ['10.0.1.1']);
    assert.deepEqual(reasons(api, 'x'), ['Normal/IPAllocated', 'Normal/ClearAssignment', 'Normal/IPAllocated']);
    assert.match(api.events[1]?.message ?? '', /current IP \["10\.0\.0\.1"\] for "ns\/x" not allowed by config/);
  });

  test('no new address either: the Service goes back to pending with AllocationFailed', async () => {
    const { api, r, allocator } = setup([P('a', ['10.0.0.1/32']), P('b', ['10.0.1.1/32'])]);
    await r.sync('ns/x', svc('x'));
    await r.sync('ns/y', svc('y'));
    r.applyConfig(parseConfig({ pools: [P('b', ['10.0.1.1/32'])], l2Advertisements: [] }));
    const outcome = await r.sync('ns/x', svc('x', { ips: ['10.0.0.1'] }));
    assert.equal(outcome, 'waiting');
    assert.equal(allocator.get('ns/x'), undefined);
    assert.deepEqual(api.writes.at(-1), ['ingress', 'ns/x', []], 'status cleared');
    assert.deepEqual(reasons(api, 'x'), ['Normal/IPAllocated', 'Normal/ClearAssignment', 'Warning/AllocationFailed']);
  });

  test('a requested address that cannot be had: cleared without ClearAssignment (the user asked), pending', async () => {
    const { api, r, allocator } = setup([P('a', ['10.0.0.1-10.0.0.2'])]);
    await r.sync('ns/x', svc('x'));
    await r.sync('ns/y', svc('y'));
    await r.sync('ns/x', svc('x', { ips: ['10.0.0.1'], spec: { loadBalancerIP: '10.0.0.2' } }));
    assert.equal(allocator.get('ns/x'), undefined);
    assert.deepEqual(reasons(api, 'x'), ['Normal/IPAllocated', 'Warning/AllocationFailed']);
  });

  test('--keep-address-on-failure keeps the old address, saying so', async () => {
    const { api, r, allocator } = setup([P('a', ['10.0.0.1/32']), P('b', ['10.0.1.1/32'])], {
      keepAddressOnFailure: true,
    });
    await r.sync('ns/x', svc('x'));
    await r.sync('ns/y', svc('y'));
    r.applyConfig(parseConfig({ pools: [P('b', ['10.0.1.1/32'])], l2Advertisements: [] }));
    assert.equal(await r.sync('ns/x', svc('x', { ips: ['10.0.0.1'] })), 'waiting');
    assert.deepEqual(allocator.get('ns/x')?.ips, ['10.0.0.1']);
    assert.match(api.events.at(-1)?.message ?? '', /\(keeping \["10\.0\.0\.1"\]\)/);
  });

  test('a pool rejected as invalid is not a deleted pool: its Services keep their addresses', async () => {
    const { api, r, allocator } = setup([P('a', ['10.0.0.1/32'])]);
    await r.sync('ns/x', svc('x'));
    r.applyConfig(parseConfig({ pools: [P('a', ['10.0.0.9-10.0.0.1'])], l2Advertisements: [] }));
    const again = svc('x', { ips: ['10.0.0.1'], annotations: { 'metallb.io/ip-allocated-from-pool': 'a' } });
    await r.sync('ns/x', again);
    assert.deepEqual(allocator.get('ns/x')?.ips, ['10.0.0.1']);
    assert.ok(!reasons(api, 'x').includes('Normal/ClearAssignment'));
  });

  test('the last pool deleted: assignments cleared silently (no Event), as MetalLB with empty pools', async () => {
    const { api, r, allocator } = setup([P('a', ['10.0.0.1/32'])]);
    await r.sync('ns/x', svc('x'));
    r.applyConfig(parseConfig({ pools: [], l2Advertisements: [] }));
    await r.sync('ns/x', svc('x', { ips: ['10.0.0.1'] }));
    assert.equal(allocator.get('ns/x'), undefined);
    assert.deepEqual(api.writes.at(-1), ['ingress', 'ns/x', []]);
    assert.deepEqual(reasons(api, 'x'), ['Normal/IPAllocated'], 'nothing after the allocation');
    await r.sync('ns/new', svc('new'));
    assert.deepEqual(reasons(api, 'new'), [], 'a new Service with no pool gets no Event either');
  });

  test("metallb.universe.tf/ annotations still work, with MetalLB's Warning once per annotation", async () => {
    const { api, r, allocator } = setup([P('a', ['10.0.0.1-10.0.0.2'])]);
    const old = svc('x', { annotations: { 'metallb.universe.tf/loadBalancerIPs': '10.0.0.2' } });
    await r.sync('ns/x', old);
    await r.sync('ns/x', old);
    assert.deepEqual(allocator.get('ns/x')?.ips, ['10.0.0.2']);
    const warnings = api.events.filter((e) => e.reason === 'deprecatedAnnotation');
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0]?.type, 'Warning');
    assert.equal(warnings[0]?.message, 'Service uses deprecated annotation metallb.universe.tf/loadBalancerIPs');
  });
});
