/**
 * Speaker load benchmark: what does a speaker with many routers cost, next to keepalived with the same routers? On
 * one lab LAN, `--routers` IPv4 and as many IPv6 routers (default 255 + 255) at `--interval` ms (default 100): n1 has
 * priority 200 for all of them (master of every router), n2 priority 100 (backup of every router). For each mode in
 * turn (same run, same lab): start master, wait until it is master of every router, start backup, settle, then sample
 * each process once a second for `--seconds` (default 30): CPU from /proc/<pid>/stat (utime + stime deltas, in % of
 * one core) and RSS from /proc/<pid>/status. keepalived counts its parent and its VRRP child together.
 * Modes: `dist` (node dist/src/cli.js with the node flags of the Dockerfile's ENTRYPOINT, what the image runs;
 * compiled on demand when dist/ is missing or older than the sources), `tsx` (bin/metal-vrrp.js through tsx: adds the loader's memory), `keepalived` (Debian's 2.2, one
 * vrrp_instance per router). `--root DIR` runs our speaker from another checkout (e.g. a baseline), tsx mode only.
 * Prints progress, then figures with n and ratios to keepalived; asserts nothing. Needs root.
 *
 *   npm run bench:speaker-load -- [--mode dist,keepalived] [--seconds 30] [--routers 255] [--interval 100]
 *                                 [--root /path/to/checkout] [--node-arg=--cpu-prof --node-arg=--cpu-prof-dir=/tmp/p]
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { spawnIn } from '../lab/netlab/exec.ts';
import { buildLab, hostAddress, type Lab, type LabHost, teardownByPrefix } from '../lab/netlab/netns.ts';
import { type LogLine, onLogLines, REPO, type RouterOptions, speakerConfigYaml } from '../lab/netlab/speaker.ts';

const PREFIX = 'mvload';
const { values } = parseArgs({
  options: {
    mode: { type: 'string', default: 'dist,keepalived' },
    seconds: { type: 'string', default: '30' },
    routers: { type: 'string', default: '255' },
    interval: { type: 'string', default: '100' },
    root: { type: 'string' },
    'node-arg': { type: 'string', multiple: true, default: [] },
  },
});
const SECONDS = Number(values.seconds);
const ROUTERS = Number(values.routers);
const INTERVAL_MS = Number(values.interval);
const ROOT = values.root === undefined ? REPO : `${values.root.replace(/\/+$/, '')}/`;
const MODES = (values.mode === 'both' ? 'tsx,dist' : (values.mode ?? '')).split(',').filter((m) => m !== '');
const NODE_ARGS = values['node-arg'] ?? [];
const CLK_TCK = 100; // USER_HZ on every Linux Node runs on; /proc/<pid>/stat counts in it
const SETTLE_MS = 5000; // after convergence: JIT warm-up, announcements done
const T0 = Date.now();

type Mode = 'tsx' | 'dist' | 'keepalived';

/**
 * imageNodeFlags are the node flags of the image's ENTRYPOINT (`["node", ...flags, "dist/src/cli.js"]` in the
 * Dockerfile), so `dist` mode runs the speaker as the image does.
 */
function imageNodeFlags(): string[] {
  const m = /^ENTRYPOINT\s+(\[.*\])\s*$/m.exec(readFileSync(`${REPO}Dockerfile`, 'utf8'));
  const argv = m ? (JSON.parse(m[1]!) as string[]) : [];
  const end = argv.indexOf('dist/src/cli.js');
  return argv[0] === 'node' && end > 0 ? argv.slice(1, end) : [];
}
const IMAGE_FLAGS = imageNodeFlags();

/** progress prints a timestamped line, so a long run shows where it is. */
function progress(msg: string): void {
  console.log(`[${((Date.now() - T0) / 1000).toFixed(0).padStart(4)} s] ${msg}`);
}

/** Proc is one measured process (keepalived: parent and VRRP child summed) as the sampler sees it. */
interface Proc {
  readonly role: 'master' | 'backup';
  readonly pids: () => number[];
  readonly masters: () => number;
  /** reasons of the transitions to master, counted (our speaker only). */
  readonly reasons: () => Record<string, number>;
  readonly started: () => boolean;
  readonly exited: Promise<void>;
  readonly stop: () => void;
  stderr: string;
}

/** cpuTicks is utime + stime, [user, system] summed over pids (fields 14 and 15 of /proc/<pid>/stat). */
function cpuTicks(pids: readonly number[]): [number, number] {
  let u = 0;
  let k = 0;
  for (const pid of pids) {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    u += Number(f[11]);
    k += Number(f[12]); // f[0] is field 3 (state)
  }
  return [u, k];
}

function rssMb(pids: readonly number[]): number {
  let kb = 0;
  for (const pid of pids) {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    kb += m ? Number(m[1]) : Number.NaN;
  }
  return kb / 1024;
}

const sorted = (xs: readonly number[]) => [...xs].sort((a, b) => a - b);
const median = (xs: readonly number[]) => {
  const s = sorted(xs);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const p90 = (xs: readonly number[]) => sorted(xs)[Math.min(xs.length - 1, Math.ceil(0.9 * xs.length) - 1)]!;

function v4Vip(lab: Lab, vrid: number): string {
  return hostAddress(lab.ipv4Subnet, 256 + vrid); // 10.x.1.0/24 of the lab's subnet, away from the hosts
}
function v6Vip(lab: Lab, vrid: number): string {
  return hostAddress(lab.ipv6Subnet, 0x10000 + vrid);
}

function routers(lab: Lab, priority: number): RouterOptions[] {
  const out: RouterOptions[] = [];
  for (let vrid = 1; vrid <= ROUTERS; vrid++) {
    out.push({ vrid, priority, vips: [v4Vip(lab, vrid)] });
    out.push({ vrid, priority, vips: [v6Vip(lab, vrid)] });
  }
  return out;
}

/** newestMtime is the latest modification time of a .ts file under dirs (recursively), in ms. */
function newestMtime(dirs: readonly string[]): number {
  let newest = 0;
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, e.name);
      if (e.isDirectory()) walk(path);
      else if (e.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
    }
  };
  for (const d of dirs) if (existsSync(d)) walk(d);
  return newest;
}

/** ensureDist compiles dist/ (npm run build's tsc) when it is missing or older than src/ and vrrp/. */
function ensureDist(): void {
  const cli = `${REPO}dist/src/cli.js`;
  if (existsSync(cli) && statSync(cli).mtimeMs >= newestMtime([`${REPO}src`, `${REPO}vrrp`])) {
    progress('dist/ is up to date');
    return;
  }
  progress('compiling dist/ (tsc -p tsconfig.build.json, as npm run build) ...');
  execFileSync(process.execPath, [`${REPO}node_modules/typescript/bin/tsc`, '-p', 'tsconfig.build.json'], {
    cwd: REPO,
    stdio: 'inherit',
  });
  progress('dist/ compiled');
}

function startSpeakerProc(host: LabHost, lab: Lab, mode: 'tsx' | 'dist', role: Proc['role']): Proc {
  const dir = `/run/metal-vrrp-lab/${host.ns}`;
  mkdirSync(dir, { recursive: true });
  const file = `${dir}/speaker.yaml`;
  const yaml = speakerConfigYaml(host, {
    advertIntervalMs: INTERVAL_MS,
    routers: routers(lab, role === 'master' ? 200 : 100),
  });
  writeFileSync(file, yaml);
  const entry = mode === 'tsx' ? `${ROOT}bin/metal-vrrp.js` : `${REPO}dist/src/cli.js`;
  const flags = mode === 'dist' ? [...IMAGE_FLAGS, ...NODE_ARGS] : NODE_ARGS;
  const argv = [process.execPath, ...flags, entry, 'speaker', '--config', file, '--node-name', host.name];
  const child = spawnIn(host.ns, argv, { cwd: mode === 'tsx' ? ROOT : REPO });
  if (child.pid === undefined) throw new Error(`${host.name}: speaker did not start`);
  const pid = child.pid;
  const logs: LogLine[] = [];
  const proc: Proc = {
    role,
    pids: () => [pid],
    masters: () => logs.filter((l) => l['to'] === 'master').length,
    reasons: () => {
      const out: Record<string, number> = {};
      for (const l of logs) if (l['to'] === 'master') out[String(l['reason'])] = (out[String(l['reason'])] ?? 0) + 1;
      return out;
    },
    started: () => logs.some((l) => l['msg'] === 'speaker started'),
    stop: () => child.kill('SIGTERM'),
    stderr: '',
    exited: new Promise((resolve) => child.once('exit', () => resolve())),
  };
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    proc.stderr = (proc.stderr + d).slice(-4000);
  });
  onLogLines(child, (line) => logs.push(line));
  return proc;
}

/** keepalivedConf: one vrrp_instance per router, the same VRIDs, priorities, VIPs and interval as our speaker's. */
function keepalivedConf(host: LabHost, lab: Lab, priority: number): string {
  const out = [
    `global_defs {\n  vrrp_version 3\n  router_id ${host.name}\n  vrrp_garp_master_repeat 3\n  vrrp_garp_interval 0.1\n  vrrp_gna_interval 0.1\n}`,
  ];
  const instance = (name: string, vrid: number, vip: string) =>
    `vrrp_instance ${name} {\n  state BACKUP\n  interface ${host.ifname}\n  virtual_router_id ${vrid}\n` +
    `  priority ${priority}\n  advert_int ${INTERVAL_MS / 1000}\n  virtual_ipaddress {\n    ${vip} dev ${host.ifname}\n  }\n}`;
  for (let vrid = 1; vrid <= ROUTERS; vrid++) {
    out.push(instance(`V4_${vrid}`, vrid, `${v4Vip(lab, vrid)}/${lab.prefixLen4}`));
    out.push(instance(`V6_${vrid}`, vrid, `${v6Vip(lab, vrid)}/${lab.prefixLen6}`));
  }
  return `${out.join('\n')}\n`;
}

function startKeepalivedProc(host: LabHost, lab: Lab, role: Proc['role']): Proc {
  const dir = `/run/metal-vrrp-lab/${host.ns}`;
  mkdirSync(dir, { recursive: true });
  const conf = `${dir}/keepalived-load.conf`;
  const pidFile = `${dir}/keepalived-load.pid`;
  const vrrpPidFile = `${dir}/keepalived-load-vrrp.pid`;
  rmSync(pidFile, { force: true });
  rmSync(vrrpPidFile, { force: true });
  writeFileSync(conf, keepalivedConf(host, lab, role === 'master' ? 200 : 100));
  const child = spawnIn(host.ns, ['keepalived', '-n', '-l', '-P', '-f', conf, '-p', pidFile, '-r', vrrpPidFile]);
  if (child.pid === undefined) throw new Error(`${host.name}: keepalived did not start`);
  const parent = child.pid;
  let masters = 0;
  const vrrpPid = () => {
    try {
      const n = Number(readFileSync(vrrpPidFile, 'utf8').trim());
      return Number.isInteger(n) && n > 0 ? n : undefined;
    } catch {
      return undefined;
    }
  };
  const proc: Proc = {
    role,
    pids: () => {
      const v = vrrpPid();
      return v === undefined ? [parent] : [parent, v];
    },
    masters: () => masters,
    reasons: () => ({}),
    started: () => vrrpPid() !== undefined,
    stop: () => child.kill('SIGTERM'),
    stderr: '',
    exited: new Promise((resolve) => child.once('exit', () => resolve())),
  };
  const onData = (d: string) => {
    masters += d.match(/Entering MASTER STATE/g)?.length ?? 0;
    proc.stderr = (proc.stderr + d).slice(-4000);
  };
  child.stdout?.setEncoding('utf8').on('data', onData);
  child.stderr?.setEncoding('utf8').on('data', onData);
  return proc;
}

async function waitFor(proc: Proc, what: string, pred: () => boolean, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > until) throw new Error(`${proc.role}: ${what} not within ${timeoutMs} ms; ${proc.stderr}`);
    await sleep(100);
  }
}

async function stop(procs: readonly Proc[]): Promise<void> {
  for (const p of procs) {
    try {
      p.stop();
    } catch {
      // already gone
    }
  }
  await Promise.race([Promise.all(procs.map((p) => p.exited)), sleep(10_000)]);
}

/** Figures of one process over the sampled seconds. */
interface Figures {
  readonly mode: Mode;
  readonly role: Proc['role'];
  readonly cpu: number[];
  readonly user: number[];
  readonly sys: number[];
  readonly rss: number[];
}

async function measure(lab: Lab, mode: Mode): Promise<Figures[]> {
  const [n1, n2] = lab.nodes as [LabHost, LabHost];
  const start = (host: LabHost, role: Proc['role']) =>
    mode === 'keepalived' ? startKeepalivedProc(host, lab, role) : startSpeakerProc(host, lab, mode, role);
  const procs: Proc[] = [];
  try {
    const t0 = Date.now();
    progress(`${mode}: starting the master (n1) ...`);
    const master = start(n1, 'master');
    procs.push(master);
    await waitFor(master, 'started', master.started, 60_000);
    const startMs = Date.now() - t0;
    await waitFor(master, `master of ${2 * ROUTERS} routers`, () => master.masters() >= 2 * ROUTERS, 60_000);
    progress(`${mode}: master of ${2 * ROUTERS} routers after ${Date.now() - t0} ms; starting the backup (n2) ...`);
    const backup = start(n2, 'backup');
    procs.push(backup);
    await waitFor(backup, 'started', backup.started, 60_000);
    await sleep(SETTLE_MS);
    const pids = procs.map((p) => p.pids());
    const ticks = pids.map((p) => cpuTicks(p));
    let t = performance.now();
    const figs: Figures[] = procs.map((p) => ({ mode, role: p.role, cpu: [], user: [], sys: [], rss: [] }));
    for (let s = 1; s <= SECONDS; s++) {
      await sleep(1000);
      const now = performance.now();
      for (const [i, f] of figs.entries()) {
        const tk = cpuTicks(pids[i]!);
        const pct = (ticks: number) => ((ticks / CLK_TCK) * 100_000) / (now - t);
        const u = tk[0] - ticks[i]![0];
        const k = tk[1] - ticks[i]![1];
        f.cpu.push(pct(u + k));
        f.user.push(pct(u));
        f.sys.push(pct(k));
        ticks[i] = tk;
        f.rss.push(rssMb(pids[i]!));
      }
      t = now;
      if (s % 10 === 0 || s === SECONDS) {
        progress(
          `${mode}: sampled ${s}/${SECONDS} s; CPU so far master ${median(figs[0]!.cpu).toFixed(1)} %, backup ${median(figs[1]!.cpu).toFixed(1)} %`,
        );
      }
    }
    const flaps = backup.masters();
    progress(
      `${mode}: start-up ${startMs} ms; the backup took over ${flaps} times during the run ` +
        `${JSON.stringify(backup.reasons())}; the master became master ${master.masters()} times (${2 * ROUTERS} at start)`,
    );
    return figs;
  } finally {
    await stop(procs);
  }
}

function report(all: readonly Figures[]): void {
  console.log(
    `\nper-second samples, n = ${SECONDS} per process; CPU in % of one core (median, p90, max), RSS in MB (median, max)`,
  );
  for (const f of all) {
    console.log(
      `${f.mode.padEnd(10)} ${f.role.padEnd(6)}: CPU median ${median(f.cpu).toFixed(1)} % (n=${f.cpu.length}; ` +
        `p90 ${p90(f.cpu).toFixed(1)}, max ${Math.max(...f.cpu).toFixed(1)}; user ${median(f.user).toFixed(1)}, ` +
        `system ${median(f.sys).toFixed(1)}), RSS median ${median(f.rss).toFixed(1)} MB (n=${f.rss.length}; ` +
        `max ${Math.max(...f.rss).toFixed(1)})`,
    );
  }
  for (const ours of all.filter((f) => f.mode !== 'keepalived')) {
    const ka = all.find((f) => f.mode === 'keepalived' && f.role === ours.role);
    if (ka === undefined) continue;
    const cpu = median(ours.cpu) / median(ka.cpu);
    const rss = median(ours.rss) / median(ka.rss);
    console.log(
      `ratio ${ours.mode}/keepalived ${ours.role.padEnd(6)}: CPU ${cpu.toFixed(2)}x, RSS ${rss.toFixed(2)}x (medians, n=${SECONDS} each)`,
    );
  }
}

async function main(): Promise<void> {
  for (const mode of MODES) {
    if (mode !== 'tsx' && mode !== 'dist' && mode !== 'keepalived')
      throw new Error(`--mode: a list of tsx, dist, keepalived (or both), not ${mode}`);
  }
  if (ROOT !== REPO && MODES.includes('dist')) throw new Error('--root runs another checkout in tsx mode only');
  if (MODES.includes('dist')) ensureDist();
  const lab = await buildLab({ prefix: PREFIX, nodes: 2, ipv4Subnet: '10.78.0.0/16', ipv6Subnet: 'fd00:78::/64' });
  try {
    console.log(
      `speaker-load: ${ROUTERS} IPv4 + ${ROUTERS} IPv6 routers at ${INTERVAL_MS} ms, n1 master of all, n2 backup; ` +
        `modes ${MODES.join(', ')}${ROOT === REPO ? '' : ` (our speaker from ${ROOT})`}; ${SECONDS} s sampled after ` +
        `convergence + ${SETTLE_MS / 1000} s; node ${process.version}; load average ${loadavg()
          .map((x) => x.toFixed(2))
          .join(
            ' ',
          )}; dist runs with the image's node flags [${IMAGE_FLAGS.join(' ')}]${NODE_ARGS.length ? `; node args ${NODE_ARGS.join(' ')}` : ''}`,
    );
    const all: Figures[] = [];
    for (const mode of MODES) all.push(...(await measure(lab, mode as Mode)));
    report(all);
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
