/**
 * IP address text ↔ network-order bytes for the frame codecs. Text is canonical as in vrrp/codec.ts (dotted quad;
 * RFC 5952 for IPv6, IPv4-mapped in mixed form) so addresses read from frames compare with configured VIPs by `===`.
 */

import ipaddr from 'ipaddr.js';

/** ipv4Bytes parses four-part dotted decimal into 4 bytes, or undefined ("10.1" and hex forms are refused). */
export function ipv4Bytes(text: string): Buffer | undefined {
  if (!ipaddr.IPv4.isValidFourPartDecimal(text)) return undefined;
  return Buffer.from(ipaddr.IPv4.parse(text).toByteArray());
}

/** ipv6Bytes parses IPv6 text into 16 bytes, or undefined; a zone ("fe80::1%eth0") is refused. */
export function ipv6Bytes(text: string): Buffer | undefined {
  if (!ipaddr.IPv6.isValid(text)) return undefined;
  try {
    const addr = ipaddr.IPv6.parse(text);
    return addr.zoneId === undefined ? Buffer.from(addr.toByteArray()) : undefined;
  } catch {
    return undefined;
  }
}

/** formatIpv4 renders 4 bytes at `offset` as a dotted quad; the caller has checked the length. */
export function formatIpv4(buf: Uint8Array, offset = 0): string {
  return `${buf[offset]}.${buf[offset + 1]}.${buf[offset + 2]}.${buf[offset + 3]}`;
}

/** formatIpv6 renders 16 bytes at `offset` per RFC 5952 (§4 compression rules, §5 mixed form for IPv4-mapped). */
export function formatIpv6(buf: Uint8Array, offset = 0): string {
  const parts: number[] = [];
  for (let i = 0; i < 16; i += 2) parts.push((buf[offset + i]! << 8) | buf[offset + i + 1]!);
  const addr = new ipaddr.IPv6(parts);
  if (addr.isIPv4MappedAddress()) return `::ffff:${addr.toIPv4Address().toString()}`;
  return addr.toRFC5952String();
}

/** canonicalIp returns the canonical text of an IPv4 or IPv6 address, or undefined when it is neither. */
export function canonicalIp(text: string): string | undefined {
  const v4 = ipv4Bytes(text);
  if (v4 !== undefined) return formatIpv4(v4);
  const v6 = ipv6Bytes(text);
  return v6 === undefined ? undefined : formatIpv6(v6);
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

/** isIpv6LinkLocal tells fe80::/10 (RFC 4291 §2.5.6). */
export function isIpv6LinkLocal(buf: Uint8Array, offset = 0): boolean {
  return buf[offset] === 0xfe && (buf[offset + 1]! & 0xc0) === 0x80;
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
