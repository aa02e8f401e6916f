/**
 * Balanced placement (vrrp/placement.ts) and the priorities built on it (routerPriorities), issue 16: deterministic,
 * masters within max(⌈mean⌉, ⌊1.1 × mean⌋) per node, a node loss moves only that node's routers (to their rank-2
 * node) and keeps the rest balanced, and the priority ladder keeps consecutive Skew_Times DEFAULT_SKEW_GAP_MS apart.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { balancedOrders, DEFAULT_SLACK, type PlacementRouter } from '../../vrrp/placement.ts';
import {
  DEFAULT_SKEW_GAP_MS,
  type PriorityResult,
  priorityLadder,
  priorityStep,
  rankNodes,
  routerPriorities,
} from '../../vrrp/priority.ts';
import { skewTimeMs } from '../../vrrp/timing.ts';

function nodesOf(n: number, prefix = 'node-'): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}${i + 1}`);
}

/** routersOf is m routers keyed like the speaker's (family/VRID, then past 255 per family a suffix). */
function routersOf(m: number, members: readonly string[]): PlacementRouter[] {
  return Array.from({ length: m }, (_, i) => ({
    key: `${i % 2 === 0 ? 'ipv4' : 'ipv6'}/${(Math.floor(i / 2) % 255) + 1}${i >= 510 ? `#${i}` : ''}`,
    members,
  }));
}

/** loads counts routers per node whose first live node (in the order) is that node. */
function loads(orders: ReadonlyMap<string, readonly string[]>, live: ReadonlySet<string>): Map<string, number> {
  const out = new Map<string, number>([...live].map((n) => [n, 0]));
  for (const order of orders.values()) {
    const m = order.find((n) => live.has(n));
    if (m !== undefined) out.set(m, (out.get(m) ?? 0) + 1);
  }
  return out;
}

const cap = (m: number, n: number) => Math.max(Math.ceil(m / n), Math.floor((m * DEFAULT_SLACK) / n));

const sizes = fc.record({ n: fc.integer({ min: 2, max: 100 }), m: fc.integer({ min: 1, max: 1000 }) });

describe('balancedOrders', () => {
  test('property: every order is a permutation of the members, and the same whatever the input order', () => {
    fc.assert(
      fc.property(sizes, fc.nat(), ({ n, m }, seed) => {
        const nodes = nodesOf(n);
        const routers = routersOf(Math.min(m, 300), nodes);
        const a = balancedOrders(routers);
        // Shuffle routers and every member list deterministically from the seed.
        const rot = (xs: readonly string[], k: number) => [...xs.slice(k % xs.length), ...xs.slice(0, k % xs.length)];
        const shuffled = [...routers].reverse().map((r, i) => ({ ...r, members: rot(r.members, seed + i) }));
        const b = balancedOrders(shuffled);
        assert.equal(a.size, routers.length);
        for (const r of routers) {
          const order = a.get(r.key)!;
          assert.deepEqual([...order].sort(), [...nodes].sort(), r.key);
          assert.deepEqual(b.get(r.key), order, `${r.key} depends on input order`);
        }
      }),
      { numRuns: 25 },
    );
  });

  test('property: no node masters more than max(⌈mean⌉, ⌊1.1 × mean⌋) routers', () => {
    fc.assert(
      fc.property(sizes, ({ n, m }) => {
        const nodes = nodesOf(n, 'w');
        const counts = loads(balancedOrders(routersOf(m, nodes)), new Set(nodes));
        const max = Math.max(...counts.values());
        assert.ok(max <= cap(m, n), `${m} routers on ${n} nodes: max ${max} > ${cap(m, n)}`);
      }),
      { numRuns: 40 },
    );
  });

  for (const n of [3, 5, 10, 50, 100]) {
    test(`510 routers on ${n} nodes: max/mean ≤ 1.1, or the integer bound ⌈mean⌉ where 1.1 × mean is below it`, () => {
      const nodes = nodesOf(n);
      const counts = loads(balancedOrders(routersOf(510, nodes)), new Set(nodes));
      const mean = 510 / n;
      const max = Math.max(...counts.values());
      assert.ok(max <= Math.max(1.1 * mean, Math.ceil(mean)), `max ${max}, mean ${mean}`);
      assert.equal(
        [...counts.values()].reduce((s, c) => s + c, 0),
        510,
      );
    });
  }

  test('property: losing a node moves only its routers, each to its rank-2 node, and the rest stay balanced', () => {
    fc.assert(
      fc.property(sizes, fc.nat(), ({ n, m }, which) => {
        if (n < 3) return;
        const nodes = nodesOf(n);
        const orders = balancedOrders(routersOf(m, nodes));
        const dead = nodes[which % n]!;
        const live = new Set(nodes.filter((x) => x !== dead));
        for (const [key, order] of orders) {
          const before = order[0]!;
          const after = order.find((x) => live.has(x))!;
          if (before !== dead) assert.equal(after, before, `${key} moved though ${dead} did not master it`);
          else assert.equal(after, order[1], `${key} goes to its rank-2 node`);
        }
        // The survivors stay within max(⌈m / (n − 1)⌉, cap): the dead node's routers fill the least loaded first.
        const bound = Math.max(Math.ceil(m / (n - 1)), cap(m, n));
        const max = Math.max(...loads(orders, live).values());
        assert.ok(max <= bound, `after losing ${dead}: max ${max}, bound ${bound}`);
      }),
      { numRuns: 40 },
    );
  });

  test('510 routers on 10 nodes: after any single loss, max/mean stays ≤ 1.1', () => {
    // m / (n − 1) = 56.7, so the bound max(⌈56.7⌉, cap 56) = 57 is 1.006 × the mean.
    const nodes = nodesOf(10);
    const orders = balancedOrders(routersOf(510, nodes));
    for (const dead of nodes) {
      const live = new Set(nodes.filter((x) => x !== dead));
      const max = Math.max(...loads(orders, live).values());
      assert.ok(max <= 1.1 * (510 / 9), `losing ${dead}: max ${max}`);
    }
  });

  test('a single router keeps its rendezvous order (so nodePriorities and routerPriorities agree for one router)', () => {
    const nodes = nodesOf(7);
    for (const key of ['ipv4/1', 'ipv6/200', 'x']) {
      assert.deepEqual(balancedOrders([{ key, members: nodes }]).get(key), rankNodes(key, nodes));
    }
  });

  test('groups with different member sets are balanced separately', () => {
    const a = nodesOf(3, 'a');
    const b = nodesOf(2, 'b');
    const routers = [...routersOf(30, a), ...routersOf(20, b).map((r) => ({ ...r, key: `b/${r.key}` }))];
    const orders = balancedOrders(routers);
    for (const key of routers.map((r) => r.key)) {
      const first = orders.get(key)![0]!;
      assert.equal(first.startsWith('b'), key.startsWith('b/'), `${key} stays in its own member set`);
    }
    // Each group within its own cap: 30 over 3 and 20 over 2, mean 10, cap ⌊1.1 × 10⌋ = 11.
    const counts = loads(orders, new Set([...a, ...b]));
    assert.ok(Math.max(...counts.values()) <= 11, JSON.stringify([...counts]));
    assert.equal(
      [...counts.values()].reduce((x, y) => x + y, 0),
      50,
    );
  });

  test('weights: a router counts its VIPs; no node goes past the cap by more than one router', () => {
    const nodes = nodesOf(10);
    const routers = routersOf(255, nodes).map((r, i) => ({ ...r, weight: 1 + (i % 4) }));
    const total = routers.reduce((s, r) => s + r.weight, 0);
    const orders = balancedOrders(routers);
    // node -> weight mastered
    const load = new Map<string, number>();
    for (const r of routers) {
      const m = orders.get(r.key)![0]!;
      load.set(m, (load.get(m) ?? 0) + r.weight);
    }
    const max = Math.max(...load.values());
    assert.ok(max <= cap(total, 10) + 3, `max ${max}, mean ${total / 10}`);
  });
});

describe('priority ladder (Skew_Time spacing)', () => {
  test('the step keeps consecutive Skew_Times DEFAULT_SKEW_GAP_MS apart at each interval', () => {
    for (const intervalCs of [1, 5, 10, 100, 4095]) {
      const step = priorityStep(intervalCs);
      const gap = skewTimeMs(254 - step, intervalCs) - skewTimeMs(254, intervalCs);
      assert.ok(gap >= DEFAULT_SKEW_GAP_MS, `${intervalCs} cs: step ${step} gives ${gap} ms`);
      if (step > 1) assert.ok(gap - (skewTimeMs(254 - step + 1, intervalCs) - skewTimeMs(254, intervalCs)) > 0);
    }
    assert.deepEqual(
      [1, 10, 100].map((cs) => priorityStep(cs)),
      [103, 11, 2],
    );
  });

  test('property: count distinct values, best first, in 1..254, full steps at the top, then steps of 1', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 254 }), fc.integer({ min: 1, max: 4095 }), (count, intervalCs) => {
        const ladder = priorityLadder(count, { intervalCs })!;
        assert.equal(ladder.length, count);
        if (count === 0) return;
        assert.equal(ladder[0], 254);
        const step = priorityStep(intervalCs);
        const gaps = ladder.slice(1).map((p, i) => ladder[i]! - p);
        assert.ok(ladder.every((p) => p >= 1 && p <= 254));
        // Non-increasing gaps, each the full step or 1: the top ranks, which race first, keep the full gap.
        for (const [i, g] of gaps.entries()) {
          assert.ok(g === step || g === 1, `gap ${g}`);
          if (i > 0) assert.ok(g <= gaps[i - 1]!);
        }
        // As many full steps as 254 values allow.
        const wide = gaps.filter((g) => g === step).length;
        if (wide < gaps.length && step > 1) assert.ok(ladder.at(-1)! - (step - 1) < 1, 'one more full step would fit');
      }),
      { numRuns: 300 },
    );
  });

  test('figures: 3 nodes at 100 ms get 254, 243, 232; 100 nodes keep 15 full steps at the top', () => {
    assert.deepEqual(priorityLadder(3), [254, 243, 232]);
    const hundred = priorityLadder(100)!;
    assert.equal(hundred.length, 100);
    assert.deepEqual(hundred.slice(0, 3), [254, 243, 232]);
    assert.equal(hundred.filter((p, i) => i > 0 && hundred[i - 1]! - p === 11).length, 15);
    // 15 × 11 + 84 × 1 index steps from 254: the last rank gets 5 (one more full step would need 10 more values).
    assert.equal(hundred.at(-1), 5);
    assert.equal(priorityLadder(255), undefined);
  });
});

describe('routerPriorities', () => {
  function unwrap(r: PriorityResult | undefined): Map<string, number> {
    assert.ok(r && 'priorities' in r, JSON.stringify(r));
    return new Map(r.priorities);
  }

  test('candidates keep the ladder value of their rank among the members; a member that is not a candidate gets none', () => {
    const nodes = nodesOf(5);
    const routers = routersOf(50, nodes).map((r) => ({ ...r, intervalCs: 10, placement: 'balanced' as const }));
    const orders = balancedOrders(routers);
    const all = routerPriorities(routers);
    const down = 'node-3';
    const res = routerPriorities(routers.map((r) => ({ ...r, candidates: nodes.filter((x) => x !== down) })));
    let moved = 0;
    for (const r of routers) {
      const full = unwrap(all.get(r.key));
      assert.deepEqual([...full.keys()], orders.get(r.key));
      assert.deepEqual([...full.values()], [254, 243, 232, 221, 210]);
      const p = unwrap(res.get(r.key));
      assert.equal(p.has(down), false);
      // Nobody else's priority changes when node-3 goes down: no backup's Skew_Time shifts during the takeover.
      assert.deepEqual(
        [...p],
        [...full].filter(([n]) => n !== down),
      );
      if (orders.get(r.key)![0] === down) moved++;
    }
    assert.ok(moved > 0, 'node-3 mastered some routers');
  });

  test('rendezvous placement (the default): each order is its own, so other routers coming and going change none', () => {
    const nodes = nodesOf(6);
    const routers = routersOf(60, nodes);
    const all = routerPriorities(routers);
    const fewer = routerPriorities(routers.filter((_, i) => i % 7 !== 0));
    for (const [key, p] of fewer) assert.deepEqual([...unwrap(p)], [...unwrap(all.get(key))], key);
  });

  test('more members than priorities: the ladder runs over the candidates alone', () => {
    const members = nodesOf(300);
    const candidates = members.slice(0, 3);
    const res = routerPriorities([{ key: 'ipv4/1', members, candidates }]);
    assert.deepEqual([...unwrap(res.get('ipv4/1')).values()], [254, 243, 232]);
  });

  test("the pool's interval sets the step: 1 s adverts step by 2", () => {
    const res = routerPriorities([{ key: 'ipv4/1', members: nodesOf(3), intervalCs: 100 }]);
    assert.deepEqual([...unwrap(res.get('ipv4/1')).values()], [254, 252, 250]);
  });

  test('pins are honoured and errors are per router', () => {
    const res = routerPriorities([
      { key: 'ipv4/1', members: nodesOf(3), pinned: new Map([['node-2', 254]]) },
      { key: 'ipv4/2', members: ['a', 'a'] },
      { key: 'ipv4/3', members: nodesOf(3), pinned: new Map([['node-1', 300]]) },
    ]);
    const p = unwrap(res.get('ipv4/1'));
    assert.equal(p.get('node-2'), 254);
    assert.deepEqual([...p.values()], [254, 253, 242]);
    assert.deepEqual(res.get('ipv4/2'), { error: { code: 'DUPLICATE_NODE', message: 'node a is listed twice' } });
    const e = res.get('ipv4/3');
    assert.ok(e && 'error' in e && e.error.code === 'PINNED_OUT_OF_RANGE');
  });

  test('a candidate outside the members is ranked after them', () => {
    const res = routerPriorities([{ key: 'ipv4/1', members: ['a', 'b'], candidates: ['a', 'b', 'z'] }]);
    assert.equal([...unwrap(res.get('ipv4/1')).keys()].at(-1), 'z');
  });
});
