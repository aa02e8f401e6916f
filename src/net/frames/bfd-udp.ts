/**
 * The RFC 5881 single-hop envelope of a BFD Control packet as an AF_PACKET socket sees it: Ethernet, IPv4 or IPv6,
 * UDP to port 3784. readBfdFrame applies the RFC 5881 receive rules that need the IP and UDP headers — TTL / hop limit
 * 255 (§5, the GTSM check of RFC 5082) and the destination port (§4) — and returns the Control packet bytes, or a
 * drop reason. bfdFilter selects UDP to port 3784 in the kernel, so other traffic never reaches JavaScript.
 *
 * The UDP checksum is not verified here: a packet socket sees frames before the IP stack, and on veth pairs and
 * checksum-offloading NICs the checksum of a received frame may not be filled in yet (CHECKSUM_PARTIAL), so
 * verifying it would drop good packets. The Ethernet FCS guards the link; the IPv4 header checksum is verified.
 */

import type { BpfInstruction } from './bpf.ts';
import { ETHERNET_HEADER_LENGTH, ETHERTYPE } from './ethernet.ts';
import { decodeIpv4 } from './ipv4.ts';
import { decodeIpv6 } from './ipv6.ts';

/** BFD_CONTROL_PORT is the single-hop Control packet destination port (RFC 5881 §4). */
export const BFD_CONTROL_PORT = 3784;

/** BFD_SOURCE_PORTS is the range a sender's source port MUST be in (RFC 5881 §4). */
export const BFD_SOURCE_PORTS = { min: 49152, max: 65535 } as const;

/** BFD_TTL is the TTL / hop limit sent and required on receive (RFC 5881 §5). */
export const BFD_TTL = 255;

const UDP = 17;
const UDP_HEADER_LENGTH = 8;
const PACKET_OUTGOING = 4;

/** FRAME_DROPS lists why readBfdFrame refuses a frame, so metrics can pre-register one label per reason. */
export const FRAME_DROPS = [
  'outgoing', // our own frame coming back (sll_pkttype PACKET_OUTGOING)
  'not-ip', // neither IPv4 nor IPv6 EtherType
  'bad-ip', // the IP header does not decode (truncated, bad version, IPv4 header checksum, fragment)
  'not-udp', // not UDP directly after the IP header
  'truncated', // UDP header or UDP length beyond the packet
  'not-bfd-port', // destination port is not 3784
  'bad-ttl', // TTL / hop limit is not 255: sent from off-link (RFC 5881 §5)
] as const;

/** FrameDrop is one reason from FRAME_DROPS. */
export type FrameDrop = (typeof FRAME_DROPS)[number];

/** BfdFrame is what the session layer needs of a received packet. */
export interface BfdFrame {
  readonly family: 'ipv4' | 'ipv6';
  readonly source: string;
  readonly destination: string;
  readonly sourcePort: number;
  readonly ttl: number;
  /** payload is the UDP payload (the Control packet), a view into the frame. */
  readonly payload: Buffer;
}

/** BfdFrameResult is a BFD frame or why it is not one we accept. */
export type BfdFrameResult =
  | ({ readonly ok: true } & BfdFrame)
  | { readonly ok: false; readonly reason: FrameDrop; readonly detail: string };

function drop(reason: FrameDrop, detail: string): BfdFrameResult {
  return { ok: false, reason, detail };
}

/** readBfdFrame checks and unwraps one Ethernet frame from a packet socket. Never throws. */
export function readBfdFrame(frame: Buffer, pktType: number): BfdFrameResult {
  if (pktType === PACKET_OUTGOING) return drop('outgoing', 'our own frame');
  if (frame.length < ETHERNET_HEADER_LENGTH) return drop('not-ip', `${frame.length} bytes`);
  const ethertype = frame.readUInt16BE(12);
  const ip = frame.subarray(ETHERNET_HEADER_LENGTH);
  let family: 'ipv4' | 'ipv6';
  let source: string;
  let destination: string;
  let ttl: number;
  let protocol: number;
  let udp: Buffer;
  if (ethertype === ETHERTYPE.ipv4) {
    const h = decodeIpv4(ip);
    if (!h.ok) return drop('bad-ip', h.reason);
    family = 'ipv4';
    ({ src: source, dst: destination, ttl, protocol, payload: udp } = h);
  } else if (ethertype === ETHERTYPE.ipv6) {
    const h = decodeIpv6(ip);
    if (!h.ok) return drop('bad-ip', h.reason);
    family = 'ipv6';
    ({ src: source, dst: destination, hopLimit: ttl, nextHeader: protocol, payload: udp } = h);
  } else {
    return drop('not-ip', `ethertype 0x${ethertype.toString(16)}`);
  }
  if (protocol !== UDP) return drop('not-udp', `protocol ${protocol}`);
  if (udp.length < UDP_HEADER_LENGTH) return drop('truncated', `${udp.length} bytes of UDP`);
  const length = udp.readUInt16BE(4);
  if (length < UDP_HEADER_LENGTH || length > udp.length) return drop('truncated', `UDP length ${length}`);
  const port = udp.readUInt16BE(2);
  if (port !== BFD_CONTROL_PORT) return drop('not-bfd-port', `port ${port}`);
  if (ttl !== BFD_TTL) return drop('bad-ttl', `${family === 'ipv4' ? 'TTL' : 'hop limit'} ${ttl} from ${source}`);
  return {
    ok: true,
    family,
    source,
    destination,
    sourcePort: udp.readUInt16BE(0),
    ttl,
    payload: udp.subarray(UDP_HEADER_LENGTH, length),
  };
}

const LD_W_ABS = 0x20;
const LD_H_ABS = 0x28;
const LD_B_ABS = 0x30;
const LD_H_IND = 0x48; // BPF_LD | BPF_H | BPF_IND: halfword at X + k
const LDX_MSH = 0xb1; // BPF_LDX | BPF_B | BPF_MSH: X = 4 * (byte at k & 0xf), the IPv4 header length
const JEQ_K = 0x15;
const JSET_K = 0x45;
const RET_K = 0x06;
const SKF_AD_PKTTYPE = 0xfffff000 + 4;
const ACCEPT = 0x40000;

/** patch points every jump marked -1 at the final "drop" instruction. */
function patch(body: BpfInstruction[]): BpfInstruction[] {
  const dropAt = body.length - 1;
  return body.map((ins, i) => ({
    ...ins,
    jt: ins.jt === -1 ? dropAt - i - 1 : ins.jt,
    jf: ins.jf === -1 ? dropAt - i - 1 : ins.jf,
  }));
}

/**
 * bfdFilter keeps incoming IPv4 or IPv6 frames of UDP to port 3784 (unfragmented IPv4; IPv6 with UDP as the first
 * Next Header), for the packet socket of one EtherType. The TTL is left to readBfdFrame, so off-link senders are
 * counted as 'bad-ttl' rather than silently filtered.
 */
export function bfdFilter(family: 'ipv4' | 'ipv6'): BpfInstruction[] {
  const head: BpfInstruction[] = [
    { code: LD_W_ABS, jt: 0, jf: 0, k: SKF_AD_PKTTYPE },
    { code: JEQ_K, jt: -1, jf: 0, k: PACKET_OUTGOING },
    { code: LD_H_ABS, jt: 0, jf: 0, k: 12 },
  ];
  const body: BpfInstruction[] =
    family === 'ipv4'
      ? [
          { code: JEQ_K, jt: 0, jf: -1, k: ETHERTYPE.ipv4 },
          { code: LD_B_ABS, jt: 0, jf: 0, k: 23 }, // protocol
          { code: JEQ_K, jt: 0, jf: -1, k: UDP },
          { code: LD_H_ABS, jt: 0, jf: 0, k: 20 }, // flags + fragment offset
          { code: JSET_K, jt: -1, jf: 0, k: 0x3fff },
          { code: LDX_MSH, jt: 0, jf: 0, k: 14 },
          { code: LD_H_IND, jt: 0, jf: 0, k: 16 }, // 14 + IHL + 2: UDP destination port
          { code: JEQ_K, jt: 0, jf: -1, k: BFD_CONTROL_PORT },
        ]
      : [
          { code: JEQ_K, jt: 0, jf: -1, k: ETHERTYPE.ipv6 },
          { code: LD_B_ABS, jt: 0, jf: 0, k: 20 }, // Next Header
          { code: JEQ_K, jt: 0, jf: -1, k: UDP },
          { code: LD_H_ABS, jt: 0, jf: 0, k: 56 }, // 14 + 40 + 2: UDP destination port
          { code: JEQ_K, jt: 0, jf: -1, k: BFD_CONTROL_PORT },
        ];
  return patch([...head, ...body, { code: RET_K, jt: 0, jf: 0, k: ACCEPT }, { code: RET_K, jt: 0, jf: 0, k: 0 }]);
}
