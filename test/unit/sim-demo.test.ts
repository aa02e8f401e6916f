/**
 * The `npm run lab` simulated-LAN demo (lab/sim-demo.ts): the facts it prints must be true, checked here against
 * the RFC 5798 timing functions and the rendezvous priorities, independently of the demo's own verdicts.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fmt, type Incident, runSimDemo, type SimDemoOptions, simDemoPassed } from '../../lab/sim-demo.ts';
import { masterDownIntervalMs, skewTimeMs } from '../../vrrp/timing.ts';

function bestOf(p: ReadonlyMap<string, number>, without?: string): string {
  return [...p.keys()].filter((n) => n !== without)[0]!;
}

const runs: { name: string; options: SimDemoOptions }[] = [
  { name: 'the npm run lab defaults (3 nodes, 5 VIPs, 100 ms)', options: {} },
  {
    name: '4 nodes, 12 VIPs, 20 ms adverts',
    options: {
      nodes: ['w1', 'w2', 'w3', 'w4'],
      vips: Array.from({ length: 12 }, (_, i) => `10.9.0.${i + 1}`),
      advertIntervalCs: 2,
    },
  },
];

for (const { name, options } of runs) {
  describe(`sim demo: ${name}`, () => {
    const result = runSimDemo(options);
    const { facts, lines } = result;
    const text = lines.join('\n');
    const cs = options.advertIntervalCs ?? 10;
    const prio = (vip: string, node: string) => facts.priorities.get(vip)!.get(node)!;
    const incident = (action: Incident['action'], nth = 0) => facts.incidents.filter((i) => i.action === action)[nth]!;

    test('after convergence every VIP has exactly one master, its best node, and the printout says so', () => {
      assert.ok(facts.converged.size >= 2);
      for (const [vip, count] of facts.convergedMasters) {
        const best = bestOf(facts.priorities.get(vip)!);
        assert.equal(count, 1, vip);
        assert.equal(facts.converged.get(vip), best, vip);
        assert.match(text, new RegExp(`${vip.replaceAll('.', '\\.')} +masters=1 master=${best} best=${best} ok`));
      }
      const masters = new Set(facts.converged.values());
      assert.ok(masters.size >= 2, 'the VIPs are spread over more than one node');
    });

    test('crash: only the dead node’s VIPs move, each to its next-best node, after exactly its Master_Down_Interval', () => {
      const crash = incident('crash');
      const moved = [...facts.converged].filter(([, m]) => m === crash.node).map(([vip]) => vip);
      assert.deepEqual(crash.handovers.map((h) => h.vip).sort(), moved.sort());
      assert.deepEqual(
        [...crash.untouched].sort(),
        [...facts.converged.keys()].filter((v) => !moved.includes(v)).sort(),
      );
      assert.ok(moved.length > 0);
      for (const h of crash.handovers) {
        const next = bestOf(facts.priorities.get(h.vip)!, crash.node);
        assert.equal(h.from, crash.node);
        assert.equal(h.to, next);
        const expected = masterDownIntervalMs(prio(h.vip, next), cs);
        assert.equal(h.measuredMs, expected, `${h.vip}: gap after the last advert`);
        assert.equal(h.expectedMs, expected);
        // From the crash itself the gap is shorter by however far into the advert cycle the crash fell.
        assert.ok(h.at - crash.at > expected - facts.intervalMs && h.at - crash.at <= expected);
        assert.ok(text.includes(`${h.from} -> ${h.to} at ${fmt(h.at)}: gap ${fmt(expected)}`), `printed: ${h.vip}`);
        assert.ok(
          text.includes(`${h.at.toFixed(3).padStart(10)}    ${h.vip.padEnd(15)} ${h.to} -> master (master-down)`),
        );
      }
    });

    test('restart after the crash: preemption returns those VIPs after the node’s own Master_Down_Interval', () => {
      const crash = incident('crash');
      const back = incident('restart', 0);
      assert.equal(back.node, crash.node);
      assert.deepEqual(back.handovers.map((h) => h.vip).sort(), crash.handovers.map((h) => h.vip).sort());
      for (const h of back.handovers) {
        assert.equal(h.to, crash.node);
        assert.equal(h.measuredMs, masterDownIntervalMs(prio(h.vip, crash.node), cs));
      }
    });

    test('graceful shutdown of another VIP’s master: takeover exactly Skew_Time after the priority-0 advert', () => {
      const stop = incident('shutdown');
      assert.notEqual(stop.node, incident('crash').node, 'a different node from the crashed one');
      assert.ok(stop.handovers.length > 0);
      for (const h of stop.handovers) {
        const next = bestOf(facts.priorities.get(h.vip)!, stop.node);
        assert.equal(h.to, next);
        const skew = skewTimeMs(prio(h.vip, next), cs);
        assert.equal(h.measuredMs, skew);
        assert.ok(h.measuredMs <= skew && skew < facts.intervalMs / 2);
        assert.ok(text.includes(`gap ${fmt(skew)} after the priority-0 advert, Skew_Time ${fmt(skew)} ok`));
      }
      const returned = incident('restart', 1);
      assert.equal(returned.node, stop.node);
      assert.deepEqual(returned.handovers.map((h) => h.vip).sort(), stop.handovers.map((h) => h.vip).sort());
    });

    test('at the end the placement is the converged one again, one master per VIP', () => {
      assert.deepEqual(facts.final, facts.converged);
      for (const n of facts.finalMasters.values()) assert.equal(n, 1);
    });

    test('the printout has a timeline with virtual-ms stamps and no MISMATCH', () => {
      assert.ok(simDemoPassed(result));
      assert.ok(!text.includes('MISMATCH'));
      for (const action of ['START', 'CRASH', 'RESTART', 'SHUTDOWN']) assert.match(text, new RegExp(` ${action} `));
      const stamped = lines.filter((l) => /^ *\d+\.\d{3} {2}/.test(l));
      assert.ok(stamped.length >= 10, 'timeline lines');
      const times = stamped.map((l) => Number.parseFloat(l));
      assert.deepEqual(
        times,
        [...times].sort((a, b) => a - b),
        'in time order',
      );
    });
  });
}

test('simDemoPassed reports a mismatch line, so `npm run lab` exits non-zero when the engine is off', () => {
  const result = runSimDemo();
  assert.equal(simDemoPassed({ ...result, lines: [...result.lines, '  x gap 1 ms ... 2 ms MISMATCH'] }), false);
});

test('the demo refuses a set-up too small to show a failover', () => {
  assert.throws(() => runSimDemo({ nodes: ['a', 'b'] }), /at least 3 nodes/);
});
