/**
 * What a speaker knows of the cluster at one moment, as plain data: the Services with VIPs, the Nodes, and which nodes
 * hold ready endpoints of each Service. The adapters below turn the objects an informer hands over (plain JSON of
 * core/v1 Service and Node, discovery.k8s.io/v1 EndpointSlice) into these views; nothing here talks to the API.
 */

import type { Family } from '../../vrrp/advert.ts';
import { canonicalIp as canonical, parseIp } from '../../vrrp/ip.ts';
import type { AuthKeysResult } from './auth-secret.ts';
import type { L2Advertisement, Pool } from './config.ts';
import { rangeContains } from './ip-range.ts';
import type { PoolTuning } from './pool-tuning.ts';
import type { Labels } from './selectors.ts';
import { isManaged, type ServiceObject } from './service-request.ts';
import { SERVICE_VRIDS_ANNOTATION } from './service-vrids.ts';

/** EXCLUDE_LABEL keeps a node out of every load balancer (Kubernetes' well-known label; any value counts). */
export const EXCLUDE_LABEL = 'node.kubernetes.io/exclude-from-external-load-balancers';
/** SERVICE_NAME_LABEL links an EndpointSlice to its Service. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

/** NodeView is a Node as eligibility sees it. */
export interface NodeView {
  readonly name: string;
  readonly labels: Labels;
  /** ready: the Ready condition is "True". */
  readonly ready: boolean;
  /** networkUnavailable: the NetworkUnavailable condition is "True" (MetalLB does not announce from such a node). */
  readonly networkUnavailable: boolean;
  /** internalIps are the InternalIP addresses, canonical text, in the order the Node lists them. */
  readonly internalIps: readonly string[];
  /** unschedulable: spec.unschedulable is true (cordoned; absent otherwise); a pool may ask it to resign (health-checks.ts). */
  readonly unschedulable?: boolean;
}

/** ServiceView is a managed LoadBalancer Service that has VIPs. */
export interface ServiceView {
  readonly namespace: string;
  readonly name: string;
  /** vips are status.loadBalancer.ingress[].ip, canonical text, in order. */
  readonly vips: readonly string[];
  readonly externalTrafficPolicy: 'Cluster' | 'Local';
  /** vridAnnotation is the raw metal-vrrp.io/vrids value, if the controller wrote one. */
  readonly vridAnnotation: string | undefined;
}

/** ClusterSnapshot is everything the speaker's decisions read. */
export interface ClusterSnapshot {
  readonly services: readonly ServiceView[];
  readonly nodes: readonly NodeView[];
  /** readyEndpoints: "namespace/name" -> names of nodes with at least one ready endpoint of that Service; ready
   * endpoints without a nodeName count under '' (no node has that name), so an empty set means none is ready. */
  readonly readyEndpoints: ReadonlyMap<string, ReadonlySet<string>>;
  /** pools are the valid pools (parseConfig's config.pools): a VIP's pool is the one whose ranges hold it. */
  readonly pools: readonly Pool[];
  readonly l2Advertisements: readonly L2Advertisement[];
  /** tunings: pool name -> tuning (parsePoolTunings); a pool missing here runs with the defaults. */
  readonly tunings: ReadonlyMap<string, PoolTuning>;
  /** authSecrets: Secret name -> its keys or why it is unusable (speaker namespace; metal-vrrp.io/auth-secret). */
  readonly authSecrets?: ReadonlyMap<string, AuthKeysResult>;
}

/** serviceKeyOf is "namespace/name", the key of readyEndpoints and of Events. */
export function serviceKeyOf(svc: { readonly namespace: string; readonly name: string }): string {
  return `${svc.namespace}/${svc.name}`;
}

/** familyOf is the family of a canonical address. */
export function familyOf(ip: string): Family {
  return ip.includes(':') ? 'ipv6' : 'ipv4';
}

/**
 * poolForVip finds the pool whose ranges hold the VIP, as MetalLB's speaker does (it does not trust an annotation for
 * this: a pool edited since allocation is what counts). Pools never overlap (parseConfig rejects that).
 */
export function poolForVip(pools: readonly Pool[], vip: string): Pool | undefined {
  const ip = parseIp(vip);
  if (!ip) return undefined;
  return pools.find((p) => p.ranges.some((r) => rangeContains(r, ip)));
}

/** NodeObject is the part of a core/v1 Node the speaker reads. */
export interface NodeObject {
  readonly metadata?: { readonly name?: string; readonly labels?: Readonly<Record<string, string>> | null };
  readonly spec?: { readonly unschedulable?: boolean | null } | null;
  readonly status?: {
    readonly conditions?: readonly { readonly type?: string; readonly status?: string }[] | null;
    readonly addresses?: readonly { readonly type?: string; readonly address?: string }[] | null;
  } | null;
}

/** nodeView reads a Node; undefined when it has no name. */
export function nodeView(obj: NodeObject): NodeView | undefined {
  const name = obj?.metadata?.name;
  if (typeof name !== 'string' || name === '') return undefined;
  const conditions = obj.status?.conditions ?? [];
  const ready = conditions.some((c) => c?.type === 'Ready' && c.status === 'True');
  const networkUnavailable = conditions.some((c) => c?.type === 'NetworkUnavailable' && c.status === 'True');
  const internalIps: string[] = [];
  for (const a of obj.status?.addresses ?? []) {
    if (a?.type !== 'InternalIP' || typeof a.address !== 'string') continue;
    const text = canonical(a.address.trim());
    if (text !== undefined && !internalIps.includes(text)) internalIps.push(text);
  }
  return Object.freeze({
    name,
    labels: Object.freeze({ ...(obj.metadata?.labels ?? {}) }),
    ready,
    networkUnavailable,
    internalIps: Object.freeze(internalIps),
    // Only a cordoned node carries the field, so views of ordinary nodes stay as they were.
    ...(obj.spec?.unschedulable === true ? { unschedulable: true } : {}),
  });
}

/** LoadBalancerServiceObject is a Service with the status the controller writes. */
export interface LoadBalancerServiceObject extends ServiceObject {
  readonly status?: {
    readonly loadBalancer?: { readonly ingress?: readonly { readonly ip?: string }[] | null } | null;
  } | null;
}

/**
 * serviceView reads a Service; undefined when metal-vrrp does not manage it (type, loadBalancerClass) or it has no VIP
 * yet. Ingress entries that are not IP addresses (hostnames) are skipped.
 */
export function serviceView(obj: LoadBalancerServiceObject, ourClass?: string): ServiceView | undefined {
  const namespace = obj?.metadata?.namespace;
  const name = obj?.metadata?.name;
  if (!namespace || !name || !isManaged(obj, ourClass)) return undefined;
  const vips: string[] = [];
  for (const ing of obj.status?.loadBalancer?.ingress ?? []) {
    const text = typeof ing?.ip === 'string' ? canonical(ing.ip.trim()) : undefined;
    if (text !== undefined && !vips.includes(text)) vips.push(text);
  }
  if (vips.length === 0) return undefined;
  return Object.freeze({
    namespace,
    name,
    vips: Object.freeze(vips),
    externalTrafficPolicy: obj.spec?.externalTrafficPolicy === 'Local' ? 'Local' : 'Cluster',
    vridAnnotation: obj.metadata?.annotations?.[SERVICE_VRIDS_ANNOTATION],
  });
}

/** EndpointSliceObject is the part of a discovery.k8s.io/v1 EndpointSlice the speaker reads. */
export interface EndpointSliceObject {
  readonly metadata?: { readonly namespace?: string; readonly labels?: Readonly<Record<string, string>> | null };
  readonly endpoints?:
    | readonly {
        readonly nodeName?: string | null;
        readonly conditions?: { readonly ready?: boolean | null } | null;
      }[]
    | null;
}

/**
 * readyEndpointNodes gathers, per Service, the nodes with at least one ready endpoint. A missing `ready` counts as
 * ready: the API documents nil as "unknown, interpret as ready". A ready endpoint without nodeName counts under ''
 * (for no node, but it still makes the Service served: MetalLB's "some active endpoint exists" for Cluster policy).
 */
export function readyEndpointNodes(slices: readonly EndpointSliceObject[]): Map<string, Set<string>> {
  // "namespace/name" -> node names
  const out = new Map<string, Set<string>>();
  for (const slice of slices) {
    const namespace = slice?.metadata?.namespace;
    const service = slice?.metadata?.labels?.[SERVICE_NAME_LABEL];
    if (!namespace || !service) continue;
    const key = `${namespace}/${service}`;
    let nodes = out.get(key);
    if (!nodes) {
      nodes = new Set();
      out.set(key, nodes);
    }
    for (const ep of slice.endpoints ?? []) {
      const ready = ep?.conditions?.ready ?? true;
      if (ready) nodes.add(typeof ep?.nodeName === 'string' ? ep.nodeName : '');
    }
  }
  return out;
}
