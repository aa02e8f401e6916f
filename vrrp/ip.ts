/**
 * IP addresses for the whole project, on ipaddr.js: text ↔ bytes ↔ integer, one canonical text (dotted quad; RFC 5952
 * for IPv6, IPv4-mapped in the §5 mixed form) so addresses compare with `===` wherever they come from, family,
 * link-local, subnets. Lives in the engine because the engine is the lowest layer (vrrp/ imports nothing from src/);
 * src/model/ip-range.ts builds pool ranges on it.
 *
 * Two acceptance rules, on purpose:
 * - canonicalAddress (the wire's): any address of the family, IPv4-mapped IPv6 included, since a packet may carry one.
 * - parseIp / canonicalIp (configuration's): as strict as Go's net.ParseIP since Go 1.17, which MetalLB uses, and
 *   IPv4-mapped IPv6 (`::ffff:a.b.c.d`) refused: Go would silently treat it as IPv4, and the two families would then
 *   disagree about which pool and VRID space it belongs to.
 * Both refuse "10.1", hex or leading-zero IPv4 (ipaddr.js would take some of them; no one means them as a VIP).
 */
import ipaddr from 'ipaddr.js';
import type { Family } from './advert.ts';

/** IpAddress is a parsed address: its family and its value as an unsigned integer. */
export interface IpAddress {
  readonly family: Family;
  readonly value: bigint;
}

/** ADDRESS_BITS is the width of an address of each family. */
export const ADDRESS_BITS: Readonly<Record<Family, number>> = Object.freeze({ ipv4: 32, ipv6: 128 });

/**
 * dottedTailToHex rewrites an IPv6 text's trailing dotted quad ("::ffff:1.2.3.4") as two hex groups before ipaddr.js
 * sees it: ipaddr.js 2.5 turns "::1.2.3.4" into ::ffff:1.2.3.4 instead of ::102:304 (RFC 4291 §2.5.5), and takes
 * leading zeros or hex in the quad. Returns undefined when the quad is not strict four-part decimal.
 */
function dottedTailToHex(text: string): string | undefined {
  const pct = text.indexOf('%');
  const body = pct >= 0 ? text.slice(0, pct) : text;
  const colon = body.lastIndexOf(':');
  const tail = body.slice(colon + 1);
  if (!tail.includes('.')) return text;
  if (colon < 0 || !ipaddr.IPv4.isValidFourPartDecimal(tail)) return undefined;
  const [a = 0, b = 0, c = 0, d = 0] = ipaddr.IPv4.parse(tail).octets;
  const groups = `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  return body.slice(0, colon + 1) + groups + (pct >= 0 ? text.slice(pct) : '');
}

/**
 * ipBytes turns text of `family` into network-order bytes, or undefined. A zone ("fe80::1%eth0") is allowed only
 * with `allowZone` (a socket end, e.g. a checksum pseudo-header), never for a virtual address.
 */
export function ipBytes(text: unknown, family: Family, allowZone = false): Uint8Array | undefined {
  if (typeof text !== 'string') return undefined;
  try {
    if (family === 'ipv4') {
      return ipaddr.IPv4.isValidFourPartDecimal(text)
        ? Uint8Array.from(ipaddr.IPv4.parse(text).toByteArray())
        : undefined;
    }
    const hex = dottedTailToHex(text);
    if (hex === undefined || !ipaddr.IPv6.isValid(hex)) return undefined;
    const addr = ipaddr.IPv6.parse(hex);
    if (addr.zoneId !== undefined && !allowZone) return undefined;
    return Uint8Array.from(addr.toByteArray());
  } catch {
    return undefined; // isValid should have caught it; never let a parser exception escape
  }
}

/** formatIpBytes renders 4 or 16 bytes at `offset` as canonical text; the caller has checked the length. */
export function formatIpBytes(bytes: Uint8Array, offset: number, family: Family): string {
  const b = bytes;
  const o = offset;
  if (family === 'ipv4') return `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
  const parts: number[] = [];
  for (let i = 0; i < 16; i += 2) parts.push((b[o + i]! << 8) | b[o + i + 1]!);
  const addr = new ipaddr.IPv6(parts);
  // RFC 5952 §5 recommends the mixed form for IPv4-mapped addresses, which ipaddr.js does not produce.
  if (addr.isIPv4MappedAddress()) return `::ffff:${addr.toIPv4Address().toString()}`;
  return addr.toRFC5952String();
}

/** canonicalAddress is the wire's canonical text of `text` as an address of `family` (see the file comment). */
export function canonicalAddress(text: string, family: Family): string | undefined {
  const bytes = ipBytes(text, family);
  return bytes === undefined ? undefined : formatIpBytes(bytes, 0, family);
}

/** parseIp reads configuration text (see the file comment): an address and its integer value, or undefined. */
export function parseIp(text: unknown): IpAddress | undefined {
  if (typeof text !== 'string') return undefined;
  const family: Family = text.includes(':') ? 'ipv6' : 'ipv4';
  const bytes = ipBytes(text, family);
  if (bytes === undefined) return undefined;
  if (family === 'ipv6' && isIpv4Mapped(bytes)) return undefined;
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  return { family, value };
}

/** formatIp prints an address value canonically. */
export function formatIp(family: Family, value: bigint): string {
  const length = ADDRESS_BITS[family] / 8;
  const bytes = new Uint8Array(length);
  let v = value;
  for (let i = length - 1; i >= 0; i--) {
    bytes[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return formatIpBytes(bytes, 0, family);
}

/** canonicalIp is configuration's canonical text of an address of either family, or undefined. */
export function canonicalIp(text: unknown): string | undefined {
  const ip = parseIp(text);
  return ip && formatIp(ip.family, ip.value);
}

/** familyOf is the family of canonical address text. */
export function familyOf(ip: string): Family {
  return ip.includes(':') ? 'ipv6' : 'ipv4';
}

function isIpv4Mapped(bytes: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return false;
  return bytes[10] === 0xff && bytes[11] === 0xff;
}

/** isLinkLocalBytes tells fe80::/10 (RFC 4291 §2.5.6) for 16 bytes at `offset`. */
export function isLinkLocalBytes(bytes: Uint8Array, offset = 0): boolean {
  return bytes[offset] === 0xfe && (bytes[offset + 1]! & 0xc0) === 0x80;
}

/** isLinkLocal tells an IPv6 link-local address (fe80::/10) in text; false for anything else. */
export function isLinkLocal(text: string): boolean {
  const bytes = ipBytes(text, 'ipv6', true);
  return bytes !== undefined && isLinkLocalBytes(bytes);
}

/** inSubnet says whether `ip` lies in `address/prefixLength` (same family; configuration text). */
export function inSubnet(ip: string, address: string, prefixLength: number): boolean {
  const a = parseIp(ip);
  const b = parseIp(address);
  if (!a || !b || a.family !== b.family) return false;
  const bits = BigInt(ADDRESS_BITS[a.family]);
  const len = BigInt(Math.max(0, Math.min(Number(bits), prefixLength)));
  const shift = bits - len;
  return a.value >> shift === b.value >> shift;
}
