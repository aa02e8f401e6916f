/**
 * MetalLB's visibility objects, kept so tools built for MetalLB keep working: one `ServiceL2Status`
 * (metallb.io/v1beta1) per Service and announcing node, and a `nodeAssigned` Event on the Service when a node starts
 * announcing it. Pure: builds the objects and decides which writes are needed; src/k8s performs them.
 *
 * Differences from MetalLB, where VRRP needs them:
 * - A Service's VIPs may have masters on different nodes (its IPv4 and IPv6 routers are elected apart), so a Service
 *   can have one status object per announcing node; the annotation `metal-vrrp.io/vips` on each says which VIPs that
 *   node holds. MetalLB tools that read `status.node` see a node that really answers for the Service.
 * - The name is `l2-` plus a hash of (node, namespace, name) instead of MetalLB's server-generated `l2-xxxxx`: a
 *   restarted speaker finds and updates its own object by name and never creates a duplicate. `status.node` is
 *   immutable in the CRD, so a new master always means a new object, written by the new master; the old master deletes
 *   its own object when it stops announcing (as MetalLB's speaker does).
 * - `status.interfaces` lists the interface the speaker announces on (MetalLB leaves it empty for "all").
 * Writes happen only when the wanted object differs from the stored one, never per advert.
 */
import { createHash } from 'node:crypto';
import type { Family } from '../../../vrrp/advert.ts';
import { familyOf, type ServiceView, serviceKeyOf } from '../../model/cluster-snapshot.ts';
import {
  L2_STATUS_LABELS,
  L2_STATUS_VIPS_ANNOTATION,
  type L2StatusBody,
  type L2StatusWrite,
  type OwnerReference,
  type ServiceEvent,
  type ServiceL2StatusObject,
} from '../../model/service-l2-status.ts';
import type { RouterSpec } from '../router-spec.ts';

/** l2StatusName is `l2-` and 16 hex digits of SHA-256 over node, namespace and name: stable and collision-safe. */
export function l2StatusName(node: string, serviceNamespace: string, serviceName: string): string {
  const digest = createHash('sha256').update(`${node}\u0000${serviceNamespace}\u0000${serviceName}`).digest('hex');
  return `l2-${digest.slice(0, 16)}`;
}

/** L2StatusInput is one Service this node announces. */
export interface L2StatusInput {
  /** namespace is the speaker's own namespace, where MetalLB keeps these objects. */
  readonly namespace: string;
  readonly node: string;
  readonly serviceNamespace: string;
  readonly serviceName: string;
  readonly vips: readonly string[];
  readonly interfaces: readonly string[];
  readonly owner?: OwnerReference;
}

/** buildL2Status makes the object for one Service announced by this node. */
export function buildL2Status(input: L2StatusInput): ServiceL2StatusObject {
  const interfaces = [...new Set(input.interfaces)].sort().map((name) => ({ name }));
  return {
    apiVersion: 'metallb.io/v1beta1',
    kind: 'ServiceL2Status',
    metadata: {
      name: l2StatusName(input.node, input.serviceNamespace, input.serviceName),
      namespace: input.namespace,
      labels: {
        [L2_STATUS_LABELS.node]: input.node,
        [L2_STATUS_LABELS.serviceName]: input.serviceName,
        [L2_STATUS_LABELS.serviceNamespace]: input.serviceNamespace,
      },
      annotations: { [L2_STATUS_VIPS_ANNOTATION]: input.vips.join(',') },
      ...(input.owner ? { ownerReferences: [input.owner] } : {}),
    },
    spec: {},
    status: {
      node: input.node,
      serviceName: input.serviceName,
      serviceNamespace: input.serviceNamespace,
      ...(interfaces.length > 0 ? { interfaces } : {}),
    },
  };
}

/**
 * l2StatusesFor makes this node's objects from the routers it is master of: per Service, the VIPs of those routers
 * that belong to it and the interfaces they are announced on. Sorted by object name.
 */
export function l2StatusesFor(args: {
  readonly namespace: string;
  readonly node: string;
  readonly mastered: readonly Pick<RouterSpec, 'vips' | 'interface'>[];
  readonly services: readonly ServiceView[];
  readonly owner?: OwnerReference;
}): ServiceL2StatusObject[] {
  // vip -> interface it is announced on
  const announced = new Map<string, string>();
  for (const r of args.mastered) for (const vip of r.vips) announced.set(vip, r.interface);
  const out: ServiceL2StatusObject[] = [];
  for (const svc of args.services) {
    const vips = svc.vips.filter((v) => announced.has(v));
    if (vips.length === 0) continue;
    out.push(
      buildL2Status({
        namespace: args.namespace,
        node: args.node,
        serviceNamespace: svc.namespace,
        serviceName: svc.name,
        vips,
        interfaces: vips.map((v) => announced.get(v)!),
        ...(args.owner ? { owner: args.owner } : {}),
      }),
    );
  }
  return out.sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1));
}

function serviceOf(obj: ServiceL2StatusObject): string {
  const l = obj.metadata.labels ?? {};
  return `${l[L2_STATUS_LABELS.serviceNamespace] ?? ''}/${l[L2_STATUS_LABELS.serviceName] ?? ''}`;
}

function sameRecord(a: Readonly<Record<string, string>> | undefined, b: Readonly<Record<string, string>> | undefined) {
  const x = Object.entries(a ?? {}).sort();
  const y = Object.entries(b ?? {}).sort();
  return x.length === y.length && x.every(([k, v], i) => y[i]![0] === k && y[i]![1] === v);
}

function sameStatus(a: L2StatusBody | undefined, b: L2StatusBody | undefined): boolean {
  if (!a || !b) return a === b;
  const ia = (a.interfaces ?? []).map((i) => i.name).join(',');
  const ib = (b.interfaces ?? []).map((i) => i.name).join(',');
  return a.node === b.node && a.serviceName === b.serviceName && a.serviceNamespace === b.serviceNamespace && ia === ib;
}

/** sameIdentity: the fields the CRD makes immutable agree (when they are set at all). */
function sameIdentity(stored: L2StatusBody | undefined, wanted: L2StatusBody | undefined): boolean {
  if (!stored || !wanted) return true;
  return (
    stored.node === wanted.node &&
    stored.serviceName === wanted.serviceName &&
    stored.serviceNamespace === wanted.serviceNamespace
  );
}

/**
 * planL2StatusWrites compares the objects this node wants with the ones stored for this node (listed with the label
 * metallb.io/node=<node>) and returns the writes: none when they agree. A stored object for a wanted Service is reused
 * whatever its name (e.g. one MetalLB created); extra objects for one Service, and objects for Services no longer
 * announced, are deleted; an object whose immutable status fields disagree is deleted and created anew.
 */
export function planL2StatusWrites(
  wanted: readonly ServiceL2StatusObject[],
  stored: readonly ServiceL2StatusObject[],
): L2StatusWrite[] {
  const writes: L2StatusWrite[] = [];
  // "namespace/name" of the Service -> stored objects, by name
  const byService = new Map<string, ServiceL2StatusObject[]>();
  for (const obj of [...stored].sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1))) {
    const list = byService.get(serviceOf(obj)) ?? [];
    list.push(obj);
    byService.set(serviceOf(obj), list);
  }
  const deletes: L2StatusWrite[] = [];
  const del = (o: ServiceL2StatusObject) =>
    deletes.push({ op: 'delete', namespace: o.metadata.namespace, name: o.metadata.name });
  const wantedServices = new Set<string>();
  for (const want of wanted) {
    const svc = serviceOf(want);
    wantedServices.add(svc);
    const candidates = byService.get(svc) ?? [];
    // Prefer the object with our own name, then the first by name.
    const keep = candidates.find((o) => o.metadata.name === want.metadata.name) ?? candidates[0];
    for (const o of candidates) if (o !== keep) del(o);
    if (!keep || !sameIdentity(keep.status, want.status)) {
      if (keep) del(keep);
      writes.push({ op: 'create', object: want });
      continue;
    }
    const metadata =
      !sameRecord(keep.metadata.labels, want.metadata.labels) ||
      !sameRecord(keep.metadata.annotations, want.metadata.annotations);
    const status = !sameStatus(keep.status, want.status);
    if (!metadata && !status) continue;
    const object: ServiceL2StatusObject = {
      ...want,
      metadata: {
        ...want.metadata,
        name: keep.metadata.name,
        ...(keep.metadata.resourceVersion !== undefined ? { resourceVersion: keep.metadata.resourceVersion } : {}),
      },
    };
    writes.push({ op: 'update', object, metadata, status });
  }
  for (const [svc, list] of byService) if (!wantedServices.has(svc)) for (const o of list) del(o);
  // Deletes first: a new object for a Service must not sit beside a stale one longer than needed.
  return [...deletes, ...writes];
}

/** NODE_ASSIGNED_REASON is MetalLB's reason for "this node now announces the Service". */
export const NODE_ASSIGNED_REASON = 'nodeAssigned';

/**
 * masterChangeEvents are the Events the new master emits when one of its routers becomes master: one per Service
 * with VIPs on the router. The message starts as MetalLB's does (`announcing from node "X" with protocol "layer2"`),
 * then names the VIPs and the router, which MetalLB needs not do since one node holds all of a Service's IPs.
 */
export function masterChangeEvents(
  node: string,
  router: { readonly family: Family; readonly vrid: number; readonly vips: readonly string[] },
  services: readonly ServiceView[],
): ServiceEvent[] {
  const out: ServiceEvent[] = [];
  const onRouter = new Set(router.vips);
  for (const svc of [...services].sort((a, b) => (serviceKeyOf(a) < serviceKeyOf(b) ? -1 : 1))) {
    const vips = svc.vips.filter((v) => onRouter.has(v) && familyOf(v) === router.family);
    if (vips.length === 0) continue;
    out.push({
      namespace: svc.namespace,
      name: svc.name,
      type: 'Normal',
      reason: NODE_ASSIGNED_REASON,
      message: `announcing from node "${node}" with protocol "layer2": VRRP master of ${vips.join(', ')} (${router.family} VRID ${router.vrid})`,
    });
  }
  return out;
}
