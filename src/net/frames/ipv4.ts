/**
 * IPv4 header codec (RFC 791 §3.1), enough to send VRRP with IP_HDRINCL and to read what a raw socket receives.
 * No options are written; received options are skipped through IHL.
 */

import { internetChecksum } from '../../../vrrp/checksum.ts';
import { formatIpv4 } from './address.ts';

/** IPV4_HEADER_LENGTH is the header without options: 20 bytes. */
export const IPV4_HEADER_LENGTH = 20;

/** Ipv4Packet is the input of encodeIpv4; addresses are 4 bytes in network order. */
export interface Ipv4Packet {
  readonly src: Uint8Array;
  readonly dst: Uint8Array;
  readonly protocol: number;
  readonly ttl: number;
  /** Type of service / DSCP+ECN byte; 0xc0 (CS6, network control) is what routing protocols use. */
  readonly tos?: number;
  readonly payload: Uint8Array;
}

/**
 * encodeIpv4 builds header + payload with identification 0, no fragmentation flags and a correct header checksum
 * (RFC 791 §3.1). With IP_HDRINCL Linux fills identification 0 and recomputes the checksum anyway (raw(7)).
 */
export function encodeIpv4(p: Ipv4Packet): Buffer {
  const buf = Buffer.alloc(IPV4_HEADER_LENGTH + p.payload.length);
  buf[0] = 0x45; // version 4, IHL 5 words
  buf[1] = p.tos ?? 0;
  buf.writeUInt16BE(buf.length, 2);
  buf[8] = p.ttl;
  buf[9] = p.protocol;
  buf.set(p.src.subarray(0, 4), 12);
  buf.set(p.dst.subarray(0, 4), 16);
  buf.writeUInt16BE(internetChecksum(buf.subarray(0, IPV4_HEADER_LENGTH)), 10);
  buf.set(p.payload, IPV4_HEADER_LENGTH);
  return buf;
}

/** Ipv4Header is a decoded header; `payload` is a view bounded by Total Length. */
export interface Ipv4Header {
  readonly ttl: number;
  readonly protocol: number;
  readonly src: string;
  readonly dst: string;
  readonly tos: number;
  readonly payload: Buffer;
}

/** IPV4_DECODE_ERRORS lists why decodeIpv4 refuses bytes. */
export const IPV4_DECODE_ERRORS = [
  'truncated', // shorter than 20 bytes, than IHL, or than Total Length
  'bad-version', // version nibble is not 4
  'bad-header-length', // IHL below 5 words
  'bad-header-checksum', // RFC 791 §3.1 header checksum does not verify
  'fragment', // MF set or a fragment offset: raw sockets see reassembled packets, so this is not ours to handle
] as const;

/** Ipv4Decode is a header or a reason from IPV4_DECODE_ERRORS. */
export type Ipv4Decode =
  | ({ readonly ok: true } & Ipv4Header)
  | { readonly ok: false; readonly reason: (typeof IPV4_DECODE_ERRORS)[number] };

/** decodeIpv4 reads an IPv4 packet (e.g. from a raw socket, which includes the header). Never throws. */
export function decodeIpv4(buf: Buffer): Ipv4Decode {
  if (buf.length < IPV4_HEADER_LENGTH) return { ok: false, reason: 'truncated' };
  if (buf[0]! >> 4 !== 4) return { ok: false, reason: 'bad-version' };
  const ihl = (buf[0]! & 0x0f) * 4;
  if (ihl < IPV4_HEADER_LENGTH) return { ok: false, reason: 'bad-header-length' };
  const total = buf.readUInt16BE(2);
  if (buf.length < ihl || total < ihl || buf.length < total) return { ok: false, reason: 'truncated' };
  if (internetChecksum(buf.subarray(0, ihl)) !== 0) return { ok: false, reason: 'bad-header-checksum' };
  if ((buf.readUInt16BE(6) & 0x3fff) !== 0) return { ok: false, reason: 'fragment' };
  return {
    ok: true,
    tos: buf[1]!,
    ttl: buf[8]!,
    protocol: buf[9]!,
    src: formatIpv4(buf, 12),
    dst: formatIpv4(buf, 16),
    payload: buf.subarray(ihl, total),
  };
}
