// Leader election through the stand-in: two real controllers with short Lease timings. Only the Lease holder
// allocates (the standby starts no informers and writes no Service, Event or pool status); a graceful stop hands the
// Lease over at the standby's next retry, far sooner than the Lease would expire; a leader that stops renewing without
// releasing (a crash) is replaced only once the Lease expired; failing Lease updates are counted and retried, and a
// leader that cannot renew past renewDeadline stops allocating without taking the process down.

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import {
  type LeaderElectionOptions,
  type RunningController,
  readiness,
  startController,
} from '../../src/cli/controller.ts';
import { createLogger } from '../../src/log.ts';
import { Lab, lbService, NS, pool, waitFor } from './harness.ts';

const LEASE = 'metal-vrrp-controller';

interface Elected {
  readonly running: RunningController;
  readonly lost: string[];
}

/** elected starts a controller with leader election on, as the command does, with the test's timings. */
function elected(lab: Lab, identity: string, timing: LeaderElectionOptions, all: Elected[]): Elected {
  const lost: string[] = [];
  const running = startController({
    kubeConfig: lab.server.makeKubeConfig(),
    namespace: NS,
    logger: createLogger({ level: 'debug', destination: { write: (l: string) => void lab.logs.push(l) } }),
    backoff: { baseMs: 50, maxMs: 500 },
    leaderElection: { identity, ...timing, onLost: (r) => void lost.push(r) },
  });
  const e = { running, lost };
  all.push(e);
  return e;
}

function lease(lab: Lab): { holderIdentity?: string; leaseTransitions?: number; leaseDurationSeconds?: number } {
  return (lab.store.get('leases.coordination.k8s.io', NS, LEASE)?.['spec'] ?? {}) as Record<string, never>;
}

/** reporters lists the reportingInstance of every Event in a namespace. */
function reporters(lab: Lab, namespace: string): Set<string> {
  return new Set(
    lab.store
      .list('events', { namespace })
      .items.map((e) => String((e as unknown as { reportingInstance?: string }).reportingInstance)),
  );
}

async function counter(r: RunningController, name: string): Promise<number> {
  const m = await r.metrics.registry.getSingleMetric(name)?.get();
  return (m?.values ?? []).reduce((s, v) => s + v.value, 0);
}

async function stopAll(all: Elected[]): Promise<void> {
  for (const e of all) await e.running.stop().catch(() => {});
}

describe('leader election: one allocates, graceful hand-over', () => {
  const all: Elected[] = [];
  let lab: Lab;
  after(async () => {
    await stopAll(all);
    await lab?.close();
  });

  test('only the leader allocates; a graceful stop hands over at once and the new leader allocates', async () => {
    lab = await Lab.start();
    lab.store.create('namespaces', { metadata: { name: 'le' } });
    lab.apply(pool('le-pool', ['10.120.0.0/28']));
    // leaseDuration 5 s: a hand-over by expiry would take at least that long.
    const timing = { leaseDurationMs: 5_000, renewDeadlineMs: 3_000, retryPeriodMs: 200 };
    const a = elected(lab, 'ctl-a', timing, all);
    await a.running.whenLeading();
    const b = elected(lab, 'ctl-b', timing, all);
    await waitFor('standby reads the Lease', () => b.running.standbyHealthy());
    await a.running.controller.whenReady();
    for (const n of ['s1', 's2', 's3']) lab.apply(lbService(n, { namespace: 'le' }));
    await waitFor('s1..s3 allocated', () => ['s1', 's2', 's3'].every((n) => lab.ingress('le', n).length === 1));
    await a.running.controller.idle();

    assert.equal(lease(lab).holderIdentity, 'ctl-a');
    assert.ok(a.running.isLeader());
    assert.ok(!b.running.isLeader());
    assert.deepEqual([...reporters(lab, 'le')], ['ctl-a'], 'every Event from the leader');
    assert.equal(await counter(b.running, 'metal_vrrp_allocations_total'), 0);
    assert.equal(await counter(b.running, 'metal_vrrp_leader'), 0);
    assert.equal(await counter(a.running, 'metal_vrrp_leader'), 1);
    assert.equal(await counter(a.running, 'metal_vrrp_allocations_total'), 3);
    assert.equal(b.running.controller.isReady(), false, 'the standby runs no controller');
    assert.equal(b.running.controller.allocator.assignments().length, 0);
    assert.deepEqual(readiness(a.running), { ok: true });
    assert.deepEqual(readiness(b.running), { ok: true }, 'a healthy standby is ready (see readiness)');
    const before = new Map(['s1', 's2', 's3'].map((n) => [n, lab.ingress('le', n)[0]]));

    const t0 = Date.now();
    await a.running.stop();
    assert.equal(lease(lab).holderIdentity, '', 'released on a graceful stop');
    await b.running.whenLeading();
    const handOverMs = Date.now() - t0;
    assert.ok(handOverMs < timing.leaseDurationMs, `hand-over took ${handOverMs} ms, not a release but an expiry`);
    assert.equal(lease(lab).holderIdentity, 'ctl-b');
    assert.equal(lease(lab).leaseTransitions, 1);

    await b.running.controller.whenReady();
    lab.apply(lbService('s4', { namespace: 'le' }));
    await waitFor('s4 allocated by the new leader', () => lab.ingress('le', 's4').length === 1);
    await b.running.controller.idle();
    for (const [n, ip] of before) assert.equal(lab.ingress('le', n)[0], ip, `${n} kept its address`);
    assert.ok(!before.has(lab.ingress('le', 's4')[0]!) && ![...before.values()].includes(lab.ingress('le', 's4')[0]));
    const s4Events = lab.store
      .list('events', { namespace: 'le' })
      .items.filter((e) => (e as unknown as { involvedObject?: { name?: string } }).involvedObject?.name === 's4');
    assert.ok(s4Events.length > 0);
    for (const e of s4Events) assert.equal((e as unknown as { reportingInstance?: string }).reportingInstance, 'ctl-b');
    assert.deepEqual(a.lost, []);
    assert.deepEqual(b.lost, []);
  });
});

describe('leader election: a crashed leader', () => {
  const all: Elected[] = [];
  let lab: Lab;
  after(async () => {
    await stopAll(all);
    await lab?.close();
  });

  test('a leader that stops renewing without release is replaced after leaseDuration', async () => {
    lab = await Lab.start();
    lab.apply(pool('cr-pool', ['10.121.0.0/28']));
    const timing = { leaseDurationMs: 2_000, renewDeadlineMs: 1_500, retryPeriodMs: 200 };
    const a = elected(lab, 'ctl-a', timing, all);
    await a.running.whenLeading();
    const b = elected(lab, 'ctl-b', timing, all);
    await waitFor('standby reads the Lease', () => b.running.standbyHealthy());
    await new Promise((r) => setTimeout(r, 500));

    const t0 = Date.now();
    await a.running.stop({ releaseLease: false }); // the process is gone; the Lease still names it
    assert.equal(lease(lab).holderIdentity, 'ctl-a');
    await waitFor('standby takes over', () => b.running.isLeader(), 15_000);
    const tookMs = Date.now() - t0;
    // Its last renewal was at most one retryPeriod (plus a slow call) before the stop; the Lease lasts 2 s from then.
    assert.ok(tookMs >= timing.leaseDurationMs - 500, `taken after ${tookMs} ms, before the Lease expired`);
    assert.equal(lease(lab).holderIdentity, 'ctl-b');
    assert.equal(lease(lab).leaseTransitions, 1);
    await b.running.controller.whenReady();
    lab.apply(lbService('after-crash'));
    await waitFor('allocated by the new leader', () => lab.ingress('default', 'after-crash').length === 1);
  });
});

describe('leader election: API errors on the Lease', () => {
  const all: Elected[] = [];
  let lab: Lab;
  after(async () => {
    await stopAll(all);
    await lab?.close();
  });

  test('failing Lease updates are counted and retried; past renewDeadline the leader stops, the process lives', async () => {
    lab = await Lab.start();
    lab.apply(pool('fa-pool', ['10.122.0.0/28']));
    const timing = { leaseDurationMs: 2_000, renewDeadlineMs: 1_500, retryPeriodMs: 200 };
    const a = elected(lab, 'ctl-a', timing, all);
    await a.running.whenLeading();
    await a.running.controller.whenReady();
    const b = elected(lab, 'ctl-b', timing, all);
    await waitFor('standby reads the Lease', () => b.running.standbyHealthy());

    // A short burst of failed renewals (3 x 200 ms < renewDeadline): still the leader.
    const injected = () => lab.server.requests.entries({ resource: 'leases' }).filter((r) => r.injected).length;
    lab.server.failNext(3, { code: 500, match: { resource: 'leases', verb: 'update' } });
    await waitFor('three failed renewals', () => injected() === 3);
    await new Promise((r) => setTimeout(r, 400));
    assert.ok(a.running.isLeader(), 'still leading after a short burst of errors');
    assert.equal(await counter(a.running, 'metal_vrrp_leader_election_errors_total'), 3);
    assert.deepEqual(a.lost, []);
    lab.apply(lbService('during-blip'));
    await waitFor('allocated by ctl-a', () => lab.ingress('default', 'during-blip').length === 1);

    // Every Lease update fails for longer than renewDeadline: the leader stops allocating and says so.
    lab.server.failNext(1_000_000, { code: 500, match: { resource: 'leases', verb: 'update' } });
    await waitFor('leadership lost', () => a.lost.length > 0, 10_000);
    assert.match(a.lost[0]!, /no renewal succeeded/);
    assert.ok(!a.running.isLeader());
    assert.equal(a.running.controller.isReady(), false, 'its controller stopped');
    assert.equal(await counter(a.running, 'metal_vrrp_leader'), 0);
    assert.ok(lab.logs.some((l) => l.includes('lost the leader Lease')));
    assert.ok(!b.running.isLeader(), 'no one can take the Lease while updates fail');

    await resetFaults(lab);
    await waitFor('the standby takes the expired Lease', () => b.running.isLeader(), 15_000);
    await b.running.controller.whenReady();
    lab.apply(lbService('after-loss'));
    await waitFor('allocated by ctl-b', () => lab.ingress('default', 'after-loss').length === 1);
    assert.equal(lease(lab).holderIdentity, 'ctl-b');
  });
});

/** resetFaults drops the pending injected failures (the stand-in's control path POST /__test/reset). */
async function resetFaults(lab: Lab): Promise<void> {
  const res = await fetch(`${lab.server.url}/__test/reset`, { method: 'POST' });
  assert.ok(res.ok, `reset: HTTP ${res.status}`);
}
