/**
 * IPv6 fixed header codec (RFC 8200 §3) and the upper-layer checksum pseudo-header (RFC 8200 §8.1).
 * Extension headers are not walked: Next Header is the first one, which is what NDP and VRRP packets carry.
 */

import { internetChecksum } from '../../../vrrp/checksum.ts';
import { formatIpv6 } from './address.ts';

/** IPV6_HEADER_LENGTH is the fixed header: 40 bytes. */
export const IPV6_HEADER_LENGTH = 40;

/** Ipv6Packet is the input of encodeIpv6; addresses are 16 bytes in network order. */
export interface Ipv6Packet {
  readonly src: Uint8Array;
  readonly dst: Uint8Array;
  readonly nextHeader: number;
  readonly hopLimit: number;
  /** Traffic Class byte; 0xc0 (CS6) for VRRP like keepalived, 0 for NDP. */
  readonly trafficClass?: number;
  readonly payload: Uint8Array;
}

/** encodeIpv6 builds the 40-byte header (flow label 0) followed by the payload. */
export function encodeIpv6(p: Ipv6Packet): Buffer {
  const buf = Buffer.alloc(IPV6_HEADER_LENGTH + p.payload.length);
  const tc = p.trafficClass ?? 0;
  buf.writeUInt32BE(((6 << 28) | (tc << 20)) >>> 0, 0);
  buf.writeUInt16BE(p.payload.length, 4);
  buf[6] = p.nextHeader;
  buf[7] = p.hopLimit;
  buf.set(p.src.subarray(0, 16), 8);
  buf.set(p.dst.subarray(0, 16), 24);
  buf.set(p.payload, IPV6_HEADER_LENGTH);
  return buf;
}

/** Ipv6Header is a decoded header; the byte views alias the input and `payload` is bounded by Payload Length. */
export interface Ipv6Header {
  readonly nextHeader: number;
  readonly hopLimit: number;
  readonly src: string;
  readonly dst: string;
  readonly srcBytes: Buffer;
  readonly dstBytes: Buffer;
  readonly payload: Buffer;
}

/** Ipv6Decode is a header, or why the bytes are not an IPv6 packet. */
export type Ipv6Decode =
  | ({ readonly ok: true } & Ipv6Header)
  | { readonly ok: false; readonly reason: 'truncated' | 'bad-version' };

/** decodeIpv6 reads an IPv6 packet; bytes after Payload Length (Ethernet padding) are ignored. Never throws. */
export function decodeIpv6(buf: Buffer): Ipv6Decode {
  if (buf.length < IPV6_HEADER_LENGTH) return { ok: false, reason: 'truncated' };
  if (buf[0]! >> 4 !== 6) return { ok: false, reason: 'bad-version' };
  const length = buf.readUInt16BE(4);
  if (buf.length < IPV6_HEADER_LENGTH + length) return { ok: false, reason: 'truncated' };
  const srcBytes = buf.subarray(8, 24);
  const dstBytes = buf.subarray(24, 40);
  return {
    ok: true,
    nextHeader: buf[6]!,
    hopLimit: buf[7]!,
    src: formatIpv6(srcBytes),
    dst: formatIpv6(dstBytes),
    srcBytes,
    dstBytes,
    payload: buf.subarray(IPV6_HEADER_LENGTH, IPV6_HEADER_LENGTH + length),
  };
}

/** upperLayerChecksum is the RFC 8200 §8.1 checksum of `payload` under the pseudo-header (src, dst, length, nh). */
export function upperLayerChecksum(src: Uint8Array, dst: Uint8Array, nextHeader: number, payload: Uint8Array): number {
  const pseudo = Buffer.alloc(40);
  pseudo.set(src.subarray(0, 16), 0);
  pseudo.set(dst.subarray(0, 16), 16);
  pseudo.writeUInt32BE(payload.length, 32);
  pseudo[39] = nextHeader;
  return internetChecksum(pseudo, payload);
}
