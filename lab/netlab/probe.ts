// probe.ts — client-side measurements for failover tests: who answers ARP/NDP for a VIP and when, ICMP echo loss,
// one HTTP request, and a raw capture.
//
// Why a Python prober: iputils arping here takes only whole seconds for -i and -w (`arping -i 0.01` → "invalid
// argument"), and after the first reply it unicasts to the MAC that answered unless -b; ndisc6 sends one
// solicitation per process. Spawning one process per probe costs milliseconds and jitters. So the prober is a
// ~50-line Python script run once in the client's namespace (python3 is already needed by node-gyp): an AF_PACKET
// socket sends a broadcast ARP request (or a multicast NS to the VIP's solicited-node group) on absolute
// deadlines every intervalMs, and reads the answers with kernel receive timestamps (SO_TIMESTAMPNS, CLOCK_REALTIME,
// the same clock as Date.now()). Measured: 10 ms interval, 600 ms run, 61 probes, 61 replies, gaps 9.75–10.32 ms; the reply
// time is the kernel's, so a failover gap is known to ± one probe interval, not ± process scheduling.
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import ipaddr from 'ipaddr.js';
import { killPids, onLines, run, spawnIn } from './exec.ts';
import type { Lab } from './netns.ts';

/** PROBER_SOURCE: argv = family ('4'|'6'), ifname, our MAC, our IP, VIP, interval ms, max duration ms. Prints
 * "ready NS", then "T_NS reply|announce MAC" per answer, then "sent N" on SIGTERM or at the max duration. */
export const PROBER_SOURCE = String.raw`
import socket, struct, sys, time, select, signal
fam, ifname, mymac, myip, vip, interval_ms, duration_ms = sys.argv[1:8]
mac = bytes.fromhex(mymac.replace(':', ''))
interval = float(interval_ms) / 1000
deadline = time.time() + float(duration_ms) / 1000
stop = []
signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
signal.signal(signal.SIGINT, lambda *_: stop.append(1))
def csum(b):
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
if fam == '4':
    etype, af = 0x0806, socket.AF_INET
    me, target = socket.inet_pton(af, myip), socket.inet_pton(af, vip)
    frame = b'\xff' * 6 + mac + b'\x08\x06' + struct.pack('!HHBBH', 1, 0x0800, 6, 4, 1) + mac + me + bytes(6) + target
else:
    etype, af = 0x86dd, socket.AF_INET6
    me, target = socket.inet_pton(af, myip), socket.inet_pton(af, vip)
    dst = bytes.fromhex('ff0200000000000000000001ff') + target[13:]
    icmp = struct.pack('!BBHI', 135, 0, 0, 0) + target + b'\x01\x01' + mac
    ck = csum(me + dst + struct.pack('!I', len(icmp)) + b'\0\0\0\x3a' + icmp)
    icmp = icmp[:2] + struct.pack('!H', ck) + icmp[4:]
    frame = b'\x33\x33' + dst[12:] + mac + b'\x86\xdd' + struct.pack('!IHBB', 0x60000000, len(icmp), 58, 255) + me + dst + icmp
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(etype))
s.bind((ifname, etype))
s.setsockopt(socket.SOL_SOCKET, 35, 1)  # SO_TIMESTAMPNS
hexmac = lambda b: ':'.join('%02x' % x for x in b)
print('ready %d' % time.time_ns(), flush=True)
sent, nxt = 0, time.monotonic()
while not stop and time.time() < deadline:
    now = time.monotonic()
    if now >= nxt:
        s.send(frame); sent += 1; nxt += interval
        continue
    if not select.select([s], [], [], nxt - now)[0]: continue
    data, anc, _, addr = s.recvmsg(2048, 64)
    if addr[2] == 4: continue  # PACKET_OUTGOING: our own probe
    ts = [struct.unpack('qq', d[:16]) for lvl, ty, d in anc if lvl == socket.SOL_SOCKET and ty == 35]
    tns = ts[0][0] * 1000000000 + ts[0][1] if ts else time.time_ns()
    if fam == '4':
        if len(data) < 42 or data[28:32] != target: continue
        reply = struct.unpack('!H', data[20:22])[0] == 2 and data[38:42] == me
        lla = data[22:28]
    else:
        if len(data) < 78 or data[20] != 58 or data[54] != 136 or data[62:78] != target: continue
        reply = bool(data[58] & 0x40)  # Solicited flag
        lla = data[80:86] if len(data) >= 86 and data[78] == 2 else data[6:12]
    print('%d %s %s' % (tns, 'reply' if reply else 'announce', hexmac(lla)), flush=True)
print('sent %d' % sent, flush=True)
`;

/** NeighAnswer is one ARP reply / neighbour advertisement for the VIP seen by the client. `kind` is 'reply' for an
 * answer to our probe (ARP reply to our IP, NA with the Solicited flag) and 'announce' for a gratuitous ARP or an
 * unsolicited NA. `mac` is the link-layer address the client would learn (ARP sender / target LL option). */
export interface NeighAnswer {
  readonly t: number; // epoch ms, µs resolution (kernel receive time)
  readonly kind: 'reply' | 'announce';
  readonly mac: string;
}

/** ArpProbeResult: `startedAt` is when the prober was ready to send, `stoppedAt` when it was told to stop. */
export interface ArpProbeResult {
  readonly vip: string;
  readonly intervalMs: number;
  readonly sent: number;
  readonly startedAt: number;
  readonly stoppedAt: number;
  readonly answers: readonly NeighAnswer[];
}

/** ArpProbe is a running prober; stop() ends it and returns everything it saw. */
export interface ArpProbe {
  readonly startedAt: number;
  stop(): Promise<ArpProbeResult>;
}

/** ProbeOptions: `intervalMs` between probes (default 10); `maxDurationMs` bounds a prober nobody stops. */
export interface ProbeOptions {
  readonly intervalMs?: number;
  readonly maxDurationMs?: number;
}

/** startArpProbe starts probing `vip` from the lab's client: ARP for IPv4, NS for IPv6 (same result shape). */
export async function startArpProbe(lab: Lab, vip: string, opts: ProbeOptions = {}): Promise<ArpProbe> {
  const intervalMs = checkInterval(opts.intervalMs ?? 10);
  const c = lab.client;
  const v6 = ipaddr.parse(vip).kind() === 'ipv6';
  const argv = ['python3', '-c', PROBER_SOURCE, v6 ? '6' : '4', c.ifname, c.mac, v6 ? c.ipv6 : c.ipv4, vip];
  const child = spawnIn(c.ns, [...argv, String(intervalMs), String(opts.maxDurationMs ?? 600_000)]);
  const answers: NeighAnswer[] = [];
  let sent = 0;
  const stderr: string[] = [];
  child.stderr?.setEncoding('utf8').on('data', (d: string) => stderr.push(d));
  const ready = new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`prober exited ${code}: ${stderr.join('')}`)));
    onLines(child, (line) => {
      const [a, b, mac] = line.split(' ');
      if (a === 'ready') resolve(nsToMs(b!));
      else if (a === 'sent') sent = Number(b);
      else if ((b === 'reply' || b === 'announce') && mac) answers.push({ t: nsToMs(a!), kind: b, mac });
    });
  });
  const startedAt = await ready;
  return {
    startedAt,
    async stop() {
      const stoppedAt = Date.now();
      const closed = once(child, 'close');
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await closed;
      return { vip, intervalMs, sent, startedAt, stoppedAt, answers };
    },
  };
}

/** arpProbe probes for `durationMs` and returns what answered; see startArpProbe. */
export async function arpProbe(
  lab: Lab,
  vip: string,
  opts: { readonly intervalMs?: number; readonly durationMs: number },
): Promise<ArpProbeResult> {
  const probe = await startArpProbe(lab, vip, { intervalMs: opts.intervalMs, maxDurationMs: opts.durationMs + 5000 });
  await sleep(opts.durationMs);
  return probe.stop();
}

/** firstAnswerAfter is the first answer at or after time `t` (epoch ms), optionally from one MAC: "when did the
 * client first hear the new master". */
export function firstAnswerAfter(res: ArpProbeResult, t: number, mac?: string): NeighAnswer | undefined {
  return res.answers.find((a) => a.t >= t && (mac === undefined || a.mac === mac));
}

/** PingProbeResult: `lost` holds only sequence numbers ping reported as "no answer yet" and that never got a late
 * reply, so a packet in flight when the probe stopped is not counted; `longestGap` is between consecutive replies. */
export interface PingProbeResult {
  readonly vip: string;
  readonly intervalMs: number;
  readonly transmitted: number;
  readonly replies: readonly { readonly seq: number; readonly t: number }[];
  readonly lost: readonly number[];
  readonly maxConsecutiveLost: number;
  readonly effectiveIntervalMs: number | null; // median time between consecutive replies
  readonly longestGap: { readonly from: number; readonly to: number; readonly ms: number } | null;
}

/** parsePing turns `ping -n -D -O` output into a PingProbeResult; pure, so it is tested on fixed text. */
export function parsePing(text: string, vip: string, intervalMs: number): PingProbeResult {
  const replies: { seq: number; t: number }[] = [];
  const unanswered = new Set<number>();
  let transmitted = 0;
  for (const line of text.split('\n')) {
    const reply = /^\[(\d+\.\d+)\] \d+ bytes from .*icmp_seq=(\d+)/.exec(line);
    const missing = /^\[\d+\.\d+\] no answer yet for icmp_seq=(\d+)/.exec(line);
    const summary = /^(\d+) packets transmitted/.exec(line);
    if (reply) replies.push({ seq: Number(reply[2]), t: Number(reply[1]) * 1000 });
    else if (missing) unanswered.add(Number(missing[1]));
    else if (summary) transmitted = Number(summary[1]);
  }
  for (const r of replies) unanswered.delete(r.seq);
  const lost = [...unanswered].sort((a, b) => a - b);
  let maxConsecutiveLost = 0;
  for (let i = 0, run = 0; i < lost.length; i++) {
    run = i > 0 && lost[i] === lost[i - 1]! + 1 ? run + 1 : 1;
    maxConsecutiveLost = Math.max(maxConsecutiveLost, run);
  }
  const sorted = [...replies].sort((a, b) => a.t - b.t);
  let longestGap: PingProbeResult['longestGap'] = null;
  const diffs: number[] = [];
  for (let i = 1; i < sorted.length; i++) {
    const ms = sorted[i]!.t - sorted[i - 1]!.t;
    diffs.push(ms);
    if (!longestGap || ms > longestGap.ms) longestGap = { from: sorted[i - 1]!.t, to: sorted[i]!.t, ms };
  }
  diffs.sort((a, b) => a - b);
  const effectiveIntervalMs = diffs.length > 0 ? diffs[Math.floor(diffs.length / 2)]! : null;
  return { vip, intervalMs, transmitted, replies, lost, maxConsecutiveLost, effectiveIntervalMs, longestGap };
}

/** PingProbe is a running `ping`; stop() sends SIGINT (ping prints its summary) and parses the output. */
export interface PingProbe {
  stop(): Promise<PingProbeResult>;
}

/**
 * startPingProbe runs `ping -n -D -O -i interval VIP` in the client. -D stamps each line with the wall clock when
 * ping read the reply (user space); -O reports each seq that got no reply before the next was sent.
 * Measured (iputils 20221126, as root): ping does not keep intervals of 10 ms or more: -i 0.01 sends every 16.0 ms,
 * -i 0.02 every ~23 ms, -i 0.05 every ~52 ms, while -i 0.009 gives 8.8 ms and -i 0.005 5.0 ms (below 10 ms it
 * spins instead of waiting in recvmsg with a receive timeout). Hence `effectiveIntervalMs` in the result. And
 * while a reply is outstanding (an outage) ping sends only every 10 ms (its MININTERVAL) whatever -i says, so count
 * lost seqs as "how many probes went unanswered", and read the outage length from `longestGap`.
 */
export async function startPingProbe(lab: Lab, vip: string, opts: ProbeOptions = {}): Promise<PingProbe> {
  const intervalMs = checkInterval(opts.intervalMs ?? 10);
  const deadline = String(Math.ceil((opts.maxDurationMs ?? 600_000) / 1000));
  const child = spawnIn(lab.client.ns, [
    'ping',
    '-n',
    '-D',
    '-O',
    '-i',
    String(intervalMs / 1000),
    '-w',
    deadline,
    vip,
  ]);
  let out = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  const closed = once(child, 'close');
  return {
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
      await closed;
      return parsePing(out, vip, intervalMs);
    },
  };
}

/** pingProbe pings `vip` from the client every intervalMs for durationMs; see startPingProbe. */
export async function pingProbe(
  lab: Lab,
  vip: string,
  opts: { readonly intervalMs?: number; readonly durationMs: number },
): Promise<PingProbeResult> {
  const probe = await startPingProbe(lab, vip, { intervalMs: opts.intervalMs, maxDurationMs: opts.durationMs + 5000 });
  await sleep(opts.durationMs);
  return probe.stop();
}

/** curlOnce fetches http://VIP:port/ from the client and returns the trimmed body, or null when nothing answered
 * within timeoutMs (a failed request is a measurement, not an error). */
export async function curlOnce(
  lab: Lab,
  vip: string,
  opts: { readonly port?: number; readonly timeoutMs?: number } = {},
): Promise<string | null> {
  const host = ipaddr.parse(vip).kind() === 'ipv6' ? `[${vip}]` : vip;
  const url = `http://${host}:${opts.port ?? 80}/`;
  const res = await run(lab.client.ns, ['curl', '-s', '-g', '-m', String((opts.timeoutMs ?? 2000) / 1000), url]);
  return res.code === 0 ? res.stdout.trim() : null;
}

/** Capture is a running tcpdump; stop() ends it and returns its lines (`-tt -n -e`: epoch time, MACs). */
export interface Capture {
  stop(): Promise<string[]>;
}

/** startCapture runs tcpdump on `ifname` in `ns` with a BPF filter and resolves once it listens (tcpdump says so on
 * stderr), so nothing sent after this resolves is missed. */
export async function startCapture(ns: string, ifname: string, filter: string): Promise<Capture> {
  const child = spawnIn(ns, ['tcpdump', '-l', '-n', '-e', '-tt', '-i', ifname, filter]);
  const lines: string[] = [];
  onLines(child, (line) => lines.push(line));
  await new Promise<void>((resolve, reject) => {
    let err = '';
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      err += d;
      if (err.includes('listening on')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`tcpdump exited ${code}: ${err}`)));
  });
  return {
    async stop() {
      const closed = once(child, 'close');
      if (child.pid !== undefined && child.exitCode === null) await killPids([child.pid]);
      await closed;
      return lines;
    },
  };
}

/** TsharkCapture is a running tshark; stop() ends it and returns one array of field values per packet. */
export interface TsharkCapture {
  stop(): Promise<string[][]>;
}

/**
 * startTshark runs `tshark -T fields` on `ifname` in `ns` with a capture filter and the named fields, resolving once
 * it captures (tshark says "Capturing on" on stderr), so nothing sent after this resolves is missed.
 */
export async function startTshark(
  ns: string,
  ifname: string,
  filter: string,
  fields: readonly string[],
): Promise<TsharkCapture> {
  const argv = ['tshark', '-l', '-n', '-i', ifname, '-f', filter, '-T', 'fields', ...fields.flatMap((f) => ['-e', f])];
  const child = spawnIn(ns, argv);
  const rows: string[][] = [];
  onLines(child, (line) => rows.push(line.split('\t')));
  await new Promise<void>((resolve, reject) => {
    let err = '';
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      err += d;
      if (err.includes('Capturing on')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`tshark exited ${code}: ${err}`)));
  });
  return {
    async stop() {
      await sleep(200); // let tshark print what it has read
      const closed = once(child, 'close');
      if (child.pid !== undefined && child.exitCode === null) await killPids([child.pid]);
      await closed;
      return rows;
    },
  };
}

/** nsToMs converts integer nanoseconds since the epoch (too big for a double) to ms with µs resolution. */
function nsToMs(ns: string): number {
  return Number(BigInt(ns) / 1000n) / 1000;
}

/** checkInterval refuses intervals the tools cannot keep (ping as root accepts down to 1 ms here). */
function checkInterval(ms: number): number {
  if (!Number.isFinite(ms) || ms < 1) throw new Error(`intervalMs must be >= 1, got ${ms}`);
  return ms;
}
