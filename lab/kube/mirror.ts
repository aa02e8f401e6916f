// mirror.ts — a synchronous view of a few resources of a real API server for the network tests and the lab: one
// list-and-watch per kind (src/k8s/watched-cache.ts, so a watch broken by an API outage is resumed with backoff), read
// without awaiting. Tests poll it in their waits, as they polled the stand-in's in-memory store before.
import {
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  KubernetesObjectApi,
  makeInformer,
} from '@kubernetes/client-node';
import { type ClientInformer, WatchedCache } from '../../src/k8s/watched-cache.ts';
import { createLogger } from '../../src/log.ts';

/** MirrorKind names one resource: its apiVersion, kind and plural (for the watch path). */
export interface MirrorKind {
  readonly apiVersion: string;
  readonly kind: string;
  readonly plural: string;
}

/** MIRROR_KINDS are the resources the network tests read. */
export const MIRROR_KINDS = {
  services: { apiVersion: 'v1', kind: 'Service', plural: 'services' },
  nodes: { apiVersion: 'v1', kind: 'Node', plural: 'nodes' },
  endpointslices: { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', plural: 'endpointslices' },
  ipaddresspools: { apiVersion: 'metallb.io/v1beta1', kind: 'IPAddressPool', plural: 'ipaddresspools' },
  l2advertisements: { apiVersion: 'metallb.io/v1beta1', kind: 'L2Advertisement', plural: 'l2advertisements' },
  servicel2statuses: { apiVersion: 'metallb.io/v1beta1', kind: 'ServiceL2Status', plural: 'servicel2statuses' },
} as const satisfies Record<string, MirrorKind>;

export type MirrorKey = keyof typeof MIRROR_KINDS;

/** Obj is the loose shape tests read: metadata plus whatever spec/status the kind has. */
export type Obj = {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    resourceVersion?: string;
  };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
  [k: string]: unknown;
};

/** KubeMirror: get and list are synchronous reads of the latest objects seen. */
export class KubeMirror {
  private constructor(private readonly caches: Map<MirrorKey, WatchedCache<Obj>>) {}

  /** start lists and watches every kind of MIRROR_KINDS (all namespaces) and resolves once each has synced. */
  static async start(kc: KubeConfig): Promise<KubeMirror> {
    const objects = KubernetesObjectApi.makeApiClient(kc);
    const logger = createLogger({ level: 'error', destination: { write: () => {} } });
    const caches = new Map<MirrorKey, WatchedCache<Obj>>();
    for (const [key, k] of Object.entries(MIRROR_KINDS) as [MirrorKey, MirrorKind][]) {
      const path = `${k.apiVersion === 'v1' ? '/api/v1' : `/apis/${k.apiVersion}`}/${k.plural}`;
      const list = () => objects.list(k.apiVersion, k.kind) as Promise<KubernetesListObject<KubernetesObject>>;
      const cache = new WatchedCache<Obj>({
        resource: key,
        informer: makeInformer(kc, path, list) as ClientInformer,
        logger,
        backoff: { baseMs: 100, maxMs: 1000 },
      });
      cache.start();
      caches.set(key, cache);
    }
    await Promise.all([...caches.values()].map((c) => c.synced()));
    return new KubeMirror(caches);
  }

  /** get reads one object; `namespace` is '' for cluster-scoped kinds. */
  get(key: MirrorKey, namespace: string, name: string): Obj | undefined {
    return this.caches.get(key)?.get(namespace, name);
  }

  /** list reads every object of a kind, or those of one namespace. */
  list(key: MirrorKey, namespace?: string): Obj[] {
    const all = this.caches.get(key)?.list() ?? [];
    return namespace === undefined ? all : all.filter((o) => o.metadata.namespace === namespace);
  }

  async stop(): Promise<void> {
    await Promise.all([...this.caches.values()].map((c) => c.stop()));
  }
}
