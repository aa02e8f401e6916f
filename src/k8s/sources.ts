/**
 * The controller's view of the cluster as two narrow sources over informers: Services (every namespace), and the
 * configuration — IPAddressPools and L2Advertisements of the controller's namespace plus Namespaces (their labels
 * feed serviceAllocation.namespaceSelectors) — handed out as the snapshot parseConfig reads.
 */
import { type KubernetesListObject, type KubernetesObject, makeInformer } from '@kubernetes/client-node';
import type { Clock } from '../clock.ts';
import type { Logger } from '../log.ts';
import type { ConfigSnapshot, IPAddressPoolObject, L2AdvertisementObject } from '../model/config.ts';
import type { ObservedService } from '../model/observed-service.ts';
import type { BackoffOptions } from './backoff.ts';
import { type Clients, METALLB_GROUP, METALLB_VERSION } from './clients.ts';
import { type ChangeKind, type ClientInformer, WatchedCache } from './watched-cache.ts';

/** ServiceSource is every Service of the cluster, kept current. */
export interface ServiceSource {
  synced(): Promise<void>;
  list(): ObservedService[];
  get(namespace: string, name: string): ObservedService | undefined;
  /** onChange is told the "namespace/name" key of every Service added, changed or deleted. */
  onChange(listener: (key: string, kind: ChangeKind) => void): void;
}

/** ConfigSource is the controller's configuration objects, kept current. */
export interface ConfigSource {
  synced(): Promise<void>;
  snapshot(): ConfigSnapshot;
  /** onChange is told that some pool, advertisement or namespace changed (which one does not matter: re-parse). */
  onChange(listener: (resource: string) => void): void;
  /** poolUid returns the uid of a pool, for Events about it. */
  poolUid(name: string): string | undefined;
}

/** KubeSources are both sources plus their lifecycle. */
export interface KubeSources {
  readonly services: ServiceSource;
  readonly config: ConfigSource;
  start(): void;
  stop(): Promise<void>;
}

/** KubeSourcesDeps: where to read from and where errors go. */
export interface KubeSourcesDeps {
  readonly clients: Clients;
  /** namespace holds the IPAddressPools and L2Advertisements (default metallb-system). */
  readonly namespace: string;
  readonly logger: Logger;
  readonly onWatchError?: (resource: string, err: unknown) => void;
  readonly backoff?: BackoffOptions;
  /** clock times the caches' retry backoff (default the process clock). */
  readonly clock?: Clock;
}

interface Named {
  readonly metadata?: { readonly namespace?: string; readonly name?: string; readonly uid?: string };
}
interface NamespaceJson extends Named {
  readonly metadata?: Named['metadata'] & { readonly labels?: Record<string, string> | null };
}

type Lister = () => Promise<KubernetesListObject<KubernetesObject>>;

/** createKubeSources builds (but does not start) the informers. */
export function createKubeSources(deps: KubeSourcesDeps): KubeSources {
  const { clients, namespace } = deps;
  const kc = clients.kubeConfig;
  const ns = encodeURIComponent(namespace);
  const cache = <T extends Named>(resource: string, path: string, list: Lister) =>
    new WatchedCache<T>({
      resource,
      informer: makeInformer(kc, path, list) as ClientInformer,
      logger: deps.logger,
      onWatchError: deps.onWatchError,
      backoff: deps.backoff,
      ...(deps.clock ? { clock: deps.clock } : {}),
    });
  const custom = (plural: string) => () =>
    clients.custom.listNamespacedCustomObject({
      group: METALLB_GROUP,
      version: METALLB_VERSION,
      namespace,
      plural,
    }) as Promise<KubernetesListObject<KubernetesObject>>;

  const services = cache<ObservedService & Named>(
    'services',
    '/api/v1/services',
    () => clients.core.listServiceForAllNamespaces() as Promise<KubernetesListObject<KubernetesObject>>,
  );
  const pools = cache<IPAddressPoolObject & Named>(
    'ipaddresspools',
    `/apis/${METALLB_GROUP}/${METALLB_VERSION}/namespaces/${ns}/ipaddresspools`,
    custom('ipaddresspools'),
  );
  const ads = cache<L2AdvertisementObject & Named>(
    'l2advertisements',
    `/apis/${METALLB_GROUP}/${METALLB_VERSION}/namespaces/${ns}/l2advertisements`,
    custom('l2advertisements'),
  );
  const namespaces = cache<NamespaceJson>(
    'namespaces',
    '/api/v1/namespaces',
    () => clients.core.listNamespace() as Promise<KubernetesListObject<KubernetesObject>>,
  );
  const configCaches = [pools, ads, namespaces];
  const all = [services, ...configCaches];

  return {
    services: {
      synced: () => services.synced(),
      list: () => services.list(),
      get: (namespace_, name) => services.get(namespace_, name),
      onChange(listener) {
        services.onChange((kind, o) => listener(`${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`, kind));
      },
    },
    config: {
      synced: async () => {
        await Promise.all(configCaches.map((c) => c.synced()));
      },
      snapshot: () => ({
        pools: pools.list(),
        l2Advertisements: ads.list(),
        namespaces: namespaces.list().map((n) => ({ name: n.metadata?.name ?? '', labels: n.metadata?.labels ?? {} })),
      }),
      onChange(listener) {
        pools.onChange(() => listener('ipaddresspools'));
        ads.onChange(() => listener('l2advertisements'));
        namespaces.onChange(() => listener('namespaces'));
      },
      poolUid: (name) => pools.get(namespace, name)?.metadata?.uid,
    },
    start() {
      for (const c of all) c.start();
    },
    async stop() {
      await Promise.all(all.map((c) => c.stop()));
    },
  };
}
