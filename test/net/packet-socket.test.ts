// Network tests of the AF_PACKET addon (native/packet_socket.c via src/net/packet-socket.ts), run as root in two
// namespaces joined by a veth pair: mvnet-ps-a (eth0 02:00:00:00:05:0a) and mvnet-ps-b (eth0 02:00:00:00:05:0b).
// Each side runs a small Node child (`ip netns exec NS node -e …`) that owns the sockets and reports JSON lines.
// Frames use EtherType 0x88b5 (IEEE 802 local experimental), so no protocol stack reacts to them.
import assert from 'node:assert/strict';
import { type ChildProcessWithoutNullStreams, execFile, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadPacketSocketAddon, PacketSocket, PacketSocketError } from '../../src/net/packet-socket.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SKIP = process.getuid?.() !== 0 ? 'needs root (network namespaces, AF_PACKET)' : false;
const NS_A = 'mvnet-ps-a';
const NS_B = 'mvnet-ps-b';
const MAC_A = '02:00:00:00:05:0a';
const MAC_B = '02:00:00:00:05:0b';
const ETHERTYPE = 0x88b5;

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function sh(argv: string[]): Promise<Result> {
  return new Promise((resolve) => {
    execFile(argv[0]!, argv.slice(1), { timeout: 20_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

async function shOk(argv: string[]): Promise<string> {
  const r = await sh(argv);
  if (r.code !== 0) throw new Error(`${argv.join(' ')} -> ${r.code}: ${r.stderr}`);
  return r.stdout;
}

// The child: opens packet sockets on eth0 on request and reports every frame; exits once stdin closes and every
// socket is closed, which shows that a closed socket no longer holds the event loop.
const CHILD = `
import { createInterface } from 'node:readline';
const { PacketSocket } = await import(${JSON.stringify(`${ROOT}src/net/packet-socket.ts`)});
const { notOutgoingFilter } = await import(${JSON.stringify(`${ROOT}src/net/frames/bpf.ts`)});
const { readInterfaceInfo } = await import(${JSON.stringify(`${ROOT}src/net/interface-info.ts`)});
const out = (o) => process.stdout.write(JSON.stringify(o) + '\\n');
const sockets = new Map();
const info = readInterfaceInfo('eth0');
const ops = {
  open: ({ name, ethertype, filter }) => {
    const s = PacketSocket.open({
      ifindex: info.index,
      ethertype,
      ...(filter ? { filter: notOutgoingFilter() } : {}),
      onFrame: (frame, pktType) => out({ event: 'frame', name, hex: frame.toString('hex'), pktType }),
      onError: (err) => out({ event: 'error', name, code: err.code, message: err.message }),
    });
    sockets.set(name, s);
  },
  send: ({ name, hex }) => sockets.get(name).send(Buffer.from(hex, 'hex')),
  sendBatch: ({ name, hexes }) => sockets.get(name).sendBatch(hexes.map((h) => Buffer.from(h, 'hex'))),
  join: ({ name, mac }) => sockets.get(name).addMembership(mac),
  leave: ({ name, mac }) => sockets.get(name).dropMembership(mac),
  allmulti: ({ name, on }) => sockets.get(name).setAllMulticast(on),
  close: ({ name }) => { const s = sockets.get(name); s.close(); s.close(); return s.send(Buffer.alloc(60)); },
};
const rl = createInterface({ input: process.stdin });
rl.on('line', async (line) => {
  const cmd = JSON.parse(line);
  try {
    out({ id: cmd.id, ok: true, result: (await ops[cmd.op](cmd.args)) ?? null });
  } catch (e) {
    out({ id: cmd.id, ok: false, code: e.code, error: String(e.stack ?? e) });
  }
});
rl.on('close', () => { for (const s of sockets.values()) s.close(); });
out({ event: 'ready', info });
`;

type Event = Record<string, unknown> & { event?: string };

/** Child is a Node process in a namespace, driven by JSON lines. */
class Child {
  readonly events: Event[] = [];
  readonly exited: Promise<number>;
  readonly #proc: ChildProcessWithoutNullStreams;
  readonly #pending = new Map<number, (r: Event) => void>();
  #nextId = 1;
  #waiters: Array<() => void> = [];

  constructor(ns: string) {
    const argv = ['netns', 'exec', ns, process.execPath, '--import', 'tsx', '--input-type=module', '-e', CHILD];
    this.#proc = spawn('ip', argv, { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    this.exited = new Promise((resolve) => this.#proc.on('close', (code) => resolve(code ?? -1)));
    this.#proc.stderr.on('data', (d) => process.stderr.write(`[${ns}] ${d}`));
    createInterface({ input: this.#proc.stdout }).on('line', (line) => {
      const msg = JSON.parse(line) as Event & { id?: number };
      if (msg.id !== undefined) this.#pending.get(msg.id)?.(msg);
      else this.events.push(msg);
      for (const w of this.#waiters) w();
    });
  }

  call(op: string, args: Record<string, unknown> = {}): Promise<Event> {
    const id = this.#nextId++;
    return new Promise((resolve) => {
      this.#pending.set(id, resolve);
      this.#proc.stdin.write(`${JSON.stringify({ id, op, args })}\n`);
    });
  }

  async waitFor(pred: (e: Event) => boolean, timeoutMs = 3000): Promise<Event> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.find(pred);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`timeout; events: ${JSON.stringify(this.events.slice(-5))}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 50);
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
      this.#waiters = [];
    }
  }

  endInput(): void {
    this.#proc.stdin.end();
  }

  kill(): void {
    if (this.#proc.exitCode === null) this.#proc.kill('SIGKILL');
  }
}

function frame(dst: string, src: string, tag: string): string {
  return (dst + src).replaceAll(':', '') + ETHERTYPE.toString(16) + Buffer.from(tag).toString('hex').padEnd(92, '0');
}

describe('PacketSocket outside namespaces', { skip: SKIP }, () => {
  test('the addon is built and loads', () => {
    const loaded = loadPacketSocketAddon();
    assert.ok(loaded.ok, loaded.ok ? '' : loaded.detail);
  });

  test('open errors are exceptions with the errno name', () => {
    assert.throws(
      () => PacketSocket.open({ ifindex: 999_999, ethertype: ETHERTYPE, onFrame: () => {} }),
      (err: unknown) => err instanceof PacketSocketError && err.code === 'ENODEV' && /No such device/.test(err.message),
    );
    assert.throws(() => PacketSocket.open({ ifindex: 0, ethertype: ETHERTYPE, onFrame: () => {} }), /ifindex/);
  });
});

describe('PacketSocket between two namespaces', { skip: SKIP }, () => {
  let a: Child;
  let b: Child;

  before(async () => {
    for (const ns of [NS_A, NS_B]) await sh(['ip', 'netns', 'del', ns]); // leftovers of a crashed run, by exact name
    for (const ns of [NS_A, NS_B]) await shOk(['ip', 'netns', 'add', ns]);
    await shOk(
      ['ip', '-n', NS_A, 'link', 'add', 'eth0', 'address', MAC_A, 'type', 'veth', 'peer', 'name', 'eth0'].concat([
        'address',
        MAC_B,
        'netns',
        NS_B,
      ]),
    );
    for (const ns of [NS_A, NS_B]) {
      await shOk(['ip', 'netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv6.conf.eth0.disable_ipv6=1']); // quiet link
      await shOk(['ip', '-n', ns, 'link', 'set', 'eth0', 'up']);
    }
    a = new Child(NS_A);
    b = new Child(NS_B);
    await Promise.all([a.waitFor((e) => e.event === 'ready', 15_000), b.waitFor((e) => e.event === 'ready', 15_000)]);
  });

  after(async () => {
    a?.kill();
    b?.kill();
    for (const ns of [NS_A, NS_B]) await sh(['ip', 'netns', 'del', ns]);
  });

  test('unicast, broadcast and our own outgoing copy arrive with their packet types', async () => {
    assert.deepEqual((await a.call('open', { name: 'raw', ethertype: ETHERTYPE })).ok, true);
    await b.call('open', { name: 'tx', ethertype: ETHERTYPE, filter: true });
    const uni = frame(MAC_A, MAC_B, 'unicast');
    const sent = await b.call('send', { name: 'tx', hex: uni });
    assert.deepEqual(sent.result, { ok: true, bytes: 60 });
    assert.equal((await a.waitFor((e) => e.hex === uni)).pktType, 0); // PACKET_HOST
    const bcast = frame('ff:ff:ff:ff:ff:ff', MAC_B, 'broadcast');
    await b.call('send', { name: 'tx', hex: bcast });
    assert.equal((await a.waitFor((e) => e.hex === bcast)).pktType, 1); // PACKET_BROADCAST
    const mcast = frame('33:33:00:00:00:12', MAC_B, 'multicast');
    await b.call('send', { name: 'tx', hex: mcast });
    assert.equal((await a.waitFor((e) => e.hex === mcast)).pktType, 2); // PACKET_MULTICAST
    // The kernel copies outgoing frames only to ETH_P_ALL sockets (dev_queue_xmit_nit walks ptype_all), so a
    // socket bound to every ethertype shows our own frame as PACKET_OUTGOING; one bound to ETHERTYPE never does.
    await a.call('open', { name: 'all', ethertype: 0x0003 });
    const own = frame(MAC_B, MAC_A, 'from a');
    await a.call('send', { name: 'raw', hex: own });
    const copy = await a.waitFor((e) => e.hex === own && e.name === 'all');
    assert.equal(copy.pktType, 4); // PACKET_OUTGOING
    assert.equal(a.events.filter((e) => e.hex === own && e.name === 'raw').length, 0);
  });

  test('the not-outgoing filter keeps our own frames away, and a burst arrives whole', async () => {
    await a.call('open', { name: 'filtered', ethertype: ETHERTYPE, filter: true });
    const own = frame(MAC_B, MAC_A, 'own filtered');
    await a.call('send', { name: 'filtered', hex: own });
    const burst = Array.from({ length: 100 }, (_, i) => frame(MAC_A, MAC_B, `burst ${i}`));
    for (const hex of burst) await b.call('send', { name: 'tx', hex });
    await a.waitFor((e) => e.name === 'filtered' && e.hex === burst.at(-1));
    const got = a.events.filter((e) => e.name === 'filtered').map((e) => e.hex);
    assert.deepEqual(
      got.filter((h) => burst.includes(h as string)),
      burst,
    );
    assert.ok(!got.includes(own), 'own frame passed the filter');
  });

  test('a burst of 120 frames from one sendmmsg, short and MTU-long mixed, arrives whole and in order', async () => {
    // The addon reads up to 16 frames per recvmmsg (native/recv_batch.c) and hands them on one by one: every frame,
    // every byte, in order, across batches and readiness events (64 frames each).
    await a.call('open', { name: 'batched', ethertype: ETHERTYPE, filter: true });
    const burst = Array.from({ length: 120 }, (_, i) => {
      const f = frame(MAC_A, MAC_B, `batch ${i}`);
      return i % 10 === 3 ? f + 'ab'.repeat(1514 - f.length / 2) : f; // a full 1,514-byte frame now and then
    });
    const sent = await b.call('sendBatch', { name: 'tx', hexes: burst });
    assert.deepEqual(sent.result, { ok: true, sent: 120 });
    await a.waitFor((e) => e.name === 'batched' && e.hex === burst.at(-1));
    const got = a.events.filter((e) => e.name === 'batched').map((e) => e.hex);
    assert.equal(got.length, burst.length);
    assert.ok(
      got.every((h, i) => h === burst[i]),
      'every frame whole, in the order sent',
    );
  });

  test('multicast membership and all-multicast show on the interface and go away', async () => {
    const maddr = async () => shOk(['ip', '-n', NS_A, 'maddr', 'show', 'dev', 'eth0']);
    const flags = async () => shOk(['ip', '-d', '-n', NS_A, 'link', 'show', 'eth0']);
    await a.call('open', { name: 'mc', ethertype: ETHERTYPE, filter: true });
    assert.equal((await a.call('join', { name: 'mc', mac: '33:33:ff:00:01:00' })).ok, true);
    assert.match(await maddr(), /33:33:ff:00:01:00/);
    await a.call('leave', { name: 'mc', mac: '33:33:ff:00:01:00' });
    assert.doesNotMatch(await maddr(), /33:33:ff:00:01:00/);
    const bad = await a.call('join', { name: 'mc', mac: 'not-a-mac' });
    assert.equal(bad.code, 'ERR_INVALID_ARG');
    await a.call('allmulti', { name: 'mc', on: true });
    assert.match(await flags(), /allmulti 1/); // the counter: the ALLMULTI flag shows only user settings
    await a.call('join', { name: 'mc', mac: '33:33:00:00:00:12' });
    const closed = await a.call('close', { name: 'mc' }); // closes twice, then sends
    assert.deepEqual((closed.result as { ok: boolean; code: string }).code, 'ERR_SOCKET_CLOSED');
    assert.match(await flags(), /allmulti 0/);
    assert.doesNotMatch(await maddr(), /33:33:00:00:00:12/);
  });

  test('a read error (ENETDOWN) goes to onError and the loop goes on', async () => {
    await shOk(['ip', '-n', NS_A, 'link', 'set', 'eth0', 'down']);
    await a.waitFor((e) => e.event === 'error' && e.code === 'ENETDOWN');
    await shOk(['ip', '-n', NS_A, 'link', 'set', 'eth0', 'up']);
    const again = frame(MAC_A, MAC_B, 'after down');
    const deadline = Date.now() + 5000; // carrier comes back asynchronously: resend until it arrives
    while (!a.events.some((e) => e.hex === again) && Date.now() < deadline) {
      await b.call('send', { name: 'tx', hex: again });
      await new Promise((r) => setTimeout(r, 100));
    }
    await a.waitFor((e) => e.name === 'raw' && e.hex === again);
  });

  test('once its sockets are closed the child exits by itself', async () => {
    a.endInput();
    b.endInput();
    const codes = await Promise.race([
      Promise.all([a.exited, b.exited]),
      new Promise((r) => setTimeout(() => r('still running'), 5000)),
    ]);
    assert.deepEqual(codes, [0, 0]);
  });
});
