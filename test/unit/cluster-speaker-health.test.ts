// cluster-speaker-health.test.ts — the ClusterSpeaker with a HealthSource: it tells the source what to watch (the
// pool's probes, the router's interface, the node's cordon and InternalIP), a failed check resigns a master with a
// restart (priority 0 on the wire, priority 1 after), lowers it by the pool's weight, sends Service Events and counts
// the transition with reason `health`; recovery goes back to the ranked priority live.
import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';
import { HEALTHY, type NodeHealth, probeKey } from '../../src/health/health-adjust.ts';
import type { HealthSource, HealthSpec } from '../../src/health/health-monitor.ts';
import { silentLogger } from '../../src/log.ts';
import { createSpeakerMetrics } from '../../src/metrics.ts';
import type { ClusterObjects } from '../../src/model/cluster-objects.ts';
import { HEALTH_ANNOTATIONS as H } from '../../src/model/health-checks.ts';
import type { NodeHealthReport } from '../../src/model/node-health-report.ts';
import { parsePoolTuning } from '../../src/model/pool-tuning.ts';
import type { ServiceEvent } from '../../src/model/service-l2-status.ts';
import { ClusterSpeaker } from '../../src/speaker/cluster/cluster-speaker.ts';
import type {
  RouterHost,
  RouterKey,
  RouterSpec,
  RouterStep,
  StateName,
  TransitionListener,
} from '../../src/speaker/router-spec.ts';
import { FakeClock } from '../support/fake-clock.ts';

const NS = 'metallb-system';
const KEY: RouterKey = 'ipv4/7';

class FakeHost implements RouterHost {
  readonly steps: RouterStep[] = [];
  readonly states = new Map<RouterKey, StateName>();
  listener: TransitionListener | undefined;
  apply(step: RouterStep): string | undefined {
    this.steps.push(step);
    if (step.op === 'stop') this.states.delete(step.key);
    else if (step.op === 'restart') this.states.set(step.key, 'backup');
    else if (!this.states.has(step.key)) this.states.set(step.key, 'backup');
    return undefined;
  }
  state(key: RouterKey) {
    return this.states.get(key);
  }
  onTransition(l: TransitionListener) {
    this.listener = l;
  }
  async stop() {}
}

class FakeHealth implements HealthSource {
  specs: HealthSpec[] = [];
  health: NodeHealth = HEALTHY;
  update(spec: HealthSpec): void {
    this.specs.push(spec);
  }
  current(): NodeHealth {
    return this.health;
  }
}

const POOL_ANN = { [H.check]: 'http://:8080/healthz' };

function objectsWith(ann: Record<string, string>, unschedulable = false): ClusterObjects {
  const node = (name: string, i: number) => ({
    metadata: { name },
    spec: name === 'node-a' && unschedulable ? { unschedulable: true } : {},
    status: {
      addresses: [{ type: 'InternalIP', address: `10.9.0.${i}` }],
      conditions: [{ type: 'Ready', status: 'True' }],
    },
  });
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
    nodes: ['node-a', 'node-b', 'node-c'].map((n, i) => node(n, i + 1)),
    endpointSlices: [],
    pools: [
      { metadata: { name: 'lan', namespace: NS, annotations: ann }, spec: { addresses: ['10.9.0.100-10.9.0.120'] } },
    ],
    l2Advertisements: [{ metadata: { name: 'all', namespace: NS }, spec: { ipAddressPools: ['lan'] } }],
  } as unknown as ClusterObjects;
}

let objects: ClusterObjects;
let host: FakeHost;
let health: FakeHealth;
let events: [ServiceEvent, string | undefined][];
let metrics: ReturnType<typeof createSpeakerMetrics>;
let speaker: ClusterSpeaker;
let published: NodeHealthReport[];

beforeEach(() => {
  published = [];
  objects = objectsWith(POOL_ANN);
  host = new FakeHost();
  health = new FakeHealth();
  events = [];
  metrics = createSpeakerMetrics({ processMetrics: false });
  speaker = new ClusterSpeaker({
    nodeName: 'node-a',
    namespace: NS,
    objects: () => objects,
    l2Statuses: () => [],
    local: () => ({
      name: 'node-a',
      addresses: [{ ifname: 'eth0', address: '10.9.0.1', prefixLength: 24 }],
      sources: new Map([['eth0', { ipv4: '10.9.0.1' }]]),
    }),
    host,
    writeL2Status: async () => 0,
    recordEvent: (e, uid) => events.push([e, uid]),
    clock: new FakeClock(),
    metrics,
    logger: silentLogger(),
    health,
    publishHealth: (r) => published.push(r),
  });
});

function probeKeyOf(ann: Record<string, string>): string {
  const h = parsePoolTuning('lan', ann).tuning.health;
  return probeKey(h.check!, h);
}

function failing(ann: Record<string, string> = POOL_ANN): NodeHealth {
  return { ...HEALTHY, probes: new Map([[probeKeyOf(ann), { status: 'down', since: 1234, detail: 'HTTP 503' }]]) };
}

async function healthTransitions(): Promise<number> {
  const m = await metrics.registry.getSingleMetric('metal_vrrp_transitions_total')!.get();
  return m.values.filter((v) => v.labels['reason'] === 'health').reduce((s, v) => s + v.value, 0);
}

describe('ClusterSpeaker with health', () => {
  test('tells the health source what to watch: the pool probe, the interface, the cordon and the InternalIP', () => {
    speaker.reconcile();
    const spec = health.specs.at(-1)!;
    assert.deepEqual(spec.wanted.links, ['eth0']);
    assert.deepEqual(
      spec.wanted.probes.map((p) => p.target.url),
      ['http://:8080/healthz'],
    );
    assert.deepEqual([spec.cordoned, spec.address], [false, '10.9.0.1']);
    objects = objectsWith(POOL_ANN, true);
    speaker.reconcile();
    assert.equal(health.specs.at(-1)!.cordoned, true);
  });

  test('a failed check resigns the master: restart at priority 1, an Event, a transition with reason health', async () => {
    speaker.reconcile();
    const base = (host.steps[0] as { spec: RouterSpec }).spec.config.priority;
    host.states.set(KEY, 'master');
    health.health = failing();
    speaker.reconcile();
    const step = host.steps.at(-1)!;
    assert.equal(step.op, 'restart');
    assert.equal((step as { spec: RouterSpec }).spec.config.priority, 1);
    assert.equal(await healthTransitions(), 1);
    assert.deepEqual(
      events.map(([e, uid]) => [e.type, e.reason, uid]),
      [['Warning', 'HealthResigned', 'uid-web']],
    );
    assert.match(
      events[0]![0].message,
      /node "node-a" resigns: http:\/\/:8080\/healthz \(HTTP 503\); VIPs 10\.9\.0\.100/,
    );
    const adj = speaker.healthAdjustments.get(KEY)!;
    assert.deepEqual([adj.basePriority, adj.priority, adj.findings[0]!.since], [base, 1, 1234]);
    // What status will show: the router, its VIP, resigned by the probe (the verdict's time as a wall time).
    const report = published.at(-1)!;
    assert.equal(report.node, 'node-a');
    assert.deepEqual(
      report.routers.map((r) => [r.vrid, r.vips, r.effect, r.priority, r.checks.map((c) => [c.check, c.detail])]),
      [[Number(KEY.split('/')[1]), ['10.9.0.100'], 'resign', 1, [['http://:8080/healthz', 'HTTP 503']]]],
    );
    assert.ok(!Number.isNaN(Date.parse(report.routers[0]!.checks[0]!.since)));
    // The same verdict again: nothing more.
    const n = host.steps.length;
    speaker.reconcile();
    assert.equal(host.steps.length, n);
    assert.equal(events.length, 1);
    assert.deepEqual(published.at(-1), report, 'the same report, so the Lease is not written again');
    // Recovery: back to the ranked priority, live; an Event says so.
    health.health = HEALTHY;
    speaker.reconcile();
    const back = host.steps.at(-1)!;
    assert.ok(back.op === 'reconfigure');
    assert.equal(back.configure.priority, base);
    assert.deepEqual(
      events.map(([e]) => e.reason),
      ['HealthResigned', 'HealthRecovered'],
    );
    assert.equal(speaker.healthAdjustments.size, 0);
    assert.deepEqual(published.at(-1), { node: 'node-a', routers: [] });
  });

  test('a failed check on a backup lowers it live, with no Event and no health transition', async () => {
    speaker.reconcile();
    health.health = failing();
    speaker.reconcile();
    const step = host.steps.at(-1)!;
    assert.ok(step.op === 'reconfigure');
    assert.equal(step.configure.priority, 1);
    assert.deepEqual(events, []);
    assert.equal(await healthTransitions(), 0);
  });

  test('a weighted check lowers the master by the weight, live', () => {
    const ann = { ...POOL_ANN, [H.weight]: '50' };
    objects = objectsWith(ann);
    speaker.reconcile();
    const base = (host.steps[0] as { spec: RouterSpec }).spec.config.priority;
    host.states.set(KEY, 'master');
    health.health = failing(ann);
    speaker.reconcile();
    const step = host.steps.at(-1)!;
    assert.ok(step.op === 'reconfigure');
    assert.equal(step.configure.priority, Math.max(1, base - 50));
    assert.deepEqual(
      events.map(([e]) => e.reason),
      ['HealthLowered'],
    );
  });

  test('a cordoned node resigns when the pool asks', () => {
    objects = objectsWith({ [H.resignWhenCordoned]: 'true' });
    speaker.reconcile();
    host.states.set(KEY, 'master');
    health.health = { ...HEALTHY, cordonedSince: 5 };
    speaker.reconcile();
    assert.equal(host.steps.at(-1)!.op, 'restart');
    assert.match(events[0]![0].message, /resigns: cordoned/);
  });
});
