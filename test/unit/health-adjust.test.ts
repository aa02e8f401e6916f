// health-adjust.test.ts — this node's own health turns its desired routers into health-adjusted ones: resign to
// priority 1, lower by weight (floor 1), what is watched, and the master's resign as a restart (priority 0 on the wire).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  applyHealth,
  type CheckVerdict,
  HEALTHY,
  type NodeHealth,
  probeKey,
  RESIGN_PRIORITY,
  resignSteps,
  wantedChecks,
} from '../../src/health/health-adjust.ts';
import { nodeView } from '../../src/model/cluster-snapshot.ts';
import { HEALTH_ANNOTATIONS as H } from '../../src/model/health-checks.ts';
import { DEFAULT_POOL_TUNING, type PoolTuning, parsePoolTuning } from '../../src/model/pool-tuning.ts';
import { diffRouters } from '../../src/speaker/cluster/desired-routers.ts';
import { planRouterSpec, type RouterKey, type RouterSpec } from '../../src/speaker/router-spec.ts';

function spec(vrid: number, priority: number, pool: string, ifname = 'eth0'): RouterSpec {
  const r = planRouterSpec(
    {
      vrid,
      family: 'ipv4',
      priority,
      advertIntervalCs: 10,
      preempt: true,
      preemptDelayMs: 0,
      vips: [`10.0.0.${100 + vrid}`],
      interface: ifname,
      peerMode: 'multicast',
      peers: [],
      gratuitous: DEFAULT_POOL_TUNING.gratuitous,
      pools: [pool],
      services: [`default/svc-${vrid}`],
    },
    { ipv4: '10.0.0.1' },
  );
  if ('errors' in r) throw new Error(r.errors.join('; '));
  return r.spec;
}

function routers(...specs: RouterSpec[]): Map<RouterKey, RouterSpec> {
  return new Map(specs.map((s) => [s.key, s]));
}

function tunings(pools: Record<string, Record<string, string>>): Map<string, PoolTuning> {
  return new Map(Object.entries(pools).map(([name, ann]) => [name, parsePoolTuning(name, ann).tuning]));
}

const down = (since: number, detail = 'HTTP 503'): CheckVerdict => ({ status: 'down', since, detail });
const up = (since: number): CheckVerdict => ({ status: 'up', since, detail: 'HTTP 200' });

const T = tunings({
  plain: {},
  resign: { [H.check]: 'http://:8080/healthz', [H.kubeProxy]: 'true' },
  weighted: { [H.check]: 'http://:8080/healthz', [H.kubeProxy]: 'true', [H.weight]: '60', [H.interval]: '2s' },
  cordon: { [H.resignWhenCordoned]: 'true', [H.trackInterface]: 'false' },
});
const resignPool = T.get('resign')!.health;
const weightedPool = T.get('weighted')!.health;
const CHECK = probeKey(resignPool.check!, resignPool);
const KP = probeKey(resignPool.kubeProxy!, resignPool);
const W_CHECK = probeKey(weightedPool.check!, weightedPool);
const W_KP = probeKey(weightedPool.kubeProxy!, weightedPool);

function health(over: Partial<NodeHealth>): NodeHealth {
  return { ...HEALTHY, ...over };
}

describe('applyHealth', () => {
  // [name, router (vrid, priority, pool, ifname), health, wanted priority, resign, checks named]
  const cases: readonly [string, RouterSpec, NodeHealth, number, boolean, string[]][] = [
    ['healthy: unchanged', spec(1, 200, 'resign'), HEALTHY, 200, false, []],
    [
      'up and unknown verdicts count as up',
      spec(1, 200, 'resign'),
      health({
        probes: new Map([
          [CHECK, up(5)],
          [KP, { status: 'unknown', since: 0, detail: '' }],
        ]),
      }),
      200,
      false,
      [],
    ],
    [
      'link down resigns (track-interface on by default)',
      spec(1, 200, 'plain'),
      health({ links: new Map([['eth0', down(7, 'carrier down')]]) }),
      RESIGN_PRIORITY,
      true,
      ['interface eth0'],
    ],
    [
      'another interface down does not matter',
      spec(1, 200, 'plain'),
      health({ links: new Map([['eth1', down(7)]]) }),
      200,
      false,
      [],
    ],
    [
      'probe down, weight 0: resign',
      spec(1, 200, 'resign'),
      health({ probes: new Map([[CHECK, down(9)]]) }),
      RESIGN_PRIORITY,
      true,
      ['http://:8080/healthz'],
    ],
    [
      'kube-proxy down, weight 0: resign',
      spec(1, 200, 'resign'),
      health({ probes: new Map([[KP, down(9)]]) }),
      RESIGN_PRIORITY,
      true,
      ['http://:10256/healthz'],
    ],
    [
      'probe down, weight 60: lowered',
      spec(1, 200, 'weighted'),
      health({ probes: new Map([[W_CHECK, down(9)]]) }),
      140,
      false,
      ['http://:8080/healthz'],
    ],
    [
      'two probes down: both weights',
      spec(1, 200, 'weighted'),
      health({
        probes: new Map([
          [W_CHECK, down(9)],
          [W_KP, down(9)],
        ]),
      }),
      80,
      false,
      ['http://:10256/healthz', 'http://:8080/healthz'],
    ],
    [
      'lowered to the floor of 1, never 0',
      spec(1, 100, 'weighted'),
      health({
        probes: new Map([
          [W_CHECK, down(9)],
          [W_KP, down(9)],
        ]),
      }),
      1,
      false,
      ['http://:10256/healthz', 'http://:8080/healthz'],
    ],
    [
      'weighted probe plus link down: resign wins',
      spec(1, 200, 'weighted'),
      health({ links: new Map([['eth0', down(3)]]), probes: new Map([[W_CHECK, down(9)]]) }),
      RESIGN_PRIORITY,
      true,
      ['interface eth0', 'http://:8080/healthz'],
    ],
    [
      "a probe of another pool's settings does not act here",
      spec(1, 200, 'weighted'),
      health({ probes: new Map([[CHECK, down(9)]]) }),
      200,
      false,
      [],
    ],
    [
      'cordoned, pool asks: resign',
      spec(1, 200, 'cordon'),
      health({ cordonedSince: 11 }),
      RESIGN_PRIORITY,
      true,
      ['cordoned'],
    ],
    ['cordoned, pool does not ask: unchanged', spec(1, 200, 'plain'), health({ cordonedSince: 11 }), 200, false, []],
    [
      'track-interface off: link down ignored',
      spec(1, 200, 'cordon'),
      health({ links: new Map([['eth0', down(7)]]) }),
      200,
      false,
      [],
    ],
  ];
  for (const [name, router, h, priority, resign, checks] of cases) {
    test(name, () => {
      const r = applyHealth(routers(router), T, h);
      const got = r.routers.get(router.key)!;
      assert.equal(got.config.priority, priority);
      assert.deepEqual(got.vips, router.vips);
      const adj = r.adjustments.get(router.key);
      if (checks.length === 0) {
        assert.equal(adj, undefined);
        assert.equal(got, router);
        return;
      }
      assert.ok(adj);
      assert.deepEqual([adj.basePriority, adj.priority, adj.resign], [router.config.priority, priority, resign]);
      assert.deepEqual(adj.findings.map((f) => f.check).sort(), [...checks].sort());
    });
  }

  test('findings say since when and why', () => {
    const r = applyHealth(
      routers(spec(1, 200, 'resign')),
      T,
      health({ probes: new Map([[CHECK, down(1234, 'connect ECONNREFUSED')]]) }),
    );
    assert.deepEqual(r.adjustments.get('ipv4/1')?.findings, [
      {
        check: 'http://:8080/healthz',
        kind: 'probe',
        effect: 'resign',
        weight: 0,
        since: 1234,
        detail: 'connect ECONNREFUSED',
      },
    ]);
  });

  test('only the routers of the affected pool or interface change', () => {
    const a = spec(1, 200, 'resign');
    const b = spec(2, 180, 'plain');
    const c = spec(3, 150, 'plain', 'eth1');
    const r = applyHealth(
      routers(a, b, c),
      T,
      health({ probes: new Map([[CHECK, down(1)]]), links: new Map([['eth1', down(2)]]) }),
    );
    assert.deepEqual(
      [...r.routers.values()].map((s) => [s.key, s.config.priority]),
      [
        ['ipv4/1', 1],
        ['ipv4/2', 180],
        ['ipv4/3', 1],
      ],
    );
  });
});

describe('wantedChecks', () => {
  test('tracked interfaces and distinct probes of the routers pools', () => {
    const w = wantedChecks(
      routers(
        spec(1, 200, 'resign'),
        spec(2, 200, 'weighted', 'eth1'),
        spec(3, 200, 'cordon', 'eth2'),
        spec(4, 200, 'resign'),
      ),
      T,
    );
    assert.deepEqual(w.links, ['eth0', 'eth1']);
    assert.deepEqual(
      w.probes.map((p) => [p.kind, p.key]).sort(),
      [
        ['kube-proxy', KP],
        ['kube-proxy', W_KP],
        ['probe', CHECK],
        ['probe', W_CHECK],
      ].sort(),
    );
  });
});

describe('resignSteps', () => {
  const base = routers(spec(1, 200, 'resign'), spec(2, 200, 'weighted'));
  const sick = health({
    probes: new Map([
      [CHECK, down(1)],
      [W_CHECK, down(1)],
    ]),
  });
  const adjusted = applyHealth(base, T, sick);
  const steps = diffRouters(adjusted.routers, base);

  test('a resigning master restarts (stop sends priority 0, start rejoins at priority 1)', () => {
    const out = resignSteps(steps, adjusted.adjustments, () => 'master');
    assert.deepEqual(
      out.map((s) => [s.op, s.key]),
      [
        ['restart', 'ipv4/1'],
        ['reconfigure', 'ipv4/2'],
      ],
    );
    const restart = out[0]!;
    assert.ok(restart.op === 'restart');
    assert.deepEqual([restart.spec.config.priority, restart.from], [1, 'eth0']);
  });

  test('a resigning backup only reconfigures', () => {
    const out = resignSteps(steps, adjusted.adjustments, () => 'backup');
    assert.deepEqual(
      out.map((s) => s.op),
      ['reconfigure', 'reconfigure'],
    );
  });

  test('no step again once resigned; recovery is a live reconfigure back to the base priority', () => {
    assert.deepEqual(
      resignSteps(diffRouters(adjusted.routers, adjusted.routers), adjusted.adjustments, () => 'master'),
      [],
    );
    const back = resignSteps(diffRouters(base, adjusted.routers), new Map(), () => 'backup');
    assert.deepEqual(
      back.map((s) => (s.op === 'reconfigure' ? [s.key, s.configure.priority] : s.op)),
      [
        ['ipv4/1', 200],
        ['ipv4/2', 200],
      ],
    );
  });
});

describe('nodeView', () => {
  test('carries spec.unschedulable (a cordon) only when true', () => {
    const status = { conditions: [{ type: 'Ready', status: 'True' }] };
    assert.equal(nodeView({ metadata: { name: 'n1' }, spec: { unschedulable: true }, status })?.unschedulable, true);
    assert.equal(
      nodeView({ metadata: { name: 'n1' }, spec: { unschedulable: false }, status })?.unschedulable,
      undefined,
    );
    assert.equal(nodeView({ metadata: { name: 'n1' }, status })?.unschedulable, undefined);
  });
});
