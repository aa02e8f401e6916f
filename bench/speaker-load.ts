/**
 * Speaker load benchmark: what does a speaker with many routers cost, next to keepalived with the same routers? On
 * one lab LAN, `--routers` IPv4 and as many IPv6 routers (default 255 + 255) at `--interval` ms (default 100): n1 has
 * priority 200 for all of them (master of every router), n2 priority 100 (backup of every router). For each mode in
 * turn (same run, same lab): start master, wait until it is master of every router, start backup, settle, then sample
 * each process once a second for `--seconds` (default 30): CPU from /proc/<pid>/stat (utime + stime deltas, in % of
 * one core) and RSS from /proc/<pid>/status. keepalived counts its parent and its VRRP child together.
 * Modes: `dist` (what the image runs: the Dockerfile's ENTRYPOINT — its node flags and script, the esbuild bundle
 * dist/bundle/cli.mjs — with its ENV; built on demand by `npm run build` when missing or older than the sources), `tsx` (bin/metal-vrrp.js through tsx: adds the loader's memory), `keepalived` (Debian's 2.2, one
 * vrrp_instance per router), `kube` (Kubernetes mode as the DaemonSet runs it, on the real kube-apiserver + etcd:
 * `--routers` dual-stack Services on 2 nodes, see measureKube). `--root DIR` runs our speaker from another checkout (e.g. a baseline), tsx mode only.
 * Prints progress, then figures with n and ratios to keepalived; asserts nothing. Needs root.
 *
 *   npm run bench:speaker-load -- [--mode dist,keepalived] [--seconds 30] [--settle 5] [--routers 255] [--interval 100]
 *                                 [--root /path/to/checkout] [--node-arg=--cpu-prof --node-arg=--cpu-prof-dir=/tmp/p]
 *                                 [--dockerfile OTHER]  (dist mode as another Dockerfile's ENTRYPOINT and ENV run it,
 *                                                        e.g. `git show main:Dockerfile`, for before/after figures)
 */
import { type ChildProcess, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { K8S_LAB_NAMESPACE, type K8sLab, startK8sLab } from '../lab/kube/k8s-lab.ts';
import { spawnIn } from '../lab/netlab/exec.ts';
import { buildLab, hostAddress, type Lab, type LabHost, teardownByPrefix } from '../lab/netlab/netns.ts';
import { type LogLine, onLogLines, REPO, type RouterOptions, speakerConfigYaml } from '../lab/netlab/speaker.ts';

const PREFIX = 'mvload';
const KUBE_PREFIX = 'mvloadk';
const { values } = parseArgs({
  options: {
    mode: { type: 'string', default: 'dist,keepalived' },
    seconds: { type: 'string', default: '30' },
    settle: { type: 'string', default: '5' },
    routers: { type: 'string', default: '255' },
    interval: { type: 'string', default: '100' },
    root: { type: 'string' },
    'node-arg': { type: 'string', multiple: true, default: [] },
    dockerfile: { type: 'string' },
  },
});
const SECONDS = Number(values.seconds);
const ROUTERS = Number(values.routers);
const INTERVAL_MS = Number(values.interval);
const ROOT = values.root === undefined ? REPO : `${values.root.replace(/\/+$/, '')}/`;
const MODES = (values.mode === 'both' ? 'tsx,dist' : (values.mode ?? '')).split(',').filter((m) => m !== '');
const NODE_ARGS = values['node-arg'] ?? [];
const CLK_TCK = 100; // USER_HZ on every Linux Node runs on; /proc/<pid>/stat counts in it
/** SETTLE_MS: after convergence, before sampling: JIT warm-up, announcements done; `--settle 60` for the steady
 * state after the speaker's start-up page release (30 s after it is ready). */
const SETTLE_MS = Number(values.settle) * 1000;
const T0 = Date.now();

type Mode = 'tsx' | 'dist' | 'keepalived' | 'kube';

/**
 * imageEntrypoint is the image's ENTRYPOINT (`["node", ...flags, entry]` in the Dockerfile): its node flags and the
 * script it runs, so `dist` mode runs the speaker as the image does. Its environment (`ENV` lines) too.
 */
function imageEntrypoint(): { flags: string[]; entry: string; env: Record<string, string> } {
  const text = readFileSync(values.dockerfile ?? `${REPO}Dockerfile`, 'utf8');
  const runtime = text.slice(text.lastIndexOf('\nFROM '));
  const m = /^ENTRYPOINT\s+(\[.*\])\s*$/m.exec(runtime);
  const argv = m ? (JSON.parse(m[1]!) as string[]) : [];
  if (argv[0] !== 'node' || argv.length < 2) throw new Error(`Dockerfile: ENTRYPOINT is not ["node", ..., script]`);
  const env: Record<string, string> = {};
  for (const e of runtime.matchAll(/^ENV\s+([A-Z_][A-Z0-9_]*)=(\S+)\s*$/gm)) env[e[1]!] = e[2]!;
  return { flags: argv.slice(1, -1), entry: argv.at(-1)!, env };
}
const IMAGE = imageEntrypoint();
const IMAGE_FLAGS = IMAGE.flags;

/** progress prints a timestamped line, so a long run shows where it is. */
function progress(msg: string): void {
  console.log(`[${((Date.now() - T0) / 1000).toFixed(0).padStart(4)} s] ${msg}`);
}

/** Proc is one measured process (keepalived: parent and VRRP child summed) as the sampler sees it. */
interface Proc {
  /** master / backup in the standalone modes; the node's name in kube mode (each masters part of the routers). */
  readonly role: string;
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

/**
 * memBreakdownMb splits a process's resident memory (/proc/<pid>/smaps_rollup): anonymous pages (V8 heap, code space,
 * malloc) against file-backed ones (the node binary's text and read-only data, shared between node processes).
 */
function memBreakdownMb(pids: readonly number[]): { anon: number; file: number; pss: number } {
  let anon = 0;
  let rss = 0;
  let pss = 0;
  for (const pid of pids) {
    const s = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? Number.NaN);
    anon += kb('Anonymous');
    rss += kb('Rss');
    pss += kb('Pss');
  }
  return { anon: anon / 1024, file: (rss - anon) / 1024, pss: pss / 1024 };
}

/** alive: the process still exists (a speaker that died while settling is named, with its stderr). */
const alive = (pid: number) => existsSync(`/proc/${pid}/stat`);

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
const pct = (q: number) => (xs: readonly number[]) =>
  sorted(xs)[Math.min(xs.length - 1, Math.max(0, Math.ceil(q * xs.length) - 1))]!;
const p90 = pct(0.9);
const p99 = pct(0.99);

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

/** ensureDist runs `npm run build` (tsc, then the bundle the image runs) when the image's entry script is missing or
 * older than src/, vrrp/ or the bundle script. */
function ensureDist(): void {
  const entry = `${REPO}${IMAGE.entry}`;
  const bundler = `${REPO}scripts/bundle.mjs`; // absent in checkouts from before the bundle
  const newest = Math.max(
    newestMtime([`${REPO}src`, `${REPO}vrrp`]),
    existsSync(bundler) ? statSync(bundler).mtimeMs : 0,
  );
  if (existsSync(entry) && statSync(entry).mtimeMs >= newest) {
    progress(`${IMAGE.entry} is up to date`);
    return;
  }
  progress(`building ${IMAGE.entry} (npm run build) ...`);
  execFileSync('npm', ['run', '-s', 'build'], { cwd: REPO, stdio: 'inherit' });
  progress(`${IMAGE.entry} built`);
}

/** logBackedProc is one of our speakers as the bench samples it: its pid, and its JSON log lines for the rest. */
function logBackedProc(
  child: ChildProcess,
  role: string,
  readyMsg: string,
  masters: (logs: readonly LogLine[]) => number,
): Proc {
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${role}: speaker did not start`);
  const logs: LogLine[] = [];
  const proc: Proc = {
    role,
    pids: () => [pid],
    masters: () => masters(logs),
    reasons: () => {
      const out: Record<string, number> = {};
      for (const l of logs) if (l['to'] === 'master') out[String(l['reason'])] = (out[String(l['reason'])] ?? 0) + 1;
      return out;
    },
    started: () => logs.some((l) => l['msg'] === readyMsg),
    stop: () => child.kill('SIGTERM'),
    stderr: '',
    exited: new Promise((resolve) => child.once('exit', () => resolve())),
  };
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    proc.stderr = (proc.stderr + d).slice(-4000);
  });
  onLogLines(child, (line) => {
    logs.push(line);
    if (line['msg'] === 'start-up pages released') {
      const { fileKb, mallocKb, mallocFreeKb, ms } = line;
      progress(`${role}: start-up pages released: ${JSON.stringify({ fileKb, mallocKb, mallocFreeKb, ms })}`);
    }
  });
  child.once('exit', (code, signal) => {
    proc.stderr += `\nexited (code ${code}, signal ${signal}); last log lines: ${logs
      .slice(-3)
      .map((l) => JSON.stringify(l))
      .join(' ')}`;
  });
  return proc;
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
  const entry = mode === 'tsx' ? `${ROOT}bin/metal-vrrp.js` : `${REPO}${IMAGE.entry}`;
  const flags = mode === 'dist' ? [...IMAGE_FLAGS, ...NODE_ARGS] : NODE_ARGS;
  const argv = [process.execPath, ...flags, entry, 'speaker', '--config', file, '--node-name', host.name];
  const env = mode === 'dist' ? { ...process.env, ...IMAGE.env } : process.env;
  const child = spawnIn(host.ns, argv, { cwd: mode === 'tsx' ? ROOT : REPO, env });
  // transitions to master: the master's all come at start, the backup's are takeovers
  return logBackedProc(child, role, 'speaker started', (logs) => logs.filter((l) => l['to'] === 'master').length);
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
  /** anonymous and file-backed resident MB per sample (smaps_rollup). */
  readonly anon: number[];
  readonly file: number[];
  /** mean CPU % over the whole window (all ticks / elapsed time: finer than the per-second samples' 1 % steps). */
  cpuMean: number;
}

/** sample reads CPU and memory of each process once a second for SECONDS. */
async function sample(mode: Mode, procs: readonly Proc[]): Promise<Figures[]> {
  const pids = procs.map((p) => p.pids());
  const ticks = pids.map((p) => cpuTicks(p));
  const first = ticks.map(([u, k]) => u + k);
  const tStart = performance.now();
  let t = tStart;
  const figs: Figures[] = procs.map((p) => ({
    mode,
    role: p.role,
    cpu: [],
    user: [],
    sys: [],
    rss: [],
    anon: [],
    file: [],
    cpuMean: Number.NaN,
  }));
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
      const mem = memBreakdownMb(pids[i]!);
      f.anon.push(mem.anon);
      f.file.push(mem.file);
    }
    t = now;
    if (s % 10 === 0 || s === SECONDS) {
      const so = figs.map((f) => `${f.role} ${median(f.cpu).toFixed(1)} % ${median(f.rss).toFixed(1)} MB`).join(', ');
      progress(`${mode}: sampled ${s}/${SECONDS} s; medians so far ${so}`);
    }
  }
  for (const [i, f] of figs.entries()) {
    const [u, k] = ticks[i]!;
    f.cpuMean = ((u + k - first[i]!) / CLK_TCK) * (100_000 / (t - tStart));
  }
  return figs;
}

async function measure(lab: Lab, mode: Exclude<Mode, 'kube'>): Promise<Figures[]> {
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
    for (const p of procs) await waitFor(p, 'alive after settling', () => p.pids().every(alive), 0);
    const figs = await sample(mode, procs);
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

/**
 * startKubeSpeakerProc runs the speaker as the DaemonSet does (`speaker --kubernetes --node-name --namespace`, the
 * image's entry, node flags and ENV), with the lab's ServiceAccount kubeconfig in place of the in-cluster one.
 */
function startKubeSpeakerProc(k: K8sLab, node: string): Proc {
  const host = k.hostOf(node);
  const argv = [
    process.execPath,
    ...IMAGE_FLAGS,
    ...NODE_ARGS,
    `${REPO}${IMAGE.entry}`,
    'speaker',
    '--kubernetes',
    `--node-name=${node}`,
    `--namespace=${K8S_LAB_NAMESPACE}`,
    `--kubeconfig=${k.speakerKubeconfig}`,
  ];
  const child = spawnIn(host.ns, argv, { cwd: REPO, env: { ...process.env, ...IMAGE.env } });
  // routers mastered now: transitions to master minus those from master to backup or initialize
  return logBackedProc(
    child,
    node,
    'speaker synced with the cluster',
    (logs) => logs.filter((l) => l['to'] === 'master').length - logs.filter((l) => l['from'] === 'master').length,
  );
}

/**
 * measureKube is Kubernetes mode on the real kube-apiserver + etcd of lab/kube: two nodes, `--routers` dual-stack
 * LoadBalancer Services (each an IPv4 and an IPv6 router: 2 × routers in all, every speaker runs all of them and
 * masters its share), the real controller allocating, kube-proxy on each node. Both speakers run as the DaemonSet
 * runs them; sampled once every Service has a master in its ServiceL2Status and SETTLE_MS more have passed.
 */
async function measureKube(): Promise<Figures[]> {
  progress(`kube: building the Kubernetes lab (kube-apiserver + etcd, ${ROUTERS} dual-stack Services) ...`);
  const k = await startK8sLab({
    prefix: KUBE_PREFIX,
    nodes: 2,
    services: ROUTERS,
    ipv6: true,
    ipv4Subnet: '10.79.0.0/16', // 255 Services' addresses from .100 up do not fit in a /24
    startSpeakers: false,
    poolAnnotations: { 'metal-vrrp.io/advert-interval': `${INTERVAL_MS}ms` },
  });
  const procs: Proc[] = [];
  try {
    progress(`kube: ${k.services.length} Services with addresses and VRIDs; starting both speakers ...`);
    const t0 = Date.now();
    for (const n of k.lab.nodes) procs.push(startKubeSpeakerProc(k, n.name));
    for (const p of procs) await waitFor(p, 'synced with the cluster', p.started, 120_000);
    const syncMs = Date.now() - t0;
    await k.waitFor('every Service with a master', () => k.services.every((s) => k.mastersOf(s).length > 0), 120_000);
    progress(`kube: synced after ${syncMs} ms, every Service mastered after ${Date.now() - t0} ms; settling ...`);
    await sleep(SETTLE_MS);
    const before = procs.map((p) => p.masters());
    const figs = await sample('kube', procs);
    progress(
      `kube: routers mastered per speaker ${procs.map((p, i) => `${p.role} ${before[i]} -> ${p.masters()}`).join(', ')} ` +
        `(${2 * ROUTERS} routers); load average ${loadavg()
          .map((x) => x.toFixed(2))
          .join(' ')}`,
    );
    return figs;
  } finally {
    await stop(procs);
    await k.stop();
  }
}

function report(all: readonly Figures[]): void {
  console.log(
    `\nper-second samples, n = ${SECONDS} per process; CPU in % of one core (median, mean, p90, max), RSS in MB (median, p99, max; anonymous and file-backed medians from smaps_rollup)`,
  );
  for (const f of all) {
    console.log(
      `${f.mode.padEnd(10)} ${f.role.padEnd(6)}: CPU median ${median(f.cpu).toFixed(1)} % (n=${f.cpu.length}; ` +
        `mean over the ${SECONDS} s ${f.cpuMean.toFixed(2)} %; ` +
        `p90 ${p90(f.cpu).toFixed(1)}, max ${Math.max(...f.cpu).toFixed(1)}; user ${median(f.user).toFixed(1)}, ` +
        `system ${median(f.sys).toFixed(1)}), RSS median ${median(f.rss).toFixed(1)} MB (n=${f.rss.length}; ` +
        `p99 ${p99(f.rss).toFixed(1)}, max ${Math.max(...f.rss).toFixed(1)}; anonymous ${median(f.anon).toFixed(1)}, ` +
        `file-backed ${median(f.file).toFixed(1)})`,
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
    if (mode !== 'tsx' && mode !== 'dist' && mode !== 'keepalived' && mode !== 'kube')
      throw new Error(`--mode: a list of tsx, dist, keepalived, kube (or both), not ${mode}`);
  }
  if (ROOT !== REPO && (MODES.includes('dist') || MODES.includes('kube')))
    throw new Error('--root runs another checkout in tsx mode only');
  if (MODES.includes('dist') || MODES.includes('kube')) ensureDist();
  const all: Figures[] = [];
  if (MODES.includes('kube')) {
    console.log(
      `speaker-load kube: ${ROUTERS} dual-stack Services (${2 * ROUTERS} routers) at ${INTERVAL_MS} ms on 2 nodes, ` +
        `${SECONDS} s sampled after convergence + ${SETTLE_MS / 1000} s; node ${process.version}; load average ` +
        `${loadavg()
          .map((x) => x.toFixed(2))
          .join(' ')}; runs ${IMAGE.entry} with [${IMAGE_FLAGS.join(' ')}] and env ${JSON.stringify(IMAGE.env)}`,
    );
    all.push(...(await measureKube()));
  }
  const local = MODES.filter((m) => m !== 'kube');
  if (local.length === 0) {
    report(all);
    return;
  }
  const lab = await buildLab({ prefix: PREFIX, nodes: 2, ipv4Subnet: '10.78.0.0/16', ipv6Subnet: 'fd00:78::/64' });
  try {
    console.log(
      `speaker-load: ${ROUTERS} IPv4 + ${ROUTERS} IPv6 routers at ${INTERVAL_MS} ms, n1 master of all, n2 backup; ` +
        `modes ${MODES.join(', ')}${ROOT === REPO ? '' : ` (our speaker from ${ROOT})`}; ${SECONDS} s sampled after ` +
        `convergence + ${SETTLE_MS / 1000} s; node ${process.version}; load average ${loadavg()
          .map((x) => x.toFixed(2))
          .join(
            ' ',
          )}; dist runs ${IMAGE.entry} with the image's node flags [${IMAGE_FLAGS.join(' ')}] and env ${JSON.stringify(IMAGE.env)}${NODE_ARGS.length ? `; node args ${NODE_ARGS.join(' ')}` : ''}`,
    );
    for (const mode of local) all.push(...(await measure(lab, mode as Exclude<Mode, 'kube'>)));
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
