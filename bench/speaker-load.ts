/**
 * Speaker load benchmark: what does a speaker with many routers cost? Two of our speakers run standalone on the lab
 * LAN with `--routers` IPv4 and as many IPv6 routers (default 255 + 255) at `--interval` ms (default 100): n1 has
 * priority 200 for all of them (master of every router), n2 priority 100 (backup of every router). After convergence
 * (n1 logged master for every router, then a settling pause) each process is sampled once a second for `--seconds`
 * (default 30): CPU from /proc/<pid>/stat (utime + stime deltas, in % of one core) and RSS from /proc/<pid>/status.
 * Runs the speaker from the TypeScript sources through tsx (bin/metal-vrrp.js) and from the compiled build
 * (node dist/src/cli.js; run `npm run build` first), as `--mode` says. Prints figures; asserts nothing. Needs root.
 *
 *   npm run bench:speaker-load -- [--mode both|tsx|dist] [--seconds 30] [--routers 255] [--interval 100]
 *                                 [--node-arg=--cpu-prof --node-arg=--cpu-prof-dir=/tmp/prof]
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { spawnIn } from '../lab/netlab/exec.ts';
import { buildLab, hostAddress, type Lab, type LabHost, teardownByPrefix } from '../lab/netlab/netns.ts';
import { type LogLine, onLogLines, REPO, type RouterOptions, speakerConfigYaml } from '../lab/netlab/speaker.ts';

const PREFIX = 'mvload';
const { values } = parseArgs({
  options: {
    mode: { type: 'string', default: 'both' },
    seconds: { type: 'string', default: '30' },
    routers: { type: 'string', default: '255' },
    interval: { type: 'string', default: '100' },
    'node-arg': { type: 'string', multiple: true, default: [] },
  },
});
const SECONDS = Number(values.seconds);
const ROUTERS = Number(values.routers);
const INTERVAL_MS = Number(values.interval);
const MODES: readonly string[] = values.mode === 'both' ? ['tsx', 'dist'] : [values.mode ?? 'both'];
const NODE_ARGS = values['node-arg'] ?? [];
const CLK_TCK = 100; // USER_HZ on every Linux Node runs on; /proc/<pid>/stat counts in it
const SETTLE_MS = 5000; // after convergence: JIT warm-up, announcements done

type Mode = 'tsx' | 'dist';

/** Proc is one speaker process as the sampler sees it. */
interface Proc {
  readonly role: 'master' | 'backup';
  readonly pid: number;
  readonly logs: LogLine[];
  readonly exited: Promise<void>;
  stderr: string;
}

/** cpuTicks is [utime, stime] of a process (fields 14 and 15 of /proc/<pid>/stat, after the `(comm)` field). */
function cpuTicks(pid: number): [number, number] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return [Number(f[11]), Number(f[12])]; // f[0] is field 3 (state)
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

function routers(lab: Lab, priority: number): RouterOptions[] {
  const out: RouterOptions[] = [];
  for (let vrid = 1; vrid <= ROUTERS; vrid++) {
    // VIPs from 10.x.1.0/24 and ::1:0/112 of the lab's subnets, away from the hosts' own addresses.
    out.push({ vrid, priority, vips: [hostAddress(lab.ipv4Subnet, 256 + vrid)] });
    out.push({ vrid, priority, vips: [hostAddress(lab.ipv6Subnet, 0x10000 + vrid)] });
  }
  return out;
}

function start(host: LabHost, lab: Lab, mode: Mode, role: Proc['role']): Proc {
  const dir = `/run/metal-vrrp-lab/${host.ns}`;
  mkdirSync(dir, { recursive: true });
  const file = `${dir}/speaker.yaml`;
  const yaml = speakerConfigYaml(host, {
    advertIntervalMs: INTERVAL_MS,
    routers: routers(lab, role === 'master' ? 200 : 100),
  });
  writeFileSync(file, yaml);
  const entry = mode === 'tsx' ? `${REPO}bin/metal-vrrp.js` : `${REPO}dist/src/cli.js`;
  const argv = [process.execPath, ...NODE_ARGS, entry, 'speaker', '--config', file, '--node-name', host.name];
  const child = spawnIn(host.ns, argv, { cwd: REPO });
  if (child.pid === undefined) throw new Error(`${host.name}: speaker did not start`);
  const logs: LogLine[] = [];
  const proc: Proc = {
    role,
    pid: child.pid,
    logs,
    stderr: '',
    exited: new Promise((resolve) => child.once('exit', () => resolve())),
  };
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    proc.stderr = (proc.stderr + d).slice(-4000);
  });
  onLogLines(child, (line) => logs.push(line));
  return proc;
}

async function waitFor(proc: Proc, what: string, pred: () => boolean, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > until) throw new Error(`${proc.role}: ${what} not within ${timeoutMs} ms; ${proc.stderr}`);
    await sleep(100);
  }
}

const masters = (p: Proc) => p.logs.filter((l) => l['to'] === 'master').length;

async function stop(procs: readonly Proc[]): Promise<void> {
  for (const p of procs) {
    try {
      process.kill(p.pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
  await Promise.race([Promise.all(procs.map((p) => p.exited)), sleep(10_000)]);
}

async function measure(lab: Lab, mode: Mode): Promise<void> {
  const [n1, n2] = lab.nodes as [LabHost, LabHost];
  const procs: Proc[] = [];
  try {
    const t0 = Date.now();
    const master = start(n1, lab, mode, 'master');
    procs.push(master);
    await waitFor(master, 'started', () => master.logs.some((l) => l['msg'] === 'speaker started'), 60_000);
    const startMs = Date.now() - t0;
    await waitFor(master, `master of ${2 * ROUTERS} routers`, () => masters(master) >= 2 * ROUTERS, 30_000);
    const backup = start(n2, lab, mode, 'backup');
    procs.push(backup);
    await waitFor(backup, 'started', () => backup.logs.some((l) => l['msg'] === 'speaker started'), 60_000);
    await sleep(SETTLE_MS);
    const ticks = procs.map((p) => cpuTicks(p.pid));
    let t = performance.now();
    const cpu: number[][] = procs.map(() => []);
    const user: number[][] = procs.map(() => []);
    const sys: number[][] = procs.map(() => []);
    const rss: number[][] = procs.map(() => []);
    for (let s = 0; s < SECONDS; s++) {
      await sleep(1000);
      const now = performance.now();
      for (const [i, p] of procs.entries()) {
        const tk = cpuTicks(p.pid);
        const pct = (ticks: number) => ((ticks / CLK_TCK) * 100_000) / (now - t);
        const u = tk[0] - ticks[i]![0];
        const k = tk[1] - ticks[i]![1];
        cpu[i]!.push(pct(u + k));
        user[i]!.push(pct(u));
        sys[i]!.push(pct(k));
        ticks[i] = tk;
        rss[i]!.push(rssMb(p.pid));
      }
      t = now;
    }
    const flaps = masters(backup);
    const lostByMaster = master.logs.filter((l) => l['from'] === 'master').length;
    for (const [i, p] of procs.entries()) {
      const c = cpu[i]!;
      console.log(
        `${mode.padEnd(4)} ${p.role.padEnd(6)}: CPU median ${median(c).toFixed(1)} % of a core ` +
          `(min ${Math.min(...c).toFixed(1)}, max ${Math.max(...c).toFixed(1)}; ` +
          `user ${median(user[i]!).toFixed(1)}, system ${median(sys[i]!).toFixed(1)}), ` +
          `RSS median ${median(rss[i]!).toFixed(0)} MB (max ${Math.max(...rss[i]!).toFixed(0)})`,
      );
    }
    console.log(
      `${mode.padEnd(4)} start-up to "speaker started" ${startMs} ms; during the run the backup took over ` +
        `${flaps} times, the master stepped down ${lostByMaster} times`,
    );
  } finally {
    await stop(procs);
  }
}

async function main(): Promise<void> {
  for (const mode of MODES) {
    if (mode !== 'tsx' && mode !== 'dist') throw new Error(`--mode: tsx, dist or both, not ${mode}`);
    if (mode === 'dist' && !existsSync(`${REPO}dist/src/cli.js`)) throw new Error('no dist/: run npm run build');
  }
  const lab = await buildLab({ prefix: PREFIX, nodes: 2, ipv4Subnet: '10.78.0.0/16', ipv6Subnet: 'fd00:78::/64' });
  try {
    console.log(
      `speaker-load: ${ROUTERS} IPv4 + ${ROUTERS} IPv6 routers at ${INTERVAL_MS} ms, n1 master of all, n2 backup; ` +
        `${SECONDS} s sampled after convergence + ${SETTLE_MS / 1000} s; node ${process.version}; ` +
        `load average ${loadavg()
          .map((x) => x.toFixed(2))
          .join(' ')}${NODE_ARGS.length ? `; node args ${NODE_ARGS.join(' ')}` : ''}`,
    );
    for (const mode of MODES) await measure(lab, mode as Mode);
    console.log(
      `load average after ${loadavg()
        .map((x) => x.toFixed(2))
        .join(' ')}`,
    );
  } finally {
    await teardownByPrefix(PREFIX);
  }
}

await main();
