/**
 * Address helpers of the frame codecs: Buffers over vrrp/ip.ts (one canonical text, so addresses read from frames
 * compare with configured VIPs by `===`), and the IPv6 multicast groups NDP needs.
 */

import { formatIpBytes, ipBytes } from '../../../vrrp/ip.ts';

/** ipv4Bytes is the 4 bytes of dotted-quad text as a Buffer (frames are built in Buffers), or undefined. */
export function ipv4Bytes(text: string): Buffer | undefined {
  const bytes = ipBytes(text, 'ipv4');
  return bytes && Buffer.from(bytes);
}

/** ipv6Bytes is the 16 bytes of IPv6 text as a Buffer, or undefined; a zone is refused. */
export function ipv6Bytes(text: string): Buffer | undefined {
  const bytes = ipBytes(text, 'ipv6');
  return bytes && Buffer.from(bytes);
}

/** formatIpv4 renders 4 bytes at `offset` canonically; the caller has checked the length. */
export function formatIpv4(buf: Uint8Array, offset = 0): string {
  return formatIpBytes(buf, offset, 'ipv4');
}

/** formatIpv6 renders 16 bytes at `offset` canonically; the caller has checked the length. */
export function formatIpv6(buf: Uint8Array, offset = 0): string {
  return formatIpBytes(buf, offset, 'ipv6');
}

/** isIpv6Multicast tells ff00::/8 (RFC 4291 §2.7). */
export function isIpv6Multicast(buf: Uint8Array, offset = 0): boolean {
  return buf[offset] === 0xff;
}

/** isIpv6Unspecified tells :: (RFC 4291 §2.5.2), the source of a DAD probe. */
export function isIpv6Unspecified(buf: Uint8Array, offset = 0): boolean {
  for (let i = 0; i < 16; i++) if (buf[offset + i] !== 0) return false;
  return true;
}

/** solicitedNodeMulticast is ff02::1:ffXX:XXXX for an address's low 24 bits (RFC 4291 §2.7.1), as 16 bytes. */
export function solicitedNodeMulticast(addr: Uint8Array): Buffer {
  const out = Buffer.from([0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0, 0, 0]);
  out[13] = addr[13]!;
  out[14] = addr[14]!;
  out[15] = addr[15]!;
  return out;
}

/** isSolicitedNodeMulticast tells ff02::1:ff00:0/104 (RFC 4291 §2.7.1). */
export function isSolicitedNodeMulticast(buf: Uint8Array, offset = 0): boolean {
  const prefix = [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff];
  return prefix.every((b, i) => buf[offset + i] === b);
}
