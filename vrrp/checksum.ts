/**
 * Internet checksum (RFC 1071) and the pseudo-headers VRRPv3 folds into it (RFC 5798 / RFC 9568 §5.2.8).
 * Works on bytes only: callers parse addresses first, so this file stays free of text and of ipaddr.js.
 */

import { VRRP_PROTOCOL } from './advert.ts';

/**
 * internetChecksum is the 16-bit one's complement of the one's complement sum of the chunks taken as one byte string
 * (RFC 1071 §4.1). A chunk of odd length carries its last byte into the next one, so splitting the input anywhere
 * gives the same result. Over data that holds a correct checksum it returns 0, which is how receivers verify.
 */
export function internetChecksum(...chunks: readonly Uint8Array[]): number {
  let sum = 0;
  let pending = -1; // high byte of a word whose low byte is in the next chunk, or -1
  for (const chunk of chunks) {
    let i = 0;
    if (pending >= 0 && chunk.length > 0) {
      sum += (pending << 8) | chunk[0]!;
      pending = -1;
      i = 1;
    }
    const end = chunk.length - ((chunk.length - i) & 1);
    for (; i < end; i += 2) sum += (chunk[i]! << 8) | chunk[i + 1]!;
    if (i < chunk.length) pending = chunk[i]!;
  }
  if (pending >= 0) sum += pending << 8; // RFC 1071: pad an odd total with a zero byte
  // sum stays far below 2^53 for any packet, so folding once at the end is exact.
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return ~sum & 0xffff;
}

/**
 * ipv4PseudoHeader is the 12-byte pseudo-header of UDP (RFC 768) with protocol 112: source, destination, a zero byte,
 * the protocol and the VRRP length. RFC 5798 §5.2.8 points at RFC 2460 §8.1, which only defines the IPv6 one; this
 * IPv4 shape is what keepalived, FRR and Wireshark all compute, so it is the one that interoperates.
 */
export function ipv4PseudoHeader(source: Uint8Array, destination: Uint8Array, vrrpLength: number): Uint8Array {
  const out = new Uint8Array(12);
  out.set(source.subarray(0, 4), 0);
  out.set(destination.subarray(0, 4), 4);
  out[9] = VRRP_PROTOCOL;
  out[10] = (vrrpLength >>> 8) & 0xff;
  out[11] = vrrpLength & 0xff;
  return out;
}

/**
 * ipv6PseudoHeader is the 40-byte pseudo-header of RFC 8200 §8.1 (formerly RFC 2460): source, destination, the
 * 32-bit upper-layer length, three zero bytes and next header 112.
 */
export function ipv6PseudoHeader(source: Uint8Array, destination: Uint8Array, vrrpLength: number): Uint8Array {
  const out = new Uint8Array(40);
  out.set(source.subarray(0, 16), 0);
  out.set(destination.subarray(0, 16), 16);
  new DataView(out.buffer).setUint32(32, vrrpLength);
  out[39] = VRRP_PROTOCOL;
  return out;
}
