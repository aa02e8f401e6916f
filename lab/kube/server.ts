// server.ts — start a real kube-apiserver + etcd (kube-lab-apiserver, built by scripts/build-kube.sh from
// lab/kube/main.go) for a test file or the lab, and drive it with the real kubectl.
//
// Each server gets its own temp data dir (etcd data, keys, certs, logs, kubeconfigs) and free ports, so test files
// can run servers side by side. stop() and the exit of the starting process kill it by pid and remove the dir; a
// dir left by a crashed run (its owner process gone) is cleaned by the next start with the same name.
import { type ChildProcess, spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, stringify } from 'yaml';
import { nsArgv, procStartTime, type RunResult, run } from '../netlab/exec.ts';

/** REPO is the checkout's root (lab/kube/../..). */
const REPO = resolve(fileURLToPath(new URL('../..', import.meta.url)));

/** DUAL_STACK_SERVICE_RANGES are Service ClusterIP ranges for a dual-stack server (IPv4 first, the primary; an IPv6
 * range may be at most /108, kube-apiserver's allocator limit). */
export const DUAL_STACK_SERVICE_RANGES = '10.96.0.0/12,fd00:10:96::/108';

/** READY_TIMEOUT_MS bounds the start: etcd plus the apiserver's post-start hooks take seconds on a loaded machine. */
const READY_TIMEOUT_MS = 180_000;

/** kubeBinary is where scripts/build-kube.sh puts a binary (helm: built by its own script, same folder). */
export function kubeBinary(name: 'kube-lab-apiserver' | 'kubectl' | 'kube-proxy' | 'helm'): string {
  return join(REPO, '.cache', 'bin', name);
}

/** KubectlResult is what a finished kubectl left; a non-zero code is returned, not thrown. */
export type KubectlResult = RunResult;

/** KubeServer is one running kube-apiserver + etcd. */
export interface KubeServer {
  /** url is the secure port, e.g. https://127.0.0.1:41234. */
  readonly url: string;
  /** adminKubeconfig authenticates as a member of system:masters (static token). */
  readonly adminKubeconfig: string;
  readonly dataDir: string;
  readonly pid: number;
  /** kubectl runs the real kubectl (in the server's netns, if any) with the admin kubeconfig unless told another. */
  kubectl(args: readonly string[], opts?: { input?: string; kubeconfig?: string }): Promise<KubectlResult>;
  /** serviceAccountKubeconfig gets a token from the TokenRequest API and writes a kubeconfig using it. */
  /** serviceAccountKubeconfig gets a token from the TokenRequest API and writes a kubeconfig using it; `server`
   * replaces the URL (the same server as reached from a lab node, through a forwarder on 127.0.0.1). */
  serviceAccountKubeconfig(namespace: string, name: string, opts?: { server?: string }): Promise<string>;
  /** stop sends SIGTERM (SIGKILL after a grace period) and removes the data dir. */
  stop(): Promise<void>;
  /**
   * down stops the process (an API outage: etcd and the apiserver go together) and keeps the data dir; up() starts
   * the same cluster again: same ports, etcd data, keys and tokens, so every client's kubeconfig still works.
   */
  down(): Promise<void>;
  /** up restarts a server that is down and waits for ready; `securePort` serves it on another port meanwhile (the
   * clients of `url` still see it down; the admin kubeconfig follows it). */
  up(opts?: { securePort?: number }): Promise<void>;
  /** compact compacts etcd to its current revision (SIGUSR1) and resolves with it: older resourceVersions are gone. */
  compact(): Promise<number>;
}

/** KubeServerOptions: `name` prefixes the data dir (one per test file); `netns` runs the server in that namespace. */
export interface KubeServerOptions {
  readonly name: string;
  /** bindAddress is where the secure port and etcd listen (127.0.0.1 by default); a URL needs a concrete address. */
  readonly bindAddress?: string;
  readonly netns?: string;
  /** installMetalVrrp applies the CRDs, Namespace, ServiceAccounts and RBAC of manifests/ (no workloads). */
  readonly installMetalVrrp?: boolean;
  /** serviceClusterIPRange: one CIDR, or an IPv4 and an IPv6 one separated by a comma for a dual-stack cluster. */
  readonly serviceClusterIPRange?: string;
  /** port is the secure port at the first start (default a free one). */
  readonly port?: number;
  /** dataDir, when given, is the caller's: created if missing, never removed here, and the server is not killed
   * when this process exits (the lab's --keep; the lab's teardown ends it by namespace). */
  readonly dataDir?: string;
}

/** startKubeServer starts a server and resolves once /readyz is ok (and metal-vrrp's objects are in, if asked). */
export async function startKubeServer(opts: KubeServerOptions): Promise<KubeServer> {
  if (!/^[A-Za-z0-9_.-]+$/.test(opts.name)) throw new Error(`startKubeServer: bad name ${JSON.stringify(opts.name)}`);
  const bin = kubeBinary('kube-lab-apiserver');
  if (!existsSync(bin))
    throw new Error(`${bin} is missing: run bash scripts/build-kube.sh (or npm test / npm run lab)`);
  const owned = opts.dataDir === undefined;
  let dataDir: string;
  if (opts.dataDir === undefined) {
    cleanStale(opts.name);
    dataDir = mkdtempSync(join(tmpdir(), `${dirPrefix(opts.name)}`));
  } else {
    dataDir = opts.dataDir;
    mkdirSync(dataDir, { recursive: true });
  }
  const adminKubeconfig = join(dataDir, 'admin.kubeconfig');
  const argv = [bin, `--data-dir=${dataDir}`, `--kubeconfig=${adminKubeconfig}`];
  if (opts.bindAddress !== undefined) argv.push(`--bind-address=${opts.bindAddress}`);
  if (opts.serviceClusterIPRange !== undefined) argv.push(`--service-cluster-ip-range=${opts.serviceClusterIPRange}`);
  const log = join(dataDir, 'server.log');
  let proc = launch(opts.netns ?? null, opts.port === undefined ? argv : [...argv, `--secure-port=${opts.port}`], log);
  // owner: the process that must be alive for this dir to be in use (see cleanStale).
  const writeOwner = () =>
    writeFileSync(
      join(dataDir, 'owner'),
      `${proc.pid} ${procStartTime(proc.pid)} ${process.pid} ${procStartTime(process.pid)}\n`,
    );
  writeOwner();
  const onExit = () => {
    killQuietly(proc.pid, 'SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  };
  if (owned) process.on('exit', onExit);

  let url: string;
  try {
    url = await proc.ready;
  } catch (err) {
    process.off('exit', onExit);
    onExit();
    throw err;
  }
  let running = true;
  const down = async () => {
    if (!running) return;
    running = false;
    proc.child.ref(); // keep the event loop until the exit is seen
    killQuietly(proc.pid, 'SIGTERM');
    if (!(await within(proc.exited, 15_000))) {
      killQuietly(proc.pid, 'SIGKILL');
      await within(proc.exited, 5_000);
    }
  };

  const kubectl = (args: readonly string[], o: { input?: string; kubeconfig?: string } = {}) =>
    run(opts.netns ?? null, [kubeBinary('kubectl'), '--kubeconfig', o.kubeconfig ?? adminKubeconfig, ...args], {
      input: o.input ?? '',
      timeoutMs: 120_000,
    });
  const server: KubeServer = {
    url,
    adminKubeconfig,
    dataDir,
    get pid() {
      return proc.pid;
    },
    kubectl,
    async serviceAccountKubeconfig(namespace, name, o = {}) {
      const res = await kubectl(['create', 'token', name, '-n', namespace, '--duration=24h']);
      if (res.code !== 0) throw new Error(`kubectl create token ${namespace}/${name}: ${res.stderr.trim()}`);
      const suffix = o.server === undefined ? '' : `-${new URL(o.server).port}`;
      const path = join(dataDir, `sa-${namespace}-${name}${suffix}.kubeconfig`);
      const text = withToken(
        readFileSync(adminKubeconfig, 'utf8'),
        `${namespace}:${name}`,
        res.stdout.trim(),
        o.server,
      );
      writeFileSync(path, text);
      return path;
    },
    async stop() {
      process.off('exit', onExit);
      await down();
      if (owned) rmSync(dataDir, { recursive: true, force: true });
    },
    down,
    async up(o = {}) {
      await down(); // from a side port back to the usual one, or a restart
      proc = launch(
        opts.netns ?? null,
        o.securePort === undefined ? argv : [...argv, `--secure-port=${o.securePort}`],
        log,
      );
      writeOwner();
      running = true; // down() must end it even if it never gets ready
      await proc.ready; // on failure the exit hook or stop() still removes everything
    },
    async compact() {
      const before = readFileSync(log, 'utf8').length;
      killQuietly(proc.pid, 'SIGUSR1');
      for (let i = 0; i < 300; i++) {
        const m = /compacted etcd at revision (\d+)|compaction: (.*)/.exec(readFileSync(log, 'utf8').slice(before));
        if (m?.[1] !== undefined) return Number(m[1]);
        if (m?.[2] !== undefined) throw new Error(`etcd compaction failed: ${m[2]}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error('etcd compaction: no answer in 30 s');
    },
  };
  if (opts.installMetalVrrp) {
    try {
      await installMetalVrrp(server);
    } catch (err) {
      await server.stop();
      throw err;
    }
  }
  return server;
}

/** installMetalVrrp applies the kustomize render of manifests/ less its workloads, then waits for the CRDs. */
async function installMetalVrrp(server: KubeServer): Promise<void> {
  const render = await server.kubectl(['kustomize', join(REPO, 'manifests')]);
  if (render.code !== 0) throw new Error(`kubectl kustomize manifests: ${render.stderr.trim()}`);
  const workloads = new Set(['Deployment', 'DaemonSet', 'Service']);
  const objects = parseAllDocuments(render.stdout)
    .map((d) => d.toJS() as { kind?: string; metadata?: { name?: string } } | null)
    .filter((o) => o?.kind !== undefined && !workloads.has(o.kind));
  const input = objects.map((o) => `---\n${stringify(o)}`).join('');
  const applied = await server.kubectl(['apply', '--validate=strict', '-f', '-'], { input });
  if (applied.code !== 0) throw new Error(`kubectl apply (metal-vrrp manifests): ${applied.stderr.trim()}`);
  const crds = objects.filter((o) => o?.kind === 'CustomResourceDefinition').map((o) => `crd/${o?.metadata?.name}`);
  const est = await server.kubectl(['wait', '--for=condition=Established', '--timeout=60s', ...crds]);
  if (est.code !== 0) throw new Error(`CRDs not established: ${est.stderr.trim()}`);
}

/** Launched is one process of a server: a restart makes a new one on the same data dir. */
interface Launched {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly exited: Promise<void>;
  /** ready resolves with the URL once the ready line came (the child is then unref'd: it does not hold the test). */
  readonly ready: Promise<string>;
}

/** launch starts kube-lab-apiserver (in `netns`, if any), its stderr appended to `log`. */
function launch(netns: string | null, argv: readonly string[], log: string): Launched {
  const fd = openSync(log, 'a');
  let child: ChildProcess;
  try {
    const [cmd, ...rest] = nsArgv(netns, argv); // ip netns exec execs: the pid is the server's
    child = spawn(cmd!, rest, { stdio: ['ignore', 'pipe', fd], cwd: REPO });
  } finally {
    closeSync(fd);
  }
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${argv[0]}`);
  const exited = new Promise<void>((res) => child.once('exit', () => res()));
  const ready = readyLine(child, log).then((url) => {
    // The test process must be able to end while the server runs: stop() or the exit hook ends it.
    child.unref();
    (child.stdout as { unref?: () => void } | null)?.unref?.();
    return url;
  });
  return { child, pid, exited, ready };
}

/** readyLine resolves with the URL of the "kube-lab-apiserver ready URL" line, or rejects with the log's tail. */
function readyLine(child: ChildProcess, log: string): Promise<string> {
  return new Promise((res, rej) => {
    let out = '';
    const fail = (why: string) => {
      clearTimeout(timer);
      rej(new Error(`kube-lab-apiserver ${why}; last log lines:\n${tail(log, 20)}`));
    };
    const timer = setTimeout(() => fail(`not ready after ${READY_TIMEOUT_MS / 1000}s`), READY_TIMEOUT_MS);
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /^kube-lab-apiserver ready (\S+)$/m.exec(out);
      if (m) {
        clearTimeout(timer);
        res(m[1]!);
      }
    });
    child.once('exit', (code, sig) => fail(`exited (${sig ?? `code ${code}`}) before ready`));
    child.once('error', (err) => fail(`could not start: ${err.message}`));
  });
}

/** withToken turns the admin kubeconfig into one for `user` authenticating with `token` (same cluster and CA; the
 * URL replaced by `server` when given). */
function withToken(adminKubeconfig: string, user: string, token: string, server?: string): string {
  const doc = parseAllDocuments(adminKubeconfig)[0]?.toJS() as {
    clusters: { name: string; cluster: Record<string, string> }[];
    users: { name: string; user: Record<string, string> }[];
  };
  const clusters =
    server === undefined ? doc.clusters : doc.clusters.map((c) => ({ ...c, cluster: { ...c.cluster, server } }));
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters,
    users: [{ name: user, user: { token } }],
    contexts: [{ name: user, context: { cluster: 'kube-lab', user } }],
    'current-context': user,
  });
}

function dirPrefix(name: string): string {
  return `metal-vrrp-kube-${name}-`;
}

/** cleanStale kills the server of a dir `name` left behind whose owner process is gone, and removes the dir. */
function cleanStale(name: string): void {
  const prefix = dirPrefix(name);
  for (const entry of readdirSync(tmpdir())) {
    if (!entry.startsWith(prefix)) continue;
    const dir = join(tmpdir(), entry);
    let fields: number[];
    try {
      fields = readFileSync(join(dir, 'owner'), 'utf8').trim().split(' ').map(Number);
    } catch {
      continue; // being created right now, or not ours
    }
    const [pid, start, owner, ownerStart] = fields;
    if (owner !== undefined && procStartTime(owner) === ownerStart) continue; // in use
    if (pid !== undefined && procStartTime(pid) === start) killQuietly(pid, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

function killQuietly(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

function tail(path: string, lines: number): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** within resolves true when `p` settles within ms, else false; the timer does not outlive it. */
function within(p: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((res) => {
    timer = setTimeout(() => res(false), ms);
  });
  return Promise.race([p.then(() => true), late]).finally(() => clearTimeout(timer));
}
