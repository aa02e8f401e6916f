/**
 * NdpResponder answers IPv6 Neighbor Solicitations for the VIPs this node masters on one interface (RFC 4861 §7.2.4)
 * from an AF_PACKET socket, and announces a VIP with unsolicited Neighbor Advertisements on takeover (§7.2.6).
 *
 * Receiving NS: solicitations go to the VIP's solicited-node group (RFC 4291 §2.7.1), which a NIC filters out
 * unless someone joined its MAC. listenFor(ip) joins it on this socket (PACKET_ADD_MEMBERSHIP, counted by the kernel
 * per socket and group), or `allMulticast: true` takes every multicast frame. Unicast NS (reachability probes) reach
 * us through our own MAC either way.
 */

import type { AnnounceResult } from './announce.ts';
import {
  FrameResponder,
  type NeighborFamily,
  type NeighborResponderDeps,
  type ResponderCounter,
  responderHooks,
} from './frame-responder.ts';
import { formatIpv6, ipv6Bytes, solicitedNodeMulticast } from './frames/address.ts';
import { ipv6Filter } from './frames/bpf.ts';
import { ETHERTYPE, ipv6MulticastMac } from './frames/ethernet.ts';
import {
  ICMPV6,
  ND_TYPE,
  NDP_CODEC,
  NDP_DROP_REASONS,
  type NdpContext,
  type NdpDropReason,
  type NdpFacts,
  type Solicitation,
  unsolicitedAdvertisement,
} from './frames/ndp.ts';
import { InterfaceError, requireInterfaceInfo } from './interface-info.ts';

/** NdpResponderDeps are the responder's collaborators; only `ifname` and `shouldAnswer` are required. */
export interface NdpResponderDeps extends NeighborResponderDeps<NdpDropReason, NdpFacts> {
  /** IPv6 source of answers: our link-local (default, as MetalLB) or the VIP itself (as Linux for its addresses). */
  readonly answerFrom?: 'link-local' | 'target';
  /** Receive every multicast frame (PACKET_MR_ALLMULTI) instead of joining groups with listenFor. */
  readonly allMulticast?: boolean;
}

/** NdpAnnounceResult is the shared announcement result (announce.ts). */
export type NdpAnnounceResult = AnnounceResult;

/**
 * NA_ANNOUNCE_DEFAULTS: RFC 4861 §7.2.6 allows up to MAX_NEIGHBOR_ADVERTISEMENT (3) unsolicited NAs, at least
 * RetransTimer (1 s) apart.
 */
export const NA_ANNOUNCE_DEFAULTS = { count: 3, spacingMs: 1000 } as const;

/** NDP_FAMILY: IPv6 frames filtered in the kernel to ICMPv6 type 135, read and answered by NDP_CODEC. */
export const NDP_FAMILY: NeighborFamily<NdpContext, Solicitation, NdpDropReason, NdpFacts> = {
  family: 'ipv6',
  ethertype: ETHERTYPE.ipv6,
  filter: ipv6Filter(ICMPV6, ND_TYPE.solicitation),
  dropReasons: NDP_DROP_REASONS,
  codec: NDP_CODEC,
};

/**
 * NdpResponder is the FrameResponder for NDP plus solicited-node group membership and unsolicited NAs. The
 * constructor opens the socket; it throws InterfaceError (unknown interface, no link-local address) or
 * PacketSocketError. stop() ends it.
 */
export class NdpResponder {
  readonly ifname: string;
  readonly mac: string;
  readonly linkLocal: string;
  readonly #responder: FrameResponder<NdpContext, Solicitation, NdpDropReason, NdpFacts>;
  readonly #listening = new Set<string>(); // VIPs whose solicited-node group we joined

  constructor(deps: NdpResponderDeps) {
    const info = deps.interfaceInfo ?? requireInterfaceInfo(deps.ifname);
    if (info.linkLocal === undefined) throw new InterfaceError('no-link-local', `${deps.ifname} has no fe80::/10`);
    this.ifname = deps.ifname;
    this.mac = info.mac;
    this.linkLocal = info.linkLocal;
    this.#responder = new FrameResponder<NdpContext, Solicitation, NdpDropReason, NdpFacts>({
      info,
      family: NDP_FAMILY,
      ctx: {
        mac: info.mac,
        ifname: deps.ifname,
        linkLocal: info.linkLocal,
        answerFrom: deps.answerFrom ?? 'link-local',
        shouldAnswer: deps.shouldAnswer,
      },
      ...responderHooks(deps),
    });
    if (deps.allMulticast) this.#responder.socket.setAllMulticast?.(true);
  }

  /** listenFor joins the solicited-node group of `ip` so multicast NS for it pass the NIC filter; false for a bad IP. */
  listenFor(ip: string): boolean {
    const bytes = ipv6Bytes(ip);
    if (bytes === undefined) return false;
    const key = formatIpv6(bytes);
    if (!this.#listening.has(key)) {
      this.#responder.socket.addMembership(ipv6MulticastMac(solicitedNodeMulticast(bytes)));
      this.#listening.add(key);
    }
    return true;
  }

  /** stopListeningFor leaves the group joined by listenFor (the kernel keeps it while another VIP shares it). */
  stopListeningFor(ip: string): void {
    const bytes = ipv6Bytes(ip);
    if (bytes === undefined || !this.#listening.delete(formatIpv6(bytes))) return;
    this.#responder.socket.dropMembership(ipv6MulticastMac(solicitedNodeMulticast(bytes)));
  }

  /** stats returns a copy of the counters, every reason present (zero included). */
  stats(): Readonly<Record<ResponderCounter<NdpDropReason>, number>> {
    return this.#responder.stats();
  }

  /**
   * announce multicasts unsolicited NAs for `ip` to ff02::1 (Override set, Solicited clear, RFC 4861 §7.2.6):
   * `count` (default 3) advertisements `spacingMs` (default 1000) apart, the first at once; `signal` cancels it.
   */
  async announce(
    ip: string,
    options: { count?: number; spacingMs?: number; signal?: AbortSignal } = {},
  ): Promise<NdpAnnounceResult> {
    const frame = unsolicitedAdvertisement(this.mac, this.linkLocal, ip);
    if (frame === undefined) return { ok: false, reason: 'bad-address', detail: ip, frames: 0 };
    return this.#responder.announce([frame], {
      count: options.count ?? NA_ANNOUNCE_DEFAULTS.count,
      spacingMs: options.spacingMs ?? NA_ANNOUNCE_DEFAULTS.spacingMs,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
  }

  /** stop closes the socket (leaving every group) and cancels announcements in progress; safe to call twice. */
  stop(): void {
    this.#responder.stop();
    this.#listening.clear();
  }
}
