/**
 * The adapter from a Service (plain JSON, as an informer or a file gives it) to the allocator's AllocationRequest —
 * MetalLB's k8salloc plus getDesiredLbIPs, in one pure function. Both annotation prefixes are read so MetalLB YAML
 * applies unchanged: `metallb.io/` is current and wins; `metallb.universe.tf/` is the deprecated spelling.
 */
import type { Family } from '../../vrrp/advert.ts';
import { parseIp } from '../../vrrp/ip.ts';
import { type CodedError, codedError } from '../errors.ts';
import { type AllocationRequest, IP_FAMILY_POLICIES, type IpFamilyPolicy, type ServicePort } from './request.ts';
import type { Labels } from './selectors.ts';

/** ServiceObject is the part of a core/v1 Service the adapter reads. */
export interface ServiceObject {
  readonly metadata?: {
    readonly namespace?: string;
    readonly name?: string;
    readonly annotations?: Readonly<Record<string, string>> | null;
    readonly labels?: Readonly<Record<string, string>> | null;
  };
  readonly spec?: {
    readonly type?: string;
    readonly loadBalancerIP?: string | null;
    readonly loadBalancerClass?: string | null;
    readonly ipFamilies?: readonly string[] | null;
    readonly ipFamilyPolicy?: string | null;
    readonly ports?: readonly { readonly port?: number; readonly protocol?: string; readonly name?: string }[] | null;
    readonly externalTrafficPolicy?: string | null;
    readonly selector?: Readonly<Record<string, string>> | null;
  };
}

/**
 * DEFAULT_LOAD_BALANCER_CLASS is metal-vrrp's class name, for running beside another load balancer (`--lb-class
 * metal-vrrp.io/vrrp`, Services with `spec.loadBalancerClass: metal-vrrp.io/vrrp`). Namespaced under the project's
 * domain as Kubernetes requires for non-builtin classes. Without --lb-class, Services with no class are served.
 */
export const DEFAULT_LOAD_BALANCER_CLASS = 'metal-vrrp.io/vrrp';

/** ANNOTATIONS names each annotation the adapter reads: the current spelling first, then the deprecated one. */
export const ANNOTATIONS = Object.freeze({
  addressPool: ['metallb.io/address-pool', 'metallb.universe.tf/address-pool'],
  loadBalancerIPs: ['metallb.io/loadBalancerIPs', 'metallb.universe.tf/loadBalancerIPs'],
  allowSharedIP: ['metallb.io/allow-shared-ip', 'metallb.universe.tf/allow-shared-ip'],
} as const);

/** ServiceRequestResult is a request plus non-fatal findings to report as Events, or why there is none. */
export type ServiceRequestResult =
  | { readonly request: AllocationRequest; readonly warnings: readonly CodedError[] }
  | { readonly error: CodedError };

const FAMILIES: Readonly<Record<string, Family>> = { IPv4: 'ipv4', IPv6: 'ipv6' };

/** serviceKey is the allocator's opaque key for a Service: "namespace/name". */
export function serviceKey(svc: ServiceObject): string {
  return `${svc.metadata?.namespace ?? ''}/${svc.metadata?.name ?? ''}`;
}

/**
 * isManaged says whether metal-vrrp owns a Service, as MetalLB decides it (its --lb-class): type LoadBalancer, and
 * with no class configured only Services without a loadBalancerClass; with a class configured only Services of that
 * class. So by default metal-vrrp takes MetalLB's place as the cluster's default load balancer, and beside another
 * one it runs with `--lb-class metal-vrrp.io/vrrp` (DEFAULT_LOAD_BALANCER_CLASS, the class name we document).
 */
export function isManaged(svc: ServiceObject, ourClass?: string): boolean {
  if (svc.spec?.type !== 'LoadBalancer') return false;
  const cls = svc.spec.loadBalancerClass;
  const theirs = cls === undefined || cls === null || cls === '' ? undefined : cls;
  const ours = ourClass === undefined || ourClass === '' ? undefined : ourClass;
  return theirs === ours;
}

/**
 * annotation reads one annotation under both prefixes. The current prefix wins, as in MetalLB's valueForAnnotation;
 * unlike MetalLB, a deprecated value that disagrees is reported rather than silently ignored. Empty means absent.
 */
function annotation(
  ann: Readonly<Record<string, string>>,
  names: readonly [string, string],
  warnings: CodedError[],
): string | undefined {
  const [current, deprecated] = names;
  const cur = ann[current];
  const dep = ann[deprecated];
  if (cur !== undefined && dep !== undefined && cur !== dep) {
    warnings.push(codedError('ANNOTATION_CONFLICT', `${current}="${cur}" is used, ${deprecated}="${dep}" is ignored`));
  }
  const value = cur ?? dep;
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

/**
 * requestedIps reads `loadBalancerIPs` (comma-separated, at most one per family) or `spec.loadBalancerIP`; setting
 * both is an error, as in MetalLB. Addresses come back in canonical text.
 */
function requestedIps(annotated: string | undefined, specIp: string): { ips: string[] } | { error: CodedError } {
  const name = ANNOTATIONS.loadBalancerIPs[0];
  if (annotated !== undefined && specIp !== '') {
    return { error: codedError('INVALID_ANNOTATION', `${name} and spec.loadBalancerIP are both set`) };
  }
  if (annotated === undefined) {
    if (specIp === '') return { ips: [] };
    const ip = parseIp(specIp.trim());
    if (!ip) return { error: codedError('INVALID_SERVICE', `spec.loadBalancerIP "${specIp}" is not an IP address`) };
    return { ips: [specIp.trim()] };
  }
  const ips: string[] = [];
  const seen = new Set<Family>();
  for (const part of annotated.split(',')) {
    const ip = parseIp(part.trim());
    if (!ip) return { error: codedError('INVALID_ANNOTATION', `${name}: "${part.trim()}" is not an IP address`) };
    if (seen.has(ip.family)) return { error: codedError('INVALID_ANNOTATION', `${name}: two ${ip.family} addresses`) };
    seen.add(ip.family);
    ips.push(part.trim());
  }
  return { ips };
}

/** ports reads `spec.ports`; the protocol defaults to TCP as the API server defaults it. */
function ports(list: NonNullable<ServiceObject['spec']>['ports']): { ports: ServicePort[] } | { error: CodedError } {
  const out: ServicePort[] = [];
  for (const p of list ?? []) {
    const port = p?.port;
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
      return { error: codedError('INVALID_SERVICE', `port ${String(port)} is not 1-65535`) };
    }
    out.push({ port, protocol: (p.protocol ?? 'TCP').toUpperCase() });
  }
  return { ports: out };
}

/**
 * toServiceRequest turns a Service into an AllocationRequest. `namespaceLabels` are the labels of the Service's
 * namespace (from the namespace informer), for pools with namespaceSelectors. Fields the API server always fills
 * (ipFamilies, ipFamilyPolicy, externalTrafficPolicy) get the API server's defaults when absent, so hand-written test
 * objects work; a present but invalid value is an error.
 */
export function toServiceRequest(svc: ServiceObject, namespaceLabels: Labels = {}): ServiceRequestResult {
  const meta = svc?.metadata ?? {};
  const spec = svc?.spec ?? {};
  const invalid = (detail: string) => ({ error: codedError('INVALID_SERVICE', `${serviceKey(svc)}: ${detail}`) });
  if (!meta.namespace || !meta.name) return invalid('metadata.namespace and metadata.name are required');
  if (spec.type !== 'LoadBalancer') return invalid(`type ${String(spec.type)} is not LoadBalancer`);
  const warnings: CodedError[] = [];
  const ann = meta.annotations ?? {};
  const pool = annotation(ann, ANNOTATIONS.addressPool, warnings);
  const sharingKey = annotation(ann, ANNOTATIONS.allowSharedIP, warnings);
  const ipsText = annotation(ann, ANNOTATIONS.loadBalancerIPs, warnings);
  const requested = requestedIps(ipsText, spec.loadBalancerIP ?? '');
  if ('error' in requested) return requested;

  let families: Family[] = [];
  for (const f of spec.ipFamilies ?? []) {
    const family = FAMILIES[f];
    if (!family) return invalid(`ipFamilies entry "${f}"`);
    families.push(family);
  }
  if (families.length === 0) {
    const first = requested.ips.map((t) => parseIp(t)?.family)[0];
    families = [first ?? 'ipv4'];
  }
  const policy = spec.ipFamilyPolicy ?? 'SingleStack';
  if (!IP_FAMILY_POLICIES.has(policy)) return invalid(`ipFamilyPolicy "${policy}"`);
  const etp = spec.externalTrafficPolicy ?? 'Cluster';
  if (etp !== 'Cluster' && etp !== 'Local') return invalid(`externalTrafficPolicy "${etp}"`);
  const portList = ports(spec.ports);
  if ('error' in portList) return portList;

  const request: AllocationRequest = {
    namespace: meta.namespace,
    labels: { ...(meta.labels ?? {}) },
    namespaceLabels: { ...namespaceLabels },
    families,
    ipFamilyPolicy: policy as IpFamilyPolicy,
    ports: portList.ports,
    externalTrafficPolicy: etp,
    selector: { ...(spec.selector ?? {}) },
    ...(requested.ips.length > 0 ? { requestedIps: requested.ips } : {}),
    ...(pool !== undefined ? { pool } : {}),
    ...(sharingKey !== undefined ? { sharingKey } : {}),
  };
  return { request, warnings };
}
