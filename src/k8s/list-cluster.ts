/**
 * listCluster reads, once, every object `metal-vrrp status` needs: the Services, Nodes and EndpointSlices of the
 * cluster, and the pools, advertisements and ServiceL2Status objects of metal-vrrp's namespace. A running speaker
 * watches the same objects through informers instead (speaker-sources.ts).
 */
import { DiscoveryV1Api } from '@kubernetes/client-node';
import type { ClusterObjects } from '../model/cluster-objects.ts';
import type { ServiceL2StatusObject } from '../model/service-l2-status.ts';
import { type Clients, METALLB_GROUP, METALLB_VERSION } from './clients.ts';
import { toPlain } from './plain.ts';
import { type RetryAfterOptions, withRetryAfter } from './retry-after.ts';

/** SERVICE_L2_STATUS_PLURAL is the resource name of MetalLB's ServiceL2Status. */
export const SERVICE_L2_STATUS_PLURAL = 'servicel2statuses';

/** ListedCluster is ClusterObjects plus the ServiceL2Status objects (who is master of what). */
export interface ListedCluster extends ClusterObjects {
  readonly l2Statuses: readonly ServiceL2StatusObject[];
}

function itemsOf<T>(list: unknown): T[] {
  const items = toPlain<{ items?: unknown[] } | undefined>(list)?.items ?? [];
  return items as T[];
}

/**
 * listCluster lists every object at once; a list answered 429 is tried again after its Retry-After (retry-after.ts).
 * It throws the client's error when the API cannot be read.
 */
export async function listCluster(
  clients: Clients,
  namespace: string,
  retry: RetryAfterOptions = {},
): Promise<ListedCluster> {
  const discovery = clients.kubeConfig.makeApiClient(DiscoveryV1Api);
  const r = <T>(call: () => Promise<T>) => withRetryAfter(call, retry);
  const custom = (plural: string) =>
    r(() =>
      clients.custom.listNamespacedCustomObject({ group: METALLB_GROUP, version: METALLB_VERSION, namespace, plural }),
    );
  const [services, nodes, slices, pools, ads, l2, namespaces] = await Promise.all([
    r(() => clients.core.listServiceForAllNamespaces()),
    r(() => clients.core.listNode()),
    r(() => discovery.listEndpointSliceForAllNamespaces()),
    custom('ipaddresspools'),
    custom('l2advertisements'),
    custom(SERVICE_L2_STATUS_PLURAL),
    r(() => clients.core.listNamespace()),
  ]);
  return {
    services: itemsOf(services),
    nodes: itemsOf(nodes),
    endpointSlices: itemsOf(slices),
    pools: itemsOf(pools),
    l2Advertisements: itemsOf(ads),
    l2Statuses: itemsOf(l2),
    namespaces: itemsOf<{ metadata?: { name?: string; labels?: Record<string, string> } }>(namespaces).map((n) => ({
      name: n.metadata?.name ?? '',
      labels: n.metadata?.labels ?? {},
    })),
  };
}
