// Leader election on the real kube-apiserver + etcd: two real controllers as the controller ServiceAccount (the
// shipped Role allows get/update of the one Lease), with short Lease timings. Only the Lease holder allocates (the
// standby starts no informers and writes no Service, Event or pool status); a graceful stop hands the Lease over at
// the standby's next retry, far sooner than the Lease would expire; a leader that stops renewing without releasing
// (a crash) is replaced only once the Lease expired. Failing renewals are made the real way: the authorizer's 403
// while `update` is missing from the Role (counted, retried, the leader stays), then the API server stopped for longer
// than renewDeadline (the leader stops allocating without taking the process down; the standby takes over on return).

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { type LeaderElectionOptions, type RunningController, readiness } from '../../src/cli/controller.ts';
import { lbService, pool, waitFor, waitForAsync } from './harness.ts';
import { KubeLab, NS } from './kube-lab.ts';

const LEASE = 'metal-vrrp-controller';
const WAIT = 30_000;
const until = <T>(what: string, check: () => Promise<T | undefined | false>, ms = WAIT) =>
  waitForAsync(what, check, ms);

interface Elected {
  readonly running: RunningController;
  readonly lost: string[];
}

type Timing = Pick<LeaderElectionOptions, 'leaseDurationMs' | 'renewDeadlineMs' | 'retryPeriodMs'>;

/** elected starts a controller with leader election on, as the command does, with the test's timings. */
function elected(lab: KubeLab, identity: string, timing: Timing): Elected {
  const lost: string[] = [];
  const running = lab.startController({ leaderElection: { identity, ...timing, onLost: (r) => void lost.push(r) } });
  return { running, lost };
}

async function lease(lab: KubeLab): Promise<{ holderIdentity?: string; leaseTransitions?: number }> {
  const res = await lab.server.kubectl(['get', 'lease', LEASE, '-n', NS, '-o', 'json']);
  return res.code === 0 ? (JSON.parse(res.stdout) as { spec: Record<string, never> }).spec : {};
}

/** reporters lists the reportingInstance of every Event in a namespace. */
async function reporters(lab: KubeLab, namespace: string): Promise<Set<string>> {
  return new Set((await lab.events(namespace, undefined)).map((e) => e.instance));
}

async function counter(r: RunningController, name: string): Promise<number> {
  const m = await r.metrics.registry.getSingleMetric(name)?.get();
  return (m?.values ?? []).reduce((s, v) => s + v.value, 0);
}

describe('leader election: one allocates, graceful hand-over', () => {
  let lab: KubeLab;
  after(() => lab?.close());

  test('only the leader allocates; a graceful stop hands over at once and the new leader allocates', async () => {
    lab = await KubeLab.start('ctl-leader-kube-a');
    await lab.kubectl(['create', 'namespace', 'le']);
    await lab.apply(pool('le-pool', ['10.120.0.0/28']));
    // leaseDuration 10 s: a hand-over by expiry would take at least that long.
    const timing = { leaseDurationMs: 10_000, renewDeadlineMs: 6_000, retryPeriodMs: 200 };
    const a = elected(lab, 'ctl-a', timing);
    await a.running.whenLeading();
    const b = elected(lab, 'ctl-b', timing);
    await waitFor('standby reads the Lease', () => b.running.standbyHealthy(), WAIT);
    await a.running.controller.whenReady();
    await lab.apply(...['s1', 's2', 's3'].map((n) => lbService(n, { namespace: 'le' })));
    await until('s1..s3 allocated', async () => {
      const got = await Promise.all(['s1', 's2', 's3'].map((n) => lab.ingress('le', n)));
      return got.every((ips) => ips.length === 1);
    });
    await a.running.controller.idle();
    await until('three IPAllocated', async () => (await lab.events('le', undefined, 'IPAllocated')).length === 3);

    assert.equal((await lease(lab)).holderIdentity, 'ctl-a');
    assert.ok(a.running.isLeader());
    assert.ok(!b.running.isLeader());
    assert.deepEqual([...(await reporters(lab, 'le'))], ['ctl-a'], 'every Event from the leader');
    assert.equal(await counter(b.running, 'metal_vrrp_allocations_total'), 0);
    assert.equal(await counter(b.running, 'metal_vrrp_leader'), 0);
    assert.equal(await counter(a.running, 'metal_vrrp_leader'), 1);
    assert.equal(await counter(a.running, 'metal_vrrp_allocations_total'), 3);
    assert.equal(b.running.controller.isReady(), false, 'the standby runs no controller');
    assert.equal(b.running.controller.allocator.assignments().length, 0);
    assert.deepEqual(readiness(a.running), { ok: true });
    assert.deepEqual(readiness(b.running), { ok: true }, 'a healthy standby is ready (see readiness)');
    const before = new Map(
      await Promise.all(['s1', 's2', 's3'].map(async (n) => [n, (await lab.ingress('le', n))[0]] as const)),
    );

    const t0 = Date.now();
    await lab.stopController(a.running);
    // (The released Lease, holder "", lasts only until the standby's next retry: too short to read with kubectl.)
    await b.running.whenLeading();
    const handOverMs = Date.now() - t0;
    assert.ok(handOverMs < timing.leaseDurationMs, `hand-over took ${handOverMs} ms, not a release but an expiry`);
    assert.equal((await lease(lab)).holderIdentity, 'ctl-b');
    assert.equal((await lease(lab)).leaseTransitions, 1);

    await b.running.controller.whenReady();
    await lab.apply(lbService('s4', { namespace: 'le' }));
    const s4 = await until('s4 allocated by the new leader', async () => (await lab.ingress('le', 's4'))[0]);
    await b.running.controller.idle();
    for (const [n, ip] of before) assert.equal((await lab.ingress('le', n))[0], ip, `${n} kept its address`);
    assert.ok(![...before.values()].includes(s4));
    const s4Events = await until('s4 Events', async () => {
      const e = await lab.events('le', 's4');
      return e.length > 0 && e;
    });
    for (const e of s4Events) assert.equal(e.instance, 'ctl-b');
    assert.deepEqual(a.lost, []);
    assert.deepEqual(b.lost, []);
  });
});

describe('leader election: a crashed leader', () => {
  let lab: KubeLab;
  after(() => lab?.close());

  test('a leader that stops renewing without release is replaced after leaseDuration', async () => {
    lab = await KubeLab.start('ctl-leader-kube-b');
    await lab.apply(pool('cr-pool', ['10.121.0.0/28']));
    const timing = { leaseDurationMs: 4_000, renewDeadlineMs: 3_000, retryPeriodMs: 200 };
    const a = elected(lab, 'ctl-a', timing);
    await a.running.whenLeading();
    const b = elected(lab, 'ctl-b', timing);
    await waitFor('standby reads the Lease', () => b.running.standbyHealthy(), WAIT);
    await new Promise((r) => setTimeout(r, 500));

    const t0 = Date.now();
    await a.running.stop({ releaseLease: false }); // the process is gone; the Lease still names it
    lab.controllers.splice(lab.controllers.indexOf(a.running), 1);
    assert.equal((await lease(lab)).holderIdentity, 'ctl-a');
    await waitFor('standby takes over', () => b.running.isLeader(), WAIT);
    const tookMs = Date.now() - t0;
    // Its last renewal was at most one retryPeriod (plus a slow call) before the stop; the Lease lasts 4 s from then.
    assert.ok(tookMs >= timing.leaseDurationMs - 1_000, `taken after ${tookMs} ms, before the Lease expired`);
    assert.equal((await lease(lab)).holderIdentity, 'ctl-b');
    assert.equal((await lease(lab)).leaseTransitions, 1);
    await b.running.controller.whenReady();
    await lab.apply(lbService('after-crash'));
    await until('allocated by the new leader', async () => (await lab.ingress('default', 'after-crash')).length === 1);
  });
});

describe('leader election: failing renewals', () => {
  let lab: KubeLab;
  after(() => lab?.close());

  test('403 on renewals is counted and retried; an outage past renewDeadline stops the leader, not the process', async () => {
    lab = await KubeLab.start('ctl-leader-kube-c');
    await lab.apply(pool('fa-pool', ['10.122.0.0/28']));
    const timing = { leaseDurationMs: 12_000, renewDeadlineMs: 9_000, retryPeriodMs: 200 };
    const a = elected(lab, 'ctl-a', timing);
    await a.running.whenLeading();
    await a.running.controller.whenReady();
    const b = elected(lab, 'ctl-b', timing);
    await waitFor('standby reads the Lease', () => b.running.standbyHealthy(), WAIT);

    // A short burst of refused renewals (the Role without `update` on the Lease): still the leader.
    const role = JSON.parse(await lab.kubectl(['get', 'role', 'metal-vrrp-controller', '-n', NS, '-o', 'json'])) as {
      rules: { resourceNames?: string[]; verbs: string[] }[];
    };
    const idx = role.rules.findIndex((r) => r.resourceNames?.includes(LEASE));
    const verbs = role.rules[idx]?.verbs ?? [];
    assert.ok(verbs.includes('update'));
    const setVerbs = (v: string[]) =>
      lab.kubectl([
        'patch',
        'role',
        'metal-vrrp-controller',
        '-n',
        NS,
        '--type=json',
        '-p',
        JSON.stringify([{ op: 'replace', path: `/rules/${idx}/verbs`, value: v }]),
      ]);
    await setVerbs(verbs.filter((v) => v !== 'update'));
    try {
      await until(
        'three refused renewals',
        async () => (await counter(a.running, 'metal_vrrp_leader_election_errors_total')) >= 3,
      );
    } finally {
      await setVerbs(verbs);
    }
    await new Promise((r) => setTimeout(r, 1_000));
    assert.ok(a.running.isLeader(), 'still leading after a short burst of errors');
    assert.deepEqual(a.lost, []);
    assert.ok(
      lab.logs.some((l) => /leader Lease call failed/.test(l) && /\b403\b/.test(l)),
      'the 403 is logged',
    );
    await lab.apply(lbService('during-blip'));
    await until('allocated by ctl-a', async () => (await lab.ingress('default', 'during-blip')).length === 1);

    // The API server goes away for longer than renewDeadline: the leader stops allocating and says so.
    await lab.server.down();
    try {
      await waitFor('leadership lost', () => a.lost.length > 0, WAIT);
      assert.match(a.lost[0]!, /no renewal succeeded/);
      assert.ok(!a.running.isLeader());
      assert.equal(a.running.controller.isReady(), false, 'its controller stopped');
      assert.equal(await counter(a.running, 'metal_vrrp_leader'), 0);
      assert.ok(lab.logs.some((l) => l.includes('lost the leader Lease')));
      assert.ok(!b.running.isLeader(), 'no one can take the Lease while the API is down');
    } finally {
      await lab.server.up();
    }
    await waitFor('the standby takes the expired Lease', () => b.running.isLeader(), 60_000);
    await b.running.controller.whenReady();
    await lab.apply(lbService('after-loss'));
    await until('allocated by ctl-b', async () => (await lab.ingress('default', 'after-loss')).length === 1);
    assert.equal((await lease(lab)).holderIdentity, 'ctl-b');
  });
});
