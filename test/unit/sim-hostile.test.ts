/**
 * Hostile adverts on the simulated LAN (vrrp/sim/lan.ts): a host outside the cluster sends adverts for our VRID with
 * an address list that is not ours (RFC 9568 §7.1, issue 15). The engine drops them, so the master keeps its role:
 * no transition anywhere and no instant without a master, where the old behaviour (process anyway) stepped the master
 * down and left the VIP unanswered for about Master_Down_Interval.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Advert } from '../../vrrp/advert.ts';
import type { RouterConfig } from '../../vrrp/router-config.ts';
import { SimLan, type TraceEntry } from '../../vrrp/sim/lan.ts';

const VRID = 9;
const VIP = '10.0.0.100';
const NODES = [
  { name: 'a', address: '10.0.0.1', priority: 200 },
  { name: 'b', address: '10.0.0.2', priority: 150 },
  { name: 'c', address: '10.0.0.3', priority: 100 },
] as const;
/** ATTACKER is above every node's address, so even an equal priority would win the §6.4.3 tie-break. */
const ATTACKER = '10.0.0.250';

function lan(): SimLan {
  const specs = NODES.map((n) => ({
    name: n.name,
    routers: [
      {
        vrid: VRID,
        family: 'ipv4',
        priority: n.priority,
        advertIntervalCs: 10,
        preempt: true,
        preemptDelayMs: 0,
        primaryAddress: n.address,
        addresses: [VIP],
      } satisfies RouterConfig,
    ],
  }));
  const l = new SimLan(specs, { delayMs: 0.2 });
  l.start();
  return l;
}

type Transition = Extract<TraceEntry, { kind: 'transition' }>;

function transitionsAfter(l: SimLan, t: number): Transition[] {
  return l.trace.filter((e): e is Transition => e.kind === 'transition' && e.at > t);
}

/** unanswered returns the spans in [from, to] during which no live node was master of VRID (the client's gap). */
function unanswered(l: SimLan, from: number, to: number): [number, number][] {
  const live = new Set<string>();
  const out: [number, number][] = [];
  let openAt: number | undefined;
  const at = (t: number) => Math.min(Math.max(t, from), to);
  for (const e of l.trace) {
    if (e.kind === 'transition' && e.vrid === VRID) {
      if (e.to === 'master') live.add(e.node);
      else live.delete(e.node);
    } else if (e.kind === 'control' && e.action === 'crash') for (const n of e.nodes) live.delete(n);
    if (live.size === 0 && openAt === undefined) openAt = e.at;
    if (live.size > 0 && openAt !== undefined) {
      if (e.at > from) out.push([at(openAt), at(e.at)]);
      openAt = undefined;
    }
  }
  if (openAt !== undefined) out.push([at(openAt), to]);
  return out.filter(([x, y]) => y > x);
}

/** HOSTILE are adverts for our VRID, valid VRRPv3, whose address list is not [VIP]. */
const HOSTILE: readonly [string, Advert][] = [
  ['other VIP, priority 254', { vrid: VRID, priority: 254, maxAdvertIntervalCs: 10, addresses: ['10.0.0.200'] }],
  ['superset, priority 254', { vrid: VRID, priority: 254, maxAdvertIntervalCs: 10, addresses: [VIP, '10.0.0.7'] }],
  ['other VIP, priority 0', { vrid: VRID, priority: 0, maxAdvertIntervalCs: 10, addresses: ['10.0.0.200'] }],
  ['other VIP, 10 ms interval', { vrid: VRID, priority: 254, maxAdvertIntervalCs: 1, addresses: ['10.0.0.200'] }],
];

describe('§7.1 adverts with an address list that is not ours', () => {
  for (const [name, advert] of HOSTILE) {
    test(`${name}: a flood every 10 ms for 2 s changes no state and leaves no gap`, () => {
      const l = lan();
      l.runFor(1000);
      assert.deepEqual(l.masters(VRID), ['a']);
      const settled = l.now;
      for (let t = 0; t < 2000; t += 10) {
        l.inject(ATTACKER, advert);
        l.runFor(10);
      }
      l.runFor(1000);
      assert.deepEqual(transitionsAfter(l, settled), []);
      assert.deepEqual(unanswered(l, settled, l.now), []);
      assert.deepEqual(l.masters(VRID), ['a']);
      // The adverts did reach the routers: delivered = the nodes' own traffic plus 3 receivers × 200 injected.
      assert.ok(l.stats.delivered >= 3 * 200, JSON.stringify(l.stats));
    });
  }

  test('the same adverts with our own list are obeyed: the check is what keeps the master (control case)', () => {
    const l = lan();
    l.runFor(1000);
    const settled = l.now;
    for (let t = 0; t < 2000; t += 10) {
      l.inject(ATTACKER, { vrid: VRID, priority: 254, maxAdvertIntervalCs: 10, addresses: [VIP] });
      l.runFor(10);
    }
    assert.deepEqual(
      transitionsAfter(l, settled).map((e) => [e.node, e.to, e.reason]),
      [['a', 'backup', 'higher-priority']],
    );
    // Nobody in the cluster answers while the forged master "holds" the VIP.
    assert.deepEqual(l.masters(VRID), []);
    assert.equal(unanswered(l, settled, l.now).length, 1);
  });

  test('after the hostile flood stops, a real failover still works', () => {
    const l = lan();
    l.runFor(1000);
    for (let t = 0; t < 500; t += 10) {
      l.inject(ATTACKER, HOSTILE[0]![1]);
      l.runFor(10);
    }
    const crashAt = l.now;
    l.crash('a');
    l.runFor(1000);
    assert.deepEqual(l.masters(VRID), ['b']);
    const up = transitionsAfter(l, crashAt).filter((e) => e.to === 'master');
    assert.deepEqual(
      up.map((e) => [e.node, e.reason]),
      [['b', 'master-down']],
    );
  });
});
