// kube-lab.ts — what the controller integration tests share when they run on the real kube-apiserver + etcd
// (lab/kube/server.ts): the real controller started in this process as its ServiceAccount (a TokenRequest token, so
// the shipped RBAC is what it gets), objects applied with the real kubectl (validation on), and async readers of
// what the controller wrote, through @kubernetes/client-node as admin.
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { type KubeServer, startKubeServer } from '../../lab/kube/server.ts';
import { type LeaderElectionOptions, type RunningController, startController } from '../../src/cli/controller.ts';
import { createLogger } from '../../src/log.ts';

export const NS = 'metallb-system';
const SEED = join(import.meta.dirname, '..', '..', 'lab', 'seed');

/** KubeLab is one real API server with helpers; each test file makes its own (named after the file). */
export class KubeLab {
  readonly logs: string[] = [];
  readonly controllers: RunningController[] = [];

  private constructor(
    readonly server: KubeServer,
    readonly core: CoreV1Api,
    readonly custom: CustomObjectsApi,
    /** controllerKubeconfig authenticates as system:serviceaccount:metallb-system:controller. */
    readonly controllerKubeconfig: string,
  ) {}

  /** start: `dualStack` gives the cluster an IPv6 Service range too (Services of family IPv6 or both). */
  static async start(name: string, opts: { dualStack?: boolean } = {}): Promise<KubeLab> {
    const server = await startKubeServer({
      name,
      installMetalVrrp: true,
      ...(opts.dualStack ? { serviceClusterIPRange: '10.96.0.0/12,fd00:96::/108' } : {}),
    });
    try {
      const admin = new KubeConfig();
      admin.loadFromFile(server.adminKubeconfig);
      const controllerKubeconfig = await server.serviceAccountKubeconfig(NS, 'controller');
      return new KubeLab(
        server,
        admin.makeApiClient(CoreV1Api),
        admin.makeApiClient(CustomObjectsApi),
        controllerKubeconfig,
      );
    } catch (err) {
      await server.stop();
      throw err;
    }
  }

  /** startController runs the real controller in this process as its ServiceAccount, with fast retries. */
  startController(
    opts: { namespace?: string; lbClass?: string; leaderElection?: LeaderElectionOptions } = {},
  ): RunningController {
    const logger = createLogger({
      level: 'debug',
      destination: { write: (line: string) => void this.logs.push(line) },
    });
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(this.controllerKubeconfig);
    const running = startController({
      kubeConfig,
      namespace: opts.namespace ?? NS,
      logger,
      loadBalancerClass: opts.lbClass,
      backoff: { baseMs: 50, maxMs: 500 },
      ...(opts.leaderElection ? { leaderElection: opts.leaderElection } : {}),
    });
    this.controllers.push(running);
    return running;
  }

  /** stopController stops one controller (as a killed pod: nothing is cleaned up in the API). */
  async stopController(c: RunningController): Promise<void> {
    await c.stop();
    this.controllers.splice(this.controllers.indexOf(c), 1);
  }

  /** kubectl runs the real kubectl as admin and throws with its stderr when it fails. */
  async kubectl(args: string[], input?: string): Promise<string> {
    const res = await this.server.kubectl(args, input === undefined ? {} : { input });
    if (res.code !== 0) throw new Error(`kubectl ${args.join(' ')} exited ${res.code}: ${res.stderr.trim()}`);
    return res.stdout;
  }

  /** apply is `kubectl apply -f -` of the objects (client and server validation on). */
  async apply(...objs: Record<string, unknown>[]): Promise<void> {
    await this.kubectl(['apply', '-f', '-'], objs.map((o) => `---\n${stringify(o)}`).join(''));
  }

  /** applySeed is `kubectl apply -f lab/seed/<file>` for each file, unchanged. */
  async applySeed(...files: string[]): Promise<void> {
    await this.kubectl(['apply', ...files.flatMap((f) => ['-f', join(SEED, f)])]);
  }

  async service(namespace: string, name: string) {
    return this.core.readNamespacedService({ namespace, name }).catch((err: { code?: number }) => {
      if (err.code === 404) return undefined;
      throw err;
    });
  }

  /** ingress is the addresses in a Service's status. */
  async ingress(namespace: string, name: string): Promise<string[]> {
    const s = await this.service(namespace, name);
    return (s?.status?.loadBalancer?.ingress ?? []).flatMap((i) => (i.ip ? [i.ip] : []));
  }

  async annotations(namespace: string, name: string): Promise<Record<string, string>> {
    return (await this.service(namespace, name))?.metadata?.annotations ?? {};
  }

  /** services lists the Services of a namespace. */
  async services(namespace: string) {
    return (await this.core.listNamespacedService({ namespace })).items;
  }

  /** events lists the Events about an object (every object: name undefined; core/v1 view), oldest first. */
  async events(namespace: string, name: string | undefined, reason?: string) {
    const list = await this.core.listNamespacedEvent({
      namespace,
      ...(name === undefined ? {} : { fieldSelector: `involvedObject.name=${name}` }),
    });
    return list.items
      .filter((e) => !reason || e.reason === reason)
      .sort((a, b) => Number(a.metadata.resourceVersion) - Number(b.metadata.resourceVersion))
      .map((e) => ({
        reason: e.reason ?? '',
        type: e.type ?? '',
        message: e.message ?? '',
        object: e.involvedObject.name ?? '',
        instance: e.reportingInstance ?? '',
      }));
  }

  /** apiMetric sums the samples of the API server's own /metrics whose line matches `re` (counters reset at a
   * restart). */
  async apiMetric(re: RegExp): Promise<number> {
    const text = await this.kubectl(['get', '--raw', '/metrics']);
    return text
      .split('\n')
      .filter((l) => !l.startsWith('#') && re.test(l))
      .reduce((n, l) => n + Number(l.split(' ').at(-1)), 0);
  }

  async poolStatus(name: string): Promise<Record<string, number> | undefined> {
    const pool = (await this.custom.getNamespacedCustomObject({
      group: 'metallb.io',
      version: 'v1beta1',
      namespace: NS,
      plural: 'ipaddresspools',
      name,
    })) as { status?: Record<string, number> };
    return pool.status;
  }

  /** close stops every controller (in-process and child) and the server. */
  async close(): Promise<void> {
    for (const c of [...this.controllers]) await this.stopController(c);
    for (const p of [...this.processes]) {
      p.child.kill('SIGKILL');
      await p.exited;
    }
    await this.server.stop();
  }

  readonly processes: ControllerProcess[] = [];

  /** runControllerProcess starts `bin/metal-vrrp.js controller` as its ServiceAccount: a real process to SIGKILL. */
  runControllerProcess(extra: string[] = []): ControllerProcess {
    const bin = new URL('../../bin/metal-vrrp.js', import.meta.url).pathname;
    const child = spawn(process.execPath, [bin, 'controller', '--kubeconfig', this.controllerKubeconfig, ...extra], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let text = '';
    child.stdout?.on('data', (d: Buffer) => {
      text += d.toString();
    });
    child.stderr?.on('data', (d: Buffer) => {
      text += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const p: ControllerProcess = { child, exited, out: () => text };
    this.processes.push(p);
    void exited.then(() => this.processes.splice(this.processes.indexOf(p), 1));
    return p;
  }
}

/** ControllerProcess is a running `metal-vrrp controller`; `out()` is its stdout and stderr so far. */
export interface ControllerProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  out(): string;
}
