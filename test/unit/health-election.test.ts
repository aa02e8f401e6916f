// health-election.test.ts — the health rule in elections between real state machines (vrrp/sim/lan.ts): each node
// applies its own verdicts (check-state → applyHealth → diffRouters → resignSteps) and the VIP moves as the README
// says: within Skew_Time on a resign, by preemption on a weight, to the healthiest node when none is healthy, and no
// faster back than the pool's preempt-delay allows.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type CheckState, initialCheckState, recordResult } from '../../src/health/check-state.ts';
import { applyHealth, HEALTHY, probeKey, resignSteps } from '../../src/health/health-adjust.ts';
import { HEALTH_ANNOTATIONS as H } from '../../src/model/health-checks.ts';
import { type PoolTuning, parsePoolTuning } from '../../src/model/pool-tuning.ts';
import { diffRouters } from '../../src/speaker/cluster/desired-routers.ts';
import { planRouterSpec, type RouterKey, type RouterSpec } from '../../src/speaker/router-spec.ts';
import { SimLan, type TraceEntry } from '../../vrrp/sim/lan.ts';
import { masterDownIntervalMs, skewTimeMs } from '../../vrrp/timing.ts';

const VRID = 7;
const KEY: RouterKey = `ipv4/${VRID}`;
const NODES = [
  { name: 'a', address: '10.0.0.1', priority: 254 },
  { name: 'b', address: '10.0.0.2', priority: 253 },
  { name: 'c', address: '10.0.0.3', priority: 252 },
] as const;

function tuningOf(ann: Record<string, string>): Map<string, PoolTuning> {
  const r = parsePoolTuning('web', { [H.check]: 'http://:8080/healthz', ...ann });
  assert.deepEqual(r.problems, []);
  return new Map([['web', r.tuning]]);
}

function specOf(node: (typeof NODES)[number], tuning: PoolTuning): RouterSpec {
  const r = planRouterSpec(
    {
      vrid: VRID,
      family: 'ipv4',
      priority: node.priority,
      advertIntervalCs: tuning.advertIntervalCs,
      preempt: tuning.preempt,
      preemptDelayMs: tuning.preemptDelayMs,
      vips: ['10.0.0.100'],
      interface: 'eth0',
      peerMode: 'multicast',
      peers: [],
      gratuitous: tuning.gratuitous,
      pools: ['web'],
    },
    { ipv4: node.address },
  );
  if ('errors' in r) throw new Error(r.errors.join('; '));
  return r.spec;
}

/** Cluster runs the three nodes on a SimLan, each applying its own probe verdict as the speaker does. */
class Cluster {
  readonly lan: SimLan;
  readonly #tunings: Map<string, PoolTuning>;
  readonly #base = new Map<string, RouterSpec>();
  readonly #running = new Map<string, RouterSpec>();
  readonly #checks = new Map<string, CheckState>();
  readonly #probe: string;

  constructor(ann: Record<string, string> = {}) {
    this.#tunings = tuningOf(ann);
    const t = this.#tunings.get('web')!;
    this.#probe = probeKey(t.health.check!, t.health);
    for (const n of NODES) {
      const s = specOf(n, t);
      this.#base.set(n.name, s);
      this.#running.set(n.name, s);
      this.#checks.set(n.name, initialCheckState(0));
    }
    this.lan = new SimLan(NODES.map((n) => ({ name: n.name, routers: [this.#base.get(n.name)!.config] })));
    this.lan.start();
  }

  /** probe feeds one result of node's check at the current virtual time and reconciles that node. */
  probe(node: string, ok: boolean): void {
    const t = this.#tunings.get('web')!.health;
    const now = this.lan.now;
    const next = recordResult(this.#checks.get(node)!, { ok, detail: ok ? 'HTTP 200' : 'HTTP 503' }, now, t);
    this.#checks.set(node, next.state);
    if (next.changed) this.#reconcile(node);
  }

  priority(node: string): number {
    return this.lan.stateOf(node, VRID).config.priority;
  }

  #reconcile(node: string): void {
    const check = this.#checks.get(node)!;
    const health = { ...HEALTHY, probes: new Map([[this.#probe, check]]) };
    const desired = applyHealth(new Map([[KEY, this.#base.get(node)!]]), this.#tunings, health);
    const running = new Map([[KEY, this.#running.get(node)!]]);
    const state = this.lan.stateOf(node, VRID).kind;
    for (const s of resignSteps(diffRouters(desired.routers, running), desired.adjustments, () => state)) {
      if (s.op === 'reconfigure') this.lan.configure(node, VRID, s.configure);
      else if (s.op === 'restart') {
        this.lan.shutdown(node);
        this.lan.configure(node, VRID, { priority: s.spec.config.priority });
        this.lan.restart(node);
      } else assert.fail(`unexpected step ${s.op}`);
      this.#running.set(node, s.spec);
    }
  }
}

type Transition = Extract<TraceEntry, { kind: 'transition' }>;

function masterships(lan: SimLan, node?: string, after = -1): Transition[] {
  return lan.trace.filter(
    (e): e is Transition => e.kind === 'transition' && e.to === 'master' && e.at > after && (!node || e.node === node),
  );
}

describe('health in the election', () => {
  test('a failing check on the master (weight 0): the next node takes over within Skew_Time, the master stays backup', () => {
    const c = new Cluster();
    for (const n of NODES) c.probe(n.name, true);
    c.lan.runFor(5000);
    assert.deepEqual(c.lan.masters(VRID), ['a']);
    c.lan.runFor(37); // off the advert cycle
    const t = c.lan.now;
    c.probe('a', false);
    c.lan.runFor(2000);
    const moved = masterships(c.lan, undefined, t);
    assert.deepEqual(
      moved.map((m) => [m.node, m.reason]),
      [['b', 'priority-zero']],
    );
    assert.ok(moved[0]!.at - t <= skewTimeMs(253, 10), `took ${moved[0]!.at - t} ms`);
    assert.equal(c.lan.stateOf('a', VRID).kind, 'backup');
    assert.equal(c.priority('a'), 1);
  });

  test('a weighted check lowers the master: a higher backup preempts within Master_Down_Interval', () => {
    const c = new Cluster({ [H.weight]: '60' });
    for (const n of NODES) c.probe(n.name, true);
    c.lan.runFor(5000);
    const t = c.lan.now;
    c.probe('a', false);
    assert.equal(c.priority('a'), 194);
    c.lan.runFor(2000);
    const moved = masterships(c.lan, undefined, t);
    assert.deepEqual(
      moved.map((m) => [m.node, m.reason]),
      [['b', 'preempt']],
    );
    assert.ok(moved[0]!.at - t <= masterDownIntervalMs(253, 10) + 100, `took ${moved[0]!.at - t} ms`);
  });

  test('when every node fails, the VIP keeps a master: the healthiest (highest remaining priority) serves', () => {
    const c = new Cluster({ [H.weight]: '100' });
    for (const n of NODES) c.probe(n.name, true);
    c.lan.runFor(5000);
    for (const n of NODES) {
      c.probe(n.name, false);
      c.lan.runFor(1000);
    }
    // a 154, b 153, c 152: everyone lowered by the same weight, so the order holds and a serves.
    assert.deepEqual([c.priority('a'), c.priority('b'), c.priority('c')], [154, 153, 152]);
    assert.deepEqual(c.lan.masters(VRID), ['a']);
  });

  test('when every node resigns, one still serves (priority 1 each)', () => {
    const c = new Cluster();
    for (const n of NODES) c.probe(n.name, true);
    c.lan.runFor(5000);
    for (const n of NODES) {
      c.probe(n.name, false);
      c.lan.runFor(1000);
    }
    assert.deepEqual([c.priority('a'), c.priority('b'), c.priority('c')], [1, 1, 1]);
    // c's resign (priority 0) woke a and b after the same Skew_Time; of the equal claims the higher address, b, won.
    assert.deepEqual(c.lan.masters(VRID), ['b']);
    // a recovers (rise 3) and takes the VIP back by preemption.
    c.probe('a', true);
    c.probe('a', true);
    c.probe('a', true);
    c.lan.runFor(2000);
    assert.deepEqual(c.lan.masters(VRID), ['a']);
  });

  /** flap runs a check on a that fails for one second and recovers for two, for 60 s; returns a's takeovers. */
  function flap(ann: Record<string, string>): number {
    const c = new Cluster({ [H.rise]: '1', ...ann });
    for (const n of NODES) c.probe(n.name, true);
    c.lan.runFor(5000);
    const t = c.lan.now;
    for (let s = 0; s < 60; s++) {
      c.probe('a', s % 3 !== 0);
      c.lan.runFor(1000);
    }
    return masterships(c.lan, 'a', t).length;
  }

  test('a flapping check moves the VIP back no more often than preempt-delay allows', () => {
    // Without a delay, a takes the VIP back in every 2-second good spell: 19 of them after the first failure.
    assert.ok(flap({}) >= 15, 'the flap must move the VIP back without a preempt delay');
    // A take-back needs a good spell longer than the delay: 2-second spells are too short for 2.5 s or 10 s.
    assert.equal(flap({ 'metal-vrrp.io/preempt-delay': '2.5s' }), 0);
    assert.equal(flap({ 'metal-vrrp.io/preempt-delay': '10s' }), 0);
    // rise 3 damps the same flap without any delay: three good results in a row never come.
    assert.equal(flap({ [H.rise]: '3' }), 0);
  });
});
