/**
 * ARP / NDP answer latency: our two responders against the kernel, in the same run. On a lab LAN, n1 and n2 run our
 * speaker with `--routers` IPv4 and as many IPv6 routers at `--interval` ms (default 255 + 255 at 100 ms, so each
 * speaker has its usual work to do); n1 masters the odd VRIDs and n2 the even ones (each the other's backup). n1
 * answers ARP/NDP from XDP (`xdpAnswers: --xdp`, default auto: generic XDP on these veths), n2 from the addon's
 * native thread. A prober in the client namespace (this file with --probe, an AF_PACKET socket) asks, round robin
 * every `--every` ms, for six targets over ARP and over NDP (NS): a VIP of n1 (`xdp`), a VIP of n2 (`thread`) and
 * n1's own address bound on eth0 (`kernel`, answered by n1's kernel). Latency is from the prober's send to the
 * prober's receive, so the prober's own delays are in every column alike.
 * Phases: `steady` (`--seconds`, default 20) then `takeover`: n1's speaker is stopped (SIGTERM: priority 0), n2
 * takes over n1's VIPs, and their answers (n2's thread) of the 2 s after n2's first answer are reported apart (late
 * batches were seen there). Prints progress, p50 / p99 / max with n and lost, and the ratios to the kernel; asserts
 * nothing. Needs root.
 *
 *   npm run bench:arp-latency -- [--seconds 20] [--every 2.5] [--routers 255] [--interval 100] [--xdp auto]
 */
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { spawnIn } from '../lab/netlab/exec.ts';
import { buildLab, hostAddress, type Lab, type LabHost, teardownByPrefix } from '../lab/netlab/netns.ts';
import { isStateChange, REPO, type RouterOptions, startSpeaker } from '../lab/netlab/speaker.ts';
import { ARP_OP, arpFrame, decodeArp } from '../src/net/frames/arp.ts';
import { ipv6Filter, notOutgoingFilter } from '../src/net/frames/bpf.ts';
import { BROADCAST_MAC, decodeEthernet, ETHERTYPE, ZERO_MAC } from '../src/net/frames/ethernet.ts';
import { decodeIpv6 } from '../src/net/frames/ipv6.ts';
import { decodeNd, ICMPV6, ND_TYPE, neighborSolicitationFrame } from '../src/net/frames/ndp.ts';
import { readInterfaceInfo } from '../src/net/interface-info.ts';
import { PacketSocket } from '../src/net/packet-socket.ts';

const PREFIX = 'mvarp';
const { values } = parseArgs({
  options: {
    probe: { type: 'boolean', default: false },
    targets: { type: 'string' },
    seconds: { type: 'string', default: '20' },
    every: { type: 'string', default: '2.5' },
    routers: { type: 'string', default: '255' },
    interval: { type: 'string', default: '100' },
    xdp: { type: 'string', default: 'auto' },
  },
});
const EVERY_MS = Number(values.every);
const T0 = Date.now();

function progress(msg: string): void {
  console.log(`[${((Date.now() - T0) / 1000).toFixed(0).padStart(4)} s] ${msg}`);
}

/** Target is one address probed: who should answer it and over which protocol. */
interface Target {
  readonly name: string; // e.g. 'ours-arp'
  readonly family: 'ipv4' | 'ipv6';
  readonly ip: string;
}

/** Sample is one probe as the prober reports it (one JSON line): latency null when no answer came before the next. */
interface Sample {
  readonly target: string;
  readonly at: number; // ms since the prober started
  readonly ms: number | null;
  readonly mac?: string;
}

/** probe runs in the client namespace: sends the probes, prints one Sample per line on stdout until SIGTERM. */
function probe(targets: readonly Target[]): void {
  const info = readInterfaceInfo('eth0');
  if (!info.ok) throw new Error(`eth0: ${info.detail}`);
  const { mac, index } = info;
  const ip4 = info.ipv4[0]!;
  const ip6 = info.ipv6.find((a) => !a.startsWith('fe80'))!;
  const start = process.hrtime.bigint();
  const outstanding = new Map<string, bigint>(); // target ip -> send time
  const byIp = new Map(targets.map((t) => [t.ip, t]));
  const emit = (s: Sample) => process.stdout.write(`${JSON.stringify(s)}\n`);
  const answered = (ip: string, from: string) => {
    const sent = outstanding.get(ip);
    const t = byIp.get(ip);
    if (sent === undefined || t === undefined) return;
    outstanding.delete(ip);
    const now = process.hrtime.bigint();
    emit({ target: t.name, at: Number(sent - start) / 1e6, ms: Number(now - sent) / 1e6, mac: from });
  };
  const arp = PacketSocket.open({
    ifindex: index,
    ethertype: ETHERTYPE.arp,
    filter: notOutgoingFilter(),
    onFrame: (frame) => {
      const eth = decodeEthernet(frame);
      if (!eth.ok) return;
      const a = decodeArp(eth.payload);
      if (a.ok && a.op === ARP_OP.reply) answered(a.senderIp, a.senderMac);
    },
  });
  const ndp = PacketSocket.open({
    ifindex: index,
    ethertype: ETHERTYPE.ipv6,
    filter: ipv6Filter(ICMPV6, ND_TYPE.advertisement),
    onFrame: (frame) => {
      const eth = decodeEthernet(frame);
      if (!eth.ok) return;
      const ip = decodeIpv6(eth.payload);
      if (!ip.ok) return;
      const nd = decodeNd(ip.payload);
      if (nd.ok && nd.type === ND_TYPE.advertisement) answered(nd.target, nd.targetLinkLayer ?? eth.src);
    },
  });
  const frames = new Map<string, Buffer>();
  for (const t of targets) {
    const f =
      t.family === 'ipv4'
        ? arpFrame(BROADCAST_MAC, mac, {
            op: ARP_OP.request,
            senderMac: mac,
            senderIp: ip4,
            targetMac: ZERO_MAC,
            targetIp: t.ip,
          })
        : neighborSolicitationFrame({ srcMac: mac, src: ip6, target: t.ip });
    if (f === undefined) throw new Error(`cannot build a probe for ${t.ip}`);
    frames.set(t.ip, f);
  }
  let i = 0;
  const timer = setInterval(() => {
    const t = targets[i++ % targets.length]!;
    const pending = outstanding.get(t.ip);
    if (pending !== undefined) emit({ target: t.name, at: Number(pending - start) / 1e6, ms: null });
    outstanding.set(t.ip, process.hrtime.bigint());
    (t.family === 'ipv4' ? arp : ndp).send(frames.get(t.ip)!);
  }, EVERY_MS);
  process.once('SIGTERM', () => {
    clearInterval(timer);
    arp.close();
    ndp.close();
  });
}

const sortedOf = (xs: readonly number[]) => [...xs].sort((a, b) => a - b);
function pct(sorted: readonly number[], p: number): number {
  return sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;
}

function summary(samples: readonly Sample[], target: string): { line: string; p50: number; p99: number } {
  const mine = samples.filter((s) => s.target === target);
  const ok = sortedOf(mine.filter((s) => s.ms !== null).map((s) => s.ms!));
  const lost = mine.length - ok.length;
  const p50 = pct(ok, 0.5);
  const p99 = pct(ok, 0.99);
  const line =
    `${target.padEnd(12)} p50 ${p50.toFixed(3)} ms, p99 ${p99.toFixed(3)} ms, max ${(ok.at(-1) ?? Number.NaN).toFixed(3)} ms ` +
    `(n=${ok.length}, lost ${lost})`;
  return { line, p50, p99 };
}

/** loadavg is the 1-minute load average, the machine's load while measuring. */
function loadavg(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ')[0]!;
}

/** routers: `count` routers per family; `priorityOf(vrid)` says who masters which (n1 the odd VRIDs, n2 the even). */
function routers(lab: Lab, priorityOf: (vrid: number) => number, count: number): RouterOptions[] {
  const out: RouterOptions[] = [];
  for (let vrid = 1; vrid <= count; vrid++) {
    const priority = priorityOf(vrid);
    out.push({ vrid, priority, vips: [hostAddress(lab.ipv4Subnet, 256 + vrid)] });
    out.push({ vrid, priority, vips: [hostAddress(lab.ipv6Subnet, 0x10000 + vrid)] });
  }
  return out;
}

/** answeredBy names what answers ARP/NDP in a speaker, from its start-up log lines. */
function answeredBy(logs: readonly Record<string, unknown>[]): string {
  const xdp = logs.find((l) => l['msg'] === 'ARP/NDP answered by XDP');
  if (xdp !== undefined) return `XDP (${xdp['mode']})`;
  const native = logs.find((l) => String(l['msg']).startsWith('ARP/NDP answered by the native'));
  return native === undefined ? 'JS responders' : `native thread${native['realtime'] ? ', SCHED_FIFO' : ''}`;
}

async function main(): Promise<void> {
  const seconds = Number(values.seconds);
  const count = Number(values.routers);
  const interval = Number(values.interval);
  if (!(count >= 2)) throw new Error('--routers: at least 2 (n1 masters the odd VRIDs, n2 the even)');
  await teardownByPrefix(PREFIX);
  const lab = await buildLab({ prefix: PREFIX, nodes: 2, ipv4Subnet: '10.79.0.0/16', ipv6Subnet: 'fd00:79::/64' });
  try {
    const [n1, n2] = lab.nodes as [LabHost, LabHost];
    console.log(
      `arp-latency: ${count} IPv4 + ${count} IPv6 routers at ${interval} ms on n1 (master of the odd VRIDs, XDP ` +
        `answers: ${values.xdp}) and n2 (master of the even ones, native thread); a probe every ${EVERY_MS} ms round ` +
        `robin over 6 targets; ${seconds} s steady, then a takeover; node ${process.version}`,
    );
    progress('starting the speakers ...');
    const odd = (high: boolean) => (vrid: number) => ((vrid % 2 === 1) === high ? 200 : 100);
    const s1 = await startSpeaker(
      n1,
      { routers: routers(lab, odd(true), count), advertIntervalMs: interval, xdpAnswers: values.xdp! },
      60_000,
    );
    const mastered = new Set<string>();
    await s1.waitForLog((l) => {
      if (isStateChange('master')(l)) mastered.add(`${l['family']}/${l['vrid']}`);
      return mastered.size >= 2 * count;
    }, 60_000);
    const s2 = await startSpeaker(n2, { routers: routers(lab, odd(false), count), advertIntervalMs: interval }, 60_000);
    const taken = new Set<string>();
    await s2.waitForLog((l) => {
      if (isStateChange('master')(l)) taken.add(`${l['family']}/${l['vrid']}`);
      return taken.size >= 2 * Math.floor(count / 2);
    }, 60_000);
    await sleep(3000);
    progress(
      `n1 master of the odd VRIDs (ARP/NDP answered by ${answeredBy(s1.logs)}), n2 of the even ones ` +
        `(${answeredBy(s2.logs)}); probing ...`,
    );
    const load0 = loadavg();
    const targets: Target[] = [
      { name: 'xdp-arp', family: 'ipv4', ip: hostAddress(lab.ipv4Subnet, 257) },
      { name: 'thread-arp', family: 'ipv4', ip: hostAddress(lab.ipv4Subnet, 258) },
      { name: 'kernel-arp', family: 'ipv4', ip: n1.ipv4 },
      { name: 'xdp-ndp', family: 'ipv6', ip: hostAddress(lab.ipv6Subnet, 0x10001) },
      { name: 'thread-ndp', family: 'ipv6', ip: hostAddress(lab.ipv6Subnet, 0x10002) },
      { name: 'kernel-ndp', family: 'ipv6', ip: n1.ipv6 },
    ];
    const argv = [
      process.execPath,
      '--import',
      'tsx',
      `${REPO}bench/arp-latency.ts`,
      '--probe',
      '--every',
      String(EVERY_MS),
      '--targets',
      JSON.stringify(targets),
    ];
    const prober = spawnIn(lab.client.ns, argv, { cwd: REPO });
    const samples: Sample[] = [];
    createInterface({ input: prober.stdout! }).on('line', (l) => {
      if (l.startsWith('{')) samples.push(JSON.parse(l) as Sample);
    });
    prober.stderr?.setEncoding('utf8').on('data', (d: string) => process.stderr.write(d));
    for (let s = 5; s <= seconds; s += 5) {
      await sleep(5000);
      progress(`steady: ${s}/${seconds} s, ${samples.length} probes`);
    }
    const steadyEnd = samples.length;
    const load1 = loadavg();
    progress('takeover: stopping n1 (SIGTERM, priority 0) ...');
    await s1.kill('SIGTERM');
    await sleep(3000);
    prober.kill('SIGTERM');
    await sleep(300);
    await s2.kill('SIGTERM');

    const steady = samples.slice(0, steadyEnd);
    console.log(
      `\nsteady (${seconds} s), latency from the prober's send to its receive; load average ${load0} -> ${load1}:`,
    );
    const rows = Object.fromEntries(targets.map((t) => [t.name, summary(steady, t.name)]));
    for (const t of targets) console.log(rows[t.name]!.line);
    for (const fam of ['arp', 'ndp']) {
      const k = rows[`kernel-${fam}`]!;
      for (const who of ['xdp', 'thread']) {
        const o = rows[`${who}-${fam}`]!;
        console.log(
          `ratio ${who}/kernel ${fam}: p50 ${(o.p50 / k.p50).toFixed(2)}x, p99 ${(o.p99 / k.p99).toFixed(2)}x`,
        );
      }
    }
    const after = samples.slice(steadyEnd);
    for (const fam of ['arp', 'ndp']) {
      const first = after.find((s) => s.target === `xdp-${fam}` && s.ms !== null && s.mac === n2.mac);
      if (first === undefined) {
        console.log(`takeover ${fam}: n2 never answered`);
        continue;
      }
      const window = after.filter((s) => s.at >= first.at && s.at < first.at + 2000);
      console.log(
        `takeover, n1's VIP in the 2 s after n2's first ${fam} answer (n2's thread): ${summary(window, `xdp-${fam}`).line}`,
      );
    }
  } finally {
    await teardownByPrefix(PREFIX);
  }
}

if (values.probe) probe(JSON.parse(values.targets ?? '[]') as Target[]);
else await main();
