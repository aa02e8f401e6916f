/**
 * LivenessLink is one set of BFD sessions this node runs: on one interface and family, from the routers' advert
 * source, to the other nodes it shares liveness-enabled routers with, at one pace. Planned by
 * cluster/liveness-plan.ts from the RouterSpecs, run by runtime/liveness-host.ts.
 */
import type { Family } from '../../vrrp/advert.ts';

/** LivenessPeer is one other node and the address its BFD session (and its VRRP adverts) come from. */
export interface LivenessPeer {
  readonly node: string;
  readonly address: string;
}

/** LivenessLink: see the file comment. Frozen. */
export interface LivenessLink {
  readonly interface: string;
  readonly family: Family;
  /** localAddress is the routers' advert source on the interface (RouterConfig.primaryAddress). */
  readonly localAddress: string;
  /** intervalMs is bfd.DesiredMinTxInterval and bfd.RequiredMinRxInterval; detectMult is bfd.DetectMult. */
  readonly intervalMs: number;
  readonly detectMult: number;
  /** peers in address order, one per node. */
  readonly peers: readonly LivenessPeer[];
}

/** linkKey names a LivenessLink: `eth0/ipv4`. */
export function linkKey(link: Pick<LivenessLink, 'interface' | 'family'>): string {
  return `${link.interface}/${link.family}`;
}
