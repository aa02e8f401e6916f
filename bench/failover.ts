/**
 * Failover benchmark: our speaker against keepalived 2.2 on the same lab LAN, same advert interval, priorities
 * 200 (n1) / 100 (n2), one IPv4 VIP. Prints figures, asserts nothing. Needs root (network namespaces).
 *
 *   npm run bench:failover -- [--trials 20] [--intervals 1000,100,20,10] [--graceful-trials 10] [--svg-dir DIR]
 *
 * Node loss: n1 is master; at a random point of the advert cycle its switch port goes down and its daemon is
 * SIGKILLed (keepalived's VRRP child too). Measured: kill → the client's first ARP answer from n2's MAC, the client
 * sending an ARP request every 10 ms (2 ms at intervals under 100 ms) and taking kernel receive timestamps
 * (lab/netlab/probe.ts). Graceful hand-over: n1's daemon gets SIGTERM (priority 0) instead, link up.
 * Between trials n1 comes back and preempts, so every trial starts from the same roles. 10 ms is the VRRPv3 floor
 * (Max Advertise Interval 1 cs, RFC 5798 §5.2.7), keepalived run at the same 10 ms (`advert_int 0.01`).
 *
 * Next to the text, one SVG per interval (lab/timeline-svg.ts) in --svg-dir (default /tmp/metal-vrrp-bench): one
 * lane per node-loss trial of each implementation, aligned on the kill, showing which node answered the client's ARP.
 */

import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { run } from '../lab/netlab/exec.ts';
import { type KeepalivedProcess, startKeepalived } from '../lab/netlab/keepalived.ts';
import { buildLab, type Lab, type LabHost } from '../lab/netlab/netns.ts';
import { firstAnswerAfter, startArpProbe } from '../lab/netlab/probe.ts';
import { type SpeakerProcess, startSpeaker } from '../lab/netlab/speaker.ts';
import { renderTimelineSvg, type TimelineLane } from '../lab/timeline-svg.ts';
import { masterDownIntervalMs, skewTimeMs } from '../vrrp/timing.ts';

const PREFIX = 'mvsp-b';
const VRID = 61;
const HIGH = 200;
const LOW = 100;

const { values } = parseArgs({
  options: {
    trials: { type: 'string', default: '20' },
    'graceful-trials': { type: 'string', default: '10' },
    intervals: { type: 'string', default: '1000,100,20,10' },
    'svg-dir': { type: 'string', default: '/tmp/metal-vrrp-bench' },
  },
});
const TRIALS = Number(values.trials);
const GRACEFUL = Number(values['graceful-trials']);
const INTERVALS = values.intervals.split(',').map(Number);

/** Daemon is one VRRP implementation under test, behind the few verbs a trial needs. */
interface Daemon {
  /** waitMaster resolves when the daemon has become master (after `since`, epoch ms). */
  waitMaster(since: number, timeoutMs: number): Promise<void>;
  kill(signal: 'SIGTERM' | 'SIGKILL'): Promise<void>;
}

interface Impl {
  readonly name: string;
  start(host: LabHost, priority: number, intervalMs: number): Promise<Daemon>;
  /** afterKill cleans a killed node before it returns (keepalived leaves its VIP on eth0). */
  afterKill(host: LabHost): Promise<void>;
}

function ours(): Impl {
  return {
    name: 'metal-vrrp',
    async start(host, priority, intervalMs) {
      const sp: SpeakerProcess = await startSpeaker(host, {
        advertIntervalMs: intervalMs,
        routers: [{ vrid: VRID, priority, vips: [lab.vipsV4[0]!] }],
      });
      return {
        waitMaster: async (since, ms) => {
          await sp.waitForLog((l) => l.t >= since && l['to'] === 'master', ms);
        },
        kill: async (signal) => {
          await sp.kill(signal);
        },
      };
    },
    afterKill: async () => {},
  };
}

function keepalived(): Impl {
  return {
    name: 'keepalived',
    async start(host, priority, intervalMs) {
      const ka: KeepalivedProcess = await startKeepalived(host, {
        vrid: VRID,
        priority,
        vips: [lab.vipsV4[0]!],
        prefixLen: lab.prefixLen4,
        advertIntervalMs: intervalMs,
      });
      return {
        waitMaster: async (since, ms) => {
          await ka.waitForLineSince(/Entering MASTER STATE/, since, ms);
        },
        kill: (signal) => ka.kill(signal),
      };
    },
    afterKill: async (host) => {
      await run(host.ns, ['ip', 'addr', 'del', `${lab.vipsV4[0]}/${lab.prefixLen4}`, 'dev', host.ifname]);
    },
  };
}

interface Stats {
  readonly n: number;
  readonly failed: number;
  readonly min: number;
  readonly median: number;
  readonly p99: number;
  /** lanes: each trial's ARP answers relative to the kill, for the SVG timeline. */
  readonly lanes: readonly TimelineLane[];
}

function stats(samples: readonly number[], failed: number): Stats {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] ?? Number.NaN;
  return { n: s.length, failed, min: s[0] ?? Number.NaN, median: at(0.5), p99: at(0.99), lanes: [] };
}

/**
 * trials runs `count` trials of one kind for one implementation at one interval: n2 (LOW) runs throughout; n1 (HIGH)
 * is started, becomes master, then is killed. Returns the kill → first-answer-from-n2 gaps in ms.
 */
async function trials(impl: Impl, intervalMs: number, count: number, kind: 'loss' | 'graceful') {
  const [n1, n2] = lab.nodes as [LabHost, LabHost];
  const probeEvery = probeEveryOf(intervalMs);
  const mdi = masterDownIntervalMs(LOW, intervalMs / 10);
  const gaps: number[] = [];
  const lanes: TimelineLane[] = [];
  const who = new Map([
    [n1.mac, `${n1.name} (priority ${HIGH})`],
    [n2.mac, `${n2.name} (priority ${LOW})`],
  ]);
  let failed = 0;
  const backup = await impl.start(n2, LOW, intervalMs);
  try {
    for (let i = 0; i < count; i++) {
      const t1 = Date.now();
      const master = await impl.start(n1, HIGH, intervalMs);
      await master.waitMaster(t1, 10 * mdi + 5000);
      await sleep(3 * intervalMs + 200); // n2 has heard n1 and settled as backup
      const probe = await startArpProbe(lab, lab.vipsV4[0]!, { intervalMs: probeEvery });
      await sleep(100 + Math.random() * intervalMs); // a random point of the advert cycle
      const t0 = Date.now();
      if (kind === 'loss') await Promise.all([lab.setLinkDown(n1), master.kill('SIGKILL')]);
      else await master.kill('SIGTERM');
      try {
        await backup.waitMaster(t0, 3 * mdi + 2000);
      } catch {
        // counted as failed below if the client never heard n2
      }
      await sleep(Math.max(50, 3 * probeEvery));
      const res = await probe.stop();
      const first = firstAnswerAfter(res, t0, n2.mac);
      if (first) gaps.push(first.t - t0);
      else failed++;
      lanes.push({
        label: `${impl.name} #${i + 1}`,
        answers: res.answers.map((a) => ({ t: a.t - t0, who: who.get(a.mac) ?? a.mac })),
      });
      if (kind === 'loss') {
        await impl.afterKill(n1);
        await lab.setLinkUp(n1);
      }
    }
  } finally {
    await backup.kill('SIGKILL');
    await impl.afterKill(n2);
  }
  return { ...stats(gaps, failed), lanes };
}

/** probeEveryOf: the client's ARP probe spacing at one advert interval. */
function probeEveryOf(intervalMs: number): number {
  return intervalMs < 100 ? 2 : 10;
}

/** writeTimeline draws every node-loss trial of one interval, both implementations, aligned on the kill. */
function writeTimeline(intervalMs: number, result: Map<string, { loss: Stats }>, probeEvery: number): string {
  const lanes = [...result.values()].flatMap((r) => r.loss.lanes);
  const ends = [...result.values()].flatMap((r) => (Number.isFinite(r.loss.p99) ? [r.loss.p99] : []));
  const pad = Math.max(2 * intervalMs, 40);
  const svg = renderTimelineSvg({
    title: `Node loss at a ${intervalMs} ms advert interval: metal-vrrp and keepalived, one VIP`,
    subtitle: `priorities ${HIGH}/${LOW}; n1 loses its switch port and its daemon is SIGKILLed at 0; client ARP probe every ${probeEvery} ms; ${new Date().toISOString().slice(0, 10)}`,
    fromMs: -pad,
    toMs: Math.max(...ends, masterDownIntervalMs(LOW, intervalMs / 10)) + pad,
    probeIntervalMs: probeEvery,
    lanes,
    marks: [{ t: 0, label: 'kill n1' }],
  });
  mkdirSync(values['svg-dir'], { recursive: true });
  const path = join(values['svg-dir'], `failover-${intervalMs}ms.svg`);
  writeFileSync(path, svg);
  return path;
}

function fmt(n: number): string {
  return Number.isFinite(n) ? n.toFixed(1).padStart(8) : '       -';
}

let lab: Lab;

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('bench/failover needs root (network namespaces)');
  lab = await buildLab({ prefix: PREFIX, nodes: 2 });
  const impls = [ours(), keepalived()];
  const rows: string[] = [];
  try {
    console.log(
      `failover: ${TRIALS} node-loss and ${GRACEFUL} graceful trials per interval, priorities ${HIGH}/${LOW}, one IPv4 VIP; load average ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')} (2 shared cores)`,
    );
    for (const intervalMs of INTERVALS) {
      const cs = intervalMs / 10;
      const theory = `MDI(${LOW}) ${masterDownIntervalMs(LOW, cs).toFixed(1)} ms, Skew_Time ${skewTimeMs(LOW, cs).toFixed(1)} ms`;
      const result = new Map<string, { loss: Stats; graceful: Stats }>();
      for (const impl of impls) {
        const loss = await trials(impl, intervalMs, TRIALS, 'loss');
        const graceful = GRACEFUL > 0 ? await trials(impl, intervalMs, GRACEFUL, 'graceful') : stats([], 0);
        result.set(impl.name, { loss, graceful });
        console.log(
          `  ${intervalMs} ms ${impl.name}: loss median ${loss.median.toFixed(1)} p99 ${loss.p99.toFixed(1)}; graceful median ${graceful.median.toFixed(1)}`,
        );
      }
      const svgPath = writeTimeline(intervalMs, result, probeEveryOf(intervalMs));
      console.log(`  ${intervalMs} ms: timeline of the node-loss trials in ${svgPath}`);
      rows.push(`interval ${intervalMs} ms (${theory}); timeline ${svgPath}`);
      rows.push('  kind      implementation       n  failed      min   median      p99');
      for (const kind of ['loss', 'graceful'] as const) {
        for (const impl of impls) {
          const s = result.get(impl.name)![kind];
          rows.push(
            `  ${kind.padEnd(9)} ${impl.name.padEnd(16)} ${String(s.n).padStart(5)} ${String(s.failed).padStart(7)} ${fmt(s.min)} ${fmt(s.median)} ${fmt(s.p99)}`,
          );
        }
        const a = result.get('metal-vrrp')![kind];
        const b = result.get('keepalived')![kind];
        rows.push(
          `  ${kind.padEnd(9)} ratio ours/keepalived   median ${(a.median / b.median).toFixed(2)}  p99 ${(a.p99 / b.p99).toFixed(2)}`,
        );
      }
    }
  } finally {
    await lab.teardown();
  }
  console.log(`\n${rows.join('\n')}`);
}

await main();
