// runController's start-up order and wiring against in-memory sources and a fake API: nothing is allocated before
// every assignment in status is restored; a release wakes the Services waiting for an address; a config change
// that parseConfig does not read (a pool status write) re-syncs nothing.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { configFingerprint, runController } from '../../src/controller/controller.ts';
import type { EventRecorder } from '../../src/k8s/event-recorder.ts';
import type { ConfigSource, ServiceSource } from '../../src/k8s/sources.ts';
import type { ObjectKey, StatusWriter } from '../../src/k8s/status-writer.ts';
import { silentLogger } from '../../src/log.ts';
import { createControllerMetrics } from '../../src/metrics.ts';
import type { ConfigSnapshot, IPAddressPoolObject } from '../../src/model/config.ts';
import type { ObservedService } from '../../src/model/observed-service.ts';
import type { Clock } from '../../vrrp/clock.ts';
import { FakeClock } from '../support/fake-clock.ts';

class World implements ServiceSource, StatusWriter, EventRecorder {
  readonly services = new Map<string, ObservedService>();
  pools: IPAddressPoolObject[] = [];
  readonly ingressWrites: string[] = [];
  private svcListeners: ((key: string, kind: 'add' | 'update' | 'delete') => void)[] = [];
  readonly cfgListeners: ((r: string) => void)[] = [];
  private release: () => void = () => {};
  private readonly gate = new Promise<void>((r) => {
    this.release = r;
  });
  openGate() {
    this.release();
  }
  synced() {
    return this.gate;
  }
  list() {
    return [...this.services.values()];
  }
  get(ns: string, name: string) {
    return this.services.get(`${ns}/${name}`);
  }
  onChange(l: (key: string, kind: 'add' | 'update' | 'delete') => void) {
    this.svcListeners.push(l);
  }
  put(s: ObservedService) {
    const key = `${s.metadata?.namespace}/${s.metadata?.name}`;
    this.services.set(key, s);
    for (const l of this.svcListeners) l(key, 'update');
  }
  remove(key: string) {
    this.services.delete(key);
    for (const l of this.svcListeners) l(key, 'delete');
  }
  snapshots = 0; // configuration reads by the controller
  snapshot(): ConfigSnapshot {
    return { pools: this.pools, l2Advertisements: [] };
  }
  configChanged() {
    for (const l of this.cfgListeners) l('ipaddresspools');
  }
  poolUid() {
    return undefined;
  }
  async patchServiceAnnotations(k: ObjectKey, a: Readonly<Record<string, string | null>>) {
    const key = `${k.namespace}/${k.name}`;
    const s = this.services.get(key);
    if (!s) return 'gone' as const;
    const annotations = { ...(s.metadata?.annotations ?? {}) } as Record<string, string>;
    for (const [n, v] of Object.entries(a)) {
      if (v === null) delete annotations[n];
      else annotations[n] = v;
    }
    this.put({ ...s, metadata: { ...s.metadata, annotations } });
    return 'written' as const;
  }
  async setServiceIngress(k: ObjectKey, ips: readonly string[]) {
    const key = `${k.namespace}/${k.name}`;
    const s = this.services.get(key);
    if (!s) return 'gone' as const;
    this.ingressWrites.push(`${key}=${ips.join(',')}`);
    this.put({ ...s, status: { loadBalancer: { ingress: ips.map((ip) => ({ ip })) } } });
    return 'written' as const;
  }
  async setPoolStatus() {
    return 'written' as const;
  }
  record() {}
  async flush() {}
}

const svc = (name: string, ips: string[] = [], ts = '2026-01-01T00:00:00Z'): ObservedService => ({
  metadata: { namespace: 'ns', name, creationTimestamp: ts, annotations: {} },
  spec: { type: 'LoadBalancer', ports: [{ port: 80, protocol: 'TCP' }] },
  status: { loadBalancer: { ingress: ips.map((ip) => ({ ip })) } },
});

function start(world: World, clock?: Clock) {
  const config: ConfigSource = {
    synced: () => world.synced(),
    snapshot: () => {
      world.snapshots++;
      return world.snapshot();
    },
    onChange: (l) => {
      world.cfgListeners.push(l);
    },
    poolUid: () => undefined,
  };
  return runController({
    services: world,
    config,
    status: world,
    events: world,
    metrics: createControllerMetrics({ processMetrics: false }),
    logger: silentLogger(),
    namespace: 'metallb-system',
    ...(clock ? { clock } : {}),
  });
}

const ingress = (w: World, name: string) => (w.get('ns', name)?.status?.loadBalancer?.ingress ?? []).map((i) => i.ip);

test('restores before allocating: a new Service never takes an address held in status', async () => {
  const w = new World();
  w.pools = [{ metadata: { name: 'p' }, spec: { addresses: ['10.0.0.1-10.0.0.3'] } }];
  w.services.set('ns/held', svc('held', ['10.0.0.1']));
  const c = start(w);
  // Arrives before the caches sync, and sorts before "held": a naive loop would give it 10.0.0.1.
  w.put(svc('a-new'));
  assert.equal(c.isReady(), false);
  w.openGate();
  await c.whenReady();
  assert.deepEqual(ingress(w, 'held'), ['10.0.0.1']);
  assert.deepEqual(ingress(w, 'a-new'), ['10.0.0.2']);
  assert.equal(c.isReady(), true);
  await c.stop();
});

test('a deletion wakes the Service waiting for an address', async () => {
  const w = new World();
  w.pools = [{ metadata: { name: 'p' }, spec: { addresses: ['10.0.0.1/32'] } }];
  w.services.set('ns/a', svc('a'));
  const c = start(w);
  w.openGate();
  await c.whenReady();
  w.put(svc('b'));
  await c.idle();
  assert.deepEqual(ingress(w, 'b'), []);
  w.remove('ns/a');
  await c.idle();
  assert.deepEqual(ingress(w, 'b'), ['10.0.0.1']);
  await c.stop();
});

test('a pool status change is not a config change; a spec change re-syncs every Service', async () => {
  const w = new World();
  w.pools = [{ metadata: { name: 'p' }, spec: { addresses: ['10.0.0.1/32'] } }];
  w.services.set('ns/a', svc('a'));
  w.services.set('ns/b', svc('b'));
  const c = start(w);
  w.openGate();
  await c.whenReady();
  const writes = w.ingressWrites.length;
  w.pools = [{ ...w.pools[0], status: { assignedIPv4: 1 } } as IPAddressPoolObject];
  w.configChanged();
  await c.idle();
  assert.equal(w.ingressWrites.length, writes);
  w.pools = [{ metadata: { name: 'p' }, spec: { addresses: ['10.0.0.1-10.0.0.2'] } }];
  w.configChanged();
  await c.idle();
  assert.deepEqual([ingress(w, 'a'), ingress(w, 'b')].flat().sort(), ['10.0.0.1', '10.0.0.2']);
  await c.stop();
});

test('configFingerprint ignores status and resourceVersion, sees spec, labels and annotations', () => {
  const base = { metadata: { name: 'p', resourceVersion: '1' }, spec: { addresses: ['10.0.0.0/30'] } };
  const fp = (p: object) => configFingerprint({ pools: [p as IPAddressPoolObject], l2Advertisements: [] });
  assert.equal(fp(base), fp({ ...base, metadata: { name: 'p', resourceVersion: '2' }, status: { assignedIPv4: 3 } }));
  assert.notEqual(fp(base), fp({ ...base, spec: { addresses: ['10.0.0.0/29'] } }));
  assert.notEqual(fp(base), fp({ ...base, metadata: { name: 'p', annotations: { 'metal-vrrp.io/vrid-range': '5' } } }));
});

test('a burst of config changes is applied once, CONFIG_DEBOUNCE_MS (20 ms) after the first', async () => {
  const clock = new FakeClock();
  const w = new World();
  w.pools = [{ metadata: { name: 'p' }, spec: { addresses: ['10.0.0.1/32'] } }];
  w.services.set('ns/a', svc('a'));
  const c = start(w, clock);
  w.openGate();
  await c.whenReady();
  const reads = w.snapshots;
  w.pools = [{ metadata: { name: 'p' }, spec: { addresses: ['10.0.0.1-10.0.0.2'] } }];
  w.configChanged();
  await clock.tick(10);
  w.configChanged();
  w.configChanged();
  await clock.tick(9);
  assert.equal(w.snapshots, reads, 'nothing applied before the debounce ends');
  await clock.tick(1);
  assert.equal(w.snapshots, reads + 1, 'applied once for the burst');
  await clock.tick(1_000);
  assert.equal(w.snapshots, reads + 1);
  await c.stop();
});
