// ReconcileCoalescer on a virtual clock: a burst costs one run, a steady stream at most one run per spacing, and no
// poke is ever left without a run that starts after it within max(delay, spacing).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ReconcileCoalescer } from '../../src/speaker/cluster/reconcile-coalescer.ts';
import { VirtualClock } from '../../vrrp/sim/clock.ts';

function setup(delayMs = 20, minSpacingMs = 100) {
  const clock = new VirtualClock();
  const runs: number[] = [];
  const c = new ReconcileCoalescer({ clock, delayMs, minSpacingMs, run: () => runs.push(clock.now()) });
  return { clock, runs, c };
}

describe('ReconcileCoalescer', () => {
  test('a lone change runs after the delay', () => {
    const { clock, runs, c } = setup();
    clock.advance(1000);
    c.poke();
    assert.equal(c.pending, true);
    clock.advance(19);
    assert.deepEqual(runs, []);
    clock.advance(1);
    assert.deepEqual(runs, [1020]);
    assert.equal(c.pending, false);
  });

  test('a burst within the delay costs one run', () => {
    const { clock, runs, c } = setup();
    for (let i = 0; i < 50; i++) {
      c.poke();
      clock.advance(0.3);
    }
    clock.advance(100);
    assert.deepEqual(runs, [20]);
  });

  test('a steady stream runs at most once per spacing, and each poke is followed by a run within the bound', () => {
    // 3,000 updates a minute: one every 20 ms, for 10 s.
    const { clock, runs, c } = setup(20, 100);
    const pokes: number[] = [];
    for (let t = 0; t < 10_000; t += 20) {
      clock.advance(t - clock.now());
      c.poke();
      pokes.push(clock.now());
    }
    clock.advance(1000);
    for (let i = 1; i < runs.length; i++) assert.ok(runs[i]! - runs[i - 1]! >= 100, `runs ${runs[i - 1]} ${runs[i]}`);
    assert.ok(runs.length <= 10_000 / 100 + 1, `${runs.length} runs`);
    for (const p of pokes) {
      const next = runs.find((r) => r > p);
      assert.ok(next !== undefined && next - p <= 100, `poke at ${p}: next run ${next}`);
    }
  });

  test('after a quiet spell the spacing does not add to the delay', () => {
    const { clock, runs, c } = setup(20, 100);
    c.poke();
    clock.advance(30); // ran at 20
    c.poke(); // 30: spacing says not before 120
    clock.advance(200);
    c.poke(); // 230: quiet for long, runs after the delay only
    clock.advance(200);
    assert.deepEqual(runs, [20, 120, 250]);
  });

  test('stop cancels the armed run and ignores later pokes', () => {
    const { clock, runs, c } = setup();
    c.poke();
    c.stop();
    c.poke();
    clock.advance(1000);
    assert.deepEqual(runs, []);
    assert.equal(c.pending, false);
  });
});
