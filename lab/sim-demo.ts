/**
 * The VRRP engine on a simulated LAN: three nodes, several VIPs whose node priorities come from rendezvous hashing,
 * then a crash, a restart (preemption) and a graceful shutdown, printed as a timeline on the virtual clock with the
 * measured gaps beside the RFC 5798 figures they must equal. No sockets, no root: this is what `npm run lab` shows
 * until the real lab exists, and what test/unit/sim-demo.test.ts checks.
 */

import { nodePriorities } from '../vrrp/priority.ts';
import type { RouterConfig } from '../vrrp/router-config.ts';
import { SimLan, type TraceEntry } from '../vrrp/sim/lan.ts';
import { centisecondsToMs, masterDownIntervalMs, skewTimeMs } from '../vrrp/timing.ts';

/** SimDemoOptions shape the run; the defaults are what `npm run lab` shows. */
export interface SimDemoOptions {
  readonly nodes?: readonly string[];
  readonly vips?: readonly string[];
  /** advertIntervalCs is every router's Advertisement_Interval (default 10 cs = 100 ms). */
  readonly advertIntervalCs?: number;
}

/** Handover is one VIP changing master during an incident, with the gap measured and the gap the RFC gives. */
export interface Handover {
  readonly vip: string;
  readonly vrid: number;
  readonly from: string;
  readonly to: string;
  /** at is the virtual time of the takeover (ms). */
  readonly at: number;
  /** measuredMs runs from the moment the new master last heard the old one (crash) or heard priority 0 (shutdown). */
  readonly measuredMs: number;
  /** expectedMs is the new master's Master_Down_Interval (crash), Skew_Time (shutdown) or Master_Down_Interval (return). */
  readonly expectedMs: number;
}

/** Incident is one operator action and what it moved. */
export interface Incident {
  readonly action: 'crash' | 'restart' | 'shutdown';
  readonly node: string;
  readonly at: number;
  readonly handovers: readonly Handover[];
  /** untouched are the VIPs whose master did not change: rendezvous hashing moves only the affected node's VIPs. */
  readonly untouched: readonly string[];
}

/** SimDemoFacts is what the demo established, for the printout and for tests. */
export interface SimDemoFacts {
  readonly intervalMs: number;
  // vip -> node -> priority, best first
  readonly priorities: ReadonlyMap<string, ReadonlyMap<string, number>>;
  // vip -> master after convergence
  readonly converged: ReadonlyMap<string, string>;
  /** convergedMasters counts masters per VIP after convergence (each must be 1). */
  readonly convergedMasters: ReadonlyMap<string, number>;
  readonly incidents: readonly Incident[];
  // vip -> master at the end
  readonly final: ReadonlyMap<string, string>;
  readonly finalMasters: ReadonlyMap<string, number>;
}

/** SimDemoResult is the printout, line by line, and the facts behind it. */
export interface SimDemoResult {
  readonly lines: readonly string[];
  readonly facts: SimDemoFacts;
}

const DEFAULT_NODES = ['node-a', 'node-b', 'node-c'];
const DEFAULT_VIPS = ['192.168.50.10', '192.168.50.11', '192.168.50.12', '192.168.50.13', '192.168.50.14'];

/** fmt prints a virtual time or gap exactly (the values are dyadic fractions, so they have short exact forms). */
export function fmt(ms: number): string {
  return `${Number(ms.toFixed(6))} ms`;
}

function pad(ms: number): string {
  return ms.toFixed(3).padStart(10);
}

/** runSimDemo plays the scenario and returns the printout and the facts; it does not print. */
export function runSimDemo(options: SimDemoOptions = {}): SimDemoResult {
  const nodes = options.nodes ?? DEFAULT_NODES;
  const vips = options.vips ?? DEFAULT_VIPS;
  const intervalCs = options.advertIntervalCs ?? 10;
  const intervalMs = centisecondsToMs(intervalCs);
  if (nodes.length < 3 || vips.length < 2) throw new Error('the demo needs at least 3 nodes and 2 VIPs');

  // vip -> node -> priority
  const priorities = new Map<string, ReadonlyMap<string, number>>();
  // vrid -> vip
  const vipOf = new Map<number, string>();
  vips.forEach((vip, i) => {
    const res = nodePriorities(vip, nodes);
    if ('error' in res) throw new Error(`${vip}: ${res.error.message}`);
    priorities.set(vip, res.priorities);
    vipOf.set(i + 1, vip);
  });
  const prio = (vip: string, node: string) => priorities.get(vip)!.get(node)!;
  const lan = new SimLan(
    nodes.map((node, n) => ({
      name: node,
      routers: vips.map(
        (vip, i): RouterConfig => ({
          vrid: i + 1,
          family: 'ipv4',
          priority: prio(vip, node),
          advertIntervalCs: intervalCs,
          preempt: true,
          preemptDelayMs: 0,
          primaryAddress: `192.168.50.${n + 1}`,
          addresses: [vip],
        }),
      ),
    })),
  );

  const masterMap = () => {
    const out = new Map<string, string>();
    const count = new Map<string, number>();
    for (const [vrid, vip] of vipOf) {
      const m = lan.masters(vrid);
      count.set(vip, m.length);
      if (m[0] !== undefined) out.set(vip, m[0]);
    }
    return { out, count };
  };

  lan.start();
  lan.runFor(20 * intervalMs);
  const { out: converged, count: convergedMasters } = masterMap();

  // Incidents land off the advert cycle, as real failures do; the offsets are binary fractions so virtual times stay
  // exact and measured gaps compare with === to the RFC figures.
  const incidents: Incident[] = [];
  const incident = (action: Incident['action'], node: string, at: number, settleMs: number) => {
    lan.runUntil(at);
    const before = masterMap().out;
    // vrid -> when the other nodes last heard an advert, for the crash gap
    const heard = new Map<number, Map<string, number | undefined>>();
    for (const vrid of vipOf.keys()) {
      heard.set(vrid, new Map(nodes.map((n) => [n, lan.lastHeardAt(n, vrid)])));
    }
    if (action === 'crash') lan.crash(node);
    else if (action === 'shutdown') lan.shutdown(node);
    else lan.restart(node);
    const mark = lan.trace.length;
    lan.runFor(settleMs);
    const after = masterMap().out;
    const handovers: Handover[] = [];
    const untouched: string[] = [];
    for (const [vrid, vip] of vipOf) {
      const from = before.get(vip)!;
      const took = lan.trace
        .slice(mark)
        .find(
          (e): e is Extract<TraceEntry, { kind: 'transition' }> =>
            e.kind === 'transition' && e.vrid === vrid && e.to === 'master' && e.node === after.get(vip),
        );
      if (after.get(vip) === from || !took) {
        untouched.push(vip);
        continue;
      }
      const to = took.node;
      let measuredMs: number;
      let expectedMs: number;
      if (action === 'crash') {
        measuredMs = took.at - heard.get(vrid)!.get(to)!;
        expectedMs = masterDownIntervalMs(prio(vip, to), intervalCs);
      } else if (action === 'shutdown') {
        measuredMs = took.at - at;
        expectedMs = skewTimeMs(prio(vip, to), intervalCs);
      } else {
        measuredMs = took.at - at;
        expectedMs = masterDownIntervalMs(prio(vip, to), intervalCs);
      }
      handovers.push({ vip, vrid, from, to, at: took.at, measuredMs, expectedMs });
    }
    incidents.push({ action, node, at, handovers, untouched });
  };

  const firstVip = vips[0]!;
  const crashed = converged.get(firstVip)!;
  incident('crash', crashed, lan.now + 7 * intervalMs + 31.25, 10 * intervalMs);
  incident('restart', crashed, lan.now + 10 * intervalMs, 10 * intervalMs);
  // Gracefully stop the master of another VIP, on another node if the placement allows.
  const now = masterMap().out;
  const other = vips.find((v) => now.get(v) !== crashed) ?? vips[1]!;
  const stopped = now.get(other)!;
  incident('shutdown', stopped, lan.now + 3 * intervalMs + 68.5, 10 * intervalMs);
  incident('restart', stopped, lan.now + 10 * intervalMs, 10 * intervalMs);
  const { out: final, count: finalMasters } = masterMap();

  const facts: SimDemoFacts = {
    intervalMs,
    priorities,
    converged,
    convergedMasters,
    incidents,
    final,
    finalMasters,
  };
  return { lines: render(facts, lan.trace, vipOf, nodes), facts };
}

function render(
  facts: SimDemoFacts,
  trace: readonly TraceEntry[],
  vipOf: ReadonlyMap<number, string>,
  nodes: readonly string[],
): string[] {
  const lines: string[] = [];
  const ok = (cond: boolean) => (cond ? 'ok' : 'MISMATCH');
  lines.push(
    `metal-vrrp engine on a simulated LAN: ${nodes.length} nodes, ${vipOf.size} VIPs, adverts every ${fmt(facts.intervalMs)}`,
  );
  lines.push('(virtual clock; real VRRP state machines; no sockets. The real-kernel lab replaces this demo.)');
  lines.push('');
  lines.push('Priorities by rendezvous hashing (best first):');
  for (const [vip, p] of facts.priorities) {
    lines.push(`  ${vip.padEnd(15)} ${[...p].map(([n, v]) => `${n}=${v}`).join('  ')}`);
  }
  lines.push('');
  lines.push('Timeline (ms; every router enters Backup at start and is not listed):');
  for (const e of trace) {
    if (e.kind === 'control') {
      lines.push(`${pad(e.at)}  ${e.action.toUpperCase()} ${e.nodes.join(' ')}`.trimEnd());
    } else if (!(e.to === 'backup' && e.reason === 'startup')) {
      lines.push(`${pad(e.at)}    ${vipOf.get(e.vrid)!.padEnd(15)} ${e.node} -> ${e.to} (${e.reason})`);
    }
  }
  lines.push('');
  lines.push('After convergence:');
  for (const [vip, n] of facts.convergedMasters) {
    const best = [...facts.priorities.get(vip)!.keys()][0];
    const master = facts.converged.get(vip);
    lines.push(`  ${vip.padEnd(15)} masters=${n} master=${master} best=${best} ${ok(n === 1 && master === best)}`);
  }
  for (const inc of facts.incidents) {
    lines.push('');
    lines.push(`${inc.action} ${inc.node} at ${fmt(inc.at)}:`);
    const what =
      inc.action === 'crash'
        ? 'after the last advert heard, Master_Down_Interval'
        : inc.action === 'shutdown'
          ? 'after the priority-0 advert, Skew_Time'
          : 'after restart (preemption), Master_Down_Interval';
    for (const h of inc.handovers) {
      lines.push(
        `  ${h.vip.padEnd(15)} ${h.from} -> ${h.to} at ${fmt(h.at)}: gap ${fmt(h.measuredMs)} ${what} ${fmt(h.expectedMs)} ${ok(h.measuredMs === h.expectedMs)}`,
      );
      if (inc.action === 'crash') lines.push(`  ${''.padEnd(15)} (${fmt(h.at - inc.at)} after the crash itself)`);
    }
    lines.push(`  unchanged: ${inc.untouched.length > 0 ? inc.untouched.join(' ') : '(none)'}`);
  }
  lines.push('');
  lines.push('At the end:');
  for (const [vip, n] of facts.finalMasters) {
    const master = facts.final.get(vip);
    const same = master === facts.converged.get(vip);
    lines.push(`  ${vip.padEnd(15)} masters=${n} master=${master} ${ok(n === 1 && same)}`);
  }
  return lines;
}

/** simDemoPassed says whether every check the printout marks came out ok. */
export function simDemoPassed(result: SimDemoResult): boolean {
  return result.lines.every((l) => !l.includes('MISMATCH'));
}
