/**
 * Which nodes may serve a VIP (issue 6, "Which VIPs, on which nodes"). A node is eligible when
 * 1. some L2Advertisement announces the VIP's pool (by name, by ipAddressPoolSelectors, or by naming no pool at all:
 *    parseConfig has already resolved that into `pools`), and that advertisement's nodeSelectors match the node
 *    (none means every node, MetalLB's default);
 * 2. the node is Ready, its NetworkUnavailable condition is not True (MetalLB #1759), and it lacks the label
 *    node.kubernetes.io/exclude-from-external-load-balancers;
 * 3. for externalTrafficPolicy Local, the node holds a ready endpoint of the Service (else traffic it attracts is
 *    dropped by kube-proxy); for Cluster, the Service's EndpointSlices hold some ready endpoint (MetalLB's layer-2
 *    ShouldAnnounce: with none kube-proxy rejects the traffic, so no node answers ARP/NDP for the VIP). A Service with
 *    no EndpointSlice at all is still announced: the endpoint controller writes one for every Service with a
 *    selector, so that is a selector-less Service whose endpoints are managed elsewhere (MetalLB does not announce it).
 * Every node that is not eligible gets the first reason that ruled it out, so `why not` is answerable and testable.
 */

import {
  type ClusterSnapshot,
  EXCLUDE_LABEL,
  poolForVip,
  type ServiceView,
  serviceKeyOf,
} from '../../model/cluster-snapshot.ts';
import type { L2Advertisement } from '../../model/config.ts';
import { matchesAny } from '../../model/selectors.ts';

/** IneligibleReason says why a node may not serve a VIP, in the order the checks run. */
export type IneligibleReason =
  | 'no-pool' // the VIP lies in no valid pool (pool deleted or rejected)
  | 'not-advertised' // no L2Advertisement announces the pool
  | 'node-not-ready' // the node's Ready condition is not True
  | 'network-unavailable' // the node's NetworkUnavailable condition is True (MetalLB #1759)
  | 'node-excluded' // the node carries the exclude-from-external-load-balancers label
  | 'node-selector' // no advertisement of the pool selects this node
  | 'no-local-endpoint' // externalTrafficPolicy Local, and no ready endpoint of the Service on this node
  | 'no-endpoint'; // externalTrafficPolicy Cluster, and the Service's EndpointSlices hold no ready endpoint

/** Eligibility is the answer for one VIP. */
export interface Eligibility {
  /** pool is the name of the pool holding the VIP, if any. */
  readonly pool: string | undefined;
  /** nodes are the eligible nodes, sorted by name. */
  readonly nodes: readonly string[];
  /**
   * interfaces: eligible node -> the interfaces the advertisements limit it to, sorted; an empty list means no limit
   * (some matching advertisement lists no interfaces, which in MetalLB means all of them).
   */
  readonly interfaces: ReadonlyMap<string, readonly string[]>;
  /** excluded: node -> why it is not eligible. */
  readonly excluded: ReadonlyMap<string, IneligibleReason>;
}

/** EligibilityInput is the part of the snapshot eligibility reads. */
export type EligibilityInput = Pick<ClusterSnapshot, 'nodes' | 'readyEndpoints' | 'pools' | 'l2Advertisements'>;

/** allowedInterfaces merges the interface lists of the advertisements that select a node: [] when any is unlimited. */
function allowedInterfaces(ads: readonly L2Advertisement[]): readonly string[] {
  if (ads.some((a) => a.interfaces.length === 0)) return Object.freeze([]);
  return Object.freeze([...new Set(ads.flatMap((a) => a.interfaces))].sort());
}

/** eligibleNodes decides, for one VIP of a Service, which nodes may serve it (see the file comment). */
export function eligibleNodes(service: ServiceView, vip: string, input: EligibilityInput): Eligibility {
  const pool = poolForVip(input.pools, vip);
  const ads = pool ? input.l2Advertisements.filter((a) => a.pools.includes(pool.name)) : [];
  const local = service.externalTrafficPolicy === 'Local';
  const endpoints = input.readyEndpoints.get(serviceKeyOf(service));
  const nodes: string[] = [];
  const interfaces = new Map<string, readonly string[]>();
  const excluded = new Map<string, IneligibleReason>();
  const seen = new Set<string>();
  for (const node of input.nodes) {
    // A name listed twice (a stale cache entry beside a fresh one) counts once, first entry wins.
    if (seen.has(node.name)) continue;
    seen.add(node.name);
    let reason: IneligibleReason | undefined;
    let selecting: L2Advertisement[] = [];
    if (!pool) reason = 'no-pool';
    else if (ads.length === 0) reason = 'not-advertised';
    else if (!node.ready) reason = 'node-not-ready';
    else if (node.networkUnavailable) reason = 'network-unavailable';
    else if (Object.hasOwn(node.labels, EXCLUDE_LABEL)) reason = 'node-excluded';
    else {
      selecting = ads.filter((a) => a.nodeSelectors.length === 0 || matchesAny(a.nodeSelectors, node.labels));
      if (selecting.length === 0) reason = 'node-selector';
      else if (local && !endpoints?.has(node.name)) reason = 'no-local-endpoint';
      else if (!local && endpoints !== undefined && endpoints.size === 0) reason = 'no-endpoint';
    }
    if (reason !== undefined) {
      excluded.set(node.name, reason);
      continue;
    }
    nodes.push(node.name);
    interfaces.set(node.name, allowedInterfaces(selecting));
  }
  nodes.sort();
  return { pool: pool?.name, nodes, interfaces, excluded };
}
