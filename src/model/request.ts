/**
 * What the allocator is asked for, as plain data: no Kubernetes types. service-request.ts builds one from a Service;
 * tests and the benchmark build them by hand. Also the request-only rules: which pools admit a request, in which order
 * pools are tried, and the key that decides whether two Services may share an address.
 */
import type { Family } from '../../vrrp/advert.ts';
import { canonicalIp } from '../../vrrp/ip.ts';
import { type CodedError, codedError } from '../errors.ts';
import type { Pool } from './pool.ts';
import { type Labels, matchesAny } from './selectors.ts';

/** IpFamilyPolicy is Service `spec.ipFamilyPolicy`. */
export type IpFamilyPolicy = 'SingleStack' | 'PreferDualStack' | 'RequireDualStack';

/** ServicePort is one port a Service serves; two Services may share an address only on distinct port/protocol. */
export interface ServicePort {
  readonly port: number;
  readonly protocol: string;
}

/** AllocationRequest is everything the allocator needs to know about one Service. */
export interface AllocationRequest {
  readonly namespace: string;
  /** labels are the Service's labels, for serviceAllocation.serviceSelectors. */
  readonly labels: Labels;
  /** namespaceLabels are the Service namespace's labels, for serviceAllocation.namespaceSelectors. */
  readonly namespaceLabels: Labels;
  /** families is `spec.ipFamilies`, primary first. */
  readonly families: readonly Family[];
  readonly ipFamilyPolicy: IpFamilyPolicy;
  /** requestedIps: `metallb.io/loadBalancerIPs` or `spec.loadBalancerIP`; at most one per family. */
  readonly requestedIps?: readonly string[];
  /** pool: `metallb.io/address-pool`; only that pool may be used. */
  readonly pool?: string;
  /** sharingKey: `metallb.io/allow-shared-ip`; absent or empty means the Service will not share. */
  readonly sharingKey?: string;
  readonly ports: readonly ServicePort[];
  readonly externalTrafficPolicy: 'Cluster' | 'Local';
  /** selector is `spec.selector`: Services sharing an address with policy Local must select the same pods. */
  readonly selector?: Labels;
}

/** Wanted is a validated request's address needs: families to try, primary first, and whether all are required. */
export interface Wanted {
  readonly families: readonly Family[];
  /** all: every family in `families` must be served (SingleStack, RequireDualStack); else at least one (Prefer). */
  readonly all: boolean;
  /** requested are the requested addresses in canonical text, or empty. */
  readonly requested: readonly string[];
}

/** IP_FAMILY_POLICIES are the values of Service `spec.ipFamilyPolicy`. */
export const IP_FAMILY_POLICIES: ReadonlySet<string> = new Set<IpFamilyPolicy>([
  'SingleStack',
  'PreferDualStack',
  'RequireDualStack',
]);

/**
 * wantedFor checks a request's family rules. SingleStack uses the primary family only; RequireDualStack needs two
 * families; PreferDualStack takes what it can. Requested addresses must be distinct families of the service: for
 * SingleStack exactly the primary, for RequireDualStack both; PreferDualStack accepts one or both (MetalLB demands
 * both when the Service has two families — we accept the narrower wish, as the policy's name says).
 */
export function wantedFor(req: AllocationRequest): { wanted: Wanted } | { error: CodedError } {
  const fams = req.families;
  if (!IP_FAMILY_POLICIES.has(req.ipFamilyPolicy))
    return { error: codedError('INVALID_SERVICE', `ipFamilyPolicy ${req.ipFamilyPolicy}`) };
  if (fams.length === 0 || fams.length > 2 || new Set(fams).size !== fams.length) {
    return { error: codedError('FAMILY_MISMATCH', `ipFamilies [${fams.join(', ')}]`) };
  }
  const primary = fams[0] as Family;
  if (req.ipFamilyPolicy === 'RequireDualStack' && fams.length !== 2) {
    return { error: codedError('FAMILY_MISMATCH', 'RequireDualStack needs both ipFamilies') };
  }
  const families = req.ipFamilyPolicy === 'SingleStack' ? [primary] : fams;
  const all = req.ipFamilyPolicy !== 'PreferDualStack';
  const requested: string[] = [];
  const seen = new Set<Family>();
  for (const text of req.requestedIps ?? []) {
    const canon = canonicalIp(text.trim());
    if (canon === undefined)
      return { error: codedError('INVALID_SERVICE', `requested address "${text}" is not an IP`) };
    const family: Family = canon.includes(':') ? 'ipv6' : 'ipv4';
    if (!families.includes(family) || seen.has(family)) {
      return {
        error: codedError('FAMILY_MISMATCH', `${canon} for a ${req.ipFamilyPolicy} service of [${fams.join(', ')}]`),
      };
    }
    seen.add(family);
    requested.push(canon);
  }
  if (requested.length > 0 && all && requested.length !== families.length) {
    return { error: codedError('FAMILY_MISMATCH', `${req.ipFamilyPolicy} needs one address per family`) };
  }
  return { wanted: { families, all, requested } };
}

/**
 * backendKey is MetalLB's rule for who may share: with externalTrafficPolicy Cluster any backends may share (traffic
 * is spread cluster-wide anyway); with Local the announcing node must hold endpoints of every sharing Service, so they
 * must select the same pods. Unlike MetalLB, Local never shares with Cluster even when the selector is empty.
 */
export function backendKey(req: AllocationRequest): string {
  if (req.externalTrafficPolicy !== 'Local') return 'Cluster';
  const sel = Object.entries(req.selector ?? {})
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  return `Local:${sel}`;
}

/** portKey names a port for the shared-address port table. */
export function portKey(p: ServicePort): string {
  return `${(p.protocol || 'TCP').toUpperCase()}/${p.port}`;
}

/** restricts says whether a pool's serviceAllocation limits namespaces or Services (priority alone does not). */
export function restricts(pool: Pool): boolean {
  const sa = pool.serviceAllocation;
  if (!sa) return false;
  return sa.namespaces.length + sa.namespaceSelectors.length + sa.serviceSelectors.length > 0;
}

/**
 * admits is MetalLB's isPoolCompatibleWithService: if namespaces or namespaceSelectors are set the Service's namespace
 * must be listed or its labels matched; if serviceSelectors are set the Service's labels must match one. (MetalLB
 * resolves namespaceSelectors to names at config time and treats "matched no namespace" as "no restriction"; here a
 * selector that matches nothing admits nothing.)
 */
export function admits(pool: Pool, req: AllocationRequest): boolean {
  const sa = pool.serviceAllocation;
  if (!sa) return true;
  if (sa.namespaces.length + sa.namespaceSelectors.length > 0) {
    if (!sa.namespaces.includes(req.namespace) && !matchesAny(sa.namespaceSelectors, req.namespaceLabels)) return false;
  }
  return sa.serviceSelectors.length === 0 || matchesAny(sa.serviceSelectors, req.labels);
}

/** comparePriority orders pools by serviceAllocation.priority (lower first, unset last), then by name. */
export function comparePriority(a: Pool, b: Pool): number {
  const pa = a.serviceAllocation?.priority ?? null;
  const pb = b.serviceAllocation?.priority ?? null;
  if (pa !== pb) {
    if (pa === null) return 1;
    if (pb === null) return -1;
    return pa - pb;
  }
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/**
 * autoPools lists the pools an unpinned request may take addresses from, in the order to try them: autoAssign pools
 * that admit the request; first those whose serviceAllocation restricts and matched it (MetalLB's "pinned" pools),
 * then the unrestricted ones; each tier by priority, then name. `sorted` must already be in comparePriority order.
 * MetalLB never auto-assigns from a pool whose serviceAllocation sets only a priority, and orders the unrestricted
 * tier randomly; here such a pool is unrestricted, and every tie is broken by name.
 */
export function autoPools(sorted: readonly Pool[], req: AllocationRequest): Pool[] {
  const pinned: Pool[] = [];
  const open: Pool[] = [];
  for (const p of sorted) {
    if (!p.autoAssign || !admits(p, req)) continue;
    (restricts(p) ? pinned : open).push(p);
  }
  return pinned.concat(open);
}
