/**
 * startKubernetesSpeaker runs the speaker in Kubernetes mode: informers over the API (speaker-sources.ts), the
 * ClusterSpeaker's decisions, a RouterHost on the real interfaces, ServiceL2Status writes and Events. Ready once every
 * informer has listed once and the first reconcile ran. Changes are coalesced: a burst of watch events (a rollout, a
 * re-list) costs one reconcile.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { type Cancel, type Clock, realClock } from '../clock.ts';
import type { BackoffOptions } from '../k8s/backoff.ts';
import { makeClients } from '../k8s/clients.ts';
import { createEventRecorder } from '../k8s/event-recorder.ts';
import { createL2StatusWriter } from '../k8s/l2-status-writer.ts';
import { createSpeakerSources } from '../k8s/speaker-sources.ts';
import type { Logger } from '../log.ts';
import type { SpeakerMetrics } from '../metrics.ts';
import type { LivenessSettings } from '../model/liveness.ts';
import type { LocalNode } from '../model/local-node.ts';
import type { OwnerReference } from '../model/service-l2-status.ts';
import { readLocalNode } from '../net/local-addresses.ts';
import { ClusterSpeaker } from '../speaker/cluster/cluster-speaker.ts';
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
  /** clock times the coalescing, the periodic rescan and the status retry (default the process clock). */
  readonly clock?: Clock;
  /** liveness is the cluster default of the BFD liveness signal (`--liveness`, …); pools may override it. */
  readonly liveness?: LivenessSettings;
}

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
  const clients = makeClients(deps.kubeConfig);
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
  const speaker = new ClusterSpeaker({
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
    ...(deps.liveness ? { liveness: deps.liveness } : {}),
  });

  let ready = false;
  let stopped = false;
  let cancelCoalesce: Cancel | undefined;
  let statusOnly = true;
  const schedule = (resource: string) => {
    if (!ready || stopped) return;
    if (resource !== 'servicel2statuses') statusOnly = false;
    if (cancelCoalesce) return;
    cancelCoalesce = clock.setTimer(() => {
      cancelCoalesce = undefined;
      const onlyStatus = statusOnly;
      statusOnly = true;
      if (onlyStatus) speaker.syncStatus();
      else speaker.reconcile();
    }, deps.coalesceMs ?? 20);
  };
  sources.onChange(schedule);
  sources.start();
  const readyPromise = sources.synced().then(() => {
    if (stopped) return;
    speaker.reconcile();
    ready = true;
    logger.info({ routers: speaker.running.size }, 'speaker synced with the cluster');
  });
  let cancelRescan: Cancel = () => {};
  const rescan = () => {
    cancelRescan = clock.setTimer(
      () => {
        if (stopped) return;
        if (ready) speaker.reconcile();
        rescan();
      },
      RESCAN_MS,
      { background: true },
    );
  };
  rescan();

  return {
    speaker,
    ready: readyPromise,
    isReady: () => ready && !stopped,
    async stop() {
      if (stopped) return;
      stopped = true;
      cancelCoalesce?.();
      cancelRescan();
      await speaker.stop();
      await events.flush();
      await sources.stop();
    },
  };
}
