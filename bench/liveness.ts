/**
 * Liveness benchmark: node loss with many VIPs mastered by the dead node, with and without the BFD liveness signal,
 * in Kubernetes mode (real kube-apiserver and kube-proxy, real controller, `metal-vrrp speaker` per node; lab/kube/k8s-lab.ts).
 * Prints figures, asserts nothing.
 * Needs root (network namespaces); the npm script holds the machine-wide network lock (/tmp/metal-vrrp-net.lock).
 *
 *   npm run bench:liveness -- [--trials 10] [--nodes 2] [--services 210] [--advert-interval 100ms]
 *                              [--liveness-interval 20ms] [--liveness-multiplier 3] [--modes bfd,off]
 *                              [--realtime-priority 0]   (the speakers' --realtime-priority: SCHED_RR when > 0)
 *
 * A trial: every Service mastered by its best node; at a random point of the advert cycle the node that masters
 * the most VIPs loses its switch port and its speaker is SIGKILLed. The client probes every lost VIP with ARP
 * requests (round-robin, at most --probe-rate frames/s in all, so the probe does not flood the speakers) and
 * records, per VIP, the kernel receive time of the first ARP frame (reply or gratuitous) from the new master's MAC.
 * Measured per trial: kill → the last of those VIPs answered ("all VIPs"), and per VIP. Then the node comes back
 * (link up, speaker restarted) and preempts, so every trial starts from the same roles.
 */
import type { ChildProcess } from 'node:child_process';
import { loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { type K8sLab, startK8sLab } from '../lab/kube/k8s-lab.ts';
import { killPids, onLines, spawnIn } from '../lab/netlab/exec.ts';
import { isStateChange, type LogLine, metricValue } from '../lab/netlab/speaker.ts';
import { masterDownIntervalMs } from '../vrrp/timing.ts';

const { values } = parseArgs({
  options: {
    trials: { type: 'string', default: '10' },
    nodes: { type: 'string', default: '2' },
    services: { type: 'string', default: '210' },
    'advert-interval': { type: 'string', default: '100ms' },
    'liveness-interval': { type: 'string', default: '20ms' },
    'liveness-multiplier': { type: 'string', default: '3' },
    modes: { type: 'string', default: 'bfd,off' },
    'probe-rate': { type: 'string', default: '4000' },
    'realtime-priority': { type: 'string', default: '0' },
  },
});
const TRIALS = Number(values.trials);
const MODES = values.modes.split(',') as ('bfd' | 'off')[];
const ADVERT_MS =
  Number.parseInt(values['advert-interval'], 10) * (values['advert-interval'].endsWith('ms') ? 1 : 1000);

/** MULTI_PROBER: argv = ifname, our MAC, our IP, the new master's MAC, frames per second, max ms, then the VIPs.
 * Prints "ready", then "T_NS VIP" for the first ARP frame from the new MAC about each VIP, then "done". */
const MULTI_PROBER = String.raw`
import socket, struct, sys, time, select, signal
ifname, mymac, myip, newmac, rate, duration_ms = sys.argv[1:7]
vips = sys.argv[7:]
mac = bytes.fromhex(mymac.replace(':', ''))
new = bytes.fromhex(newmac.replace(':', ''))
me = socket.inet_aton(myip)
frames = {v: b'\xff' * 6 + mac + b'\x08\x06' + struct.pack('!HHBBH', 1, 0x0800, 6, 4, 1) + mac + me + bytes(6) + socket.inet_aton(v) for v in vips}
pending = list(vips)
byaddr = {socket.inet_aton(v): v for v in vips}
gap = 1.0 / float(rate)
deadline = time.time() + float(duration_ms) / 1000
stop = []
signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0806))
s.bind((ifname, 0x0806))
s.setsockopt(socket.SOL_SOCKET, 35, 1)
print('ready', flush=True)
i, nxt = 0, time.monotonic()
while pending and not stop and time.time() < deadline:
    now = time.monotonic()
    if now >= nxt:
        i = (i + 1) % len(pending)
        s.send(frames[pending[i]]); nxt += gap
        if nxt < now: nxt = now + gap
        continue
    if not select.select([s], [], [], nxt - now)[0]: continue
    data, anc, _, addr = s.recvmsg(2048, 64)
    if addr[2] == 4 or len(data) < 42 or data[22:28] != new: continue
    v = byaddr.get(data[28:32])
    if v is None or v not in pending: continue
    ts = [struct.unpack('qq', d[:16]) for lvl, ty, d in anc if lvl == socket.SOL_SOCKET and ty == 35]
    tns = ts[0][0] * 1000000000 + ts[0][1] if ts else time.time_ns()
    pending.remove(v)
    print('%d %s' % (tns, v), flush=True)
print('done %d' % len(pending), flush=True)
`;

interface Probe {
  readonly child: ChildProcess;
  readonly firsts: Map<string, number>; // VIP -> epoch ms of the first frame from the new master
  readonly done: Promise<void>;
}

async function startMultiProbe(k: K8sLab, vips: readonly string[], newMac: string): Promise<Probe> {
  const c = k.lab.client;
  const argv = ['python3', '-c', MULTI_PROBER, c.ifname, c.mac, c.ipv4, newMac, values['probe-rate'], '30000', ...vips];
  const child = spawnIn(c.ns, argv);
  const firsts = new Map<string, number>();
  let ready: () => void = () => {};
  let finished: () => void = () => {};
  const isReady = new Promise<void>((r) => (ready = r));
  const done = new Promise<void>((r) => (finished = r));
  onLines(child, (raw) => {
    const line = raw.trim();
    if (line === 'ready') ready();
    else if (line.startsWith('done')) finished();
    else {
      const [t, vip] = line.split(' ');
      if (t && vip) firsts.set(vip, Number(t) / 1e6);
    }
  });
  child.once('exit', () => finished());
  await isReady;
  return { child, firsts, done };
}

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

function summary(label: string, xs: readonly number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  const f = (v: number) => v.toFixed(1).padStart(8);
  return `${label.padEnd(28)} n=${String(s.length).padStart(5)}  p50 ${f(quantile(s, 0.5))}  p99 ${f(quantile(s, 0.99))}  max ${f(s.at(-1) ?? Number.NaN)} ms`;
}

/** TrialTiming is one survivor's view of a trial, from its logs and metrics (ms). */
interface TrialTiming {
  /** detectMs: kill → "liveness: peer down"; lateMs: how late the BFD detection timer ran. */
  readonly detectMs: number;
  readonly lateMs: number;
  /**
   * spreadMs: "liveness: peer down" → the last takeover: the last "liveness takeover batch" line (written once the
   * batch's adverts and first GARPs left), or without batches the last per-VIP line (written after its sends).
   */
  readonly spreadMs: number;
  /** lagMaxMs: the event loop's worst delay over the trial (nodejs_eventloop_lag_max_seconds since the last scrape). */
  readonly lagMaxMs: number;
}

/** logTime is a speaker log line's own timestamp (pino isoTime), epoch ms. */
function logTime(l: LogLine): number {
  const t = Date.parse(String(l['time']));
  return Number.isFinite(t) ? t : l.t;
}

async function trial(
  k: K8sLab,
  alive: string[],
): Promise<{ all: number; perVip: number[]; lost: number; missing: number; story: string; timing: TrialTiming[] }> {
  await k.waitFor(
    'every Service on its best node',
    () => k.services.every((s) => k.masterOf(s) === k.rankingOf(s, alive)[0]!.node),
    120_000,
  );
  const count = (n: string) => k.services.filter((s) => k.rankingOf(s, alive)[0]!.node === n).length;
  const victim = [...alive].sort((a, b) => count(b) - count(a))[0]!;
  const rest = alive.filter((n) => n !== victim);
  const lost = k.services.filter((s) => k.rankingOf(s, alive)[0]!.node === victim);
  // With two nodes every lost VIP goes to the other one; with more, probe per next node.
  const byNext = new Map<string, string[]>();
  for (const s of lost) {
    const next = k.rankingOf(s, rest)[0]!.node;
    byNext.set(next, [...(byNext.get(next) ?? []), k.vipOf(s)]);
  }
  const sessionsUp = await Promise.all(
    rest.map(
      async (n) =>
        metricValue(await k.speakers.get(n)!.metrics(), 'metal_vrrp_liveness_sessions', { state: 'up' }) ?? 0,
    ),
  );
  const probes = await Promise.all([...byNext].map(([next, vips]) => startMultiProbe(k, vips, k.hostOf(next).mac)));
  await sleep(100 + Math.random() * ADVERT_MS);
  // The kill is one kill(2) from this process, so t0 is when the node stopped sending; the port goes down after
  // (spawning `ip` takes milliseconds on a loaded machine, which would otherwise count against the failover).
  const t0 = Date.now();
  const killed = k.speakers.get(victim)!.kill('SIGKILL');
  await Promise.all([k.lab.setLinkDown(k.hostOf(victim)), killed]);
  await Promise.race([Promise.all(probes.map((p) => p.done)), sleep(15_000)]);
  await killPids(probes.map((p) => p.child.pid!).filter(Boolean));
  const perVip = probes.flatMap((p) => [...p.firsts.values()].map((t) => t - t0));
  const missing = lost.length - perVip.length;
  // What the survivors logged: BFD peer-down, and their takeovers by reason (speaker log times, ms after the kill).
  const lostVips = new Set(lost.map((sv) => k.vipOf(sv)));
  // Times from the speaker's own log timestamps (pino `time`, ms), not from when this process read the lines.
  const lag = await Promise.all(
    rest.map(async (n) => {
      const text = await k.speakers.get(n)!.metrics();
      return (metricValue(text, 'nodejs_eventloop_lag_max_seconds') ?? Number.NaN) * 1000;
    }),
  );
  const timing: TrialTiming[] = [];
  const story = rest
    .map((n, i) => {
      const logs = k.speakers.get(n)!.logs.filter((l) => logTime(l) >= t0);
      const bfd = logs.find((l) => l['msg'] === 'bfd session down');
      const down = logs.find((l) => l['msg'] === 'liveness: peer down');
      const reasons = new Map<string, number>();
      const ts: number[] = [];
      for (const l of logs) {
        if (!isStateChange('master')(l) || !lostVips.has(String(l['vip']))) continue;
        const r = String(l['reason']);
        reasons.set(r, (reasons.get(r) ?? 0) + 1);
        ts.push(logTime(l) - t0);
      }
      const rs = [...reasons].map(([r, c]) => `${c} ${r}`).join(', ') || 'none';
      const span = ts.length ? ` at ${Math.min(...ts)}..${Math.max(...ts)} ms` : '';
      const detected = down ? logTime(down) - t0 : undefined;
      // A takeover batch writes its line once its adverts and first GARPs have left, and the per-VIP lines after.
      const batchLines = logs.filter((l) => l['msg'] === 'liveness takeover batch');
      const lastTakeover = batchLines.length ? Math.max(...batchLines.map((l) => logTime(l) - t0)) : Math.max(...ts);
      if (detected !== undefined && ts.length > 0) {
        timing.push({
          detectMs: detected,
          lateMs: Number(bfd?.['lateMs'] ?? Number.NaN),
          spreadMs: lastTakeover - detected,
          lagMaxMs: lag[i]!,
        });
      }
      const batches = logs.filter((l) => l['msg'] === 'liveness takeover batch');
      const batch = batches.length
        ? `, ${batches.length} takeover batch(es): ${batches.map((b) => `${b['routers']} routers in ${b['tookMs']} ms`).join(', ')}`
        : '';
      const late =
        bfd?.['lateMs'] === undefined ? '' : ` (timer ${bfd['lateMs']} ms late, silent ${bfd['silentMs']} ms)`;
      return `${n}: ${sessionsUp[i]} BFD up before, peer-down ${detected === undefined ? 'not logged' : `${detected} ms${late}`}, takeovers ${rs}${span}${batch}, loop lag max ${lag[i]!.toFixed(1)} ms`;
    })
    .join('; ');
  await k.lab.setLinkUp(k.hostOf(victim));
  await k.startSpeaker(victim);
  return { all: missing > 0 ? Number.NaN : Math.max(...perVip), perVip, lost: lost.length, missing, story, timing };
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('bench/liveness needs root (network namespaces)');
  const nodes = Number(values.nodes);
  console.log(
    `liveness: ${TRIALS} node-loss trials per mode, ${nodes} nodes, ${values.services} Services, adverts ${values['advert-interval']}, BFD ${values['liveness-interval']} × ${values['liveness-multiplier']}, speakers' real-time priority ${values['realtime-priority']} (0: normal)`,
  );
  console.log(
    `machine load average at start: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')} (2 cores, shared)`,
  );
  console.log('starting the cluster (real kube-apiserver, kube-proxy, controller, speakers)…');
  const k = await startK8sLab({
    prefix: 'lvb',
    nodes,
    services: Number(values.services),
    speakerArgs: ['--realtime-priority', values['realtime-priority']],
    poolAnnotations: {
      'metal-vrrp.io/advert-interval': values['advert-interval'],
      'metal-vrrp.io/liveness-interval': values['liveness-interval'],
      'metal-vrrp.io/liveness-multiplier': values['liveness-multiplier'],
      'metal-vrrp.io/liveness': MODES[0]!,
    },
  });
  const rows: string[] = [];
  // Ctrl-C or SIGTERM: remove what was built before leaving (finally blocks do not run on a signal).
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      console.log(`${sig}: removing the lab…`);
      void k.stop().finally(() => process.exit(130));
    });
  }
  try {
    const alive = k.lab.nodes.map((n) => n.name);
    for (const mode of MODES) {
      await k.annotatePool({ 'metal-vrrp.io/liveness': mode });
      await sleep(2000);
      const all: number[] = [];
      const perVip: number[] = [];
      const timings: TrialTiming[] = [];
      let failed = 0;
      let lostN = 0;
      for (let i = 0; i < TRIALS; i++) {
        const r = await trial(k, alive);
        lostN = r.lost;
        if (r.missing > 0) failed++;
        else all.push(r.all);
        perVip.push(...r.perVip);
        timings.push(...r.timing);
        console.log(
          `  ${mode} trial ${i + 1}/${TRIALS}: ${r.lost} VIPs lost, all answered by the new master after ${r.all.toFixed(1)} ms${r.missing ? ` (${r.missing} never answered)` : ''}`,
        );
        console.log(`    ${r.story}`);
      }
      rows.push(`liveness ${mode}: ${lostN} VIPs mastered by the dead node, ${failed} trials incomplete`);
      rows.push(`  ${summary('all VIPs answered', all)}`);
      rows.push(`  ${summary('each VIP answered', perVip)}`);
      if (timings.length > 0) {
        rows.push(
          `  ${summary(
            'kill → peer down (log)',
            timings.map((t) => t.detectMs),
          )}`,
        );
        rows.push(`  ${summary('BFD timer lateness', timings.map((t) => t.lateMs).filter(Number.isFinite))}`);
        rows.push(
          `  ${summary(
            'peer down → last takeover',
            timings.map((t) => t.spreadMs),
          )}`,
        );
        rows.push(`  ${summary('event-loop lag max', timings.map((t) => t.lagMaxMs).filter(Number.isFinite))}`);
      }
    }
  } finally {
    await k.stop();
  }
  const mdi = masterDownIntervalMs(128, ADVERT_MS / 10);
  console.log(`\n(Master_Down_Interval at priority 128: ${mdi.toFixed(1)} ms)`);
  console.log(
    `machine load average at the end: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  console.log('times: kill → first ARP frame (reply or gratuitous) from the new master, kernel receive time');
  console.log(rows.join('\n'));
}

await main();
