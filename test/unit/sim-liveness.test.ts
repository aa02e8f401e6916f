/**
 * The liveness signal on the simulated LAN (issue 16): a master dies and each backup's own BFD session tells it so
 * at its own moment, up to one liveness interval apart (RFC 5880 §6.8.7 jitter per session). With Skew_Time alone
 * (the ladder spaces the ranks 4.3 ms apart at 100 ms adverts) a lower-ranked backup told first claims the VIP, and
 * the rightful next node then preempts it. With the rank-ordered hold (timing.ts livenessHoldMs: one interval plus
 * lateness per live backup ranked above), only the next node claims, with reason liveness, and it is not delayed.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { priorityLadder } from '../../vrrp/priority.ts';
import type { RouterConfig } from '../../vrrp/router-config.ts';
import { type LanOptions, SimLan, type TraceEntry } from '../../vrrp/sim/lan.ts';
import { livenessHoldMs, masterDownIntervalMs, skewTimeMs } from '../../vrrp/timing.ts';

const VRID = 7;
const INTERVAL_CS = 10; // adverts every 100 ms
const BFD_MS = 20;
const DETECT_MS = 3 * BFD_MS;
const LADDER = priorityLadder(3, { intervalCs: INTERVAL_CS })!;
const addressOf = (i: number) => `10.0.0.${i + 1}`;

function lan(options: LanOptions): SimLan {
  const l = new SimLan(
    LADDER.map((priority, i) => ({
      name: `n${i + 1}`,
      routers: [
        {
          vrid: VRID,
          family: 'ipv4',
          priority,
          advertIntervalCs: INTERVAL_CS,
          preempt: true,
          preemptDelayMs: 0,
          primaryAddress: addressOf(i),
          addresses: ['10.0.0.100'],
        } satisfies RouterConfig,
      ],
    })),
    options,
  );
  l.start();
  l.runFor(1000);
  assert.deepEqual(l.masters(VRID), ['n1']);
  return l;
}

type Transition = Extract<TraceEntry, { kind: 'transition' }>;

function claims(l: SimLan, after: number): Transition[] {
  return l.trace.filter((e): e is Transition => e.kind === 'transition' && e.to === 'master' && e.at > after);
}

/**
 * lose crashes n1 and tells n2 and n3 after the detection time, n3 `lead` ms before n2 (negative: after), each with
 * the hold `holds` gives it. Returns the claims after the crash.
 */
function lose(l: SimLan, lead: number, holds: (rank: 2 | 3) => number): { t0: number; out: Transition[] } {
  const t0 = l.now;
  l.crash('n1');
  const n2At = t0 + DETECT_MS + Math.max(0, lead);
  const n3At = t0 + DETECT_MS + Math.max(0, -lead);
  const told = [
    { at: n2At, node: 'n2', hold: holds(2) },
    { at: n3At, node: 'n3', hold: holds(3) },
  ].sort((a, b) => a.at - b.at);
  for (const t of told) {
    l.runUntil(t.at);
    l.peerDown(t.node, addressOf(0), t.hold);
  }
  l.runFor(2000);
  return { t0, out: claims(l, t0) };
}

const LATENCIES: readonly LanOptions[] = [
  { delayMs: 0.2, jitterMs: 0.3 },
  { delayMs: 0.5, jitterMs: 1 },
  { delayMs: 1, jitterMs: 1.5, seed: 7 },
];
/** LEADS: how much earlier n3 is told than n2, up to one BFD interval (negative: n2 first). */
const LEADS = [-BFD_MS, -5, 0, 1, 3, 5, 8, 12, BFD_MS - 1, BFD_MS];

describe('liveness signal, rank-ordered (simulated LAN, 100 ms adverts, BFD 20 ms × 3)', () => {
  test('the ladder spaces Skew_Times by less than one BFD interval: the detection spread can reorder the ranks', () => {
    const gap = skewTimeMs(LADDER[2]!, INTERVAL_CS) - skewTimeMs(LADDER[1]!, INTERVAL_CS);
    assert.ok(gap > 0 && gap < BFD_MS, `gap ${gap} ms`);
  });

  test('without a hold, a lower-ranked backup told first claims the VIP and the next node preempts it later', () => {
    const l = lan({ delayMs: 0.5, jitterMs: 1 });
    const { t0, out } = lose(l, 12, () => 0);
    assert.equal(out[0]?.node, 'n3', JSON.stringify(out));
    assert.equal(out[0]?.reason, 'liveness');
    const n2 = out.find((c) => c.node === 'n2');
    assert.equal(n2?.reason, 'preempt', JSON.stringify(out));
    // It waited for its own Master_Down_Timer, long after its liveness takeover would have come.
    assert.ok(n2!.at - t0 > DETECT_MS + 12 + skewTimeMs(LADDER[1]!, INTERVAL_CS) + 100, JSON.stringify(out));
  });

  test('with the rank-ordered hold only the next node claims, with reason liveness, after detection + Skew_Time', () => {
    const holds = (rank: 2 | 3) => livenessHoldMs(rank - 2, BFD_MS); // n2: nobody alive above; n3: n2 above
    for (const link of LATENCIES) {
      for (const lead of LEADS) {
        const l = lan(link);
        const { t0, out } = lose(l, lead, holds);
        const what = `latency ${JSON.stringify(link)}, n3 told ${lead} ms before n2: ${JSON.stringify(out)}`;
        assert.equal(out.length, 1, what);
        assert.equal(out[0]!.node, 'n2', what);
        assert.equal(out[0]!.reason, 'liveness', what);
        // n2's own failover is not delayed by the hold: detection (+ its lag behind n3) + its Skew_Time, exactly.
        const expected = DETECT_MS + Math.max(0, lead) + skewTimeMs(LADDER[1]!, INTERVAL_CS);
        assert.equal(out[0]!.at - t0, expected, what);
        assert.deepEqual(l.masters(VRID), ['n2'], what);
      }
    }
  });

  test('when the node ranked above is dead too, the lower backup claims once its hold runs out (bounded)', () => {
    const l = lan({ delayMs: 0.5, jitterMs: 1 });
    const t0 = l.now;
    l.crash('n1');
    l.crash('n2');
    // n3's session to n2 is still up when it learns that n1 is gone, so it holds for one live backup above.
    const hold = livenessHoldMs(1, BFD_MS);
    l.runUntil(t0 + DETECT_MS);
    l.peerDown('n3', addressOf(0), hold);
    l.runFor(2000);
    const out = claims(l, t0);
    assert.equal(out.length, 1, JSON.stringify(out));
    assert.equal(out[0]!.node, 'n3');
    assert.equal(out[0]!.reason, 'liveness');
    assert.equal(out[0]!.at - t0, DETECT_MS + skewTimeMs(LADDER[2]!, INTERVAL_CS) + hold);
    assert.ok(out[0]!.at - t0 < masterDownIntervalMs(LADDER[2]!, INTERVAL_CS) + DETECT_MS);
  });

  test('livenessHoldMs: 0 for the best surviving backup, one interval + lateness per live backup above', () => {
    assert.equal(livenessHoldMs(0, 20), 0);
    assert.equal(livenessHoldMs(1, 20), 40);
    assert.equal(livenessHoldMs(2, 20), 80);
    assert.equal(livenessHoldMs(1, 100), 200);
    assert.equal(livenessHoldMs(1, 10), 30);
  });
});
