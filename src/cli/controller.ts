/**
 * `metal-vrrp controller`: allocate addresses to LoadBalancer Services from MetalLB IPAddressPools, through the
 * Kubernetes API. Serves /metrics, /healthz and /readyz (ready once the caches synced and every existing assignment
 * was restored); stops on SIGTERM or SIGINT. Runs as one replica (the Deployment's strategy is Recreate): two
 * controllers would each trust their own allocator.
 */
import type { Server } from 'node:http';
import { hostname } from 'node:os';
import type { KubeConfig } from '@kubernetes/client-node';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { type Controller, runController } from '../controller/controller.ts';
import { DEFAULT_LOAD_BALANCER_CLASS } from '../controller/service-request.ts';
import { serveEndpoints } from '../http-endpoints.ts';
import type { BackoffOptions } from '../k8s/backoff.ts';
import { loadKubeConfig } from '../k8s/clients.ts';
import { connectKube } from '../k8s/connect.ts';
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
}

/** StartOptions start a controller in this process (the command, tests and benchmarks). */
export interface StartOptions {
  readonly kubeConfig: KubeConfig;
  readonly namespace: string;
  readonly logger: Logger;
  readonly metrics?: ControllerMetrics;
  readonly loadBalancerClass?: string;
  readonly backoff?: BackoffOptions;
  readonly concurrency?: number;
}

/** RunningController is a started controller with its adapters. */
export interface RunningController {
  readonly controller: Controller;
  readonly metrics: ControllerMetrics;
  stop(): Promise<void>;
}

/** startController connects to the API, starts the informers and the reconcile loop. */
export function startController(opts: StartOptions): RunningController {
  const metrics = opts.metrics ?? createControllerMetrics();
  const kube = connectKube({
    kubeConfig: opts.kubeConfig,
    namespace: opts.namespace,
    logger: opts.logger,
    watchErrors: metrics.apiWatchErrors,
    component: 'metal-vrrp-controller',
    instance: process.env['POD_NAME'] ?? hostname(),
    backoff: opts.backoff,
  });
  const controller = runController({
    services: kube.sources.services,
    config: kube.sources.config,
    status: kube.status,
    events: kube.events,
    metrics,
    logger: opts.logger,
    namespace: opts.namespace,
    loadBalancerClass: opts.loadBalancerClass,
    concurrency: opts.concurrency,
  });
  kube.sources.start();
  return {
    controller,
    metrics,
    async stop() {
      await controller.stop();
      await kube.sources.stop();
    },
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
      default: DEFAULT_LOAD_BALANCER_CLASS,
      describe: 'spec.loadBalancerClass served besides Services with no class',
    })
    .option('log-level', {
      type: 'string',
      default: process.env['LOG_LEVEL'] ?? 'info',
      choices: ['trace', 'debug', 'info', 'warn', 'error', 'fatal'],
    }) as unknown as Argv<ControllerArgs>;
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
  });
  let server: Server | undefined;
  if (args.metricsPort > 0) {
    try {
      server = await serveEndpoints(
        {
          registry: running.metrics.registry,
          healthz: () => ({ ok: true }),
          readyz: () =>
            running.controller.isReady()
              ? { ok: true }
              : { ok: false, reason: 'waiting for caches to sync and assignments to be restored' },
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
