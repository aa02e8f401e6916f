/**
 * `metal-vrrp speaker`: run the VRRP speaker. Today in standalone mode (`--config file.yaml`, the keepalived
 * replacement); the Kubernetes mode (VIPs from Services) comes with the k8s issue and will make --config optional.
 * Serves /metrics, /healthz and /readyz; on SIGTERM or SIGINT sends priority 0 for every router it masters, then exits.
 */

import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { realClock } from '../clock.ts';
import { createLogger, type Logger } from '../log.ts';
import { createSpeakerMetrics } from '../metrics.ts';
import {
  DEFAULT_LIVENESS,
  type LivenessSettings,
  parseLivenessInterval,
  parseLivenessMode,
  parseLivenessMultiplier,
} from '../model/liveness.ts';
import { parseRealtimePriority, setRealtimePriority } from '../realtime.ts';
import { scheduleStartupRelease } from '../release-pages.ts';
import { SpeakerHost } from '../speaker/runtime/speaker-host.ts';
import { parseXdpAnswers, XDP_ANSWERS, type XdpAnswers } from '../speaker/xdp-answers-setting.ts';
import { serveUntilSignal } from './lifecycle.ts';
import { type RunningSpeaker, StandaloneError, startStandalone } from './speaker-standalone.ts';

/** SpeakerArgs are the command's options after parsing. */
export interface SpeakerArgs {
  readonly config: string | undefined;
  readonly kubernetes: boolean;
  readonly kubeconfig: string | undefined;
  readonly namespace: string;
  readonly lbClass: string;
  readonly metricsPort: number | undefined;
  readonly metricsAddress: string | undefined;
  readonly nodeName: string;
  readonly logLevel: string;
  readonly liveness: string;
  readonly livenessInterval: string;
  readonly livenessMultiplier: string;
  readonly realtimePriority: string;
  readonly xdpAnswers: string | undefined;
  readonly releaseStartupPages: boolean;
}

/** EXIT codes: 2 for a configuration the operator must fix, 1 for anything else that stops start-up. */
const EXIT_CONFIG = 2;
const EXIT_START = 1;

function builder(y: Argv): Argv<SpeakerArgs> {
  return y
    .option('config', {
      alias: 'c',
      type: 'string',
      describe: 'standalone YAML config: interface, routers (vrid, priority, vips), advertInterval, unicastPeers',
    })
    .option('kubernetes', {
      type: 'boolean',
      default: false,
      describe: 'Kubernetes mode (the default without --config): VIPs from Services, pools and L2Advertisements',
    })
    .option('kubeconfig', { type: 'string', describe: 'kubeconfig file (default: in-cluster, then $KUBECONFIG)' })
    .option('namespace', {
      type: 'string',
      default: process.env['POD_NAMESPACE'] ?? 'metallb-system',
      describe: 'namespace of the IPAddressPools, L2Advertisements and ServiceL2Statuses',
    })
    .option('lb-class', {
      type: 'string',
      default: '',
      describe:
        'serve only Services of this spec.loadBalancerClass (e.g. metal-vrrp.io/vrrp); empty: only Services with no class, as MetalLB',
    })
    .option('metrics-port', {
      type: 'number',
      describe: 'port of /metrics, /healthz, /readyz (overrides the file; 0 off)',
    })
    .option('metrics-address', { type: 'string', describe: 'address the metrics server binds (overrides the file)' })
    .option('node-name', {
      type: 'string',
      default: process.env['NODE_NAME'] ?? hostname(),
      describe: 'this node, as the node label of metrics',
    })
    .option('liveness', {
      type: 'string',
      default: DEFAULT_LIVENESS.mode,
      describe:
        'Kubernetes mode: cluster default of the BFD liveness signal, bfd or off (pool annotation metal-vrrp.io/liveness overrides)',
    })
    .option('liveness-interval', {
      type: 'string',
      default: `${DEFAULT_LIVENESS.intervalMs}ms`,
      describe:
        'BFD transmit and receive interval, 10ms..10s (pool annotation metal-vrrp.io/liveness-interval overrides)',
    })
    .option('liveness-multiplier', {
      type: 'string',
      default: String(DEFAULT_LIVENESS.detectMult),
      describe: 'BFD Detect Mult, 2..255 (pool annotation metal-vrrp.io/liveness-multiplier overrides)',
    })
    .option('realtime-priority', {
      type: 'string',
      default: '0',
      describe:
        'run the event loop under SCHED_RR at this priority, 1..99 (keepalived: vrrp_rt_priority); needs CAP_SYS_NICE; 0 off',
    })
    .option('xdp-answers', {
      type: 'string',
      describe: `answer ARP/NDP from an XDP program on the interface: ${XDP_ANSWERS.join(' | ')} (default off, or the file's xdpAnswers); needs CAP_BPF; may clash with a CNI's XDP program`,
    })
    .option('release-startup-pages', {
      type: 'boolean',
      default: true,
      describe: 'once, 30 s after start: unmap the pages of the node binary that only start-up read, trim malloc (RSS)',
    })
    .option('log-level', {
      type: 'string',
      default: process.env['LOG_LEVEL'] ?? 'info',
      choices: ['trace', 'debug', 'info', 'warn', 'error', 'fatal'],
    }) as unknown as Argv<SpeakerArgs>;
}

/** runSpeaker is the command's body; it resolves when the speaker has started and leaves the process running. */
export async function runSpeaker(args: SpeakerArgs): Promise<void> {
  const logger = createLogger({ level: args.logLevel, bindings: { component: 'speaker', node: args.nodeName } });
  const realtime = parseRealtimePriority(args.realtimePriority ?? '0');
  if ('error' in realtime) return fail(logger, EXIT_CONFIG, `--realtime-priority: ${realtime.error}`);
  if (realtime.value > 0) applyRealtime(logger, realtime.value);
  const xdp = args.xdpAnswers === undefined ? undefined : parseXdpAnswers(args.xdpAnswers);
  if (xdp !== undefined && 'error' in xdp) return fail(logger, EXIT_CONFIG, `--xdp-answers: ${xdp.error}`);
  const xdpAnswers = xdp?.value;
  if (args.config !== undefined && args.kubernetes) {
    return fail(logger, EXIT_CONFIG, '--config (standalone) and --kubernetes exclude each other');
  }
  if (args.config === undefined) return runKubernetesSpeaker(args, logger, xdpAnswers ?? 'off');
  let text: string;
  try {
    text = await readFile(args.config, 'utf8');
  } catch (err) {
    return fail(logger, EXIT_CONFIG, `cannot read ${args.config}: ${(err as Error).message}`);
  }
  // Loaded here: the YAML parser is standalone mode's only (Kubernetes mode does not load it: ~0.5 MB of heap).
  const { parseStandaloneConfig } = await import('../speaker/standalone/standalone-config.ts');
  const parsed = parseStandaloneConfig(text);
  if ('errors' in parsed) return fail(logger, EXIT_CONFIG, `invalid config ${args.config}`, parsed.errors);
  const config = parsed.config;
  const port = args.metricsPort ?? config.metrics.port;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    return fail(logger, EXIT_CONFIG, `--metrics-port ${args.metricsPort} is not a port number 0..65535`);
  }
  const metrics = createSpeakerMetrics();
  let running: RunningSpeaker;
  try {
    running = await startStandalone({
      config,
      nodeName: args.nodeName,
      logger,
      metrics,
      xdpAnswers: xdpAnswers ?? config.xdpAnswers ?? 'off',
    });
  } catch (err) {
    if (err instanceof StandaloneError) return fail(logger, EXIT_CONFIG, 'speaker cannot start', err.problems);
    return fail(logger, EXIT_START, `speaker cannot start: ${(err as Error).message}`);
  }
  if (args.releaseStartupPages !== false) scheduleStartupRelease({ clock: realClock, logger });
  const failure = await serveUntilSignal({
    logger,
    registry: metrics.registry,
    ready: () => (running.speaker.started ? { ok: true } : { ok: false, reason: 'speaker not running' }),
    address: args.metricsAddress ?? config.metrics.address,
    port,
    stop: () => running.stop(),
    stopping: () => ({ masters: running.speaker.status().filter((r) => r.state === 'master').length }),
    stoppedMessage: 'stopped: priority 0 sent for every router mastered here',
  });
  if (failure !== undefined) fail(logger, EXIT_START, failure);
}

/** runKubernetesSpeaker is Kubernetes mode: routers from the API, status and Events back to it. */
async function runKubernetesSpeaker(args: SpeakerArgs, logger: Logger, xdpAnswers: XdpAnswers): Promise<void> {
  if (!Number.isInteger(args.metricsPort ?? 7472) || (args.metricsPort ?? 7472) < 0) {
    return fail(logger, EXIT_CONFIG, `--metrics-port ${args.metricsPort} is not a port number`);
  }
  // Loaded here, not at the top: standalone mode never pays for @kubernetes/client-node (tens of MB of heap).
  const [{ loadKubeConfig }, { startKubernetesSpeaker }] = await Promise.all([
    import('../k8s/clients.ts'),
    import('./speaker-kubernetes.ts'),
  ]);
  let kubeConfig: ReturnType<typeof loadKubeConfig>;
  try {
    kubeConfig = loadKubeConfig(args.kubeconfig);
  } catch (err) {
    return fail(logger, EXIT_CONFIG, `cannot load kubeconfig: ${(err as Error).message}`);
  }
  const liveness = livenessFlags(args);
  if ('errors' in liveness) return fail(logger, EXIT_CONFIG, 'invalid liveness flags', liveness.errors);
  const metrics = createSpeakerMetrics();
  const host = new SpeakerHost({ nodeName: args.nodeName, metrics, logger, xdpAnswers });
  const podUid = process.env['POD_UID'];
  const podName = process.env['POD_NAME'];
  const running = startKubernetesSpeaker({
    kubeConfig,
    nodeName: args.nodeName,
    namespace: args.namespace,
    loadBalancerClass: args.lbClass,
    host,
    metrics,
    logger,
    instance: podName ?? hostname(),
    liveness: liveness.settings,
    ...(podUid && podName ? { owner: { apiVersion: 'v1', kind: 'Pod', name: podName, uid: podUid } } : {}),
  });
  if (args.releaseStartupPages !== false) {
    void running.ready.then(() => scheduleStartupRelease({ clock: realClock, logger }));
  }
  const failure = await serveUntilSignal({
    logger,
    registry: metrics.registry,
    ready: () => (running.isReady() ? { ok: true } : { ok: false, reason: 'not synced with the API yet' }),
    address: args.metricsAddress ?? '0.0.0.0',
    port: args.metricsPort ?? 7472,
    stop: () => running.stop(),
    stopping: () => ({ routers: running.speaker.running.size }),
    stoppedMessage: 'stopped: priority 0 sent for every router mastered here',
  });
  if (failure !== undefined) fail(logger, EXIT_START, failure);
}

/**
 * applyRealtime puts the event loop under SCHED_RR (src/realtime.ts). Refused (no CAP_SYS_NICE, no addon), the
 * speaker runs on at normal priority: logged once, since detection then depends on how busy the node is.
 */
function applyRealtime(logger: Logger, priority: number): void {
  const r = setRealtimePriority(priority);
  if (r.ok) logger.info({ policy: r.state.policy, priority: r.state.priority }, 'event loop runs real-time (SCHED_RR)');
  else
    logger.warn(
      { code: r.code, detail: r.detail, priority },
      'real-time priority refused (needs CAP_SYS_NICE): running at normal priority',
    );
}

/** livenessFlags reads --liveness, --liveness-interval and --liveness-multiplier with the pool annotations' rules. */
export function livenessFlags(
  args: Pick<SpeakerArgs, 'liveness' | 'livenessInterval' | 'livenessMultiplier'>,
): { readonly settings: LivenessSettings } | { readonly errors: readonly string[] } {
  const errors: string[] = [];
  const mode = parseLivenessMode(args.liveness);
  if ('error' in mode) errors.push(`--liveness: ${mode.error}`);
  const interval = parseLivenessInterval(args.livenessInterval);
  if ('error' in interval) errors.push(`--liveness-interval: ${interval.error}`);
  const mult = parseLivenessMultiplier(args.livenessMultiplier);
  if ('error' in mult) errors.push(`--liveness-multiplier: ${mult.error}`);
  if ('error' in mode || 'error' in interval || 'error' in mult) return { errors };
  return { settings: Object.freeze({ mode: mode.value, intervalMs: interval.value, detectMult: mult.value }) };
}

function fail(logger: Logger, code: number, msg: string, problems?: readonly string[]): void {
  logger.error(problems === undefined ? {} : { problems }, msg);
  logger.flush();
  process.exitCode = code;
}

/** speakerCommand is the yargs module for `metal-vrrp speaker`. */
export const speakerCommand: CommandModule<object, SpeakerArgs> = {
  command: 'speaker',
  describe: 'run the VRRP speaker: Kubernetes mode, or standalone with --config file.yaml',
  builder,
  handler: (args: ArgumentsCamelCase<SpeakerArgs>) => runSpeaker(args),
};
