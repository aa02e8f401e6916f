/**
 * `metal-vrrp controller`: allocate addresses to LoadBalancer Services from MetalLB IPAddressPools, through the
 * Kubernetes API. Serves /metrics, /healthz and /readyz (ready once the caches synced and every existing assignment
 * was restored); stops on SIGTERM or SIGINT. Only the holder of the leader Lease allocates (--leader-elect, on by
 * default): further replicas are hot standbys, since two allocators side by side would each trust their own memory.
 */
import type { Server } from 'node:http';
import { hostname } from 'node:os';
import type { KubeConfig } from '@kubernetes/client-node';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { Allocator } from '../controller/allocator.ts';
import { type Controller, runController } from '../controller/controller.ts';
import { serveEndpoints } from '../http-endpoints.ts';
import type { BackoffOptions } from '../k8s/backoff.ts';
import { loadKubeConfig } from '../k8s/clients.ts';
import { connectKube } from '../k8s/connect.ts';
import { LeaderElector, leaseApiFor } from '../k8s/leader-election.ts';
import { createLogger, type Logger } from '../log.ts';
import { type ControllerMetrics, createControllerMetrics } from '../metrics.ts';

/** ControllerArgs are the command's options after parsing. */
export interface ControllerArgs {
  readonly namespace: string;
  readonly kubeconfig: string | undefined;
  readonly metricsPort: number;
  readonly metricsAddress: string;
  readonly logLevel: string;
  readonly lbClass: string;
  readonly keepAddressOnFailure: boolean;
  readonly leaderElect: boolean;
  readonly leaseName: string;
}

/** LeaderElectionOptions turn on Lease-based leader election (src/k8s/leader-election.ts); durations default to client-go's. */
export interface LeaderElectionOptions {
  /** leaseName is the Lease in the controller's namespace (RBAC allows metal-vrrp-controller). */
  readonly leaseName?: string;
  /** identity is the holder name: the pod name, else host_pid. */
  readonly identity?: string;
  readonly leaseDurationMs?: number;
  readonly renewDeadlineMs?: number;
  readonly retryPeriodMs?: number;
  /**
   * onLost runs when leadership is lost (renewal failed past renewDeadline, or another holder took the Lease), after
   * the controller stopped. The command exits; in-process callers (tests) are told.
   */
  readonly onLost?: (reason: string) => void;
}

/** DEFAULT_LEASE_NAME is the Lease manifests/rbac/controller.yaml lets the controller get and update. */
export const DEFAULT_LEASE_NAME = 'metal-vrrp-controller';

/** StartOptions start a controller in this process (the command, tests and benchmarks). */
export interface StartOptions {
  readonly kubeConfig: KubeConfig;
  readonly namespace: string;
  readonly logger: Logger;
  readonly metrics?: ControllerMetrics;
  readonly loadBalancerClass?: string;
  readonly keepAddressOnFailure?: boolean;
  readonly backoff?: BackoffOptions;
  readonly concurrency?: number;
  /** leaderElection: absent, the controller starts at once (tests, benchmarks); the command turns it on. */
  readonly leaderElection?: LeaderElectionOptions;
}

/** RunningController is a started controller with its adapters. */
export interface RunningController {
  /** controller: with leader election, a view that is empty and not ready until this replica leads. */
  readonly controller: Controller;
  readonly metrics: ControllerMetrics;
  /** identity is the Lease holder name (and the Events' reporting instance). */
  readonly identity: string;
  /** isLeader is true while this replica allocates (always, without leader election). */
  isLeader(): boolean;
  /** whenLeading resolves once this replica leads. */
  whenLeading(): Promise<void>;
  /** standbyHealthy: a standby that reads the Lease (readiness of a standby); true without election. */
  standbyHealthy(): boolean;
  /** stop stops the controller, then releases the Lease; `releaseLease: false` leaves it to expire (a crash). */
  stop(opts?: { releaseLease?: boolean }): Promise<void>;
}

/** defaultIdentity is client-go's choice: the pod name, else host name and pid (unique per process). */
export function defaultIdentity(): string {
  return process.env['POD_NAME'] ?? `${hostname()}_${process.pid}`;
}

/** startController connects to the API, then starts the informers and the reconcile loop (once leading, with election). */
export function startController(opts: StartOptions): RunningController {
  const metrics = opts.metrics ?? createControllerMetrics();
  const election = opts.leaderElection;
  const identity = election?.identity ?? (election ? defaultIdentity() : (process.env['POD_NAME'] ?? hostname()));
  const kube = connectKube({
    kubeConfig: opts.kubeConfig,
    namespace: opts.namespace,
    logger: opts.logger,
    watchErrors: metrics.apiWatchErrors,
    component: 'metal-vrrp-controller',
    instance: identity,
    backoff: opts.backoff,
  });
  const start = (): Controller => {
    const controller = runController({
      services: kube.sources.services,
      config: kube.sources.config,
      status: kube.status,
      events: kube.events,
      metrics,
      logger: opts.logger,
      namespace: opts.namespace,
      loadBalancerClass: opts.loadBalancerClass,
      ...(opts.keepAddressOnFailure ? { keepAddressOnFailure: true } : {}),
      concurrency: opts.concurrency,
    });
    kube.sources.start();
    return controller;
  };
  const stopController = async (c: Controller | undefined) => {
    if (!c) return;
    await c.stop();
    await kube.sources.stop();
  };
  if (!election) {
    metrics.leader.set(1);
    const controller = start();
    return {
      controller,
      metrics,
      identity,
      isLeader: () => true,
      whenLeading: () => Promise.resolve(),
      standbyHealthy: () => true,
      stop: () => stopController(controller),
    };
  }

  let inner: Controller | undefined;
  let stopping = false;
  const take = () => {
    const c = inner;
    inner = undefined;
    return c;
  };
  let innerStarted: () => void = () => {};
  const started = new Promise<void>((resolve) => {
    innerStarted = resolve;
  });
  const log = opts.logger.child({ component: 'leader-election' });
  const elector = new LeaderElector({
    api: leaseApiFor(opts.kubeConfig, opts.namespace, election.leaseName ?? DEFAULT_LEASE_NAME),
    identity,
    logger: log,
    leaseDurationMs: election.leaseDurationMs,
    renewDeadlineMs: election.renewDeadlineMs,
    retryPeriodMs: election.retryPeriodMs,
    leader: metrics.leader,
    errors: metrics.leaderElectionErrors,
    onStartedLeading: () => {
      if (stopping) return;
      inner = start();
      innerStarted();
    },
    onStoppedLeading: (reason) => {
      // Stop acting at once: the allocator's view may already be stale.
      void stopController(take()).finally(() => election.onLost?.(reason));
    },
  });
  elector.start();
  return {
    controller: deferredController(() => inner, started),
    metrics,
    identity,
    isLeader: () => elector.isLeader(),
    whenLeading: () => elector.whenLeading(),
    standbyHealthy: () => elector.healthyCandidate(),
    async stop(o = {}) {
      stopping = true;
      if (o.releaseLease === false) {
        await elector.stop({ release: false });
        await stopController(take());
        return;
      }
      // client-go's order: stop working, then hand the Lease over so a standby starts at its next retry.
      await stopController(take());
      await elector.stop({ release: true });
    },
  };
}

/** deferredController is the Controller of a replica that may not lead yet: empty and not ready until it does. */
function deferredController(current: () => Controller | undefined, started: Promise<void>): Controller {
  const idle = new Allocator();
  return {
    isReady: () => current()?.isReady() ?? false,
    whenReady: () => started.then(() => current()?.whenReady()),
    idle: () => current()?.idle() ?? Promise.resolve(),
    get allocator() {
      return current()?.allocator ?? idle;
    },
    stop: async () => {},
  };
}

function builder(y: Argv): Argv<ControllerArgs> {
  return y
    .option('namespace', {
      alias: 'n',
      type: 'string',
      default: process.env['METALLB_NAMESPACE'] ?? 'metallb-system',
      describe: 'namespace of the IPAddressPools and L2Advertisements',
    })
    .option('kubeconfig', {
      type: 'string',
      describe: 'kubeconfig file (default: in-cluster service account, else $KUBECONFIG or ~/.kube/config)',
    })
    .option('metrics-port', { type: 'number', default: 7472, describe: 'port of /metrics, /healthz, /readyz (0 off)' })
    .option('metrics-address', { type: 'string', default: '0.0.0.0', describe: 'address the metrics server binds' })
    .option('lb-class', {
      type: 'string',
      default: '',
      describe:
        'serve only Services of this spec.loadBalancerClass (e.g. metal-vrrp.io/vrrp); empty: only Services with no class, as MetalLB',
    })
    .option('keep-address-on-failure', {
      type: 'boolean',
      default: false,
      describe:
        'keep an address that no longer fits (pool deleted or changed, sharing conflict) when no new one can be had, instead of clearing it as MetalLB does',
    })
    .option('leader-elect', {
      type: 'boolean',
      default: true,
      describe: 'allocate only while holding the leader Lease, so further replicas are hot standbys',
    })
    .option('lease-name', {
      type: 'string',
      default: DEFAULT_LEASE_NAME,
      describe: 'name of the leader Lease in --namespace (the RBAC manifests allow only the default)',
    })
    .option('log-level', {
      type: 'string',
      default: process.env['LOG_LEVEL'] ?? 'info',
      choices: ['trace', 'debug', 'info', 'warn', 'error', 'fatal'],
    }) as unknown as Argv<ControllerArgs>;
}

/**
 * readiness answers /readyz. The leader is ready once its caches synced and assignments were restored. A standby is
 * ready while it reads the Lease: it is a healthy spare, and a never-ready standby would keep the Deployment short of
 * its replicas and fire the usual "pod not ready" alerts. Who leads is in the Lease and in `metal_vrrp_leader`.
 */
export function readiness(r: RunningController): { ok: true } | { ok: false; reason: string } {
  if (r.isLeader()) {
    return r.controller.isReady()
      ? { ok: true }
      : { ok: false, reason: 'waiting for caches to sync and assignments to be restored' };
  }
  return r.standbyHealthy() ? { ok: true } : { ok: false, reason: 'standby cannot read the leader Lease' };
}

/** runControllerCommand is the command's body; it leaves the process running until a signal. */
export async function runControllerCommand(args: ControllerArgs): Promise<void> {
  const logger = createLogger({ level: args.logLevel, bindings: { component: 'controller' } });
  let kubeConfig: KubeConfig;
  try {
    kubeConfig = loadKubeConfig(args.kubeconfig);
  } catch (err) {
    logger.error(`cannot load kubeconfig: ${(err as Error).message}`);
    logger.flush();
    process.exitCode = 2;
    return;
  }
  const running = startController({
    kubeConfig,
    namespace: args.namespace,
    logger,
    loadBalancerClass: args.lbClass,
    keepAddressOnFailure: args.keepAddressOnFailure,
    leaderElection: args.leaderElect
      ? {
          leaseName: args.leaseName,
          // client-go's behaviour: a replica that lost the Lease exits, to restart with no stale allocations.
          onLost: (reason) => {
            logger.fatal({ reason }, 'leader election lost; exiting');
            logger.flush();
            process.exit(1);
          },
        }
      : undefined,
  });
  let server: Server | undefined;
  if (args.metricsPort > 0) {
    try {
      server = await serveEndpoints(
        {
          registry: running.metrics.registry,
          healthz: () => ({ ok: true }),
          readyz: () => readiness(running),
        },
        args.metricsAddress,
        args.metricsPort,
      );
      logger.info({ address: args.metricsAddress, port: args.metricsPort }, 'serving /metrics, /healthz, /readyz');
    } catch (err) {
      await running.stop();
      logger.error(`metrics server on ${args.metricsAddress}:${args.metricsPort}: ${(err as Error).message}`);
      logger.flush();
      process.exitCode = 1;
      return;
    }
  }
  let exiting = false;
  const shutdown = async (signal: NodeJS.Signals) => {
    if (exiting) return;
    exiting = true;
    logger.info({ signal }, 'stopping');
    await running.stop();
    server?.close();
    logger.flush();
    process.exit(0);
  };
  process.on('SIGTERM', (s) => void shutdown(s));
  process.on('SIGINT', (s) => void shutdown(s));
}

/** controllerCommand is the yargs module for `metal-vrrp controller`. */
export const controllerCommand: CommandModule<object, ControllerArgs> = {
  command: 'controller',
  describe: 'run the controller: addresses for LoadBalancer Services from MetalLB IPAddressPools',
  builder,
  handler: (args: ArgumentsCamelCase<ControllerArgs>) => runControllerCommand(args),
};
