/**
 * classifyReceive decides what happens to one packet from a VRRP socket before the engine sees it. Pure.
 * - A packet the socket layer refused (TTL / hop limit, version, checksum, length, …: src/net/frames/vrrp.ts) is
 *   dropped and counted by its reason, except our own adverts coming back, which are not invalid, only ours.
 * - With unicast peers configured, an advert from an address that is not a peer is dropped as 'not-a-peer', as
 *   keepalived does: a unicast setup must not be steered by whoever multicasts on the segment. An IPv6 advert comes
 *   from the peer's link-local address; the socket names the configured peer its MAC belongs to (`fromPeer`).
 * - An advert for a VRID this node does not run is valid VRRP for someone else: ignored, not counted as invalid.
 * - In Kubernetes mode an advert for one of our routers from an address that is not one of the router's candidates'
 *   InternalIPs is dropped as 'not-a-candidate' (issue 15): a spoofed priority-255 advert from a pod or a foreign VRRP
 *   router on our VRIDs cannot steal the VIP. An IPv6 advert comes from a link-local address no Node lists: it passes
 *   when its Ethernet source is the MAC the kernel resolved for a candidate's InternalIP (`fromPeer`, as for unicast
 *   peers). While some candidate's MAC is not resolved yet (start-up, a node whose InternalIP is on another link)
 *   the IPv6 check stays open for that router rather than drop a genuine advert and make a second master; see
 *   RouterSpec.candidateSources.
 */

import type { Family } from '../../../vrrp/advert.ts';
import { AUTH_ERRORS } from '../../../vrrp/auth.ts';
import { DECODE_ERRORS } from '../../../vrrp/codec.ts';
import { DROP_REASONS } from '../../../vrrp/router.ts';
import { VRRP_DROP_REASONS, type VrrpReceive } from '../../net/frames/vrrp.ts';
import { type RouterKey, routerKey } from '../router-spec.ts';

/** INVALID_REASONS are the labels of the invalid-packet counter, pre-registered so /metrics shows zeros. */
export const INVALID_REASONS: readonly string[] = [
  ...VRRP_DROP_REASONS.filter((r) => r !== 'own-packet'),
  ...DECODE_ERRORS.filter((r) => r !== 'bad-pseudo-header'),
  'not-a-peer',
  'not-a-candidate',
  ...AUTH_ERRORS, // routers with authenticated adverts: refused by vrrp/auth.ts, or a replay (the speaker's guard)
  ...DROP_REASONS, // dropped by the engine, which knows the router's config (§7.1 address list)
];

/** ReceiveDecision is where a received packet goes. */
export type ReceiveDecision =
  | { readonly kind: 'deliver'; readonly key: RouterKey }
  | { readonly kind: 'invalid'; readonly reason: string; readonly detail: string }
  | { readonly kind: 'own' }
  | { readonly kind: 'unknown-router'; readonly key: RouterKey };

/**
 * ReceiveContext: the routers this node runs, the unicast peers (empty: multicast, anyone may speak), per router
 * whose sources are checked the addresses its adverts may come from (router key -> sources; absent: unchecked), and
 * whether the MAC of such an address is known (`resolved`; absent: never, so IPv6 sources stay unchecked).
 */
export interface ReceiveFilterContext {
  readonly routers: ReadonlySet<RouterKey>;
  readonly unicastPeers: ReadonlySet<string>;
  readonly candidateSources?: ReadonlyMap<RouterKey, ReadonlySet<string>>;
  readonly resolved?: (family: Family, address: string) => boolean;
}

export function classifyReceive(r: VrrpReceive, ctx: ReceiveFilterContext): ReceiveDecision {
  if (!r.ok) {
    if (r.reason === 'own-packet') return { kind: 'own' };
    return { kind: 'invalid', reason: r.reason, detail: r.detail };
  }
  if (ctx.unicastPeers.size > 0 && !ctx.unicastPeers.has(r.from) && !ctx.unicastPeers.has(r.fromPeer ?? '')) {
    return { kind: 'invalid', reason: 'not-a-peer', detail: `${r.from} is not a unicast peer` };
  }
  const key = routerKey(r.family, r.advert.vrid);
  if (!ctx.routers.has(key)) return { kind: 'unknown-router', key };
  const allowed = ctx.candidateSources?.get(key);
  if (allowed !== undefined && allowed.size > 0 && !allowed.has(r.from) && !allowed.has(r.fromPeer ?? '')) {
    if (r.family === 'ipv4' || allResolved(allowed, ctx)) {
      return { kind: 'invalid', reason: 'not-a-candidate', detail: `${r.from} is not a candidate node of ${key}` };
    }
  }
  return { kind: 'deliver', key };
}

/** allResolved: every candidate's IPv6 MAC is known, so an advert whose MAC names none of them is no candidate's. */
function allResolved(sources: ReadonlySet<string>, ctx: ReceiveFilterContext): boolean {
  const resolved = ctx.resolved;
  if (resolved === undefined) return false;
  for (const a of sources) if (!resolved('ipv6', a)) return false;
  return true;
}
