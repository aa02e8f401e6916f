/**
 * connectKube builds every Kubernetes adapter the controller needs from one KubeConfig: the sources (informers), the
 * StatusWriter and the EventRecorder. Watch errors are counted in `metal_vrrp_api_watch_errors_total`.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '../log.ts';
import type { BackoffOptions } from './backoff.ts';
import { makeClients } from './clients.ts';
import { createEventRecorder, type EventRecorder } from './event-recorder.ts';
import { createKubeSources, type KubeSources } from './sources.ts';
import { createStatusWriter, type StatusWriter } from './status-writer.ts';

/** KubeAdapters are the controller's ports, connected. */
export interface KubeAdapters {
  readonly sources: KubeSources;
  readonly status: StatusWriter;
  readonly events: EventRecorder;
}

/** ConnectDeps: the cluster, the namespace of the custom resources, and reporting. */
export interface ConnectDeps {
  readonly kubeConfig: KubeConfig;
  readonly namespace: string;
  readonly logger: Logger;
  readonly watchErrors?: { inc(labels: { resource: string }): void };
  /** component and instance name the reporter of Events. */
  readonly component: string;
  readonly instance: string;
  readonly backoff?: BackoffOptions;
}

/** connectKube: see the file comment. Nothing is started. */
export function connectKube(deps: ConnectDeps): KubeAdapters {
  const clients = makeClients(deps.kubeConfig);
  const logger = deps.logger.child({ component: 'k8s' });
  return {
    sources: createKubeSources({
      clients,
      namespace: deps.namespace,
      logger,
      backoff: deps.backoff,
      onWatchError: (resource) => deps.watchErrors?.inc({ resource }),
    }),
    status: createStatusWriter(clients),
    events: createEventRecorder({
      core: clients.core,
      logger,
      component: deps.component,
      instance: deps.instance,
    }),
  };
}
