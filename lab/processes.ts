// processes.ts — the lab's long-running processes (controller, one speaker per node): started inside
// their namespace with the real CLI, output appended to a log file under .lab/<prefix>/, recorded in the lab's pid
// file (spawnIn) so a later run, or `--down`, stops them by exact pid even after the lab itself was killed.
import type { ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { spawnIn } from './netlab/exec.ts';
import { CLI, METALLB_NAMESPACE, METRICS_PORT, REPO, type RunPlan } from './plan.ts';

/** ProcessSpec: `ns` is the namespace to run in; output goes (appended) to `log`. */
export interface ProcessSpec {
  readonly name: string;
  readonly ns: string;
  readonly argv: readonly string[];
  readonly log: string;
}

/** ManagedProcess is one started process. */
export interface ManagedProcess {
  readonly name: string;
  readonly spec: ProcessSpec;
  readonly pid: number;
  readonly child: ChildProcess;
  running(): boolean;
  /** exitText says how it ended ("code 1", "signal SIGKILL") or "running". */
  exitText(): string;
  /** logTail is the last lines of its log, for error messages. */
  logTail(lines?: number): string;
  signal(sig: NodeJS.Signals): void;
  /** waitExit resolves when it has exited, or false after timeoutMs. */
  waitExit(timeoutMs: number): Promise<boolean>;
  /** stop sends SIGTERM, then SIGKILL after graceMs. */
  stop(graceMs?: number): Promise<void>;
}

/** startProcess starts spec.argv in spec.ns; the child is not waited for here (see waitHttpOk for readiness). */
export function startProcess(spec: ProcessSpec): ManagedProcess {
  const fd = openSync(spec.log, 'a');
  let child: ChildProcess;
  try {
    child = spawnIn(spec.ns, spec.argv, { stdio: ['ignore', fd, fd], cwd: REPO });
  } finally {
    closeSync(fd);
  }
  if (child.pid === undefined) throw new Error(`${spec.name}: could not start ${spec.argv.join(' ')}`);
  let exit: string | null = null;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, sig) => {
      exit = sig ? `signal ${sig}` : `code ${code}`;
      resolve();
    });
    child.once('error', (err) => {
      exit = `spawn error ${err.message}`;
      resolve();
    });
  });
  const waitExit = async (timeoutMs: number) => {
    if (exit !== null) return true;
    const timer = sleep(timeoutMs).then(() => false);
    return Promise.race([exited.then(() => true), timer]);
  };
  const p: ManagedProcess = {
    name: spec.name,
    spec,
    pid: child.pid,
    child,
    running: () => exit === null,
    exitText: () => exit ?? 'running',
    logTail: (n = 15) => tail(spec.log, n),
    signal(sig) {
      if (exit === null) child.kill(sig);
    },
    waitExit,
    async stop(graceMs = 3000) {
      p.signal('SIGTERM');
      if (!(await waitExit(graceMs))) {
        p.signal('SIGKILL');
        await waitExit(2000);
      }
    },
  };
  return p;
}

/** restart starts a fresh process from the same spec (its log continues in the same file). */
export function restart(p: ManagedProcess): ManagedProcess {
  return startProcess(p.spec);
}

/** controllerSpec is `metal-vrrp controller` on the control-plane host (the client namespace). */
export function controllerSpec(plan: RunPlan): ProcessSpec {
  return {
    name: 'controller',
    ns: plan.net.client.ns,
    argv: [
      process.execPath,
      CLI,
      'controller',
      '--kubeconfig',
      plan.controllerKubeconfig,
      '--namespace',
      METALLB_NAMESPACE,
      '--metrics-port',
      String(METRICS_PORT),
      '--log-level',
      'info',
    ],
    log: plan.controllerLog,
  };
}

/** speakerSpec is `metal-vrrp speaker` in Kubernetes mode inside node i's namespace, as the DaemonSet runs it; it
 * finds the interface itself (the one holding the node's address in the VIP's subnet, issue 6). */
export function speakerSpec(plan: RunPlan, i: number): ProcessSpec {
  const n = plan.nodes[i];
  if (!n) throw new Error(`no node ${i}`);
  return {
    name: `speaker ${n.nodeName}`,
    ns: n.host.ns,
    argv: [
      process.execPath,
      CLI,
      'speaker',
      '--kubeconfig',
      n.kubeconfig,
      '--node-name',
      n.nodeName,
      '--namespace',
      METALLB_NAMESPACE,
      '--metrics-port',
      String(METRICS_PORT),
    ],
    log: n.log,
  };
}

/** tail returns the last n lines of a file ('' when unreadable). */
function tail(path: string, n: number): string {
  try {
    const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
    return lines.slice(-n).join('\n');
  } catch {
    return '';
  }
}
