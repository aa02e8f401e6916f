/**
 * RouterSpec is the one shape of "a virtual router this node runs", complete: the validated engine config (source
 * address, IPv6 virtual link-local first, timing, priority), the VIPs answered for, the interface, where adverts go,
 * how a takeover is announced, and — in Kubernetes mode — the Services, pools and ranking behind it. Both modes plan
 * their routers once, here (planRouterSpec), and hand the runtime finished specs; the runtime never plans.
 *
 * IPv6: RFC 9568 §5.2.9 (erratum 8300) wants the first address of an IPv6 advert to be link-local, and the codec
 * refuses anything else both ways. A Kubernetes VIP is global, so every IPv6 router gets a virtual link-local first:
 * fe80::200:5eff:fe00:2XX, the EUI-64 of the router's IPv6 virtual MAC 00-00-5E-00-02-{VRID} (RFC 5798 §7.3). It is
 * deterministic, so every speaker of the router sends the same list (no §7.1 mismatch), and it is never answered for.
 */

import type { Family } from '../../vrrp/advert.ts';
import { isLinkLocal } from '../../vrrp/ip.ts';
import { type RouterConfig, type RouterConfigChanges, validateRouterConfig } from '../../vrrp/router-config.ts';
import type { AuthKeys } from '../model/auth-secret.ts';
import type { Sources } from '../model/local-node.ts';
import type { GratuitousTuning, PeerMode } from '../model/pool-tuning.ts';
import type { LivenessLink } from './liveness-spec.ts';

/** RouterKey is `ipv4/51` or `ipv6/51`: VRIDs are per family (RFC 5798 §5.2.3). */
export type RouterKey = `${Family}/${number}`;

// family -> VRID -> its key: a memo of a pure function, since the receive path names a router for every advert.
const KEYS: Record<Family, RouterKey[]> = { ipv4: [], ipv6: [] };

/** routerKey names a router by family and VRID (VRIDs 0..255 come from a memo, one string each). */
export function routerKey(family: Family, vrid: number): RouterKey {
  const memo = KEYS[family];
  const known = memo?.[vrid];
  if (known !== undefined) return known;
  const key: RouterKey = `${family}/${vrid}`;
  if (memo !== undefined && Number.isInteger(vrid) && vrid >= 0 && vrid <= 255) memo[vrid] = key;
  return key;
}

/** StateName is a router's RFC 5798 state as the speaker reports it. */
export type StateName = 'initialize' | 'backup' | 'master';

/** RankedNode is one candidate of a router with its priority. */
export interface RankedNode {
  readonly node: string;
  readonly priority: number;
  /** preference: the node's L2Advertisement preferredNodeSelectors score, when above 0 (it ranks above 0-scorers). */
  readonly preference?: number;
}

/** RouterSpec: see the file comment. Frozen. */
export interface RouterSpec {
  readonly key: RouterKey;
  readonly config: RouterConfig;
  /** vips are the addresses answered for (ARP/NDP), in address order, without the IPv6 virtual link-local. */
  readonly vips: readonly string[];
  /** interface carries the adverts and the ARP/NDP answers for the VIPs. */
  readonly interface: string;
  readonly peerMode: PeerMode;
  /** peers: unicast destinations of the router's family, sorted; [] sends to the VRRP multicast group. */
  readonly peers: readonly string[];
  /** unreachablePeers: candidates with no address of the family, so unicast adverts cannot reach them. */
  readonly unreachablePeers: readonly string[];
  readonly gratuitous: GratuitousTuning;
  /** services: "namespace/name" of the Services whose VIPs the router carries, sorted ([] in standalone mode). */
  readonly services: readonly string[];
  /** pools holding the VIPs, sorted ([] in standalone mode). */
  readonly pools: readonly string[];
  /** ranking: candidates best first ([] in standalone mode). */
  readonly ranking: readonly RankedNode[];
  /**
   * candidateSources: the addresses adverts of this router may come from (Kubernetes mode: every Node's InternalIPs
   * of the family, sorted — a node that just stopped being a candidate still resigns with priority 0); an advert from any other source is dropped as 'not-a-candidate'. An IPv6
   * advert's source is a link-local address the API does not list: it passes when its Ethernet source is the MAC the
   * kernel resolved for one of these (receive-filter.ts). [] turns the check off: standalone mode, or a candidate
   * without an address of the family (its source cannot be known).
   */
  readonly candidateSources: readonly string[];
  /** auth: the keys adverts are signed with and checked against (vrrp/auth.ts); absent: plain VRRPv3. */
  readonly auth?: AuthKeys;
}

/**
 * RouterSpecInput is what planning starts from: the engine fields before validation (no source yet; `vips` without
 * the IPv6 virtual link-local) and the rest of a spec, whose Kubernetes-only parts may be left out.
 */
export type RouterSpecInput = Pick<
  RouterConfig,
  'vrid' | 'family' | 'priority' | 'advertIntervalCs' | 'preempt' | 'preemptDelayMs'
> &
  Pick<RouterSpec, 'vips' | 'interface' | 'peerMode' | 'peers' | 'gratuitous'> &
  Partial<Pick<RouterSpec, 'unreachablePeers' | 'services' | 'pools' | 'ranking' | 'candidateSources' | 'auth'>>;

/** virtualLinkLocal is fe80::200:5eff:fe00:2XX for `vrid` (see the file comment). */
export function virtualLinkLocal(vrid: number): string {
  return `fe80::200:5eff:fe00:2${vrid.toString(16).padStart(2, '0')}`;
}

/** PlanResult is a finished spec, or every problem found. */
export type PlanResult = { readonly spec: RouterSpec } | { readonly errors: readonly string[] };

/** planRouterSpec validates one router into a spec; the interface's advert source of the family must be known. */
export function planRouterSpec(input: RouterSpecInput, sources: Sources): PlanResult {
  const key = routerKey(input.family, input.vrid);
  const source = sources[input.family];
  if (source === undefined) {
    const what = input.family === 'ipv4' ? 'IPv4 address' : 'IPv6 link-local address';
    return { errors: [`router ${key}: interface ${input.interface} has no ${what} to send adverts from`] };
  }
  const first = input.vips[0];
  const addresses =
    input.family === 'ipv6' && first !== undefined && !isLinkLocal(first)
      ? [virtualLinkLocal(input.vrid), ...input.vips]
      : input.vips;
  const checked = validateRouterConfig({
    vrid: input.vrid,
    family: input.family,
    priority: input.priority,
    advertIntervalCs: input.advertIntervalCs,
    preempt: input.preempt,
    preemptDelayMs: input.preemptDelayMs,
    primaryAddress: source,
    addresses,
  });
  if ('errors' in checked) return { errors: checked.errors.map((e) => `router ${key}: ${e}`) };
  const vips = checked.config.addresses.filter((a) => input.family === 'ipv4' || !isLinkLocal(a));
  return {
    spec: Object.freeze({
      key,
      config: checked.config,
      vips: Object.freeze(vips),
      interface: input.interface,
      peerMode: input.peerMode,
      peers: Object.freeze([...input.peers]),
      unreachablePeers: Object.freeze([...(input.unreachablePeers ?? [])]),
      gratuitous: input.gratuitous,
      services: Object.freeze([...(input.services ?? [])]),
      pools: Object.freeze([...(input.pools ?? [])]),
      ranking: Object.freeze([...(input.ranking ?? [])]),
      candidateSources: Object.freeze([...(input.candidateSources ?? [])]),
      ...(input.auth === undefined ? {} : { auth: input.auth }),
    }),
  };
}

/** serviceLabel is the `service` label of metal_vrrp_vip_master: the router's Services, comma-separated. */
export function serviceLabel(spec: RouterSpec): string {
  return spec.services.join(',');
}

/** RouterStep is one thing the runtime must do to move from the running routers to the desired ones. */
export type RouterStep =
  /** stop: deliver `shutdown` (a master sends priority 0, RFC 5798 §6.4.3) and drop the router. */
  | { readonly op: 'stop'; readonly key: RouterKey; readonly resign: true }
  /** restart: the interface changed, so sockets and source address do: stop as above, then start `spec`. */
  | { readonly op: 'restart'; readonly key: RouterKey; readonly spec: RouterSpec; readonly from: string }
  /**
   * reconfigure: apply live. `configure` goes to the engine's `configure` event (empty: nothing for the engine);
   * `transport`: re-point the adverts (peer mode or peers changed); `gratuitous`: new announce settings. A change
   * of `candidateSources` or `auth` alone comes with all three empty: the runtime takes the new spec.
   */
  | {
      readonly op: 'reconfigure';
      readonly key: RouterKey;
      readonly spec: RouterSpec;
      readonly configure: RouterConfigChanges;
      readonly transport: boolean;
      readonly gratuitous: boolean;
    }
  | { readonly op: 'start'; readonly key: RouterKey; readonly spec: RouterSpec };

/** TransitionListener hears one router change state, with the router as it was given (services, VIPs, interface). */
export type TransitionListener = (spec: RouterSpec, to: StateName, reason: string) => void;

/**
 * RouterHost is what the Kubernetes-mode speaker needs of the data plane: run, change and drop virtual routers while
 * the others keep running (a restart of every router would be a failover), say which state each is in, and tell about
 * every state change. runtime/speaker-host.ts implements it over one Speaker per interface; tests pass a fake.
 */
export interface RouterHost {
  /** apply carries out one step; a failure is returned as text (the step is retried by the next reconcile). */
  apply(step: RouterStep): string | undefined;
  /** state is the engine state of a running router, undefined when it is not running. */
  state(key: RouterKey): StateName | undefined;
  onTransition(listener: TransitionListener): void;
  /** setLiveness runs the BFD sessions of the plan (cluster/liveness-plan.ts); hosts without liveness leave it out. */
  setLiveness?(links: readonly LivenessLink[]): void;
  /** stop resigns every router (priority 0 from masters) and closes the sockets. */
  stop(): Promise<void>;
}
