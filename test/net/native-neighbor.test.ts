// Network test of the native ARP/NDP responder thread (native/neighbor_responder.c via
// src/net/native-neighbor-responder.ts), as root in two namespaces joined by a veth pair: mvnet-nr-a runs the
// responder in a Node child driven by JSON lines, mvnet-nr-b is the client. Independent clients check the answers:
// iputils arping for ARP, the client kernel's own neighbour resolution (`ping` then `ip -6 neigh`) for NDP. Then a
// burst of malformed and mutated frames: every one counted with a reason, the thread still answers afterwards.
import assert from 'node:assert/strict';
import { type ChildProcessWithoutNullStreams, execFile, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { nativeResponderAvailable } from '../../src/net/native-neighbor-responder.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SKIP =
  process.getuid?.() !== 0
    ? 'needs root (network namespaces, AF_PACKET)'
    : nativeResponderAvailable()
      ? false
      : 'addon not built with the native responder';
const NS_A = 'mvnet-nr-a';
const NS_B = 'mvnet-nr-b';
const MAC_A = '02:00:00:00:06:0a';
const MAC_B = '02:00:00:00:06:0b';
const VIP4 = '10.80.0.100';
const VIP6 = 'fd00:80::100';

function sh(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(argv[0]!, argv.slice(1), { timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

async function shOk(argv: string[]): Promise<string> {
  const r = await sh(argv);
  if (r.code !== 0) throw new Error(`${argv.join(' ')} -> ${r.code}: ${r.stderr}`);
  return r.stdout;
}

const CHILD = `
import { createInterface } from 'node:readline';
const { NativeNeighborResponder } = await import(${JSON.stringify(`${ROOT}src/net/native-neighbor-responder.ts`)});
const { readInterfaceInfo } = await import(${JSON.stringify(`${ROOT}src/net/interface-info.ts`)});
const info = readInterfaceInfo('eth0');
const both = { ipv4: true, ipv6: true };
const r = NativeNeighborResponder.create({ mac: info.mac, linkLocal: info.linkLocal }, both);
const rt = r.start(info.index, both, 1);
const out = (o) => process.stdout.write(JSON.stringify(o) + '\\n');
const ops = {
  answerFor: ({ vips }) => r.answerFor(vips),
  listenFor: ({ ip }) => r.listenFor(ip),
  stats: () => r.stats(),
  close: () => r.close(),
};
createInterface({ input: process.stdin }).on('line', (line) => {
  const cmd = JSON.parse(line);
  try {
    out({ id: cmd.id, ok: true, result: ops[cmd.op](cmd.args) ?? null });
  } catch (e) {
    out({ id: cmd.id, ok: false, error: String(e.stack ?? e) });
  }
});
out({ event: 'ready', rt });
`;

/** The client's burst: mutated ARP requests and NS for the VIPs, and random bytes, over ARP and IPv6 ethertypes. */
const FUZZER = String.raw`
import socket, random, struct, sys
random.seed(20261203)
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(('eth0', 0))
me = bytes.fromhex(sys.argv[1].replace(':', ''))
vip = socket.inet_aton(sys.argv[2])
arp = b'\xff' * 6 + me + b'\x08\x06' + struct.pack('!HHBBH', 1, 0x0800, 6, 4, 1) + me + bytes([10, 80, 0, 2]) + bytes(6) + vip
n = 0
for i in range(int(sys.argv[3])):
    kind = i % 3
    if kind == 0:
        f = bytearray(arp)
        for _ in range(random.randint(1, 4)):
            f[random.randrange(14, len(f))] = random.randrange(256)
        f = bytes(f[:random.randint(14, len(f))])
    elif kind == 1:
        f = b'\xff' * 6 + me + b'\x08\x06' + bytes(random.randrange(256) for _ in range(random.randint(0, 60)))
    else:
        f = b'\x33\x33\xff\x00\x01\x00' + me + b'\x86\xdd' + b'\x60' + bytes(5) + b'\x3a\xff' + bytes(random.randrange(256) for _ in range(random.randint(32, 120)))
    try:
        s.send(f); n += 1
    except OSError:
        pass
print(n)
`;

type Msg = Record<string, unknown> & { id?: number; event?: string };

class Child {
  readonly events: Msg[] = [];
  readonly exited: Promise<number>;
  readonly #proc: ChildProcessWithoutNullStreams;
  readonly #pending = new Map<number, (m: Msg) => void>();
  #nextId = 1;

  constructor(ns: string) {
    const argv = ['netns', 'exec', ns, process.execPath, '--import', 'tsx', '--input-type=module', '-e', CHILD];
    this.#proc = spawn('ip', argv, { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    this.exited = new Promise((resolve) => this.#proc.on('close', (code) => resolve(code ?? -1)));
    this.#proc.stderr.on('data', (d) => process.stderr.write(`[${ns}] ${d}`));
    createInterface({ input: this.#proc.stdout }).on('line', (line) => {
      const msg = JSON.parse(line) as Msg;
      if (msg.id !== undefined) this.#pending.get(msg.id)?.(msg);
      else this.events.push(msg);
    });
  }

  call(op: string, args: Record<string, unknown> = {}): Promise<Msg> {
    const id = this.#nextId++;
    return new Promise((resolve) => {
      this.#pending.set(id, resolve);
      this.#proc.stdin.write(`${JSON.stringify({ id, op, args })}\n`);
    });
  }

  async ready(): Promise<Msg> {
    for (let i = 0; i < 300; i++) {
      const e = this.events.find((x) => x.event === 'ready');
      if (e) return e;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('child not ready');
  }

  get alive(): boolean {
    return this.#proc.exitCode === null && this.#proc.signalCode === null;
  }

  end(): void {
    this.#proc.stdin.end();
  }

  kill(): void {
    if (this.alive) this.#proc.kill('SIGKILL');
  }
}

/** arpingMacs: the MACs that answered `count` broadcast arpings from the client (exit code kept). */
async function arping(count: number): Promise<{ code: number; macs: string[] }> {
  const r = await sh([
    'ip',
    'netns',
    'exec',
    NS_B,
    'arping',
    '-b',
    '-c',
    String(count),
    '-w',
    String(count + 1),
    '-I',
    'eth0',
    VIP4,
  ]);
  const macs = [...new Set([...r.stdout.matchAll(/\[([0-9A-Fa-f:]{17})\]/g)].map((m) => m[1]!.toLowerCase()))];
  return { code: r.code, macs };
}

/** ndpMac: the client kernel resolves VIP6 (a ping triggers its NS) and reports the link-layer address it learnt. */
async function ndpMac(): Promise<string | undefined> {
  await sh(['ip', '-n', NS_B, '-6', 'neigh', 'flush', 'dev', 'eth0']);
  await sh(['ip', 'netns', 'exec', NS_B, 'ping', '-6', '-c', '1', '-W', '1', VIP6]);
  const out = await shOk(['ip', '-n', NS_B, '-6', 'neigh', 'show', VIP6, 'dev', 'eth0']);
  return /lladdr ([0-9a-f:]{17})/.exec(out)?.[1];
}

describe('native neighbour responder between two namespaces', { skip: SKIP }, () => {
  let a: Child;

  before(async () => {
    for (const ns of [NS_A, NS_B]) await sh(['ip', 'netns', 'del', ns]); // leftovers of a crashed run, by exact name
    for (const ns of [NS_A, NS_B]) await shOk(['ip', 'netns', 'add', ns]);
    await shOk([
      'ip',
      '-n',
      NS_A,
      'link',
      'add',
      'eth0',
      'address',
      MAC_A,
      'type',
      'veth',
      'peer',
      'name',
      'eth0',
      'address',
      MAC_B,
      'netns',
      NS_B,
    ]);
    for (const [ns, host] of [
      [NS_A, 1],
      [NS_B, 2],
    ] as const) {
      await shOk(['ip', 'netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv6.conf.eth0.accept_dad=0']);
      await shOk(['ip', '-n', ns, 'addr', 'add', `10.80.0.${host}/24`, 'dev', 'eth0']);
      await shOk(['ip', '-n', ns, 'addr', 'add', `fd00:80::${host}/64`, 'dev', 'eth0', 'nodad']);
      await shOk(['ip', '-n', ns, 'link', 'set', 'eth0', 'up']);
    }
    await new Promise((r) => setTimeout(r, 300)); // link-local address in place
    a = new Child(NS_A);
    await a.ready();
  });

  after(async () => {
    a?.kill();
    for (const ns of [NS_A, NS_B]) await sh(['ip', 'netns', 'del', ns]);
  });

  test('nothing is answered before answerFor; then arping and the client kernel get our MAC', async (t) => {
    t.diagnostic(`thread: ${JSON.stringify((await a.ready())['rt'])}`);
    assert.equal((await arping(2)).code, 1, 'no answer for a VIP not in the table');
    await a.call('listenFor', { ip: VIP6 });
    assert.ok((await a.call('answerFor', { vips: [VIP4, VIP6] })).ok);
    assert.deepEqual(await arping(3), { code: 0, macs: [MAC_A] });
    assert.equal(await ndpMac(), MAC_A);
    const stats = (await a.call('stats')).result as Record<'ipv4' | 'ipv6', Record<string, number>>;
    assert.ok(stats.ipv4['answered']! >= 3, JSON.stringify(stats.ipv4));
    assert.ok(stats.ipv6['answered']! >= 1, JSON.stringify(stats.ipv6));
    // Requests for addresses outside the table are dropped by the kernel filter: never read, never counted.
    assert.equal(stats.ipv4['not-ours'], 0);
  });

  test('a VIP removed from the table is not answered any more', async () => {
    await a.call('answerFor', { vips: [VIP6] });
    assert.equal((await arping(2)).code, 1);
    await a.call('answerFor', { vips: [VIP4, VIP6] });
    assert.deepEqual((await arping(1)).macs, [MAC_A]);
  });

  test('malformed and mutated frames are counted by reason, and the thread answers on', async (t) => {
    const before = (await a.call('stats')).result as Record<'ipv4' | 'ipv6', Record<string, number>>;
    const sent = Number(await shOk(['ip', 'netns', 'exec', NS_B, 'python3', '-c', FUZZER, MAC_B, VIP4, '30000']));
    await new Promise((r) => setTimeout(r, 500));
    const after = (await a.call('stats')).result as Record<'ipv4' | 'ipv6', Record<string, number>>;
    const delta = (f: 'ipv4' | 'ipv6') =>
      Object.fromEntries(
        Object.entries(after[f])
          .map(([k, v]) => [k, v - (before[f][k] ?? 0)])
          .filter(([, v]) => v !== 0),
      );
    t.diagnostic(`${sent} frames sent; ipv4 ${JSON.stringify(delta('ipv4'))}; ipv6 ${JSON.stringify(delta('ipv6'))}`);
    assert.ok(sent > 20_000);
    assert.ok((delta('ipv4')['malformed'] ?? 0) > 0, 'malformed ARP counted');
    assert.ok(a.alive, 'the responder process is alive');
    assert.deepEqual(await arping(2), { code: 0, macs: [MAC_A] });
    assert.equal(await ndpMac(), MAC_A);
  });

  test('close stops the thread: no more answers, and the process exits', async () => {
    await a.call('close');
    assert.equal((await arping(2)).code, 1);
    a.end();
    assert.equal(await a.exited, 0, 'nothing holds the event loop after close');
  });
});
