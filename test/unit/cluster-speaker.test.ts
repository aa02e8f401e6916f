// ClusterSpeaker (Kubernetes mode) driven with plain objects and a fake RouterHost: which routers this node runs and
// with which priority, resigning when it stops being eligible, live tuning changes, ServiceL2Status written on change
// only, nodeAssigned Events, and bad annotations reported once.
import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';
import { createLogger } from '../../src/log.ts';
import { createSpeakerMetrics } from '../../src/metrics.ts';
import type { ClusterObjects } from '../../src/model/cluster-objects.ts';
import type { L2StatusWrite, ServiceEvent, ServiceL2StatusObject } from '../../src/model/service-l2-status.ts';
import { ClusterSpeaker } from '../../src/speaker/cluster/cluster-speaker.ts';
import type {
  RouterHost,
  RouterKey,
  RouterSpec,
  RouterStep,
  StateName,
  TransitionListener,
} from '../../src/speaker/router-spec.ts';
import { nodePriorities } from '../../vrrp/priority.ts';
import { FakeClock } from '../support/fake-clock.ts';

const NS = 'metallb-system';
const NODES = ['node-a', 'node-b', 'node-c'];

class FakeHost implements RouterHost {
  readonly steps: RouterStep[] = [];
  readonly states = new Map<RouterKey, StateName>();
  readonly routers = new Map<RouterKey, RouterSpec>();
  listener: TransitionListener | undefined;
  stopped = false;
  fail: string | undefined;
  apply(step: RouterStep): string | undefined {
    if (this.fail) return this.fail;
    this.steps.push(step);
    if (step.op === 'stop') {
      this.states.delete(step.key);
      this.routers.delete(step.key);
    } else {
      if (!this.states.has(step.key)) this.states.set(step.key, 'backup');
      this.routers.set(step.key, step.spec);
    }
    return undefined;
  }
  state(key: RouterKey) {
    return this.states.get(key);
  }
  onTransition(l: TransitionListener) {
    this.listener = l;
  }
  transition(key: RouterKey, to: StateName) {
    this.states.set(key, to);
    this.listener?.(this.routers.get(key)!, to, 'test');
  }
  async stop() {
    this.stopped = true;
  }
}

const node = (name: string, i: number, labels: Record<string, string> = {}) => ({
  metadata: { name, labels },
  status: {
    addresses: [{ type: 'InternalIP', address: `10.9.0.${i}` }],
    conditions: [{ type: 'Ready', status: 'True' }],
  },
});

function cluster(over: { poolAnnotations?: Record<string, string>; nodeLabels?: Record<string, string> } = {}) {
  return {
    services: [
      {
        metadata: {
          name: 'web',
          namespace: 'default',
          uid: 'uid-web',
          annotations: { 'metal-vrrp.io/vrids': '10.9.0.100=7' },
        },
        spec: { type: 'LoadBalancer', ports: [{ port: 80, protocol: 'TCP' }] },
        status: { loadBalancer: { ingress: [{ ip: '10.9.0.100' }] } },
      },
    ],
    nodes: NODES.map((n, i) => node(n, i + 1, n === 'node-a' ? over.nodeLabels : {})),
    endpointSlices: [],
    pools: [
      {
        metadata: { name: 'lan', namespace: NS, annotations: over.poolAnnotations ?? {} },
        spec: { addresses: ['10.9.0.100-10.9.0.120'] },
      },
    ],
    l2Advertisements: [{ metadata: { name: 'all', namespace: NS }, spec: { ipAddressPools: ['lan'] } }],
  } as unknown as ClusterObjects;
}

let objects: ClusterObjects;
let stored: ServiceL2StatusObject[];
let writes: L2StatusWrite[][];
let events: [ServiceEvent, string | undefined][];
let host: FakeHost;
let metrics: ReturnType<typeof createSpeakerMetrics>;
let logs: string[];
let speaker: ClusterSpeaker;
let clock: FakeClock;
let failWrites: number; // how many writeL2Status calls fail next

beforeEach(() => {
  objects = cluster();
  stored = [];
  writes = [];
  events = [];
  logs = [];
  host = new FakeHost();
  clock = new FakeClock();
  failWrites = 0;
  metrics = createSpeakerMetrics({ processMetrics: false });
  speaker = new ClusterSpeaker({
    nodeName: 'node-a',
    namespace: NS,
    objects: () => objects,
    l2Statuses: () => stored,
    local: () => ({
      name: 'node-a',
      addresses: [{ ifname: 'eth0', address: '10.9.0.1', prefixLength: 24 }],
      sources: new Map([['eth0', { ipv4: '10.9.0.1' }]]),
    }),
    host,
    writeL2Status: async (w) => {
      writes.push([...w]);
      if (failWrites > 0) {
        failWrites--;
        return w.length;
      }
      for (const x of w) {
        if (x.op === 'create') stored.push({ ...x.object, metadata: { ...x.object.metadata, resourceVersion: '1' } });
        if (x.op === 'delete') stored = stored.filter((o) => o.metadata.name !== x.name);
      }
      return 0;
    },
    recordEvent: (e, uid) => events.push([e, uid]),
    clock,
    metrics,
    logger: createLogger({ level: 'debug', destination: { write: (l: string) => void logs.push(l) } }),
  });
});

const expectedPriority = () => {
  const r = nodePriorities('ipv4/7', NODES);
  assert.ok('priorities' in r);
  return r.priorities.get('node-a');
};

describe('ClusterSpeaker', () => {
  test('runs the VIP router with the rendezvous priority, VRID from the Service, default interval', () => {
    speaker.reconcile();
    assert.equal(host.steps.length, 1);
    const step = host.steps[0]!;
    assert.equal(step.op, 'start');
    assert.ok(step.op === 'start');
    assert.equal(step.spec.config.vrid, 7);
    assert.equal(step.spec.config.priority, expectedPriority());
    assert.equal(step.spec.config.advertIntervalCs, 10);
    assert.equal(step.spec.interface, 'eth0');
    assert.deepEqual(step.spec.vips, ['10.9.0.100']);
    speaker.reconcile();
    assert.equal(host.steps.length, 1, 'nothing changed: no step');
  });

  test('becoming master writes one ServiceL2Status and a nodeAssigned Event; a repeat writes nothing', async () => {
    speaker.reconcile();
    await speaker.idle();
    assert.equal(writes.length, 0, 'backup: nothing to write');
    host.transition('ipv4/7', 'master');
    await speaker.idle();
    assert.equal(writes.length, 1);
    assert.equal(writes[0]![0]!.op, 'create');
    const obj = stored[0]!;
    assert.equal(obj.status?.node, 'node-a');
    assert.equal(obj.status?.serviceName, 'web');
    assert.deepEqual(obj.status?.interfaces, [{ name: 'eth0' }]);
    assert.equal(obj.metadata.labels?.['metallb.io/node'], 'node-a');
    assert.equal(events.length, 1);
    assert.equal(events[0]![0].reason, 'nodeAssigned');
    assert.match(events[0]![0].message, /announcing from node "node-a"/);
    assert.equal(events[0]![1], 'uid-web');
    speaker.reconcile();
    speaker.syncStatus();
    await speaker.idle();
    assert.equal(writes.length, 1, 'no write when nothing changed');
    host.transition('ipv4/7', 'backup');
    await speaker.idle();
    assert.equal(writes.length, 2);
    assert.equal(writes[1]![0]!.op, 'delete');
    assert.equal(stored.length, 0);
  });

  test('API writes wait for a pause in the transitions (10 ms quiet, at most 250 ms): takeovers first', async () => {
    speaker.reconcile();
    await speaker.idle();
    host.transition('ipv4/7', 'master');
    await clock.tick(9);
    assert.equal(events.length, 0, 'no Event while transitions may still come');
    assert.equal(writes.length, 0, 'no status write yet');
    host.transition('ipv4/7', 'backup');
    host.transition('ipv4/7', 'master');
    await clock.tick(9);
    assert.equal(events.length, 0, 'the quiet time restarts with each transition');
    await clock.tick(1);
    assert.equal(events.length, 2, 'both takeovers reported, in one go');
    await speaker.idle();
    assert.equal(writes.length, 1, 'one status sync for the burst');
    assert.equal(stored[0]?.status?.node, 'node-a');
    // A burst that never pauses is reported after 250 ms anyway.
    for (let i = 0; i < 40; i++) {
      host.transition('ipv4/7', i % 2 === 0 ? 'backup' : 'master');
      await clock.tick(7);
    }
    assert.ok(events.length > 2, 'reported within the burst');
  });

  test('a failed status write is retried after retryMs (1 s) on the clock, and not before', async () => {
    speaker.reconcile();
    failWrites = 1;
    host.transition('ipv4/7', 'master');
    await speaker.idle();
    assert.equal(writes.length, 1);
    assert.equal(stored.length, 0, 'the write failed');
    await clock.tick(999);
    assert.equal(writes.length, 1, 'not retried before retryMs');
    await clock.tick(1);
    await speaker.idle();
    assert.equal(writes.length, 2, 'retried once');
    assert.equal(stored.length, 1);
    await clock.tick(5_000);
    assert.equal(writes.length, 2, 'nothing more to write');
  });

  test('a node that becomes excluded resigns (stop with priority 0) and drops its status', async () => {
    speaker.reconcile();
    host.transition('ipv4/7', 'master');
    await speaker.idle();
    objects = cluster({ nodeLabels: { 'node.kubernetes.io/exclude-from-external-load-balancers': '' } });
    speaker.reconcile();
    const stop = host.steps.at(-1)!;
    assert.deepEqual(stop, { op: 'stop', key: 'ipv4/7', resign: true });
    await speaker.idle();
    assert.equal(stored.length, 0);
    assert.equal(speaker.running.size, 0);
  });

  test('an interval annotation applies live (reconfigure), a bad value is reported once and the default kept', () => {
    speaker.reconcile();
    objects = cluster({ poolAnnotations: { 'metal-vrrp.io/advert-interval': '50ms' } });
    speaker.reconcile();
    const step = host.steps.at(-1)!;
    assert.equal(step.op, 'reconfigure');
    assert.ok(step.op === 'reconfigure');
    assert.deepEqual(step.configure, { advertIntervalCs: 5 });
    objects = cluster({ poolAnnotations: { 'metal-vrrp.io/advert-interval': 'fast' } });
    speaker.reconcile();
    speaker.reconcile();
    const last = host.steps.at(-1)!;
    assert.ok(last.op === 'reconfigure');
    assert.deepEqual(last.configure, { advertIntervalCs: 10 }, 'back to the default');
    const warnings = logs.filter((l) => l.includes('"level":"warn"') && l.includes('advert-interval'));
    assert.equal(warnings.length, 1, 'a steady problem is logged once');
  });

  test('a failed step is retried by the next reconcile; stop resigns and removes the status objects', async () => {
    host.fail = 'no socket';
    speaker.reconcile();
    assert.equal(host.steps.length, 0);
    assert.equal(speaker.running.size, 0);
    host.fail = undefined;
    speaker.reconcile();
    assert.equal(host.steps.length, 1);
    host.transition('ipv4/7', 'master');
    await speaker.idle();
    assert.equal(stored.length, 1);
    await speaker.stop();
    assert.ok(host.stopped);
    assert.equal(stored.length, 0);
  });
});
