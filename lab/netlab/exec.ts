// exec.ts — run commands inside a network namespace, and keep a record of the long-running ones so that a crashed
// test run can be cleaned up later by exact pid (see teardownByPrefix in netns.ts).
import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { constants } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';

/** RunResult is what a finished command left: its exit code (128 + signal number when killed) and its output. */
export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** RunOptions: `input` is written to stdin (for `ip -batch -`); `timeoutMs` kills the command with SIGKILL. */
export interface RunOptions {
  readonly input?: string;
  readonly timeoutMs?: number;
}

/** PIDS_DIR holds one file per lab prefix listing the processes spawnIn started: `pid starttime ns argv0` a line. */
export const PIDS_DIR = '/run/metal-vrrp-lab';

/**
 * nsArgv prefixes argv with `ip netns exec NS`. `ip netns exec` execs the command (same pid, so tracking by pid
 * works) and remounts /sys for the namespace, which tools reading /sys/class/net need; null means "here".
 */
export function nsArgv(ns: string | null, argv: readonly string[]): string[] {
  if (argv.length === 0) throw new Error('nsArgv: empty argv');
  return ns === null ? [...argv] : ['ip', 'netns', 'exec', ns, ...argv];
}

/** run runs argv in namespace `ns` (null: the caller's own namespace) and resolves when it exits; it never rejects
 * on a non-zero exit, because "no reply" is often the answer a test wants (arping, curl). */
export function run(ns: string | null, argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const [cmd, ...args] = nsArgv(ns, argv);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd!, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const timer = opts.timeoutMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? 128 + signalNumber(signal), stdout, stderr });
    });
    child.stdin.on('error', () => {}); // a command that exits before reading stdin is not our error
    child.stdin.end(opts.input ?? '');
  });
}

/** runOk is run for commands that must succeed (set-up steps): it rejects with the command and its stderr. */
export async function runOk(ns: string | null, argv: readonly string[], opts: RunOptions = {}): Promise<string> {
  const res = await run(ns, argv, opts);
  if (res.code !== 0) {
    const where = ns === null ? '' : ` (in ${ns})`;
    throw new Error(`${argv.join(' ')}${where} exited ${res.code}: ${res.stderr.trim() || res.stdout.trim()}`);
  }
  return res.stdout;
}

/** ipBatch feeds `ip [-n NS] -batch -` one command a line: one process for a whole set-up step. */
export function ipBatch(ns: string | null, lines: readonly string[]): Promise<string> {
  if (lines.length === 0) return Promise.resolve('');
  const argv = ns === null ? ['ip', '-batch', '-'] : ['ip', '-n', ns, '-batch', '-'];
  return runOk(null, argv, { input: `${lines.join('\n')}\n` });
}

/** labPrefixOf maps a lab namespace name (`P-sw`, `P-c`, `P-n3`) to its prefix P, or null for any other name. */
export function labPrefixOf(ns: string): string | null {
  const m = /^(.+)-(?:sw|c|n\d+)$/.exec(ns);
  return m ? m[1]! : null;
}

/** SpawnInOptions: `prefix` names the pid file when `ns` is not a lab namespace name; the rest goes to spawn(). */
export interface SpawnInOptions extends Omit<SpawnOptions, 'argv0' | 'detached'> {
  readonly prefix?: string;
}

/**
 * spawnIn starts a long-running command in a namespace and appends it to the prefix's pid file, so that
 * teardownByPrefix can stop it even when the test process died. Default stdio is ignore/pipe/pipe.
 */
export function spawnIn(ns: string, argv: readonly string[], opts: SpawnInOptions = {}): ChildProcess {
  const { prefix: explicit, ...spawnOpts } = opts;
  const prefix = explicit ?? labPrefixOf(ns);
  if (prefix === null) throw new Error(`spawnIn: ${ns} is not a lab namespace; pass opts.prefix`);
  const [cmd, ...args] = nsArgv(ns, argv);
  const child = spawn(cmd!, args, { stdio: ['ignore', 'pipe', 'pipe'], ...spawnOpts });
  if (child.pid !== undefined) {
    mkdirSync(PIDS_DIR, { recursive: true });
    // The start time lets a later teardown tell our process from an unrelated one that reused the pid.
    const start = procStartTime(child.pid) ?? 0;
    appendFileSync(pidFile(prefix), `${child.pid} ${start} ${ns} ${argv[0]}\n`);
  }
  return child;
}

/** pidFile is where spawnIn records the processes of a lab prefix. */
export function pidFile(prefix: string): string {
  return `${PIDS_DIR}/${prefix}.pids`;
}

/**
 * procStartTime reads field 22 of /proc/PID/stat (start time in clock ticks since boot), or null when the process
 * is gone. The command name (field 2) may hold spaces and parentheses, so fields are counted after the last ')'.
 */
export function procStartTime(pid: number): number | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const start = Number(fields[19]); // field 22 overall; fields[0] is field 3 (state)
  return Number.isFinite(start) ? start : null;
}

/** TrackedProcess is one line of a pid file. */
export interface TrackedProcess {
  readonly pid: number;
  readonly startTime: number;
  readonly ns: string;
  readonly command: string;
}

/** readTracked parses a prefix's pid file; a missing file is an empty list. */
export function readTracked(prefix: string): TrackedProcess[] {
  let text: string;
  try {
    text = readFileSync(pidFile(prefix), 'utf8');
  } catch {
    return [];
  }
  const out: TrackedProcess[] = [];
  for (const line of text.split('\n')) {
    const [pid, start, ns, command] = line.split(' ');
    if (pid && start && ns) out.push({ pid: Number(pid), startTime: Number(start), ns, command: command ?? '' });
  }
  return out;
}

/**
 * killTracked stops the processes of a prefix's pid file that are still the processes we started (same pid and
 * start time): SIGTERM, then SIGKILL after `graceMs`. Removes the pid file. Returns the pids it signalled.
 */
export async function killTracked(prefix: string, graceMs = 500): Promise<number[]> {
  const alive = readTracked(prefix)
    .filter((p) => procStartTime(p.pid) === p.startTime)
    .map((p) => p.pid);
  await killPids(alive, graceMs);
  rmSync(pidFile(prefix), { force: true });
  return alive;
}

/**
 * killPids sends SIGTERM to each pid, waits up to graceMs for all of them to go, then SIGKILLs the rest. Polling
 * through timers lets Node reap its own children in between (a zombie still answers kill 0).
 */
export async function killPids(pids: readonly number[], graceMs = 500): Promise<void> {
  const starts = new Map(pids.map((pid) => [pid, procStartTime(pid)] as const)); // pid -> start time when asked
  const isOurs = (pid: number) => starts.get(pid) !== null && procStartTime(pid) === starts.get(pid);
  const signal = (pid: number, sig: NodeJS.Signals) => {
    try {
      process.kill(pid, sig);
    } catch {
      // already gone
    }
  };
  for (const pid of pids) if (isOurs(pid)) signal(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (pids.some((pid) => isOurs(pid) && !isZombie(pid)) && Date.now() < deadline) await sleep(10);
  for (const pid of pids) if (isOurs(pid) && !isZombie(pid)) signal(pid, 'SIGKILL');
  while (pids.some((pid) => isOurs(pid) && !isZombie(pid)) && Date.now() < deadline + 1000) await sleep(10);
}

/** isRunning: the process exists and is not a zombie (what a test means by "still there"). */
export function isRunning(pid: number): boolean {
  return procStartTime(pid) !== null && !isZombie(pid);
}

/** isZombie: a dead process not yet reaped by its parent; it holds no namespace or socket any more. */
function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return false;
  }
}

/**
 * pidsInNetns lists the processes whose network namespace is the one mounted at /run/netns/NS (what
 * `ip netns pids` does: compare the nsfs inode), without spawning anything.
 */
export function pidsInNetns(ns: string, procEntries: readonly string[]): number[] {
  let target: { dev: number; ino: number };
  try {
    target = statSync(`/run/netns/${ns}`);
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const entry of procEntries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const st = statSync(`/proc/${entry}/ns/net`);
      if (st.ino === target.ino && st.dev === target.dev) out.push(Number(entry));
    } catch {
      // exited meanwhile, or a kernel thread
    }
  }
  return out;
}

/** signalNumber turns a signal name into its number for the 128+N exit-code convention. */
function signalNumber(signal: NodeJS.Signals | null): number {
  return signal === null ? 0 : (constants.signals[signal] ?? 0);
}

/** onLines calls fn for each complete stdout line of a child. */
export function onLines(child: ChildProcess, fn: (line: string) => void): void {
  let buf = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    let nl = buf.indexOf('\n');
    while (nl >= 0) {
      fn(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
      nl = buf.indexOf('\n');
    }
  });
}
