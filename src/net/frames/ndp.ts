/**
 * IPv6 Neighbor Discovery over Ethernet (RFC 4861): Neighbor Solicitation / Advertisement codec with link-layer
 * address options, the answer a responder sends for a VIP (§7.2.4) and unsolicited advertisements (§7.2.6).
 */

import {
  formatIpv6,
  ipv6Bytes,
  isIpv6Multicast,
  isIpv6Unspecified,
  isSolicitedNodeMulticast,
  solicitedNodeMulticast,
} from './address.ts';
import { decodeEthernet, ETHERTYPE, encodeEthernet, formatMac, ipv6MulticastMac, macBytes } from './ethernet.ts';
import { decodeIpv6, encodeIpv6, upperLayerChecksum } from './ipv6.ts';
import {
  answerNeighbor,
  NEIGHBOR_DROP_REASONS,
  type NeighborCodec,
  type NeighborContext,
  type NeighborOutcome,
} from './neighbor.ts';

/** ICMPV6 is the Next Header value of ICMPv6 (RFC 4443). */
export const ICMPV6 = 58;

/** ND_TYPE names the ICMPv6 types of RFC 4861 §4.3 and §4.4. */
export const ND_TYPE = { solicitation: 135, advertisement: 136 } as const;

/** ND_HOP_LIMIT is the only hop limit ND messages are sent and accepted with (RFC 4861 §7.1.1, §7.1.2). */
export const ND_HOP_LIMIT = 255;

/** ALL_NODES is ff02::1, the destination of unsolicited advertisements and DAD answers (RFC 4861 §7.2.4, §7.2.6). */
export const ALL_NODES = 'ff02::1';

const OPTION_SOURCE_LL = 1; // RFC 4861 §4.6.1
const OPTION_TARGET_LL = 2;
const ND_FIXED_LENGTH = 24; // type, code, checksum, 4 bytes flags/reserved, 16-byte target
const FLAG_ROUTER = 0x80; // RFC 4861 §4.4
const FLAG_SOLICITED = 0x40;
const FLAG_OVERRIDE = 0x20;

/** NdMessage is a decoded NS or NA: type, code, flags byte, target and the link-layer options found. */
export interface NdMessage {
  readonly type: number;
  readonly code: number;
  readonly flags: number;
  readonly target: string;
  readonly targetBytes: Buffer;
  readonly sourceLinkLayer?: string;
  readonly targetLinkLayer?: string;
}

/** NdDecode is a message or why the ICMPv6 bytes are not a well-formed NS/NA (RFC 4861 §7.1.1, §7.1.2). */
export type NdDecode =
  | ({ readonly ok: true } & NdMessage)
  | { readonly ok: false; readonly reason: 'truncated' | 'bad-option' };

/** decodeNd reads an NS or NA (the ICMPv6 message, checksum not checked here). Never throws. */
export function decodeNd(icmp: Buffer): NdDecode {
  if (icmp.length < ND_FIXED_LENGTH) return { ok: false, reason: 'truncated' };
  let sourceLinkLayer: string | undefined;
  let targetLinkLayer: string | undefined;
  for (let at = ND_FIXED_LENGTH; at < icmp.length; ) {
    if (at + 2 > icmp.length) return { ok: false, reason: 'bad-option' };
    const length = icmp[at + 1]! * 8; // RFC 4861 §4.6: units of 8 octets, 0 is invalid
    if (length === 0 || at + length > icmp.length) return { ok: false, reason: 'bad-option' };
    const type = icmp[at]!;
    if ((type === OPTION_SOURCE_LL || type === OPTION_TARGET_LL) && length >= 8) {
      const mac = formatMac(icmp, at + 2);
      if (type === OPTION_SOURCE_LL) sourceLinkLayer = mac;
      else targetLinkLayer = mac;
    }
    at += length;
  }
  const targetBytes = icmp.subarray(8, 24);
  return {
    ok: true,
    type: icmp[0]!,
    code: icmp[1]!,
    flags: icmp[4]!,
    target: formatIpv6(targetBytes),
    targetBytes,
    ...(sourceLinkLayer === undefined ? {} : { sourceLinkLayer }),
    ...(targetLinkLayer === undefined ? {} : { targetLinkLayer }),
  };
}

/** NdEnds describes the Ethernet and IPv6 ends of an ND frame; addresses are text. */
export interface NdEnds {
  readonly srcMac: string;
  readonly dstMac: string;
  readonly src: string;
  readonly dst: string;
  readonly hopLimit?: number;
}

/** ndFrame wraps an ICMPv6 message (checksum field zero) in IPv6 + Ethernet and fills the checksum. */
function ndFrame(ends: NdEnds, icmp: Buffer): Buffer | undefined {
  const src = ipv6Bytes(ends.src);
  const dst = ipv6Bytes(ends.dst);
  if (src === undefined || dst === undefined) return undefined;
  icmp.writeUInt16BE(upperLayerChecksum(src, dst, ICMPV6, icmp), 2);
  const ip = encodeIpv6({ src, dst, nextHeader: ICMPV6, hopLimit: ends.hopLimit ?? ND_HOP_LIMIT, payload: icmp });
  return encodeEthernet(ends.dstMac, ends.srcMac, ETHERTYPE.ipv6, ip);
}

/** ndMessage lays out type, flags, target and one link-layer option (omitted when `optionMac` is undefined). */
function ndMessage(type: number, flags: number, target: Buffer, optionType: number, optionMac?: string) {
  const mac = optionMac === undefined ? undefined : macBytes(optionMac);
  if (optionMac !== undefined && mac === undefined) return undefined;
  const icmp = Buffer.alloc(ND_FIXED_LENGTH + (mac === undefined ? 0 : 8));
  icmp[0] = type;
  icmp[4] = flags;
  target.copy(icmp, 8);
  if (mac !== undefined) {
    icmp[ND_FIXED_LENGTH] = optionType;
    icmp[ND_FIXED_LENGTH + 1] = 1;
    mac.copy(icmp, ND_FIXED_LENGTH + 2);
  }
  return icmp;
}

/**
 * neighborSolicitationFrame builds an NS for `target` (RFC 4861 §4.3). By default it goes to the target's
 * solicited-node group and carries a Source Link-Layer Address option, except from :: (a DAD probe, §4.3).
 */
export function neighborSolicitationFrame(o: {
  srcMac: string;
  src: string;
  target: string;
  dst?: string;
  dstMac?: string;
  hopLimit?: number;
}): Buffer | undefined {
  const target = ipv6Bytes(o.target);
  const src = ipv6Bytes(o.src);
  if (target === undefined || src === undefined) return undefined;
  const group = solicitedNodeMulticast(target);
  const dstBytes = o.dst === undefined ? group : ipv6Bytes(o.dst);
  if (dstBytes === undefined) return undefined;
  const icmp = ndMessage(
    ND_TYPE.solicitation,
    0,
    target,
    OPTION_SOURCE_LL,
    isIpv6Unspecified(src) ? undefined : o.srcMac,
  );
  if (icmp === undefined) return undefined;
  const dstMac = o.dstMac ?? ipv6MulticastMac(dstBytes);
  const ends = {
    srcMac: o.srcMac,
    dstMac,
    src: o.src,
    dst: formatIpv6(dstBytes),
    hopLimit: o.hopLimit ?? ND_HOP_LIMIT,
  };
  return ndFrame(ends, icmp);
}

/** NaFlags are the R, S and O bits of an advertisement (RFC 4861 §4.4). */
export interface NaFlags {
  readonly router?: boolean;
  readonly solicited: boolean;
  readonly override: boolean;
}

/** neighborAdvertisementFrame builds an NA for `target` with a Target Link-Layer Address option = `ends.srcMac`. */
export function neighborAdvertisementFrame(ends: NdEnds, target: string, flags: NaFlags): Buffer | undefined {
  const t = ipv6Bytes(target);
  if (t === undefined) return undefined;
  const bits =
    (flags.router ? FLAG_ROUTER : 0) | (flags.solicited ? FLAG_SOLICITED : 0) | (flags.override ? FLAG_OVERRIDE : 0);
  const icmp = ndMessage(ND_TYPE.advertisement, bits, t, OPTION_TARGET_LL, ends.srcMac);
  return icmp === undefined ? undefined : ndFrame(ends, icmp);
}

/**
 * unsolicitedAdvertisement builds the NA a new master multicasts for a VIP (RFC 4861 §7.2.6): to ff02::1,
 * Solicited clear, Override set so neighbours replace the old MAC at once (§7.2.5), from `source` (our link-local).
 */
export function unsolicitedAdvertisement(mac: string, source: string, target: string): Buffer | undefined {
  const ends = { srcMac: mac, dstMac: '33:33:00:00:00:01', src: source, dst: ALL_NODES };
  return neighborAdvertisementFrame(ends, target, { solicited: false, override: true });
}

/** NDP_DROP_REASONS lists why a frame on the NDP socket is not answered, for pre-registered metric labels. */
export const NDP_DROP_REASONS = [
  ...NEIGHBOR_DROP_REASONS, // malformed: short Ethernet/IPv6 header, not IPv6, short ICMPv6 or a bad option (§7.1.1)
  'not-icmpv6', // next header is not 58 (extension headers are not walked)
  'not-solicitation', // ICMPv6 but not type 135
  'bad-hop-limit', // hop limit is not 255: the NS may come from off-link (RFC 4861 §7.1.1)
  'bad-checksum', // ICMPv6 checksum does not verify (RFC 4443 §2.3)
  'invalid-solicitation', // code not 0, multicast target, or a DAD probe not to solicited-node / with SLLA (§7.1.1)
] as const;

/** NdpDropReason is one of NDP_DROP_REASONS. */
export type NdpDropReason = (typeof NDP_DROP_REASONS)[number];

/** NdpContext is what answerSolicitation needs of the responder. */
export interface NdpContext extends NeighborContext {
  /** Our link-local address: the IPv6 source of answers unless `answerFrom` is 'target'. */
  readonly linkLocal: string;
  /** 'link-local' (default, as MetalLB) or 'target' (the VIP itself, as Linux does for its own addresses). */
  readonly answerFrom?: 'link-local' | 'target';
}

/** NdpFacts: whether the answer is to a DAD probe (multicast, Solicited clear). */
export interface NdpFacts {
  readonly dad: boolean;
}

/** NdpOutcome is the advertisement to send for a solicitation, or why the frame is not answered. */
export type NdpOutcome = NeighborOutcome<NdpDropReason, NdpFacts>;

/** Solicitation is a validated NS with what its answer needs: the solicitor's address and link-layer address. */
export interface Solicitation {
  readonly dad: boolean;
  readonly from: string; // the NS's IPv6 source
  readonly fromMac: string; // its SLLA option, else the frame's source MAC
}

/**
 * NDP_CODEC validates an NS per RFC 4861 §7.1.1 and builds the NA of §7.2.4: unicast to the solicitor (Ethernet
 * destination from its SLLA option, else the frame's source MAC) with Solicited and Override set, or, for a DAD
 * probe (source ::), multicast to ff02::1 with Solicited clear.
 */
export const NDP_CODEC: NeighborCodec<NdpContext, Solicitation, NdpDropReason, NdpFacts> = {
  parse(frame, ctx) {
    const eth = decodeEthernet(frame);
    if (!eth.ok || eth.ethertype !== ETHERTYPE.ipv6) return { ok: false, reason: 'malformed', detail: 'not IPv6' };
    if (eth.src === ctx.mac) return { ok: false, reason: 'own-frame' };
    const ip = decodeIpv6(eth.payload);
    if (!ip.ok) return { ok: false, reason: 'malformed', detail: ip.reason };
    if (ip.nextHeader !== ICMPV6) return { ok: false, reason: 'not-icmpv6', detail: `next header ${ip.nextHeader}` };
    if (ip.payload.length < 1 || ip.payload[0] !== ND_TYPE.solicitation) {
      return { ok: false, reason: 'not-solicitation', detail: `type ${ip.payload[0]}` };
    }
    if (ip.hopLimit !== ND_HOP_LIMIT) return { ok: false, reason: 'bad-hop-limit', detail: `hop limit ${ip.hopLimit}` };
    const ns = decodeNd(ip.payload);
    if (!ns.ok) return { ok: false, reason: 'malformed', detail: ns.reason };
    if (upperLayerChecksum(ip.srcBytes, ip.dstBytes, ICMPV6, ip.payload) !== 0) {
      return { ok: false, reason: 'bad-checksum' };
    }
    if (ns.code !== 0) return { ok: false, reason: 'invalid-solicitation', detail: `code ${ns.code}` };
    if (isIpv6Multicast(ns.targetBytes))
      return { ok: false, reason: 'invalid-solicitation', detail: 'multicast target' };
    const dad = isIpv6Unspecified(ip.srcBytes);
    if (dad && (!isSolicitedNodeMulticast(ip.dstBytes) || ns.sourceLinkLayer !== undefined)) {
      return { ok: false, reason: 'invalid-solicitation', detail: 'DAD probe not to solicited-node or with SLLA' };
    }
    return { ok: true, target: ns.target, request: { dad, from: ip.src, fromMac: ns.sourceLinkLayer ?? eth.src } };
  },
  reply(ns, target, ctx) {
    const src = ctx.answerFrom === 'target' ? target : ctx.linkLocal;
    const ends = ns.dad
      ? { srcMac: ctx.mac, dstMac: '33:33:00:00:00:01', src, dst: ALL_NODES }
      : { srcMac: ctx.mac, dstMac: ns.fromMac, src, dst: ns.from };
    const reply = neighborAdvertisementFrame(ends, target, { solicited: !ns.dad, override: true });
    if (reply === undefined) return { ok: false, detail: `bad own address ${src}` };
    return { ok: true, reply, facts: { dad: ns.dad } };
  },
};

/** answerSolicitation decides what to do with one frame from the NDP socket: an NA (NDP_CODEC) or a drop reason. */
export function answerSolicitation(frame: Buffer, pktType: number, ctx: NdpContext): NdpOutcome {
  return answerNeighbor(NDP_CODEC, frame, pktType, ctx);
}
