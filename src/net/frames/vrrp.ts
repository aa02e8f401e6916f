/**
 * VRRPv3 packets inside IP (RFC 5798 §5.1): IPv4 packets for a raw socket with IP_HDRINCL, Ethernet + IPv6 frames
 * for an AF_PACKET socket, and the receive-side checks of §7.1 (TTL / hop limit 255, protocol 112) before the
 * advert itself goes to vrrp/codec.ts.
 */

import { type Advert, type Family, VRRP_MULTICAST, VRRP_PROTOCOL, VRRP_TTL } from '../../../vrrp/advert.ts';
import {
  type AuthError,
  type AuthKey,
  decodeAuthenticatedAdvert,
  encodeAuthenticatedAdvert,
} from '../../../vrrp/auth.ts';
import {
  type ChecksumMode,
  type DecodeError,
  decodeAdvert,
  type EncodeError,
  encodeAdvert,
} from '../../../vrrp/codec.ts';
import { ipv4Bytes, ipv6Bytes } from './address.ts';
import { decodeEthernet, ETHERTYPE, encodeEthernet } from './ethernet.ts';
import { decodeIpv4, encodeIpv4 } from './ipv4.ts';
import { decodeIpv6, encodeIpv6 } from './ipv6.ts';

/** VRRP_TOS is the IPv4 TOS / IPv6 traffic class of adverts: CS6, network control, as keepalived sends. */
export const VRRP_TOS = 0xc0;

/** VRRP_IPV4_MAC is the Ethernet group of 224.0.0.18 (RFC 1112 §6.4). */
export const VRRP_IPV4_MAC = '01:00:5e:00:00:12';

/** VRRP_IPV6_MAC is the Ethernet group of ff02::12 (RFC 2464 §7). */
export const VRRP_IPV6_MAC = '33:33:00:00:00:12';

/** Seal signs an advert (vrrp/auth.ts): the key and this advert's counter, strictly above the sender's last. */
export interface Seal {
  readonly key: AuthKey;
  readonly counter: bigint;
}

/** encodeVrrp is the codec call of both builders: plain, or authenticated under `seal`. */
function encodeVrrp(advert: Advert, ph: { family: Family; source: string; destination: string }, seal?: Seal) {
  return seal === undefined ? encodeAdvert(advert, ph) : encodeAuthenticatedAdvert(advert, ph, seal.key, seal.counter);
}

/** BuildResult is the bytes to send, or why they could not be built (a codec reason or an address that won't parse). */
export type BuildResult =
  | { readonly ok: true; readonly bytes: Buffer }
  | { readonly ok: false; readonly reason: EncodeError | 'bad-address'; readonly detail: string };

/**
 * vrrpIpv4Packet builds IPv4 header + advert, TTL 255 (RFC 5798 §5.1.1.3), protocol 112, for a raw socket with
 * IP_HDRINCL, so the source the checksum covers is the source on the wire.
 */
export function vrrpIpv4Packet(
  advert: Advert,
  src: string,
  dst: string = VRRP_MULTICAST.ipv4,
  seal?: Seal,
): BuildResult {
  const s = ipv4Bytes(src);
  const d = ipv4Bytes(dst);
  if (s === undefined || d === undefined) return { ok: false, reason: 'bad-address', detail: `${src} -> ${dst}` };
  const vrrp = encodeVrrp(advert, { family: 'ipv4', source: src, destination: dst }, seal);
  if (!vrrp.ok) return vrrp;
  const bytes = encodeIpv4({
    src: s,
    dst: d,
    protocol: VRRP_PROTOCOL,
    ttl: VRRP_TTL,
    tos: VRRP_TOS,
    payload: vrrp.packet,
  });
  return { ok: true, bytes };
}

/** Ipv4Ends names both ends of an IPv4 advert frame; `dstMac` is 01:00:5e:00:00:12 for 224.0.0.18. */
export interface Ipv4Ends {
  readonly srcMac: string;
  readonly src: string;
  readonly dstMac?: string;
  readonly dst?: string;
}

/** vrrpIpv4Frame builds Ethernet + the packet of vrrpIpv4Packet, for an AF_PACKET socket. */
export function vrrpIpv4Frame(advert: Advert, ends: Ipv4Ends, seal?: Seal): BuildResult {
  const packet = vrrpIpv4Packet(advert, ends.src, ends.dst ?? VRRP_MULTICAST.ipv4, seal);
  if (!packet.ok) return packet;
  const dstMac = ends.dstMac ?? VRRP_IPV4_MAC;
  const bytes = encodeEthernet(dstMac, ends.srcMac, ETHERTYPE.ipv4, packet.bytes);
  if (bytes === undefined) return { ok: false, reason: 'bad-address', detail: `MAC ${ends.srcMac} -> ${dstMac}` };
  return { ok: true, bytes };
}

/** Ipv6Ends names both ends of an IPv6 advert frame; `dstMac` is 33:33:00:00:00:12 for ff02::12. */
export interface Ipv6Ends {
  readonly srcMac: string;
  readonly src: string;
  readonly dstMac?: string;
  readonly dst?: string;
}

/** vrrpIpv6Frame builds Ethernet + IPv6 (hop limit 255, next header 112, RFC 5798 §5.1.2) + advert. */
export function vrrpIpv6Frame(advert: Advert, ends: Ipv6Ends, seal?: Seal): BuildResult {
  const dst = ends.dst ?? VRRP_MULTICAST.ipv6;
  const dstMac = ends.dstMac ?? VRRP_IPV6_MAC;
  const s = ipv6Bytes(ends.src);
  const d = ipv6Bytes(dst);
  if (s === undefined || d === undefined) return { ok: false, reason: 'bad-address', detail: `${ends.src} -> ${dst}` };
  const vrrp = encodeVrrp(advert, { family: 'ipv6', source: ends.src, destination: dst }, seal);
  if (!vrrp.ok) return vrrp;
  const ip = encodeIpv6({
    src: s,
    dst: d,
    nextHeader: VRRP_PROTOCOL,
    hopLimit: VRRP_TTL,
    trafficClass: VRRP_TOS,
    payload: vrrp.packet,
  });
  const bytes = encodeEthernet(dstMac, ends.srcMac, ETHERTYPE.ipv6, ip);
  if (bytes === undefined) return { ok: false, reason: 'bad-address', detail: `MAC ${ends.srcMac} -> ${dstMac}` };
  return { ok: true, bytes };
}

/** VRRP_DROP_REASONS lists the socket-level reasons a received packet is dropped; codec reasons come on top. */
export const VRRP_DROP_REASONS = [
  'own-packet', // our own advert coming back (PACKET_OUTGOING; from the raw socket, one of our addresses as source)
  // A frame the kernel did not send from this host (not PACKET_OUTGOING) with our MAC or one of our addresses as
  // source: a replay or spoof of our adverts, a switch reflecting our frames, or another host using our address.
  'own-source',
  'other-host', // unicast to another MAC, seen only in promiscuous mode
  'malformed', // the IP header does not parse
  'not-vrrp', // protocol / next header is not 112
  'bad-ttl', // TTL / hop limit is not 255: sent from off-link (RFC 5798 §7.1)
  'not-for-us', // destination is neither the VRRP group nor one of our addresses
] as const;

/** VrrpDropReason is a socket-level reason, a reason of decodeAdvert, or (authenticated routers) of vrrp/auth.ts. */
export type VrrpDropReason = (typeof VRRP_DROP_REASONS)[number] | DecodeError | AuthError;

/** ReceivedAdvert is a packet that passed every check: who sent it to where, and the decoded advert. */
export interface ReceivedAdvert {
  readonly ok: true;
  readonly family: Family;
  readonly from: string;
  readonly to: string;
  readonly advert: Advert;
  readonly checksumMode: ChecksumMode;
  /** auth: the verified key id and counter of an authenticated advert; the counter is for the replay check. */
  readonly auth?: { readonly keyId: number; readonly counter: bigint };
  /**
   * fromPeer is the unicast peer (as configured, e.g. its global address) whose MAC sent this frame, when it differs
   * from `from`: an IPv6 advert's source is the peer's link-local address (RFC 5798 §5.1.2.1).
   */
  readonly fromPeer?: string;
}

/** VrrpDrop is a packet that did not pass, with the reason and a human detail. */
export interface VrrpDrop {
  readonly ok: false;
  readonly family: Family;
  readonly reason: VrrpDropReason;
  readonly detail: string;
  readonly from?: string;
}

/** VrrpReceive is what every received packet becomes: an advert or a drop, never an exception. */
export type VrrpReceive = ReceivedAdvert | VrrpDrop;

/** ReceiveContext is what the receive checks need: our own addresses (canonical text) and, for IPv6, our MAC. */
export interface ReceiveContext {
  readonly ownAddresses: ReadonlySet<string>;
  readonly mac?: string;
  /**
   * decoded, when given, keeps adverts already decoded, by source, destination and VRRP bytes: a master sends the
   * same advert every interval, and decoding (address parsing, checksum) is most of the cost of a receive. Only
   * valid adverts are kept (a result is a pure function of its key); bounded by DECODED_CACHE_LIMIT.
   */
  readonly decoded?: Map<string, ReceivedAdvert>;
  /**
   * authKeys, when given, names the keys of a router (family, VRID) that requires authenticated adverts; undefined
   * for a router without authentication (or not ours). Such adverts go through vrrp/auth.ts instead of the cache.
   */
  readonly authKeys?: (family: Family, vrid: number) => readonly AuthKey[] | undefined;
}

/** DECODED_CACHE_LIMIT bounds ReceiveContext.decoded: cleared when full, so a flood of distinct adverts costs a decode
 * each, as without the cache, and never memory. */
export const DECODED_CACHE_LIMIT = 4096;

function drop(family: Family, reason: VrrpDropReason, detail: string, from?: string): VrrpDrop {
  return from === undefined ? { ok: false, family, reason, detail } : { ok: false, family, reason, detail, from };
}

/** checkAndDecode runs the §7.1 checks shared by both families, then the codec. */
function checkAndDecode(
  family: Family,
  h: { ttl: number; protocol: number; src: string; dst: string; payload: Buffer },
  ctx: ReceiveContext,
  /** fromWire: read from AF_PACKET and not PACKET_OUTGOING, so not sent by this host whatever its source says. */
  fromWire = false,
): VrrpReceive {
  if (h.protocol !== VRRP_PROTOCOL) return drop(family, 'not-vrrp', `protocol ${h.protocol}`, h.src);
  if (ctx.ownAddresses.has(h.src)) {
    return fromWire
      ? drop(family, 'own-source', `our address ${h.src} as source, not sent by this host`, h.src)
      : drop(family, 'own-packet', `from our ${h.src}`, h.src);
  }
  if (h.ttl !== VRRP_TTL) return drop(family, 'bad-ttl', `ttl ${h.ttl}`, h.src);
  if (h.dst !== VRRP_MULTICAST[family] && !ctx.ownAddresses.has(h.dst)) {
    return drop(family, 'not-for-us', `to ${h.dst}`, h.src);
  }
  const keys = h.payload.length >= 2 ? ctx.authKeys?.(family, h.payload[1]!) : undefined;
  if (keys !== undefined) {
    const auth = decodeAuthenticatedAdvert(h.payload, { family, source: h.src, destination: h.dst }, keys);
    if (!auth.ok) return drop(family, auth.reason, auth.detail, h.src);
    return {
      ok: true,
      family,
      from: h.src,
      to: h.dst,
      advert: auth.advert,
      checksumMode: 'pseudo-header',
      auth: { keyId: auth.keyId, counter: auth.counter },
    };
  }
  const cache = ctx.decoded;
  const key = cache === undefined ? '' : `${h.src}>${h.dst}>${h.payload.toString('latin1')}`;
  const hit = cache?.get(key);
  if (hit !== undefined) return hit;
  const decoded = decodeAdvert(h.payload, { family, source: h.src, destination: h.dst });
  if (!decoded.ok) return drop(family, decoded.reason, decoded.detail, h.src);
  const received: ReceivedAdvert = {
    ok: true,
    family,
    from: h.src,
    to: h.dst,
    advert: decoded.advert,
    checksumMode: decoded.checksum,
  };
  if (cache !== undefined) {
    // Shared by every later receive of the same bytes: frozen, so no consumer can change what the next one sees.
    Object.freeze(decoded.advert.addresses);
    Object.freeze(decoded.advert);
    Object.freeze(received);
    if (cache.size >= DECODED_CACHE_LIMIT) cache.clear();
    cache.set(key, received);
  }
  return received;
}

/** receiveIpv4 checks and decodes a packet read from the IPv4 raw socket (which includes the IP header). */
export function receiveIpv4(packet: Buffer, ctx: ReceiveContext): VrrpReceive {
  const ip = decodeIpv4(packet);
  if (!ip.ok) return drop('ipv4', 'malformed', ip.reason);
  return checkAndDecode('ipv4', ip, ctx);
}

/** ownMacFromWire: a frame with our MAC as source that this host did not send (see 'own-source'). */
function ownMacFromWire(family: Family, mac: string, from: string): VrrpDrop {
  return drop(family, 'own-source', `our MAC ${mac} as source, not sent by this host`, from);
}

/** receiveIpv4Frame checks and decodes a frame read from the AF_PACKET IPv4 socket. */
export function receiveIpv4Frame(frame: Buffer, pktType: number, ctx: ReceiveContext): VrrpReceive {
  if (pktType === 4) return drop('ipv4', 'own-packet', 'PACKET_OUTGOING');
  if (pktType === 3) return drop('ipv4', 'other-host', 'PACKET_OTHERHOST');
  const eth = decodeEthernet(frame);
  if (!eth.ok || eth.ethertype !== ETHERTYPE.ipv4) return drop('ipv4', 'malformed', 'not an IPv4 Ethernet frame');
  const ip = decodeIpv4(eth.payload);
  if (!ip.ok) return drop('ipv4', 'malformed', ip.reason);
  if (ctx.mac !== undefined && eth.src === ctx.mac) return ownMacFromWire('ipv4', eth.src, ip.src);
  return checkAndDecode('ipv4', ip, ctx, true);
}

/** receiveIpv6Frame checks and decodes a frame read from the AF_PACKET IPv6 socket. */
export function receiveIpv6Frame(frame: Buffer, pktType: number, ctx: ReceiveContext): VrrpReceive {
  if (pktType === 4) return drop('ipv6', 'own-packet', 'PACKET_OUTGOING');
  if (pktType === 3) return drop('ipv6', 'other-host', 'PACKET_OTHERHOST');
  const eth = decodeEthernet(frame);
  if (!eth.ok || eth.ethertype !== ETHERTYPE.ipv6) return drop('ipv6', 'malformed', 'not an IPv6 Ethernet frame');
  const ip = decodeIpv6(eth.payload);
  if (!ip.ok) return drop('ipv6', 'malformed', ip.reason);
  if (ctx.mac !== undefined && eth.src === ctx.mac) return ownMacFromWire('ipv6', eth.src, ip.src);
  return checkAndDecode(
    'ipv6',
    { ttl: ip.hopLimit, protocol: ip.nextHeader, src: ip.src, dst: ip.dst, payload: ip.payload },
    ctx,
    true,
  );
}
