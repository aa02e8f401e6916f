// leader-election.test.ts — the Lease election rule (decideLease) as a table, and the LeaderElector loop driven by a
// virtual clock (FakeClock, wall time starting at T0) against an in-memory Lease with resourceVersion conflicts: one leader at a time, release hands over at
// the next retry, a silent leader is replaced only after leaseDuration, API errors are counted and retried, and a
// leader that cannot renew for renewDeadline gives up.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  decideLease,
  LEADER_ELECTION_DEFAULTS,
  LeaderElector,
  type LeaseApi,
  type LeaseRecord,
  releasedRecord,
  type StoredLease,
} from '../../src/k8s/leader-election.ts';
import { silentLogger } from '../../src/log.ts';
import { FakeClock } from '../support/fake-clock.ts';

const T0 = 1_700_000_000_000;

function held(holder: string, renewTime: number, extra: Partial<LeaseRecord> = {}): StoredLease {
  return {
    resourceVersion: '7',
    record: {
      holderIdentity: holder,
      leaseDurationSeconds: 15,
      acquireTime: T0 - 60_000,
      renewTime,
      leaseTransitions: 3,
      ...extra,
    },
  };
}

test('decideLease: create, renew, wait, take over', () => {
  const base = { identity: 'a', leaseDurationMs: 15_000, now: T0 };
  const cases: [string, Parameters<typeof decideLease>[0], string, Partial<LeaseRecord> | undefined][] = [
    [
      'no Lease: create it, held by us',
      { ...base, current: undefined, observedAt: T0 },
      'create',
      { holderIdentity: 'a', leaseTransitions: 0, renewTime: T0, acquireTime: T0, leaseDurationSeconds: 15 },
    ],
    [
      'held by us: renew, keep acquireTime and transitions',
      { ...base, current: held('a', T0 - 2_000), observedAt: T0 - 2_000 },
      'update',
      { holderIdentity: 'a', leaseTransitions: 3, renewTime: T0, acquireTime: T0 - 60_000 },
    ],
    [
      'held by b, seen changing 14.999 s ago: wait',
      { ...base, current: held('b', T0 - 14_999), observedAt: T0 - 14_999 },
      'wait',
      undefined,
    ],
    [
      'held by b, unchanged for its 15 s: take over, one more transition',
      { ...base, current: held('b', T0 - 15_000), observedAt: T0 - 15_000 },
      'update',
      { holderIdentity: 'a', leaseTransitions: 4, renewTime: T0, acquireTime: T0 },
    ],
    [
      'held by b whose clock lags an hour, but we saw it renew just now: wait (our clock decides)',
      { ...base, current: held('b', T0 - 3_600_000), observedAt: T0 - 100 },
      'wait',
      undefined,
    ],
    [
      'held by b with leaseDurationSeconds 40: its own duration counts',
      { ...base, current: held('b', T0 - 20_000, { leaseDurationSeconds: 40 }), observedAt: T0 - 20_000 },
      'wait',
      undefined,
    ],
    [
      'released (no holder): take over at once',
      { ...base, current: held('', T0, { leaseDurationSeconds: 1 }), observedAt: T0 },
      'update',
      { holderIdentity: 'a', leaseTransitions: 4 },
    ],
  ];
  for (const [name, input, kind, record] of cases) {
    const d = decideLease(input);
    assert.equal(d.kind, kind, name);
    if (record && d.kind !== 'wait') {
      for (const [k, v] of Object.entries(record)) assert.equal(d.record[k as keyof LeaseRecord], v, `${name}: ${k}`);
    }
  }
  const w = decideLease({ ...base, current: held('b', T0 - 1_000), observedAt: T0 - 1_000 });
  assert.deepEqual(w, { kind: 'wait', holder: 'b', expiresAt: T0 + 14_000 });
});

test('releasedRecord: no holder, transitions kept', () => {
  const r = releasedRecord(held('a', T0).record, T0 + 5);
  assert.equal(r.holderIdentity, '');
  assert.equal(r.leaseTransitions, 3);
  assert.equal(r.renewTime, T0 + 5);
});

class ApiFailure extends Error {
  constructor(readonly code: number) {
    super(`HTTP ${code}`);
  }
}

/** MemoryLease is one Lease with the API server's optimistic concurrency; `fail` makes matching calls fail. */
class MemoryLease {
  stored: StoredLease | undefined;
  rv = 0;
  writes: string[] = []; // holder of each successful write
  fail: { op: 'get' | 'create' | 'update' | 'any'; code: number; remaining: number; hang?: boolean } | undefined;

  #maybeFail(op: 'get' | 'create' | 'update'): Promise<never> | undefined {
    const f = this.fail;
    if (!f || f.remaining <= 0 || (f.op !== 'any' && f.op !== op)) return undefined;
    f.remaining--;
    if (f.hang) return new Promise<never>(() => {});
    return Promise.reject(new ApiFailure(f.code));
  }

  api(): LeaseApi {
    return {
      get: async () => {
        await (this.#maybeFail('get') ?? Promise.resolve());
        return this.stored;
      },
      create: async (record) => {
        await (this.#maybeFail('create') ?? Promise.resolve());
        if (this.stored) throw new ApiFailure(409);
        return this.#write(record);
      },
      update: async (record, rv) => {
        await (this.#maybeFail('update') ?? Promise.resolve());
        if (!this.stored) throw new ApiFailure(404);
        if (rv !== this.stored.resourceVersion) throw new ApiFailure(409);
        return this.#write(record);
      },
    };
  }

  #write(record: LeaseRecord): StoredLease {
    this.stored = { record, resourceVersion: String(++this.rv) };
    this.writes.push(record.holderIdentity);
    return this.stored;
  }
}

interface Candidate {
  readonly elector: LeaderElector;
  started: number;
  lost: string[];
  leaderGauge: number;
  errors: Map<string, number>;
}

const FAST = { leaseDurationMs: 3_000, renewDeadlineMs: 2_000, retryPeriodMs: 500 };

function candidate(identity: string, lease: MemoryLease, time: FakeClock, api: LeaseApi = lease.api()): Candidate {
  const c: Candidate = {
    started: 0,
    lost: [],
    leaderGauge: -1,
    errors: new Map(),
    elector: undefined as unknown as LeaderElector,
  };
  (c as { elector: LeaderElector }).elector = new LeaderElector({
    api,
    identity,
    logger: silentLogger(),
    ...FAST,
    clock: time,
    leader: {
      set: (v) => {
        c.leaderGauge = v;
      },
    },
    errors: { inc: ({ operation }) => void c.errors.set(operation, (c.errors.get(operation) ?? 0) + 1) },
    onStartedLeading: () => void c.started++,
    onStoppedLeading: (reason) => void c.lost.push(reason),
  });
  return c;
}

test('LeaderElector: two candidates, exactly one leads; both start at the same instant', async () => {
  const time = new FakeClock({ epochMs: T0 });
  const lease = new MemoryLease();
  const a = candidate('a', lease, time);
  const b = candidate('b', lease, time);
  a.elector.start();
  b.elector.start();
  let leadersMax = 0;
  await time.tick(20_000, () => {
    const n = [a, b].filter((c) => c.elector.isLeader()).length;
    leadersMax = Math.max(leadersMax, n);
  });
  assert.equal(leadersMax, 1, 'never two leaders');
  const [leader, standby] = a.elector.isLeader() ? [a, b] : [b, a];
  assert.ok(leader.elector.isLeader());
  assert.equal(leader.started, 1);
  assert.equal(leader.leaderGauge, 1);
  assert.equal(standby.started, 0);
  assert.equal(standby.leaderGauge, 0);
  assert.ok(standby.elector.healthyCandidate());
  assert.deepEqual(new Set(lease.writes), new Set([leader === a ? 'a' : 'b']), 'only the leader wrote the Lease');
  assert.ok(lease.writes.length >= 20_000 / FAST.retryPeriodMs - 2, 'renewed every retryPeriod');
  await a.elector.stop();
  await b.elector.stop();
});

test('LeaderElector: graceful stop releases, the standby takes over at its next retry', async () => {
  const time = new FakeClock({ epochMs: T0 });
  const lease = new MemoryLease();
  const a = candidate('a', lease, time);
  a.elector.start();
  await time.tick(100);
  assert.ok(a.elector.isLeader());
  const b = candidate('b', lease, time);
  b.elector.start();
  await time.tick(2_000);
  assert.ok(!b.elector.isLeader());
  await a.elector.stop();
  assert.equal(lease.stored?.record.holderIdentity, '', 'released');
  assert.equal(a.lost.length, 0, 'a stop is not a loss');
  await time.tick(FAST.retryPeriodMs);
  assert.ok(b.elector.isLeader(), 'taken within one retryPeriod');
  assert.equal(lease.stored?.record.leaseTransitions, 1, 'created by a (0), taken by b (1)');
  await b.elector.stop();
});

test('LeaderElector: a leader that stops renewing without release is replaced only after leaseDuration', async () => {
  const time = new FakeClock({ epochMs: T0 });
  const lease = new MemoryLease();
  const a = candidate('a', lease, time);
  a.elector.start();
  await time.tick(100);
  const b = candidate('b', lease, time);
  b.elector.start();
  await time.tick(1_000);
  const lastRenew = lease.stored?.record.renewTime ?? 0;
  await a.elector.stop({ release: false }); // as a crash: the Lease stays held by a
  assert.equal(lease.stored?.record.holderIdentity, 'a');
  // b saw the last renewal at most one retryPeriod after it was made.
  await time.tick(lastRenew + FAST.leaseDurationMs - time.wallNow() - 1);
  assert.ok(!b.elector.isLeader(), 'not before leaseDuration since the last renewal');
  await time.tick(FAST.retryPeriodMs * 2 + 1);
  assert.ok(b.elector.isLeader(), 'taken once the Lease expired');
  assert.equal(lease.stored?.record.holderIdentity, 'b');
  assert.equal(lease.stored?.record.leaseTransitions, 1);
  await b.elector.stop();
});

test('LeaderElector: failed renewals shorter than renewDeadline are counted and retried', async () => {
  const time = new FakeClock({ epochMs: T0 });
  const lease = new MemoryLease();
  const a = candidate('a', lease, time);
  a.elector.start();
  await time.tick(100);
  assert.ok(a.elector.isLeader());
  lease.fail = { op: 'update', code: 500, remaining: 3 };
  await time.tick(FAST.retryPeriodMs * 5);
  assert.ok(a.elector.isLeader(), 'still leading');
  assert.equal(a.errors.get('update'), 3);
  assert.deepEqual(a.lost, []);
  lease.fail = { op: 'get', code: 503, remaining: 2 };
  await time.tick(FAST.retryPeriodMs * 4);
  assert.ok(a.elector.isLeader());
  assert.equal(a.errors.get('get'), 2);
  await a.elector.stop();
});

test('LeaderElector: no renewal for renewDeadline loses leadership once, before anyone may take over', async () => {
  const time = new FakeClock({ epochMs: T0 });
  const lease = new MemoryLease();
  const a = candidate('a', lease, time);
  a.elector.start();
  await time.tick(100);
  const lastRenew = lease.stored?.record.renewTime ?? 0;
  lease.fail = { op: 'any', code: 503, remaining: 1_000 };
  let lostAt = 0;
  await time.tick(FAST.leaseDurationMs * 2, () => {
    if (a.lost.length > 0 && lostAt === 0) lostAt = time.wallNow();
  });
  assert.equal(a.lost.length, 1);
  assert.match(a.lost[0]!, /no renewal/);
  assert.ok(lostAt - lastRenew >= FAST.renewDeadlineMs, 'not before renewDeadline');
  assert.ok(lostAt - lastRenew < FAST.leaseDurationMs, 'before the Lease can expire for others');
  assert.ok(!a.elector.isLeader());
  assert.equal(a.leaderGauge, 0);
  const calls = [...a.errors.values()].reduce((x, y) => x + y, 0);
  await time.tick(10_000);
  assert.equal(
    [...a.errors.values()].reduce((x, y) => x + y, 0),
    calls,
    'the loop stopped after the loss',
  );
});

test('LeaderElector: a hanging API call counts as failed after renewDeadline', async () => {
  const time = new FakeClock({ epochMs: T0 });
  const lease = new MemoryLease();
  const a = candidate('a', lease, time);
  a.elector.start();
  await time.tick(100);
  lease.fail = { op: 'get', code: 0, remaining: 1, hang: true };
  await time.tick(FAST.leaseDurationMs);
  assert.equal(a.lost.length, 1, 'gave up while the call hung');
  assert.equal(a.errors.get('get'), 1);
});

test('LeaderElector: a Lease taken by someone else ends leadership at once', async () => {
  const time = new FakeClock({ epochMs: T0 });
  const lease = new MemoryLease();
  const a = candidate('a', lease, time);
  a.elector.start();
  await time.tick(100);
  const s = lease.stored!;
  lease.stored = {
    record: { ...s.record, holderIdentity: 'intruder', renewTime: time.wallNow() },
    resourceVersion: '999',
  };
  await time.tick(FAST.retryPeriodMs);
  assert.equal(a.lost.length, 1);
  assert.match(a.lost[0]!, /intruder/);
});

test('LeaderElector: conflicting writes (409) are retried, not fatal', async () => {
  const time = new FakeClock({ epochMs: T0 });
  const lease = new MemoryLease();
  const a = candidate('a', lease, time);
  lease.fail = { op: 'create', code: 409, remaining: 2 };
  a.elector.start();
  await time.tick(FAST.retryPeriodMs * 3);
  assert.ok(a.elector.isLeader());
  assert.equal(a.errors.get('create'), 2);
  await a.elector.stop();
});

test('LeaderElector: timings must satisfy leaseDuration > renewDeadline > retryPeriod; defaults are client-go', () => {
  const time = new FakeClock({ epochMs: T0 });
  const base = {
    api: new MemoryLease().api(),
    identity: 'a',
    logger: silentLogger(),
    clock: time,
    onStartedLeading: () => {},
    onStoppedLeading: () => {},
  };
  assert.throws(
    () => new LeaderElector({ ...base, leaseDurationMs: 10_000, renewDeadlineMs: 10_000 }),
    /leaseDuration/,
  );
  assert.throws(() => new LeaderElector({ ...base, renewDeadlineMs: 2_000, retryPeriodMs: 2_000 }), /renewDeadline/);
  assert.deepEqual(
    { ...LEADER_ELECTION_DEFAULTS },
    { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 },
  );
  new LeaderElector(base);
});
