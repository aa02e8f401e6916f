/**
 * The speaker's view of the cluster: informers over Services, Nodes and EndpointSlices (every namespace), the pools
 * and L2Advertisements of metal-vrrp's namespace, Namespaces, the ServiceL2Status objects there, and the Secrets
 * there (keys of authenticated adverts). `objects()` hands the current content over as the plain ClusterObjects the
 * pure decisions read; `onChange` says that something changed (which object does not matter: the speaker recomputes
 * from the whole snapshot, which is cheap).
 */
import { DiscoveryV1Api, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import type { Clock } from '../clock.ts';
import type { Logger } from '../log.ts';
import type { ClusterObjects } from '../model/cluster-objects.ts';
import type { ServiceL2StatusObject } from '../model/service-l2-status.ts';
import type { BackoffOptions } from './backoff.ts';
import { type Clients, METALLB_GROUP, METALLB_VERSION } from './clients.ts';
import { SERVICE_L2_STATUS_PLURAL } from './list-cluster.ts';
import type { TrimKind } from './trim.ts';
import { makeTrimmedInformer } from './trimmed-informer.ts';
import { WatchedCache } from './watched-cache.ts';

/** SpeakerSources: see the file comment. */
export interface SpeakerSources {
  /** synced resolves once every informer has listed once. */
  synced(): Promise<void>;
  objects(): ClusterObjects;
  /** l2Statuses lists the ServiceL2Status objects of metal-vrrp's namespace. */
  l2Statuses(): ServiceL2StatusObject[];
  onChange(listener: (resource: string) => void): void;
  start(): void;
  stop(): Promise<void>;
}

/** SpeakerSourcesDeps: the clients, the namespace of the custom resources, logging and watch-error reporting. */
export interface SpeakerSourcesDeps {
  readonly clients: Clients;
  readonly namespace: string;
  readonly logger: Logger;
  readonly onWatchError?: (resource: string, err: unknown) => void;
  readonly backoff?: BackoffOptions;
  /** clock times the caches' retry backoff (default the process clock). */
  readonly clock?: Clock;
}

type Lister = () => Promise<KubernetesListObject<KubernetesObject>>;
type Named = { readonly metadata?: { readonly namespace?: string; readonly name?: string } };

/** createSpeakerSources builds (but does not start) the informers. */
export function createSpeakerSources(deps: SpeakerSourcesDeps): SpeakerSources {
  const { clients, namespace } = deps;
  const kc = clients.kubeConfig;
  const discovery = kc.makeApiClient(DiscoveryV1Api);
  const ns = encodeURIComponent(namespace);
  // Objects are cached trimmed to what the speaker reads (trim.ts): Nodes and EndpointSlices of the whole cluster are
  // the bulk, and every object's managedFields.
  const cache = (resource: string, path: string, list: Lister, trim: TrimKind = 'generic') =>
    new WatchedCache<Named>({
      resource,
      informer: makeTrimmedInformer(kc, path, list, trim),
      logger: deps.logger,
      onWatchError: deps.onWatchError,
      backoff: deps.backoff,
      ...(deps.clock ? { clock: deps.clock } : {}),
    });
  const metallb = (plural: string) =>
    cache(
      plural,
      `/apis/${METALLB_GROUP}/${METALLB_VERSION}/namespaces/${ns}/${plural}`,
      () =>
        clients.custom.listNamespacedCustomObject({
          group: METALLB_GROUP,
          version: METALLB_VERSION,
          namespace,
          plural,
        }) as Promise<KubernetesListObject<KubernetesObject>>,
    );
  const services = cache(
    'services',
    '/api/v1/services',
    () => clients.core.listServiceForAllNamespaces() as Promise<KubernetesListObject<KubernetesObject>>,
  );
  const nodes = cache(
    'nodes',
    '/api/v1/nodes',
    () => clients.core.listNode() as Promise<KubernetesListObject<KubernetesObject>>,
    'node',
  );
  const slices = cache(
    'endpointslices',
    '/apis/discovery.k8s.io/v1/endpointslices',
    () => discovery.listEndpointSliceForAllNamespaces() as Promise<KubernetesListObject<KubernetesObject>>,
    'endpointslice',
  );
  const namespaces = cache(
    'namespaces',
    '/api/v1/namespaces',
    () => clients.core.listNamespace() as Promise<KubernetesListObject<KubernetesObject>>,
  );
  const pools = metallb('ipaddresspools');
  const ads = metallb('l2advertisements');
  const l2 = metallb(SERVICE_L2_STATUS_PLURAL);
  // Secrets of our namespace only (the Role allows no more): keys of pools with metal-vrrp.io/auth-secret.
  const secrets = cache(
    'secrets',
    `/api/v1/namespaces/${ns}/secrets`,
    () => clients.core.listNamespacedSecret({ namespace }) as Promise<KubernetesListObject<KubernetesObject>>,
  );
  const all = [services, nodes, slices, namespaces, pools, ads, l2, secrets];
  return {
    async synced() {
      await Promise.all(all.map((c) => c.synced()));
    },
    objects: () =>
      ({
        services: services.list(),
        nodes: nodes.list(),
        endpointSlices: slices.list(),
        pools: pools.list(),
        l2Advertisements: ads.list(),
        secrets: secrets.list(),
        namespaces: namespaces.list().map((n) => {
          const meta = n.metadata as { name?: string; labels?: Record<string, string> } | undefined;
          return { name: meta?.name ?? '', labels: meta?.labels ?? {} };
        }),
      }) as ClusterObjects,
    l2Statuses: () => l2.list() as ServiceL2StatusObject[],
    onChange(listener) {
      for (const c of all) {
        const resource = c === l2 ? SERVICE_L2_STATUS_PLURAL : 'cluster';
        c.onChange(() => listener(resource));
      }
    },
    start() {
      for (const c of all) c.start();
    },
    async stop() {
      await Promise.all(all.map((c) => c.stop()));
    },
  };
}
