// arp-flood.ts — load from the client for the soak bench and the flood test: an ARP request flood (a Python
// AF_PACKET sender in the client namespace, round robin over the target addresses at a fixed rate) and an ARP
// latency prober that asks, in turns, for one VIP (answered by a speaker) and for one node's own address (answered
// by that node's kernel), so both latencies come from one run under the same load.
//
// The flood uses its own source MAC and IP (FLOOD_MAC, the client's subnet's .253), so the answers it provokes go to
// that MAC and the prober, which keeps only frames addressed to the client's own MAC (PACKET_HOST), never mistakes
// them for answers to its own requests. Both print one line per second and exit on SIGTERM; both are tracked by pid.
import type { ChildProcess } from 'node:child_process';
import { killPids, onLines, spawnIn } from './exec.ts';
import { hostAddress, type Lab } from './netns.ts';

/** FLOOD_MAC is the flood's source MAC: not a host of the lab, so its answers reach nobody's socket by accident. */
export const FLOOD_MAC = '02:00:00:00:00:fd';

const FLOODER = String.raw`
import socket, struct, sys, time, signal
ifname, srcmac, srcip, rate = sys.argv[1:5]
targets = sys.argv[5:]
mac = bytes.fromhex(srcmac.replace(':', ''))
me = socket.inet_aton(srcip)
frames = [b'\xff' * 6 + mac + b'\x08\x06' + struct.pack('!HHBBH', 1, 0x0800, 6, 4, 1) + mac + me + bytes(6) + socket.inet_aton(t) for t in targets]
stop = []
signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((ifname, 0))
rate = float(rate)
print('ready', flush=True)
t0 = time.monotonic(); sent = 0; i = 0; last = t0; last_sent = 0; errors = 0
n = len(frames)
while not stop:
    now = time.monotonic()
    due = int((now - t0) * rate) - sent
    if due > rate / 10:  # fell behind (CPU starved) by more than 100 ms: skip the backlog rather than burst
        t0 += (due - rate / 100) / rate; due = int(rate / 100)
    if due <= 0:
        time.sleep(0.0005)
    else:
        for _ in range(min(due, 2000)):
            try:
                s.send(frames[i]); sent += 1
            except OSError:
                errors += 1; sent += 1
            i = (i + 1) % n
    if now - last >= 1.0:
        print('rate %d %d' % (sent - last_sent, errors), flush=True)
        last = now; last_sent = sent
print('done %d' % sent, flush=True)
`;

const PROBER = String.raw`
import socket, struct, sys, time, select, signal
ifname, mymac, myip, every_ms = sys.argv[1:5]
targets = sys.argv[5:]  # name=ip pairs
mac = bytes.fromhex(mymac.replace(':', ''))
me = socket.inet_aton(myip)
names = {}
frames = []
for t in targets:
    name, ip = t.split('=')
    a = socket.inet_aton(ip)
    names[a] = name
    frames.append((a, b'\xff' * 6 + mac + b'\x08\x06' + struct.pack('!HHBBH', 1, 0x0800, 6, 4, 1) + mac + me + bytes(6) + a))
stop = []
signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0806))
s.bind((ifname, 0x0806))
s.setsockopt(socket.SOL_SOCKET, 35, 1)  # SO_TIMESTAMPNS: kernel receive time
gap = float(every_ms) / 1000
print('ready', flush=True)
i = 0; nxt = time.monotonic(); outstanding = {}
while not stop:
    now = time.monotonic()
    if now >= nxt:
        a, f = frames[i]; i = (i + 1) % len(frames)
        if a in outstanding: print('lost %s' % names[a], flush=True)
        outstanding[a] = time.time_ns(); s.send(f)
        nxt += gap
        if nxt < now: nxt = now + gap
        continue
    r = select.select([s], [], [], nxt - now)[0]
    if not r: continue
    data, anc, _, addr = s.recvmsg(2048, 64)
    if addr[2] != 0 or len(data) < 42 or data[0:6] != mac or data[20:22] != b'\x00\x02': continue
    a = data[28:32]
    sent = outstanding.pop(a, None)
    if sent is None: continue
    ts = [struct.unpack('qq', d[:16]) for lvl, ty, d in anc if lvl == socket.SOL_SOCKET and ty == 35]
    tns = ts[0][0] * 1000000000 + ts[0][1] if ts else time.time_ns()
    print('ans %s %.4f %s' % (names[a], (tns - sent) / 1e6, data[6:12].hex(':')), flush=True)
`;

/** ArpFlood is a running flood: the rates it reported, one per second. */
export interface ArpFlood {
  readonly rates: number[];
  readonly errors: () => number;
  stop(): Promise<void>;
}

/** Line-by-line reader for a child's stdout; resolves `ready` on the line "ready". */
function lines(child: ChildProcess, onLine: (line: string) => void): Promise<void> {
  let ready: () => void = () => {};
  let failed: (e: Error) => void = () => {};
  const p = new Promise<void>((res, rej) => {
    ready = res;
    failed = rej;
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  onLines(child, (raw) => {
    const line = raw.trim();
    if (line === 'ready') ready();
    else onLine(line);
  });
  child.once('exit', (code) => failed(new Error(`exited ${code} before ready: ${stderr.slice(-500)}`)));
  return p;
}

/**
 * startArpFlood sends `rate` ARP requests per second from the client, round robin over `targets` (VIPs, node
 * addresses, unassigned addresses), from FLOOD_MAC and the subnet's .253. Resolves once sending.
 */
export async function startArpFlood(lab: Lab, targets: readonly string[], rate: number): Promise<ArpFlood> {
  const c = lab.client;
  const src = hostAddress(`${lab.ipv4Subnet}`, 253);
  const child = spawnIn(c.ns, ['python3', '-c', FLOODER, c.ifname, FLOOD_MAC, src, String(rate), ...targets]);
  const rates: number[] = [];
  let errors = 0;
  await lines(child, (line) => {
    const m = /^rate (\d+) (\d+)/.exec(line);
    if (m) {
      rates.push(Number(m[1]));
      errors = Number(m[2]);
    }
  });
  return {
    rates,
    errors: () => errors,
    async stop() {
      if (child.pid !== undefined) await killPids([child.pid]);
    },
  };
}

/** LatencySample is one answer: which target, the latency (send → kernel receive time), and the answering MAC. */
export interface LatencySample {
  readonly target: string;
  readonly ms: number;
  readonly mac: string;
}

/** ArpLatencyProbe collects answers and counts requests left unanswered until the next turn of the same target. */
export interface ArpLatencyProbe {
  readonly samples: LatencySample[];
  readonly lost: Map<string, number>;
  stop(): Promise<void>;
}

/**
 * startArpLatencyProbe asks for each `targets` entry (name → IPv4) in turn, one request every `everyMs`, from the
 * client's own MAC and address, and records each answer's latency from kernel receive timestamps.
 */
export async function startArpLatencyProbe(
  lab: Lab,
  targets: Readonly<Record<string, string>>,
  everyMs: number,
): Promise<ArpLatencyProbe> {
  const c = lab.client;
  const pairs = Object.entries(targets).map(([n, ip]) => `${n}=${ip}`);
  const child = spawnIn(c.ns, ['python3', '-c', PROBER, c.ifname, c.mac, c.ipv4, String(everyMs), ...pairs]);
  const samples: LatencySample[] = [];
  const lost = new Map<string, number>();
  await lines(child, (line) => {
    const parts = line.split(' ');
    if (parts[0] === 'ans') samples.push({ target: parts[1]!, ms: Number(parts[2]), mac: parts[3]! });
    else if (parts[0] === 'lost') lost.set(parts[1]!, (lost.get(parts[1]!) ?? 0) + 1);
  });
  return {
    samples,
    lost,
    async stop() {
      if (child.pid !== undefined) await killPids([child.pid]);
    },
  };
}
