// Network tests of the BFD edge (src/net/bfd-socket.ts + src/net/bfd-peers.ts), as root, in namespaces joined by
// veth pairs: bfdt-a ↔ bfdt-b run two of our speakers (test/net/bfd-node.ts), bfdt-c ↔ bfdt-f run ours against
// FRR's bfdd (Debian package frr), an independent RFC 5880/5881 implementation. tshark decodes what we sent.
//
// Timing: 10 ms TX/RX, Detect Mult 3, so a silent peer must be declared down 30 ms after its last packet. On a
// loaded 2-core machine a process can be descheduled for longer than that, so the speakers run under SCHED_FIFO
// (chrt) when possible, and the assertions look for the first event after a cut rather than for zero flaps.
import assert from 'node:assert/strict';
import { type ChildProcessWithoutNullStreams, execFile, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { encodeControl } from '../../bfd/codec.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SKIP = process.getuid?.() !== 0 ? 'needs root (network namespaces, AF_PACKET)' : false;
const BFDD = '/usr/lib/frr/bfdd';
const NS = { a: 'bfdt-a', b: 'bfdt-b', c: 'bfdt-c', f: 'bfdt-f' } as const;
const ADDR = {
  a: '10.201.0.1',
  b: '10.201.0.2',
  a6: 'fd00:201::1',
  b6: 'fd00:201::2',
  c: '10.202.0.1',
  f: '10.202.0.2',
  c6: 'fd00:202::1',
  f6: 'fd00:202::2',
} as const;
const DETECT_MS = 30; // 3 × 10 ms
const MARGIN_MS = 250; // scheduling on a loaded machine; the protocol bound is DETECT_MS

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function sh(argv: string[], timeout = 20_000): Promise<Result> {
  return new Promise((resolve) => {
    execFile(argv[0]!, argv.slice(1), { timeout, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

async function shOk(argv: string[], timeout?: number): Promise<string> {
  const r = await sh(argv, timeout);
  if (r.code !== 0) throw new Error(`${argv.join(' ')} -> ${r.code}: ${r.stderr}`);
  return r.stdout;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

type Event = Record<string, unknown> & { event: string; at?: number; peer?: string; reason?: string };

/** Speaker is one bfd-node.ts process in a namespace. */
class Speaker {
  readonly events: Event[] = [];
  readonly proc: ChildProcessWithoutNullStreams;
  readonly exited: Promise<number>;

  constructor(ns: string, args: string[], chrt: boolean) {
    const node = [process.execPath, '--import', 'tsx', join(ROOT, 'test/net/bfd-node.ts'), ...args];
    const argv = ['netns', 'exec', ns, ...(chrt ? ['chrt', '-f', '10'] : []), ...node];
    this.proc = spawn('ip', argv, { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    this.exited = new Promise((resolve) => this.proc.on('close', (code) => resolve(code ?? -1)));
    this.proc.stderr.on('data', (d) => process.stderr.write(`[${ns}] ${d}`));
    createInterface({ input: this.proc.stdout }).on('line', (line) => {
      try {
        this.events.push(JSON.parse(line) as Event);
      } catch {
        process.stderr.write(`[${ns}] ${line}\n`);
      }
    });
  }

  last(type?: string): Event | undefined {
    return this.events.filter((e) => type === undefined || e.event === type).at(-1);
  }

  /** upFor returns true once the last up/down event is 'up' and at least `ms` old. */
  upFor(ms: number): boolean {
    const last = this.events.filter((e) => e.event === 'up' || e.event === 'down').at(-1);
    return last?.event === 'up' && Date.now() - (last.at ?? 0) >= ms;
  }

  async stats(): Promise<Event> {
    const n = this.events.length;
    this.proc.kill('SIGUSR2'); // ip netns exec execs the program, so the pid is node's (or chrt's, which execs too)
    return until('stats', () => this.events.slice(n).find((e) => e.event === 'stats'));
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode !== null) return;
    this.proc.kill('SIGTERM');
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 3000);
    await this.exited;
    clearTimeout(t);
  }
}

async function hasChrt(): Promise<boolean> {
  return (await sh(['chrt', '-f', '10', 'true'])).code === 0;
}

async function link(x: string, y: string, nsX: string, nsY: string): Promise<void> {
  await shOk(['ip', '-n', nsX, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', nsY]);
  for (const [ns, addr] of [
    [nsX, x],
    [nsY, y],
  ] as const) {
    await shOk(['ip', 'netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv6.conf.all.accept_dad=0']);
    await shOk(['ip', 'netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv6.conf.default.accept_dad=0']);
    await shOk(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
    await shOk(['ip', '-n', ns, 'addr', 'add', `${addr}/24`, 'dev', 'eth0']);
    await shOk(['ip', '-n', ns, 'link', 'set', 'eth0', 'up']);
  }
}

interface TsharkRow {
  src: string;
  ttl: number;
  version: number;
  state: number;
  mult: number;
  my: number;
  your: number;
  tx: number;
  rx: number;
  sport: number;
  dport: number;
}

/** decode runs tshark over a capture and returns one row per BFD Control packet from `src`. */
async function decode(pcap: string, family: 'ipv4' | 'ipv6'): Promise<TsharkRow[]> {
  const ipSrc = family === 'ipv4' ? 'ip.src' : 'ipv6.src';
  const ttl = family === 'ipv4' ? 'ip.ttl' : 'ipv6.hlim';
  const fields = [
    ipSrc,
    ttl,
    'bfd.version',
    'bfd.sta',
    'bfd.detect_time_multiplier',
    'bfd.my_discriminator',
    'bfd.your_discriminator',
    'bfd.desired_min_tx_interval',
    'bfd.required_min_rx_interval',
    'udp.srcport',
    'udp.dstport',
  ];
  const out = await shOk([
    'tshark',
    '-r',
    pcap,
    '-d',
    'udp.port==3784,bfd',
    '-Y',
    'bfd',
    '-T',
    'fields',
    ...fields.flatMap((f) => ['-e', f]),
  ]);
  return out
    .trim()
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => {
      const [src, t, v, st, m, my, your, tx, rx, sp, dp] = l.split('\t');
      return {
        src: src!,
        ttl: Number(t),
        version: Number(v),
        state: Number(st),
        mult: Number(m),
        my: Number(my),
        your: Number(your),
        tx: Number(tx),
        rx: Number(rx),
        sport: Number(sp),
        dport: Number(dp),
      };
    });
}

/** capture records `count` BFD packets on eth0 of `ns` (tcpdump), giving up after `ms`. */
async function capture(ns: string, file: string, count: number, filter: string, ms = 5000): Promise<void> {
  await sh(
    [
      'ip',
      'netns',
      'exec',
      ns,
      'timeout',
      String(ms / 1000),
      'tcpdump',
      '-ni',
      'eth0',
      '-U',
      '-c',
      String(count),
      '-w',
      file,
      filter,
    ],
    ms + 5000,
  );
}

describe('BFD on the wire (RFC 5880/5881)', { skip: SKIP, timeout: 120_000 }, () => {
  let dir = '';
  let chrt = false;
  const speakers: Speaker[] = [];
  const spawnSpeaker = (ns: string, args: string[]) => {
    const s = new Speaker(ns, args, chrt);
    speakers.push(s);
    return s;
  };

  before(async () => {
    for (const ns of Object.values(NS)) await sh(['ip', 'netns', 'del', ns]); // leftovers of a crashed run
    for (const ns of Object.values(NS)) await shOk(['ip', 'netns', 'add', ns]);
    await link(ADDR.a, ADDR.b, NS.a, NS.b);
    await link(ADDR.c, ADDR.f, NS.c, NS.f);
    // Keep the IPv6 addresses when the cut test takes b's link down (Linux flushes them by default).
    for (const ns of [NS.a, NS.b]) {
      await shOk(['ip', 'netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv6.conf.eth0.keep_addr_on_down=1']);
    }
    await shOk(['ip', '-n', NS.a, 'addr', 'add', `${ADDR.a6}/64`, 'dev', 'eth0', 'nodad']);
    await shOk(['ip', '-n', NS.b, 'addr', 'add', `${ADDR.b6}/64`, 'dev', 'eth0', 'nodad']);
    await shOk(['ip', '-n', NS.c, 'addr', 'add', `${ADDR.c6}/64`, 'dev', 'eth0', 'nodad']);
    await shOk(['ip', '-n', NS.f, 'addr', 'add', `${ADDR.f6}/64`, 'dev', 'eth0', 'nodad']);
    dir = mkdtempSync(join(tmpdir(), 'bfdt-'));
    chmodSync(dir, 0o777); // bfdd drops to user frr and writes its sockets here
    chrt = await hasChrt();
  });

  after(async () => {
    for (const s of speakers) await s.stop();
    const pidFile = join(dir, 'bfdd.pid');
    if (existsSync(pidFile)) {
      const pid = Number(readFileSync(pidFile, 'utf8').trim());
      if (pid > 0) {
        try {
          process.kill(pid, 'SIGTERM');
        } catch {}
      }
      await sleep(300);
    }
    for (const ns of Object.values(NS)) await sh(['ip', 'netns', 'del', ns]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('two of our speakers come Up; tshark decodes BFD Control v1 with TTL 255; a cut link is reported within Detect Mult × interval + margin', async () => {
    const a = spawnSpeaker(NS.a, ['--local', ADDR.a, '--peer', ADDR.b]);
    const b = spawnSpeaker(NS.b, ['--local', ADDR.b, '--peer', ADDR.a]);
    const pcap = join(dir, 'ab.pcap');
    const capturing = capture(NS.a, pcap, 60, 'ip and udp port 3784');
    await until('both up', () => (a.last('up') && b.last('up') ? true : undefined));
    await capturing;

    const readyA = a.events.find((e) => e.event === 'ready')!;
    const rows = await decode(pcap, 'ipv4');
    const ours = rows.filter((r) => r.src === ADDR.a);
    assert.ok(ours.length >= 10, `${ours.length} of our packets decoded: ${JSON.stringify(rows.slice(0, 3))}`);
    for (const r of ours) {
      assert.equal(r.version, 1);
      assert.equal(r.ttl, 255, 'RFC 5881 §5: TTL 255');
      assert.equal(r.mult, 3);
      assert.equal(r.dport, 3784);
      assert.equal(r.sport, readyA.sourcePort);
      assert.ok(r.sport >= 49152 && r.sport <= 65535, 'RFC 5881 §4 source port range');
      assert.notEqual(r.my, 0);
      assert.equal(r.rx, 10_000);
    }
    const upRows = ours.filter((r) => r.state === 3);
    assert.ok(upRows.length > 0, 'some packets in state Up');
    for (const r of upRows) {
      assert.equal(r.tx, 10_000, 'Desired Min TX 10 ms once Up');
      assert.notEqual(r.your, 0);
    }
    const downRows = ours.filter((r) => r.state === 1);
    for (const r of downRows) assert.equal(r.tx, 1_000_000, 'Desired Min TX 1 s while Down (RFC 5880 §6.8.3)');
    // Discriminators agree across the two directions.
    const theirs = rows.filter((r) => r.src === ADDR.b && r.state === 3);
    assert.ok(theirs.length > 0);
    assert.equal(theirs[0]!.your, upRows[0]!.my);
    assert.equal(upRows[0]!.your, theirs[0]!.my);

    // A packet with TTL 64 (off-link, as far as RFC 5881 §5 is concerned) is counted and ignored.
    const bad = encodeControl({
      diag: 0,
      state: 'admin-down',
      poll: false,
      final: false,
      controlPlaneIndependent: false,
      authenticationPresent: false,
      demand: false,
      multipoint: false,
      detectMult: 3,
      myDiscriminator: 1234,
      yourDiscriminator: 0,
      desiredMinTxUs: 1_000_000,
      requiredMinRxUs: 1_000_000,
      requiredMinEchoRxUs: 0,
    });
    assert.ok(bad.ok);
    const script = `const s=require('dgram').createSocket('udp4');s.bind(50000,'${ADDR.b}',()=>{s.setTTL(64);s.send(Buffer.from('${bad.bytes.toString('hex')}','hex'),3784,'${ADDR.a}',()=>s.close())})`;
    await shOk(['ip', 'netns', 'exec', NS.b, process.execPath, '-e', script]);
    const stats = await until('bad-ttl counted', async () => {
      const s = await a.stats();
      return (s.frameDrops as Record<string, number>)['bad-ttl'] ? s : undefined;
    });
    assert.equal((stats.frameDrops as Record<string, number>)['bad-ttl'], 1);

    // Cut: b's link goes down inside its namespace; a must report detect-timeout 30 ms after b's last packet.
    await until('a steadily up', () => (a.upFor(300) && b.upFor(300) ? true : undefined), 20_000);
    const t0 = Date.now();
    await shOk(['ip', '-n', NS.b, 'link', 'set', 'eth0', 'down']);
    const down = await until('a reports down', () =>
      a.events.find((e) => e.event === 'down' && (e.at ?? 0) >= t0 && e.peer === ADDR.b),
    );
    const latency = (down.at ?? 0) - t0;
    assert.equal(down.reason, 'detect-timeout');
    assert.ok(latency <= DETECT_MS + MARGIN_MS, `down ${latency} ms after the cut`);
    console.log(`# cut → down: ${latency} ms (Detect Mult × interval = ${DETECT_MS} ms)`);
    await shOk(['ip', '-n', NS.b, 'link', 'set', 'eth0', 'up']);
    await until('back up', () =>
      a.events.some((e) => e.event === 'up' && (e.at ?? 0) > (down.at ?? 0)) ? true : undefined,
    );
    await a.stop();
    await b.stop();
  });

  test('IPv6: two of our speakers come Up with hop limit 255', async () => {
    const a = spawnSpeaker(NS.a, ['--local', ADDR.a6, '--peer', ADDR.b6]);
    const b = spawnSpeaker(NS.b, ['--local', ADDR.b6, '--peer', ADDR.a6]);
    const pcap = join(dir, 'ab6.pcap');
    const capturing = capture(NS.a, pcap, 30, 'ip6 and udp port 3784');
    await until('both up over IPv6', () => (a.last('up') && b.last('up') ? true : undefined));
    await capturing;
    const rows = (await decode(pcap, 'ipv6')).filter((r) => r.src === ADDR.a6);
    assert.ok(rows.length >= 5, `${rows.length} packets`);
    for (const r of rows) {
      assert.equal(r.ttl, 255, 'RFC 5881 §5: hop limit 255');
      assert.equal(r.version, 1);
    }
    assert.ok(rows.some((r) => r.state === 3));
    await a.stop();
    await b.stop();
  });

  test('FRR bfdd, an independent implementation, establishes IPv4 and IPv6 sessions with ours', {
    skip: existsSync(BFDD) ? false : 'frr not installed',
  }, async () => {
    const pairs = [
      { ours: ADDR.c, theirs: ADDR.f },
      { ours: ADDR.c6, theirs: ADDR.f6 },
    ];
    const conf = join(dir, 'bfdd.conf');
    // No "interface": without zebra, bfdd does not know the namespace's interfaces; single hop by addresses.
    const lines = ['bfd'];
    for (const p of pairs) {
      lines.push(` peer ${p.ours} local-address ${p.theirs}`, '  receive-interval 10', '  transmit-interval 10');
      lines.push('  detect-multiplier 3', ' !');
    }
    writeFileSync(conf, `${lines.join('\n')}\n!\n`);
    chmodSync(conf, 0o644);
    const bfddArgs = ['-f', conf, '-i', join(dir, 'bfdd.pid'), '--vty_socket', dir, '--bfdctl', join(dir, 'bfdd.sock')];
    const frr = spawn('ip', ['netns', 'exec', NS.f, BFDD, ...bfddArgs, '--log', 'stdout'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let frrLog = '';
    frr.stdout.on('data', (d) => (frrLog += d));
    frr.stderr.on('data', (d) => (frrLog += d));
    const vtysh = async () =>
      (await sh(['ip', 'netns', 'exec', NS.f, 'vtysh', '--vty_socket', dir, '-d', 'bfdd', '-c', 'show bfd peers']))
        .stdout;
    /** block is bfdd's paragraph about the session with `peer`. */
    const block = (text: string, peer: string): string =>
      text.split(/\n(?=\s*peer )/).find((b) => b.trimStart().startsWith(`peer ${peer} `)) ?? '';
    await until('bfdd vty', async () => ((await vtysh()).includes(ADDR.c) ? true : undefined), 15_000);

    for (const p of pairs) {
      const c = spawnSpeaker(NS.c, ['--local', p.ours, '--peer', p.theirs]);
      await until(`ours up with bfdd (${p.ours})`, () => (c.last('up') ? true : undefined), 15_000);
      // Both views at once: ours has been Up a while and bfdd says up (a 10 ms session can flap on a loaded machine).
      const view = await until(
        `bfdd says up while ours is up (${p.ours})`,
        async () => {
          if (!c.upFor(100)) return undefined;
          const b = block(await vtysh(), p.ours);
          return /Status: up/.test(b) && c.upFor(100) ? b : undefined;
        },
        20_000,
      );
      console.log(`# bfdd: ${view.replace(/\s+/g, ' ').slice(0, 300)}`);
      const stats = await c.stats();
      const session = (stats.sessions as { local: number; remote: number }[])[0]!;
      assert.ok(view.includes(`local-address ${p.theirs}`), view);
      assert.match(view, new RegExp(`Remote ID: ${session.local}\\b`), 'bfdd learnt our discriminator');
      assert.match(view, new RegExp(`ID: ${session.remote}\\b`), 'we learnt bfdd’s discriminator');
      const remoteTimers = view.slice(view.indexOf('Remote timers'));
      assert.match(remoteTimers, /Detect-multiplier: 3/);
      assert.match(remoteTimers, /Receive interval: 10ms/);
      assert.match(remoteTimers, /Transmission interval: 10ms/);

      // Our side stops gracefully: bfdd sees AdminDown ("administratively down"), not a failure of its own.
      await c.stop();
      const after = await until(`bfdd down (${p.ours})`, async () => {
        const b = block(await vtysh(), p.ours);
        return /Status: down/.test(b) ? b : undefined;
      });
      assert.match(after, /Remote diagnostics: administratively down/);
    }
    frr.kill('SIGTERM');
    if (frrLog.includes('error')) console.log(`# bfdd log: ${frrLog.slice(0, 500)}`);
  });
});
