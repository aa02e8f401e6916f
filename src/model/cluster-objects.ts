/**
 * ClusterObjects are the raw API objects a speaker (or `metal-vrrp status`) reads, as plain JSON; snapshotOf turns them
 * into the ClusterSnapshot every decision reads, with the problems found on the way. Pure: the same objects give the
 * same snapshot on every node, which is what lets every speaker compute the same rendezvous ranking.
 */

import { type AuthKeysResult, parseAuthSecret, type SecretObject } from './auth-secret.ts';
import {
  type ClusterSnapshot,
  type EndpointSliceObject,
  type LoadBalancerServiceObject,
  type NodeObject,
  type NodeView,
  nodeView,
  readyEndpointNodes,
  type ServiceView,
  serviceView,
} from './cluster-snapshot.ts';
import {
  type ConfigProblem,
  type IPAddressPoolObject,
  type L2AdvertisementObject,
  type NamespaceObject,
  parseConfig,
} from './config.ts';
import { parsePoolTunings, type TuningProblem } from './pool-tuning.ts';

/** ClusterObjects is one consistent read of the objects a speaker watches. */
export interface ClusterObjects {
  readonly services: readonly LoadBalancerServiceObject[];
  readonly nodes: readonly NodeObject[];
  readonly endpointSlices: readonly EndpointSliceObject[];
  readonly pools: readonly IPAddressPoolObject[];
  readonly l2Advertisements: readonly L2AdvertisementObject[];
  readonly namespaces?: readonly NamespaceObject[];
  /** secrets of the speaker namespace; only those a pool names in metal-vrrp.io/auth-secret are read. */
  readonly secrets?: readonly SecretObject[];
}

/** SnapshotResult is the snapshot and what was wrong with the config objects (reported by the caller). */
export interface SnapshotResult {
  readonly snapshot: ClusterSnapshot;
  readonly configProblems: readonly ConfigProblem[];
  readonly tuningProblems: readonly TuningProblem[];
}

/** snapshotOf builds the snapshot; objects that do not parse are skipped (the views return undefined for them). */
export function snapshotOf(objects: ClusterObjects, ourClass?: string): SnapshotResult {
  const { config, problems } = parseConfig({
    pools: objects.pools,
    l2Advertisements: objects.l2Advertisements,
    namespaces: objects.namespaces ?? [],
  });
  const { tunings, problems: tuningProblems } = parsePoolTunings(objects.pools);
  const services: ServiceView[] = [];
  for (const obj of objects.services) {
    const view = serviceView(obj, ourClass);
    if (view) services.push(view);
  }
  services.sort((a, b) => (a.namespace + '/' + a.name < b.namespace + '/' + b.name ? -1 : 1));
  const nodes: NodeView[] = [];
  for (const obj of objects.nodes) {
    const view = nodeView(obj);
    if (view) nodes.push(view);
  }
  nodes.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const named = new Set([...tunings.values()].flatMap((t) => (t.authSecret === undefined ? [] : [t.authSecret])));
  // Secret name -> keys or error, for the Secrets some pool names (the others are none of ours)
  const authSecrets = new Map<string, AuthKeysResult>();
  for (const obj of objects.secrets ?? []) {
    const name = obj.metadata?.name;
    if (name !== undefined && named.has(name)) authSecrets.set(name, parseAuthSecret(obj));
  }
  return {
    snapshot: {
      services,
      nodes,
      readyEndpoints: readyEndpointNodes(objects.endpointSlices),
      pools: config.pools,
      l2Advertisements: config.l2Advertisements,
      tunings,
      authSecrets,
    },
    configProblems: problems,
    tuningProblems,
  };
}
