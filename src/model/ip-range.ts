/**
 * Address arithmetic for pools: parse and print addresses, parse `spec.addresses` entries (CIDR or `a-b` range), count
 * addresses and find the first usable one — all without enumerating a range. Both families are held as BigInt so one
 * code path serves IPv4 and IPv6 (a /64 is 2^64 addresses: counting it must be arithmetic, never a loop).
 */
import type { Family } from '../../vrrp/advert.ts';
import { ADDRESS_BITS, type IpAddress, parseIp } from '../../vrrp/ip.ts';

/** IpRange is one `spec.addresses` entry as an inclusive interval of one family; `text` is the entry as written. */
export interface IpRange {
  readonly family: Family;
  readonly first: bigint;
  readonly last: bigint;
  readonly text: string;
}

/** RangeParse is the result of parseRange: a range, or why the text is not one. */
export type RangeParse = { readonly range: IpRange } | { readonly error: string };

/**
 * parseRange reads one `spec.addresses` entry: `192.0.2.0/24`, `2001:db8::/64`, or `192.0.2.10-192.0.2.20` (spaces
 * around the dash allowed, as in MetalLB). Host bits in a CIDR are masked off, as Go's net.ParseCIDR does, so
 * `192.0.2.7/24` means 192.0.2.0/24. A reversed range and a range mixing families are errors.
 */
export function parseRange(raw: string): RangeParse {
  const text = raw.trim();
  if (text.includes('/')) return parseCidr(text);
  if (!text.includes('-')) {
    return { error: `"${raw}" is neither a CIDR nor a start-end range (a single address is written as a /32 or /128)` };
  }
  const dash = text.indexOf('-');
  const start = parseIp(text.slice(0, dash).trim());
  const end = parseIp(text.slice(dash + 1).trim());
  if (!start) return { error: `invalid start address in range "${raw}"` };
  if (!end) return { error: `invalid end address in range "${raw}"` };
  if (start.family !== end.family) return { error: `range "${raw}" mixes IPv4 and IPv6` };
  if (start.value > end.value) return { error: `range "${raw}" is reversed: its start is after its end` };
  return { range: { family: start.family, first: start.value, last: end.value, text: raw } };
}

/** parseCidr reads `address/length`; the length is decimal without sign or leading zeros. */
function parseCidr(text: string): RangeParse {
  const slash = text.indexOf('/');
  const ip = parseIp(text.slice(0, slash));
  const lenText = text.slice(slash + 1);
  if (!ip) return { error: `invalid address in CIDR "${text}"` };
  const bits = ADDRESS_BITS[ip.family];
  if (!/^(0|[1-9]\d{0,2})$/.test(lenText) || Number(lenText) > bits) {
    return { error: `invalid prefix length in CIDR "${text}" (0-${bits} for ${ip.family})` };
  }
  const hostBits = BigInt(bits - Number(lenText));
  const hostMask = (1n << hostBits) - 1n;
  const first = ip.value & ~hostMask;
  return { range: { family: ip.family, first, last: first | hostMask, text } };
}

/** rangeSize is the number of addresses in the range, buggy ones included. */
export function rangeSize(r: IpRange): bigint {
  return r.last - r.first + 1n;
}

/**
 * isBuggy is MetalLB's `ipConfusesBuggyFirmwares`: any IPv4 address whose last octet is 0 or 255 — regardless of the
 * range's prefix length or /24 alignment — because old CPE smurf protection drops them. IPv6 is never buggy.
 */
export function isBuggy(family: Family, value: bigint): boolean {
  if (family !== 'ipv4') return false;
  const octet = value & 255n;
  return octet === 0n || octet === 255n;
}

/** countResidue counts the x in [0, n] with x mod 256 == residue; 0 for n < 0. */
function countResidue(n: bigint, residue: bigint): bigint {
  return n < residue ? 0n : (n - residue) / 256n + 1n;
}

/** buggyCount counts the .0 and .255 addresses in an IPv4 range arithmetically (0 for IPv6). */
export function buggyCount(r: IpRange): bigint {
  if (r.family !== 'ipv4') return 0n;
  const inRange = (residue: bigint) => countResidue(r.last, residue) - countResidue(r.first - 1n, residue);
  return inRange(0n) + inRange(255n);
}

/** usableCount is how many addresses of the range may be handed out. */
export function usableCount(r: IpRange, avoidBuggyIPs: boolean): bigint {
  return avoidBuggyIPs ? rangeSize(r) - buggyCount(r) : rangeSize(r);
}

/** rangeContains says whether the address lies in the range (same family, inside the bounds). */
export function rangeContains(r: IpRange, ip: IpAddress): boolean {
  return r.family === ip.family && ip.value >= r.first && ip.value <= r.last;
}

/** rangesOverlap says whether two ranges share at least one address. */
export function rangesOverlap(a: IpRange, b: IpRange): boolean {
  return a.family === b.family && a.first <= b.last && b.first <= a.last;
}

/**
 * firstUsable returns the lowest address of the range, from its start, that is not buggy (when avoided) and either not
 * in use or in use but acceptable to share — MetalLB's "first free in order". Cost: one step per address that is in use
 * (plus at most two buggy skips between them), so O(used), never O(range): `inUse` must be a set lookup, and only
 * addresses in use are offered to `shareable`. `from` lets a caller that knows every address below it is taken start
 * there (the allocator's per-range watermark, which makes sequential allocation O(1) amortized).
 */
export function firstUsable(
  r: IpRange,
  avoidBuggyIPs: boolean,
  inUse: (value: bigint) => boolean,
  shareable: (value: bigint) => boolean,
  from: bigint = r.first,
): bigint | undefined {
  for (let v = from > r.first ? from : r.first; v <= r.last; v++) {
    if (avoidBuggyIPs && isBuggy(r.family, v)) continue;
    if (!inUse(v) || shareable(v)) return v;
  }
  return undefined;
}

/** toSafeNumber turns a count into a JS number, saturating at 2^53-1 the way MetalLB saturates at MaxInt64. */
export function toSafeNumber(n: bigint): number {
  return n > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(n);
}
