/**
 * ARP for IPv4 over Ethernet (RFC 826): packet codec, the reply a responder sends for a VIP, and the gratuitous
 * forms a new master broadcasts (RFC 5227 §3 announcement; RFC 5944 §4.6 reply form).
 */

import { formatIpv4, ipv4Bytes } from './address.ts';
import { BROADCAST_MAC, decodeEthernet, ETHERTYPE, encodeEthernet, formatMac, macBytes, ZERO_MAC } from './ethernet.ts';
import {
  answerNeighbor,
  NEIGHBOR_DROP_REASONS,
  type NeighborCodec,
  type NeighborContext,
  type NeighborOutcome,
} from './neighbor.ts';

/** ARP_LENGTH is the size of an Ethernet/IPv4 ARP packet: 8 fixed bytes + 2 × (6 + 4). */
export const ARP_LENGTH = 28;

/** ARP_OP is the opcode field (RFC 826): 1 request, 2 reply. */
export const ARP_OP = { request: 1, reply: 2 } as const;

/** ArpPacket is an Ethernet/IPv4 ARP packet with addresses as canonical text. */
export interface ArpPacket {
  readonly op: number;
  readonly senderMac: string;
  readonly senderIp: string;
  readonly targetMac: string;
  readonly targetIp: string;
}

/** ArpDecode is a packet or why it is refused: too short, or not hardware 1 / protocol 0x0800 / lengths 6 and 4. */
export type ArpDecode =
  | ({ readonly ok: true } & ArpPacket)
  | { readonly ok: false; readonly reason: 'truncated' | 'not-ethernet-ipv4' };

/** decodeArp reads an ARP packet (the Ethernet payload; trailing padding ignored). Never throws. */
export function decodeArp(buf: Buffer): ArpDecode {
  if (buf.length < ARP_LENGTH) return { ok: false, reason: 'truncated' };
  // RFC 826: ar$hrd 1 (Ethernet), ar$pro 0x0800, ar$hln 6, ar$pln 4.
  if (buf.readUInt16BE(0) !== 1 || buf.readUInt16BE(2) !== ETHERTYPE.ipv4 || buf[4] !== 6 || buf[5] !== 4) {
    return { ok: false, reason: 'not-ethernet-ipv4' };
  }
  return {
    ok: true,
    op: buf.readUInt16BE(6),
    senderMac: formatMac(buf, 8),
    senderIp: formatIpv4(buf, 14),
    targetMac: formatMac(buf, 18),
    targetIp: formatIpv4(buf, 24),
  };
}

/** encodeArp lays out the 28-byte packet, or undefined when an address does not parse. */
export function encodeArp(p: ArpPacket): Buffer | undefined {
  const sha = macBytes(p.senderMac);
  const spa = ipv4Bytes(p.senderIp);
  const tha = macBytes(p.targetMac);
  const tpa = ipv4Bytes(p.targetIp);
  if (sha === undefined || spa === undefined || tha === undefined || tpa === undefined) return undefined;
  const buf = Buffer.alloc(ARP_LENGTH);
  buf.writeUInt16BE(1, 0);
  buf.writeUInt16BE(ETHERTYPE.ipv4, 2);
  buf[4] = 6;
  buf[5] = 4;
  buf.writeUInt16BE(p.op, 6);
  sha.copy(buf, 8);
  spa.copy(buf, 14);
  tha.copy(buf, 18);
  tpa.copy(buf, 24);
  return buf;
}

/** arpFrame wraps an ARP packet in Ethernet from `src` to `dst`; undefined when an address does not parse. */
export function arpFrame(dst: string, src: string, p: ArpPacket): Buffer | undefined {
  const arp = encodeArp(p);
  return arp === undefined ? undefined : encodeEthernet(dst, src, ETHERTYPE.arp, arp);
}

/** GratuitousForm picks the gratuitous ARP variant: RFC 5227 request (announcement) or RFC 5944 §4.6 reply. */
export type GratuitousForm = 'request' | 'reply';

/**
 * gratuitousArp builds a broadcast frame that makes every neighbour map `ip` to `mac`.
 * Both forms carry sender IP = target IP = `ip`. 'request' is RFC 5227 §3's ARP Announcement (target MAC zero);
 * 'reply' is RFC 5944 §4.6's reply form (target MAC = `mac`), for stacks that refresh their cache only from replies.
 */
export function gratuitousArp(mac: string, ip: string, form: GratuitousForm): Buffer | undefined {
  const op = form === 'request' ? ARP_OP.request : ARP_OP.reply;
  const targetMac = form === 'request' ? ZERO_MAC : mac;
  return arpFrame(BROADCAST_MAC, mac, { op, senderMac: mac, senderIp: ip, targetMac, targetIp: ip });
}

/** ARP_DROP_REASONS lists why a frame on the ARP socket is not answered, for pre-registered metric labels. */
export const ARP_DROP_REASONS = [
  ...NEIGHBOR_DROP_REASONS,
  'not-request', // a reply or another opcode: we answer requests only (RFC 826)
  'announcement', // someone's gratuitous ARP (sender IP = target IP): never answered
] as const;

/** ArpDropReason is one of ARP_DROP_REASONS. */
export type ArpDropReason = (typeof ARP_DROP_REASONS)[number];

/** ArpContext is what answerArp needs of the responder: our MAC, the interface and the VIP predicate. */
export type ArpContext = NeighborContext;

/** ArpFacts: who asked, reported with each answer. */
export interface ArpFacts {
  readonly requester: { mac: string; ip: string };
}

/** ArpOutcome is the reply to send for a request, or the reason the frame is not answered. */
export type ArpOutcome = NeighborOutcome<ArpDropReason, ArpFacts>;

/**
 * ARP_CODEC reads an Ethernet/IPv4 ARP request and builds its reply (RFC 826: op 2, our MAC and the VIP as sender,
 * the requester as target, unicast to the requester's hardware address).
 */
export const ARP_CODEC: NeighborCodec<ArpContext, ArpPacket, ArpDropReason, ArpFacts> = {
  parse(frame, ctx) {
    const eth = decodeEthernet(frame);
    if (!eth.ok) return { ok: false, reason: 'malformed', detail: 'short ethernet header' };
    if (eth.ethertype !== ETHERTYPE.arp)
      return { ok: false, reason: 'malformed', detail: `ethertype ${eth.ethertype}` };
    const arp = decodeArp(eth.payload);
    if (!arp.ok) return { ok: false, reason: 'malformed', detail: arp.reason };
    if (eth.src === ctx.mac || arp.senderMac === ctx.mac) return { ok: false, reason: 'own-frame' };
    if (arp.op !== ARP_OP.request) return { ok: false, reason: 'not-request', detail: `op ${arp.op}` };
    if (arp.senderIp === arp.targetIp) return { ok: false, reason: 'announcement', detail: arp.senderIp };
    return { ok: true, target: arp.targetIp, request: arp };
  },
  reply(arp, target, ctx) {
    const reply = arpFrame(arp.senderMac, ctx.mac, {
      op: ARP_OP.reply,
      senderMac: ctx.mac,
      senderIp: target,
      targetMac: arp.senderMac,
      targetIp: arp.senderIp,
    });
    if (reply === undefined) return { ok: false, detail: `bad own MAC ${ctx.mac}` };
    return { ok: true, reply, facts: { requester: { mac: arp.senderMac, ip: arp.senderIp } } };
  },
};

/**
 * answerArp decides what to do with one frame from the ARP socket: a reply frame (ARP_CODEC) or a drop reason.
 * Probes (sender IP 0.0.0.0, RFC 5227 §2.1.1) for a VIP are answered, which tells the prober the address is in use.
 */
export function answerArp(frame: Buffer, pktType: number, ctx: ArpContext): ArpOutcome {
  return answerNeighbor(ARP_CODEC, frame, pktType, ctx);
}
