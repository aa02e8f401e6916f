/**
 * startKubernetesSpeaker runs the speaker in Kubernetes mode: informers over the API (speaker-sources.ts), the
 * ClusterSpeaker's decisions, a RouterHost on the real interfaces, ServiceL2Status writes and Events. Ready once every
 * informer has listed once and the first reconcile ran. Changes are coalesced (reconcile-coalescer.ts): a burst of watch
 * events (a rollout, a re-list) costs one reconcile, a steady stream of updates at most ten a second.
 *
 * Health (issue 13): a LinkWatch (carrier of every interface, from netlink) and a HealthMonitor (the pools' probes to
 * this node's InternalIP) feed the ClusterSpeaker; a flipped verdict reconciles at once. What health does is written
 * to this node's health Lease (k8s/node-health-lease.ts), where `metal-vrrp status` reads it.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { type Cancel, type Clock, realClock } from '../clock.ts';
import { HealthMonitor } from '../health/health-monitor.ts';
import type { BackoffOptions } from '../k8s/backoff.ts';
import { makeClients } from '../k8s/clients.ts';
import { createEventRecorder } from '../k8s/event-recorder.ts';
import { createL2StatusWriter } from '../k8s/l2-status-writer.ts';
import { healthLeaseApi, NodeHealthPublisher } from '../k8s/node-health-lease.ts';
import { createSpeakerSources } from '../k8s/speaker-sources.ts';
import type { Logger } from '../log.ts';
import type { SpeakerMetrics } from '../metrics.ts';
import type { LivenessSettings } from '../model/liveness.ts';
import type { LocalNode } from '../model/local-node.ts';
import type { OwnerReference } from '../model/service-l2-status.ts';
import { probeOnce } from '../net/health-probe.ts';
import { LinkWatch } from '../net/link-watch.ts';
import { readLocalNode } from '../net/local-addresses.ts';
import { ClusterSpeaker } from '../speaker/cluster/cluster-speaker.ts';
import { ReconcileCoalescer } from '../speaker/cluster/reconcile-coalescer.ts';
import type { RouterHost } from '../speaker/router-spec.ts';

/** KubernetesSpeakerDeps: the cluster, this node, and the data plane. */
export interface KubernetesSpeakerDeps {
  readonly kubeConfig: KubeConfig;
  readonly nodeName: string;
  readonly namespace: string;
  readonly loadBalancerClass?: string;
  readonly host: RouterHost;
  readonly metrics: SpeakerMetrics;
  readonly logger: Logger;
  /** instance names the reporter of Events (the pod name). */
  readonly instance: string;
  readonly owner?: OwnerReference;
  readonly local?: () => LocalNode;
  readonly backoff?: BackoffOptions;
  /** coalesceMs gathers changes before a reconcile (default 20). */
  readonly coalesceMs?: number;
  /** reconcileSpacingMs is the least time between two reconciles under a stream of changes (default 100). */
  readonly reconcileSpacingMs?: number;
  /** clock times the coalescing, the periodic rescan and the status retry (default the process clock). */
  readonly clock?: Clock;
  /** health: false turns the health checks off (no link watch, no probes); default on. */
  readonly health?: boolean;
  /** liveness is the cluster default of the BFD liveness signal (`--liveness`, …); pools may override it. */
  readonly liveness?: LivenessSettings;
}

/**
 * FREE_CONNECTIONS: idle API connections the speaker keeps after a burst of writes (its start writes every Service's
 * status over up to 64 at once); its steady state needs one or two. Each more is a TLS session held for good.
 */
const FREE_CONNECTIONS = 2;

/** RESCAN_MS: interface addresses can change without any API event (DHCP, an operator); look again this often. */
const RESCAN_MS = 30_000;

/** RunningKubernetesSpeaker is the started speaker. */
export interface RunningKubernetesSpeaker {
  readonly speaker: ClusterSpeaker;
  /** ready resolves after the first reconcile. */
  readonly ready: Promise<void>;
  isReady(): boolean;
  stop(): Promise<void>;
}

/** startKubernetesSpeaker: see the file comment. */
export function startKubernetesSpeaker(deps: KubernetesSpeakerDeps): RunningKubernetesSpeaker {
  const clients = makeClients(deps.kubeConfig, { maxFreeSockets: FREE_CONNECTIONS });
  const logger = deps.logger;
  const k8sLog = logger.child({ component: 'k8s' });
  const sources = createSpeakerSources({
    clients,
    namespace: deps.namespace,
    logger: k8sLog,
    backoff: deps.backoff,
    onWatchError: (resource) => deps.metrics.apiWatchErrors.inc({ resource }),
    ...(deps.clock ? { clock: deps.clock } : {}),
  });
  const writer = createL2StatusWriter(clients, k8sLog);
  const events = createEventRecorder({
    core: clients.core,
    logger: k8sLog,
    component: 'metal-vrrp-speaker',
    instance: deps.instance,
  });
  const local = deps.local ?? (() => readLocalNode(deps.nodeName));
  const clock = deps.clock ?? realClock;
  let ready = false;
  let stopped = false;
  let speaker: ClusterSpeaker | undefined;
  const healthLog = logger.child({ component: 'health' });
  const monitor =
    deps.health === false
      ? undefined
      : new HealthMonitor({
          clock,
          probe: (p, address) =>
            probeOnce(
              {
                scheme: p.target.scheme,
                host: address,
                port: p.target.port,
                path: p.target.path,
                timeoutMs: p.timeoutMs,
              },
              clock,
            ),
          onChange: () => {
            if (ready && !stopped) speaker?.reconcile();
          },
          logger: healthLog,
          gauge: deps.metrics.healthCheckUp,
        });
  const publisher = monitor
    ? new NodeHealthPublisher({
        api: healthLeaseApi(clients.kubeConfig),
        namespace: deps.namespace,
        node: deps.nodeName,
        clock,
        logger: k8sLog,
      })
    : undefined;
  const links = monitor
    ? new LinkWatch({ onChange: (state) => monitor.linkChanged(state), logger: healthLog, clock })
    : undefined;
  speaker = new ClusterSpeaker({
    clock,
    nodeName: deps.nodeName,
    namespace: deps.namespace,
    ...(deps.loadBalancerClass ? { loadBalancerClass: deps.loadBalancerClass } : {}),
    objects: () => sources.objects(),
    l2Statuses: () => sources.l2Statuses(),
    local,
    host: deps.host,
    writeL2Status: (w) => writer.apply(w),
    recordEvent: (ev, uid) =>
      events.record(
        { kind: 'Service', apiVersion: 'v1', namespace: ev.namespace, name: ev.name, ...(uid ? { uid } : {}) },
        ev.type,
        ev.reason,
        ev.message,
      ),
    metrics: deps.metrics,
    logger,
    ...(deps.owner ? { owner: deps.owner } : {}),
    ...(monitor ? { health: monitor } : {}),
    ...(publisher ? { publishHealth: (report) => publisher.publish(report) } : {}),
    ...(deps.liveness ? { liveness: deps.liveness } : {}),
  });
  const clusterSpeaker = speaker;

  let statusOnly = true;
  const coalescer = new ReconcileCoalescer({
    clock,
    delayMs: deps.coalesceMs ?? 20,
    minSpacingMs: deps.reconcileSpacingMs ?? 100,
    run: () => {
      const onlyStatus = statusOnly;
      statusOnly = true;
      if (onlyStatus) clusterSpeaker.syncStatus();
      else clusterSpeaker.reconcile();
    },
  });
  const schedule = (resource: string) => {
    if (!ready || stopped) return;
    if (resource !== 'servicel2statuses') statusOnly = false;
    coalescer.poke();
  };
  sources.onChange(schedule);
  sources.start();
  // The link states are read before the first reconcile, so a node whose link is already down does not claim VIPs.
  const linksRead = links
    ? links.start().catch((err) => healthLog.warn({ err: String(err) }, 'link watch failed'))
    : undefined;
  const readyPromise = Promise.all([sources.synced(), linksRead]).then(() => {
    if (stopped) return;
    clusterSpeaker.reconcile();
    ready = true;
    logger.info({ routers: clusterSpeaker.running.size }, 'speaker synced with the cluster');
  });
  let cancelRescan: Cancel = () => {};
  const rescan = () => {
    cancelRescan = clock.setTimer(
      () => {
        if (stopped) return;
        if (ready) clusterSpeaker.reconcile();
        rescan();
      },
      RESCAN_MS,
      { background: true },
    );
  };
  rescan();

  return {
    speaker: clusterSpeaker,
    ready: readyPromise,
    isReady: () => ready && !stopped,
    async stop() {
      if (stopped) return;
      stopped = true;
      coalescer.stop();
      cancelRescan();
      links?.stop();
      monitor?.stop();
      await clusterSpeaker.stop();
      await publisher?.stop();
      await events.flush();
      await sources.stop();
    },
  };
}
