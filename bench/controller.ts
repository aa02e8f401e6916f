/**
 * Controller benchmark against the real kube-apiserver + etcd (lab/kube, the controller as its ServiceAccount with
 * the shipped RBAC) and, for comparison while it exists, against the API stand-in (lab/apiserver-standin): prints
 * figures with their n, never asserts (they depend on the machine). Three processes, as in a cluster: the API server,
 * the real controller (`bin/metal-vrrp.js controller --kubeconfig …`), and this client, which creates Services
 * through @kubernetes/client-node and watches them like any other client would.
 *
 * - time-to-IP: one Service at a time, from the create request to the watch event whose status carries an address;
 *   p50 / p99 over SAMPLES Services.
 * - allocations/s: BURST Services created as fast as the API takes them (CONCURRENCY requests in flight); count from
 *   the first create to the last address seen. The create rate alone is printed beside it: the figure cannot exceed it.
 * - backlog: the controller is stopped, BURST Services are created, a new controller starts; allocations/s from the
 *   first address seen to the last: what the controller sustains when the create rate is not the limit.
 *
 * Run: `npm run bench:controller` (or `node --import tsx bench/controller.ts [samples] [burst] [kube|standin|both]`).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { CoreV1Api, CustomObjectsApi, KubeConfig, Watch } from '@kubernetes/client-node';
import { startKubeServer } from '../lab/kube/server.ts';
import { reuseConnections } from '../src/k8s/clients.ts';

const SAMPLES = Number(process.argv[2] ?? 200);
const BURST = Number(process.argv[3] ?? 1000);
const WHICH = process.argv[4] ?? 'both';
const CONCURRENCY = 32;
const NS = 'bench';
const root = new URL('..', import.meta.url).pathname;

function start(args: string[], name: string): { child: ChildProcess; firstLine: Promise<string> } {
  const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const firstLine = new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve(out.slice(0, nl));
    });
    child.on('exit', (code) => reject(new Error(`${name} exited (${code}): ${err}`)));
  });
  return { child, firstLine };
}

/** cpuSeconds is a process's user+system CPU time from /proc (Linux), or NaN elsewhere. */
function cpuSeconds(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

function percentile(sorted: readonly number[], p: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] ?? Number.NaN;
}

/** Target is one API server to measure: the client's and the controller's kubeconfigs, its pid for CPU time. */
interface Target {
  readonly label: string;
  readonly url: string;
  readonly adminKubeconfig: string;
  readonly controllerKubeconfig: string;
  readonly pid: number | undefined;
  close(): Promise<void>;
}

/** realServer starts kube-lab-apiserver with metal-vrrp's CRDs and RBAC; the controller gets a ServiceAccount token. */
async function realServer(): Promise<Target> {
  const server = await startKubeServer({ name: 'bench-controller', installMetalVrrp: true });
  return {
    label: 'the real kube-apiserver + etcd (controller as its ServiceAccount)',
    url: server.url,
    adminKubeconfig: server.adminKubeconfig,
    controllerKubeconfig: await server.serviceAccountKubeconfig('metallb-system', 'controller'),
    pid: server.pid,
    close: () => server.stop(),
  };
}

/** standIn starts the API stand-in as its own process. */
async function standIn(): Promise<Target> {
  const dir = await mkdtemp(join(tmpdir(), 'mv-bench-'));
  const kubeconfig = join(dir, 'kubeconfig');
  const api = start(
    ['--import', 'tsx', 'lab/apiserver-standin/main.ts', '--kubeconfig', kubeconfig, '--history-limit', '100000'],
    'apiserver',
  );
  const url = await api.firstLine;
  return {
    label: 'the API stand-in (lab/apiserver-standin)',
    url,
    adminKubeconfig: kubeconfig,
    controllerKubeconfig: kubeconfig,
    pid: api.child.pid,
    async close() {
      api.child.kill('SIGTERM');
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** measure runs the three phases against one target and prints its figures. */
async function measure(target: Target): Promise<void> {
  let controller: ChildProcess | undefined;
  let stopWatch: (() => void) | undefined;
  const startController = () =>
    start(
      [
        'bin/metal-vrrp.js',
        'controller',
        '--kubeconfig',
        target.controllerKubeconfig,
        '--metrics-port',
        '0',
        '--log-level',
        'warn',
      ],
      'controller',
    );
  try {
    const kc = new KubeConfig();
    kc.loadFromFile(target.adminKubeconfig);
    // A client that keeps its connections, as kubectl does (client-node alone opens one per request).
    reuseConnections(kc);
    const core = kc.makeApiClient(CoreV1Api);
    const custom = kc.makeApiClient(CustomObjectsApi);
    await core.createNamespace({ body: { metadata: { name: NS } } });
    await custom.createNamespacedCustomObject({
      group: 'metallb.io',
      version: 'v1beta1',
      namespace: 'metallb-system',
      plural: 'ipaddresspools',
      body: {
        apiVersion: 'metallb.io/v1beta1',
        kind: 'IPAddressPool',
        metadata: { name: 'bench' },
        spec: { addresses: ['10.200.0.0/16'] },
      },
    });

    const ctl = startController();
    controller = ctl.child;
    ctl.firstLine.catch(() => {});
    // name -> [resolve, created at]
    const waiting = new Map<string, (at: number) => void>();
    const seen = new Set<string>();
    const req = await new Watch(kc).watch(
      `/api/v1/namespaces/${NS}/services`,
      {},
      (type: string, obj: { metadata?: { name?: string }; status?: { loadBalancer?: { ingress?: unknown[] } } }) => {
        const name = obj.metadata?.name ?? '';
        if (type === 'DELETED' || seen.has(name) || !obj.status?.loadBalancer?.ingress?.length) return;
        seen.add(name);
        waiting.get(name)?.(performance.now());
      },
      () => {},
    );
    stopWatch = () => req.abort();
    const ipSeen = (name: string) => new Promise<number>((resolve) => waiting.set(name, resolve));
    const create = (name: string) =>
      core.createNamespacedService({
        namespace: NS,
        body: {
          metadata: { name },
          spec: { type: 'LoadBalancer', selector: { app: name }, ports: [{ port: 80, protocol: 'TCP' }] },
        },
      });

    // Warm-up, which also waits for the controller to be up and ready.
    const warm = ipSeen('warm-up');
    await create('warm-up');
    await warm;

    const latencies: number[] = [];
    const afterCreate: number[] = []; // from the create response: the Service exists; what the controller adds
    for (let i = 0; i < SAMPLES; i++) {
      const name = `lat-${i}`;
      const got = ipSeen(name);
      const t0 = performance.now();
      await create(name);
      const t1 = performance.now();
      const seenAt = await got;
      latencies.push(seenAt - t0);
      afterCreate.push(Math.max(0, seenAt - t1));
    }
    latencies.sort((a, b) => a - b);
    afterCreate.sort((a, b) => a - b);

    const cpu0 = [cpuSeconds(target.pid), cpuSeconds(controller.pid)];
    const names = Array.from({ length: BURST }, (_, i) => `burst-${i}`);
    const all = Promise.all(names.map(ipSeen));
    const t0 = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < names.length) await create(names[next++] as string);
      }),
    );
    const created = performance.now();
    const last = Math.max(...(await all));
    const seconds = (last - t0) / 1000;
    const cpuApi = cpuSeconds(target.pid) - (cpu0[0] ?? 0);
    const cpuController = cpuSeconds(controller.pid) - (cpu0[1] ?? 0);

    // Backlog: stop the controller, queue BURST Services, start a fresh one.
    const stopped = new Promise((resolve) => controller?.once('exit', resolve));
    controller.kill('SIGTERM');
    await stopped;
    const backlog = Array.from({ length: BURST }, (_, i) => `backlog-${i}`);
    const backlogSeen = Promise.all(backlog.map(ipSeen));
    next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < backlog.length) await create(backlog[next++] as string);
      }),
    );
    const times: number[] = [];
    for (const n of backlog)
      waiting.set(
        n,
        ((resolve) => (at: number) => {
          times.push(at);
          resolve(at);
        })(waiting.get(n) as (at: number) => void),
      );
    controller = startController().child;
    await backlogSeen;
    const backlogSeconds = (Math.max(...times) - Math.min(...times)) / 1000;

    console.log(`controller benchmark via ${target.label} (${target.url}), 3 processes on this machine`);
    console.log(`time-to-IP over ${SAMPLES} Services created one at a time (create request -> watch event with IP):`);
    console.log(
      `  p50 ${percentile(latencies, 50).toFixed(1)} ms   p99 ${percentile(latencies, 99).toFixed(1)} ms   max ${(latencies.at(-1) ?? 0).toFixed(1)} ms   (n = ${SAMPLES})`,
    );
    console.log(
      `  from the create response (the Service stored; the API server's create latency left out): p50 ${percentile(afterCreate, 50).toFixed(1)} ms   p99 ${percentile(afterCreate, 99).toFixed(1)} ms   (n = ${SAMPLES})`,
    );
    console.log(`burst of ${BURST} Services, ${CONCURRENCY} creates in flight:`);
    console.log(`  creates accepted: ${(BURST / ((created - t0) / 1000)).toFixed(0)}/s (n = ${BURST})`);
    console.log(
      `  allocations (first create -> last IP seen): ${(BURST / seconds).toFixed(0)}/s over ${seconds.toFixed(2)} s (n = ${BURST})`,
    );
    console.log(
      `  CPU per allocation: controller ${((cpuController / BURST) * 1000).toFixed(2)} ms, API server ${((cpuApi / BURST) * 1000).toFixed(2)} ms (n = ${BURST}; machine load average ${loadavg()[0]?.toFixed(1)} on ${availableParallelism()} cores)`,
    );
    console.log(`backlog of ${BURST} Services waiting for a freshly started controller (restore, then allocate):`);
    console.log(
      `  allocations (first IP seen -> last IP seen): ${((BURST - 1) / backlogSeconds).toFixed(0)}/s over ${backlogSeconds.toFixed(2)} s (n = ${BURST})`,
    );
  } finally {
    stopWatch?.();
    controller?.kill('SIGTERM');
    await target.close();
  }
}

const load = loadavg()[0]?.toFixed(1);
console.log(`machine load average ${load} on ${availableParallelism()} cores before the run (figures taken under it)`);
if (WHICH !== 'standin') await measure(await realServer());
if (WHICH !== 'kube') await measure(await standIn());
process.exit(0);
