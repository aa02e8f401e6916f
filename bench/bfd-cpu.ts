/**
 * BFD CPU benchmark: what do N sessions at 10 ms cost our speaker? One of our BFD speakers (test/net/bfd-node.ts:
 * BfdSocket + BfdPeers) in namespace bfdb-o holds N sessions, one per far-end address in bfdb-f (10.203.1.1 …
 * 10.203.1.N), 10 ms TX/RX, Detect Mult 3. The far end is FRR's bfdd for N = 1 (the same work in C, for a ratio) and
 * bench/bfd-peers-many.ts for N > 1 (bfdd keys single-hop sessions by peer address, so it cannot be N peers of one
 * address). CPU includes the kernel's veth work charged to each process. Once every session is Up and a settling
 * pause has passed, both processes are sampled for `--seconds`: CPU from /proc/<pid>/stat (utime + stime, % of one
 * core), our RSS from /proc/<pid>/status, and the session flaps seen meanwhile. Prints figures; asserts nothing.
 * Needs root and the frr package.
 *
 *   node --import tsx bench/bfd-cpu.ts [--sessions 1,10,50] [--seconds 10] [--no-chrt] [--far auto|frr]
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({
  options: {
    sessions: { type: 'string', default: '1,10,50' },
    seconds: { type: 'string', default: '10' },
    'no-chrt': { type: 'boolean', default: false },
    far: { type: 'string', default: 'auto' },
  },
});
const COUNTS = values.sessions.split(',').map(Number);
const SECONDS = Number(values.seconds);
const NS_O = 'bfdb-o';
const NS_F = 'bfdb-f';
const CLK_TCK = 100;
const SETTLE_MS = 3000;

function run(argv: string[]): string {
  return execFileSync(argv[0]!, argv.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}
function tryRun(argv: string[]): void {
  try {
    run(argv);
  } catch {}
}

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of proc(5))
}
function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

function setup(n: number): void {
  for (const ns of [NS_O, NS_F]) tryRun(['ip', 'netns', 'del', ns]);
  for (const ns of [NS_O, NS_F]) run(['ip', 'netns', 'add', ns]);
  run(['ip', '-n', NS_O, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', NS_F]);
  for (const ns of [NS_O, NS_F]) {
    run(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
    run(['ip', '-n', ns, 'link', 'set', 'eth0', 'up']);
  }
  run(['ip', '-n', NS_O, 'addr', 'add', '10.203.0.1/16', 'dev', 'eth0']);
  for (let i = 1; i <= n; i++) run(['ip', '-n', NS_F, 'addr', 'add', `10.203.1.${i}/16`, 'dev', 'eth0']);
}

function teardown(): void {
  for (const ns of [NS_O, NS_F]) tryRun(['ip', 'netns', 'del', ns]);
}

async function measure(n: number, chrt: boolean): Promise<void> {
  setup(n);
  const dir = mkdtempSync(join(tmpdir(), 'bfdb-'));
  chmodSync(dir, 0o777);
  const conf = ['bfd'];
  for (let i = 1; i <= n; i++) {
    conf.push(` peer 10.203.0.1 local-address 10.203.1.${i}`, '  receive-interval 10', '  transmit-interval 10', ' !');
  }
  writeFileSync(join(dir, 'bfdd.conf'), `${conf.join('\n')}\n!\n`);
  chmodSync(join(dir, 'bfdd.conf'), 0o644);
  const procs: ChildProcess[] = [];
  try {
    const useFrr = n === 1 || values.far === 'frr';
    const far = useFrr
      ? spawn(
          'ip',
          [
            'netns',
            'exec',
            NS_F,
            '/usr/lib/frr/bfdd',
            '-f',
            join(dir, 'bfdd.conf'),
            '-i',
            join(dir, 'bfdd.pid'),
            '--vty_socket',
            dir,
            '--bfdctl',
            join(dir, 'bfdd.sock'),
          ],
          { stdio: 'ignore' },
        )
      : spawn(
          'ip',
          [
            'netns',
            'exec',
            NS_F,
            ...(chrt ? ['chrt', '-f', '10'] : []),
            process.execPath,
            '--import',
            'tsx',
            join(ROOT, 'bench/bfd-peers-many.ts'),
            '--peer',
            '10.203.0.1',
            ...Array.from({ length: n }, (_, i) => ['--local', `10.203.1.${i + 1}`]).flat(),
          ],
          { cwd: ROOT, stdio: 'ignore' },
        );
    procs.push(far);
    const peers = Array.from({ length: n }, (_, i) => ['--peer', `10.203.1.${i + 1}`]).flat();
    const argv = ['netns', 'exec', NS_O, ...(chrt ? ['chrt', '-f', '10'] : [])];
    const ours = spawn(
      'ip',
      [
        ...argv,
        process.execPath,
        '--import',
        'tsx',
        join(ROOT, 'test/net/bfd-node.ts'),
        '--local',
        '10.203.0.1',
        ...peers,
      ],
      {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    procs.push(ours);
    const up = new Set<string>();
    let flaps = 0;
    let sampling = false;
    createInterface({ input: ours.stdout! }).on('line', (line) => {
      const e = JSON.parse(line) as { event: string; peer?: string };
      if (e.event === 'up' && e.peer) up.add(e.peer);
      if (e.event === 'down' && sampling) flaps++;
    });
    const deadline = Date.now() + 30_000;
    while (up.size < n && Date.now() < deadline) await sleep(100);
    if (up.size < n) {
      console.log(`sessions ${n}: only ${up.size} came up in 30 s; skipped`);
      return;
    }
    await sleep(SETTLE_MS);
    const farPid = useFrr ? Number(readFileSync(join(dir, 'bfdd.pid'), 'utf8').trim()) : far.pid!;
    const oursPid = ours.pid!;
    sampling = true;
    const t0 = performance.now();
    const o0 = cpuTicks(oursPid);
    const f0 = cpuTicks(farPid);
    await sleep(SECONDS * 1000);
    const wall = (performance.now() - t0) / 1000;
    const oursCpu = ((cpuTicks(oursPid) - o0) / CLK_TCK / wall) * 100;
    const farCpu = ((cpuTicks(farPid) - f0) / CLK_TCK / wall) * 100;
    const pps = Math.round((n * 2 * 1000) / 8.75); // both directions at the mean jittered interval (8.75 ms)
    console.log(
      [
        `sessions ${String(n).padStart(3)}`,
        `ours ${oursCpu.toFixed(1)} % of a core`,
        `far end (${useFrr ? 'FRR bfdd' : `our ${n}-peer process`}) ${farCpu.toFixed(1)} %`,
        ...(useFrr ? [`ratio to bfdd ${(oursCpu / Math.max(farCpu, 0.1)).toFixed(1)}`] : []),
        `ours RSS ${rssMb(oursPid).toFixed(0)} MB`,
        `flaps ${flaps}`,
        `≈${pps} packets/s`,
        `over ${wall.toFixed(1)} s`,
        `load ${loadavg()[0]!.toFixed(1)}`,
      ].join(' | '),
    );
  } finally {
    for (const p of procs) p.kill('SIGTERM');
    await sleep(300);
    teardown();
    rmSync(dir, { recursive: true, force: true });
  }
}

const chrt = !values['no-chrt'];
console.log(`BFD CPU: N sessions at 10 ms × 3, ${SECONDS} s each, SCHED_FIFO ${chrt ? 'on' : 'off'}`);
process.on('SIGINT', () => {
  teardown();
  process.exit(130);
});
for (const n of COUNTS) await measure(n, chrt);
