// health-monitor.test.ts — the HealthMonitor on a fake clock and a scripted probe: probes follow update(), verdict
// flips call onChange (a first "up" does not), links only count while watched, the cordon remembers since when, the
// gauge shows each check, and stop() ends every loop.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CheckResult } from '../../src/health/check-state.ts';
import { type ProbeSpec, probeKey, wantedChecks } from '../../src/health/health-adjust.ts';
import { HealthMonitor } from '../../src/health/health-monitor.ts';
import { silentLogger } from '../../src/log.ts';
import { HEALTH_ANNOTATIONS as H } from '../../src/model/health-checks.ts';
import { DEFAULT_POOL_TUNING, parsePoolTuning } from '../../src/model/pool-tuning.ts';
import { planRouterSpec, type RouterSpec } from '../../src/speaker/router-spec.ts';
import { FakeTimers } from '../support/fake-timers.ts';

const tunings = new Map([
  ['web', parsePoolTuning('web', { [H.check]: 'http://:8080/healthz', [H.fall]: '1', [H.rise]: '1' }).tuning],
]);

function spec(ifname: string): RouterSpec {
  const r = planRouterSpec(
    {
      vrid: 1,
      family: 'ipv4',
      priority: 100,
      advertIntervalCs: 10,
      preempt: true,
      preemptDelayMs: 0,
      vips: ['10.0.0.100'],
      interface: ifname,
      peerMode: 'multicast',
      peers: [],
      gratuitous: DEFAULT_POOL_TUNING.gratuitous,
      pools: ['web'],
    },
    { ipv4: '10.0.0.1' },
  );
  if ('errors' in r) throw new Error(r.errors.join());
  return r.spec;
}

const WANTED = wantedChecks(new Map([['ipv4/1', spec('eth0')]]), tunings);
const h = tunings.get('web')!.health;
const KEY = probeKey(h.check!, h);

function setup() {
  const clock = new FakeTimers();
  let healthy = true;
  const asked: string[] = [];
  let changes = 0;
  const gauge = new Map<string, number>();
  const monitor = new HealthMonitor({
    clock,
    probe: async (p: ProbeSpec, host: string): Promise<CheckResult> => {
      asked.push(`${host}:${p.target.port}${p.target.path}`);
      return { ok: healthy, detail: healthy ? 'HTTP 200' : 'HTTP 503' };
    },
    onChange: () => changes++,
    logger: silentLogger(),
    gauge: {
      set: (l, v) => gauge.set(`${l.check}|${l.interface}`, v),
      remove: (l) => gauge.delete(`${l.check}|${l.interface}`),
    },
  });
  return {
    clock,
    monitor,
    asked,
    gauge,
    changes: () => changes,
    setHealthy: (v: boolean) => {
      healthy = v;
    },
  };
}

describe('HealthMonitor', () => {
  test('runs the wanted probes at the node address; a flip calls onChange, a first up does not', async () => {
    const t = setup();
    t.monitor.update({ wanted: WANTED, cordoned: false, address: '10.0.0.1' });
    await t.clock.advance(0);
    assert.deepEqual(t.asked, ['10.0.0.1:8080/healthz']);
    assert.equal(t.monitor.current().probes.get(KEY)?.status, 'up');
    assert.equal(t.changes(), 0);
    assert.equal(t.gauge.get('http://:8080/healthz|'), 1);
    t.setHealthy(false);
    await t.clock.advance(1000);
    assert.equal(t.monitor.current().probes.get(KEY)?.status, 'down');
    assert.equal(t.changes(), 1);
    assert.equal(t.gauge.get('http://:8080/healthz|'), 0);
    // Updating with the same wants keeps the loop (no extra probe, same state).
    t.monitor.update({ wanted: WANTED, cordoned: false, address: '10.0.0.1' });
    await t.clock.advance(0);
    assert.equal(t.asked.length, 2);
    // No more wants: the loop stops and its series goes.
    t.monitor.update({ wanted: { links: [], probes: [] }, cordoned: false, address: '10.0.0.1' });
    await t.clock.advance(10_000);
    assert.equal(t.asked.length, 2);
    assert.equal(t.gauge.has('http://:8080/healthz|'), false);
    assert.equal(t.monitor.current().probes.size, 0);
  });

  test('no address, no probe', async () => {
    const t = setup();
    t.monitor.update({ wanted: WANTED, cordoned: false, address: undefined });
    await t.clock.advance(5000);
    assert.deepEqual(t.asked, []);
  });

  test('links: a watched interface going down flips and counts; an unwatched one only reconciles', async () => {
    const t = setup();
    t.monitor.update({ wanted: WANTED, cordoned: false, address: undefined });
    const link = (ifname: string, up: boolean) =>
      t.monitor.linkChanged({
        ifname,
        up,
        carrier: up,
        operstate: up ? 'UP' : 'DOWN',
        detail: up ? 'up' : 'carrier down (DOWN)',
      });
    link('eth0', true);
    link('eth1', true);
    await t.clock.advance(0);
    assert.equal(t.changes(), 0);
    // An unwatched interface's change reconciles too (it may carry a router once back), but holds nothing against us.
    link('eth1', false);
    await t.clock.advance(0);
    assert.equal(t.changes(), 1);
    assert.equal(t.monitor.current().links.has('eth1'), false);
    await t.clock.advance(250);
    link('eth0', false);
    await t.clock.advance(0);
    assert.equal(t.changes(), 2);
    assert.deepEqual(t.monitor.current().links.get('eth0'), {
      status: 'down',
      since: 250,
      detail: 'carrier down (DOWN)',
    });
    assert.equal(t.gauge.get('interface|eth0'), 0);
    // Carrier back: a reconcile at once (the router may return), still counted down for the hold, then up.
    link('eth0', true);
    await t.clock.advance(0);
    assert.equal(t.changes(), 3);
    assert.equal(t.monitor.current().links.get('eth0')?.status, 'down');
    link('eth0', true); // a repeat during the hold changes nothing
    await t.clock.advance(999);
    assert.equal(t.changes(), 3);
    assert.equal(t.gauge.get('interface|eth0'), 0);
    await t.clock.advance(1);
    assert.equal(t.changes(), 4);
    assert.deepEqual(t.monitor.current().links.get('eth0'), { status: 'up', since: 1250, detail: 'up' });
    assert.equal(t.gauge.get('interface|eth0'), 1);
    // Down again during a hold: the hold is dropped, it stays down.
    link('eth0', false);
    link('eth0', true);
    link('eth0', false);
    await t.clock.advance(5000);
    assert.equal(t.monitor.current().links.get('eth0')?.status, 'down');
  });

  test('the cordon remembers since when; stop ends the probes', async () => {
    const t = setup();
    await t.clock.advance(100);
    t.monitor.update({ wanted: WANTED, cordoned: true, address: '10.0.0.1' });
    await t.clock.advance(100);
    t.monitor.update({ wanted: WANTED, cordoned: true, address: '10.0.0.1' });
    assert.equal(t.monitor.current().cordonedSince, 100);
    t.monitor.update({ wanted: WANTED, cordoned: false, address: '10.0.0.1' });
    assert.equal(t.monitor.current().cordonedSince, undefined);
    t.monitor.stop();
    const n = t.asked.length;
    await t.clock.advance(10_000);
    assert.equal(t.asked.length, n);
    assert.equal(t.clock.pending, 0);
  });
});
