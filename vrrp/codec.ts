/**
 * VRRPv3 advertisement codec: bytes ↔ Advert (RFC 5798 §5.2, as revised by RFC 9568 §5.2 and its verified errata).
 * Covers the VRRP packet only — what follows the IP header. TTL / hop limit, protocol number and the IP addresses
 * themselves are the socket layer's to check; they reach the checksum through the PseudoHeader.
 *
 * Both directions return results instead of throwing: decoding sits on the packet hot path and meets bytes from
 * anyone on the link, and encoding failures are configuration mistakes the caller must report, not crash on.
 */

import type { Advert, Family, PseudoHeader } from './advert.ts';
import { internetChecksum, ipv4PseudoHeader, ipv6PseudoHeader } from './checksum.ts';
import { formatIpBytes, ipBytes, isLinkLocalBytes } from './ip.ts';

export { internetChecksum } from './checksum.ts';

/** VRRP_HEADER_LENGTH is the fixed part of an advert, before the addresses (RFC 5798 §5.2). */
export const VRRP_HEADER_LENGTH = 8;

/** ADDRESS_LENGTH is the size of one IPvX Address entry per family (RFC 5798 §5.2.9). */
export const ADDRESS_LENGTH: Readonly<Record<Family, number>> = { ipv4: 4, ipv6: 16 };

/** MAX_ADVERT_INTERVAL_CS is the largest value the 12-bit Max Adver Int field holds (RFC 5798 §5.2.7). */
export const MAX_ADVERT_INTERVAL_CS = 0xfff;

/** MAX_ADDRESSES is the largest count the 8-bit Count IPvX Addr field holds (RFC 5798 §5.2.5). */
export const MAX_ADDRESSES = 255;

// Version 3, type 1 (ADVERTISEMENT): the only first byte this codec writes or accepts (RFC 5798 §5.2.1, §5.2.2).
const VERSION = 3;
const TYPE_ADVERTISEMENT = 1;

/**
 * DECODE_ERRORS lists every reason decodeAdvert rejects a packet, so metrics can pre-register one label per reason.
 * Order follows the checks: structure first, then the checksum (RFC 5798 §7.1), then field values, so a corrupted
 * packet is counted as corrupted rather than as whatever its damaged field happens to say.
 */
export const DECODE_ERRORS = [
  'bad-pseudo-header', // the caller's PseudoHeader does not parse: a programming error, reported rather than thrown
  'truncated', // shorter than the 8-byte fixed header
  'bad-version', // version is not 3 (§5.2.1): VRRPv2 adverts land here
  'bad-type', // type is not 1, ADVERTISEMENT (§5.2.2)
  'count-mismatch', // length is not exactly 8 + count × address size: missing addresses or trailing bytes
  'bad-checksum', // fails with the pseudo-header, and (IPv4) without it too (§5.2.8)
  'zero-vrid', // VRID 0 is outside 1..255 (§5.2.3)
  'zero-count', // no addresses: RFC 9568 §5.2.5 says such an advert MUST be ignored
  'zero-interval', // our choice, not an RFC receive check: interval 0 makes Master_Down_Interval 0 (§6.1) and flaps
  'not-link-local', // IPv6 advert whose first address is not link-local (RFC 9568 §5.2.9, erratum 8300)
] as const;

/** DecodeError is one reason from DECODE_ERRORS. */
export type DecodeError = (typeof DECODE_ERRORS)[number];

/**
 * ChecksumMode says how an accepted advert's checksum was computed. 'no-pseudo-header' is the VRRPv2-style sum some
 * vendors send for IPv4 (keepalived's `v3_checksum_as_v2`, Wireshark's `vrrp.v3_checksum_as_in_v2`); callers count it
 * apart so a mixed network shows up in metrics.
 */
export type ChecksumMode = 'pseudo-header' | 'no-pseudo-header';

/** DecodeResult is an accepted advert with its checksum mode, or a reason from DECODE_ERRORS with a human detail. */
export type DecodeResult =
  | { readonly ok: true; readonly advert: Advert; readonly checksum: ChecksumMode }
  | { readonly ok: false; readonly reason: DecodeError; readonly detail: string };

/** ENCODE_ERRORS lists why encodeAdvert refuses an advert; each is a caller or configuration mistake. */
export const ENCODE_ERRORS = [
  'bad-pseudo-header', // family unknown, or source / destination not an address of that family
  'bad-vrid', // not an integer in 1..255 (§5.2.3)
  'bad-priority', // not an integer in 0..255 (§5.2.4)
  'bad-interval', // not an integer in 1..4095 centiseconds (§5.2.7)
  'bad-count', // fewer than 1 or more than 255 addresses (§5.2.5)
  'bad-address', // an address that does not parse in the family, or carries an IPv6 zone
  'not-link-local', // IPv6 list not led by a link-local address (RFC 9568 §5.2.9)
] as const;

/** EncodeError is one reason from ENCODE_ERRORS. */
export type EncodeError = (typeof ENCODE_ERRORS)[number];

/** EncodeResult is the VRRP packet ready to follow an IP header, or why it could not be built. */
export type EncodeResult =
  | { readonly ok: true; readonly packet: Buffer }
  | { readonly ok: false; readonly reason: EncodeError; readonly detail: string };

export type Failure<R> = { readonly ok: false; readonly reason: R; readonly detail: string };

function fail<R>(reason: R, detail: string): Failure<R> {
  return { ok: false, reason, detail };
}

/** pseudoHeader builds the checksum prefix for a VRRP packet of `length` bytes, or undefined if ph does not parse. */
export function pseudoHeader(ph: PseudoHeader, length: number): Uint8Array | undefined {
  if (ph.family !== 'ipv4' && ph.family !== 'ipv6') return undefined;
  const source = ipBytes(ph.source, ph.family, true);
  const destination = ipBytes(ph.destination, ph.family, true);
  if (source === undefined || destination === undefined) return undefined;
  return ph.family === 'ipv4'
    ? ipv4PseudoHeader(source, destination, length)
    : ipv6PseudoHeader(source, destination, length);
}

function isIntIn(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

/** buildPacket lays out the advert with a zero checksum field (RFC 5798 §5.2), validating every field on the way. */
export function buildPacket(advert: Advert, family: Family): EncodeResult {
  if (!isIntIn(advert.vrid, 1, 255)) return fail('bad-vrid', `vrid ${advert.vrid} is not in 1..255`);
  if (!isIntIn(advert.priority, 0, 255)) return fail('bad-priority', `priority ${advert.priority} is not in 0..255`);
  if (!isIntIn(advert.maxAdvertIntervalCs, 1, MAX_ADVERT_INTERVAL_CS)) {
    return fail('bad-interval', `interval ${advert.maxAdvertIntervalCs} cs is not in 1..${MAX_ADVERT_INTERVAL_CS}`);
  }
  const addresses = Array.isArray(advert.addresses) ? advert.addresses : [];
  if (addresses.length < 1 || addresses.length > MAX_ADDRESSES) {
    return fail('bad-count', `${addresses.length} addresses, want 1..${MAX_ADDRESSES}`);
  }
  const size = ADDRESS_LENGTH[family];
  const packet = Buffer.alloc(VRRP_HEADER_LENGTH + addresses.length * size);
  packet[0] = (VERSION << 4) | TYPE_ADVERTISEMENT;
  packet[1] = advert.vrid;
  packet[2] = advert.priority;
  packet[3] = addresses.length;
  packet.writeUInt16BE(advert.maxAdvertIntervalCs, 4); // the 4 reserved bits stay 0 (§5.2.6): interval < 2^12
  for (const [i, text] of addresses.entries()) {
    const bytes = ipBytes(text, family, false);
    if (bytes === undefined) return fail('bad-address', `address #${i + 1} ${JSON.stringify(text)} is not ${family}`);
    packet.set(bytes, VRRP_HEADER_LENGTH + i * size);
  }
  if (family === 'ipv6' && !isLinkLocalBytes(packet, VRRP_HEADER_LENGTH)) {
    return fail('not-link-local', `first IPv6 address ${addresses[0]} is not link-local (fe80::/10)`);
  }
  return { ok: true, packet };
}

/**
 * encodeAdvert builds the VRRP packet for `advert` with the RFC 5798 §5.2.8 checksum over `ph` and the packet.
 * Addresses may be any text form of the family; decodeAdvert gives them back canonical (see canonicalAddress).
 */
export function encodeAdvert(advert: Advert, ph: PseudoHeader): EncodeResult {
  if (ph.family !== 'ipv4' && ph.family !== 'ipv6') return fail('bad-pseudo-header', `unknown family ${ph.family}`);
  const built = buildPacket(advert, ph.family);
  if (!built.ok) return built;
  const prefix = pseudoHeader(ph, built.packet.length);
  if (prefix === undefined) {
    return fail('bad-pseudo-header', `source ${ph.source} / destination ${ph.destination} are not ${ph.family}`);
  }
  built.packet.writeUInt16BE(internetChecksum(prefix, built.packet), 6);
  return built;
}

/**
 * encodeAdvertWithoutPseudoHeader builds the packet with the VRRPv2-style checksum over the packet alone, as sent by
 * peers configured with keepalived's `v3_checksum_as_v2` and some vendors. decodeAdvert accepts it for IPv4 only (and
 * flags it); it exists for tests and for talking to such IPv4 peers, never for IPv6.
 */
export function encodeAdvertWithoutPseudoHeader(advert: Advert, family: Family): EncodeResult {
  if (family !== 'ipv4' && family !== 'ipv6') return fail('bad-pseudo-header', `unknown family ${family}`);
  const built = buildPacket(advert, family);
  if (!built.ok) return built;
  built.packet.writeUInt16BE(internetChecksum(built.packet), 6);
  return built;
}

/** hex16 renders a checksum for details, e.g. 0x0a1f. */
function hex16(value: number): string {
  return `0x${value.toString(16).padStart(4, '0')}`;
}

/**
 * decodeAdvert validates and parses the VRRP packet `buf` (exactly the IP payload) received with pseudo-header `ph`.
 * Never throws and never reads past `buf`. The VRRP length is the whole buffer: VRRPv3 has no authentication data
 * (RFC 5798 §5.2 dropped it), so bytes after the addresses mean the count or the length is wrong and the packet is
 * refused — RFC 5798 §7.1 asks for the complete packet, and we will not guess which of the two fields lies.
 * Checksum (RFC 5798 §5.2.8): with the pseudo-header first; for IPv4 only, a sum over the packet alone is accepted
 * and reported as 'no-pseudo-header'. IPv6 has never had a pseudo-header-less variant, so it gets no such leniency.
 * The reserved bits beside the interval are ignored (§5.2.6).
 */
export function decodeAdvert(buf: Uint8Array, ph: PseudoHeader): DecodeResult {
  if (ph.family !== 'ipv4' && ph.family !== 'ipv6') return fail('bad-pseudo-header', `unknown family ${ph.family}`);
  const family = ph.family;
  const prefix = pseudoHeader(ph, buf.length);
  if (prefix === undefined) {
    return fail('bad-pseudo-header', `source ${ph.source} / destination ${ph.destination} are not ${family}`);
  }
  if (buf.length < VRRP_HEADER_LENGTH) return fail('truncated', `${buf.length} bytes, fixed header needs 8`);
  const first = buf[0]!;
  if (first >> 4 !== VERSION) return fail('bad-version', `version ${first >> 4}, want ${VERSION}`);
  if ((first & 0x0f) !== TYPE_ADVERTISEMENT) return fail('bad-type', `type ${first & 0x0f}, want 1`);
  const count = buf[3]!;
  const size = ADDRESS_LENGTH[family];
  const want = VRRP_HEADER_LENGTH + count * size;
  if (buf.length !== want) {
    return fail('count-mismatch', `${count} ${family} addresses need ${want} bytes, packet has ${buf.length}`);
  }

  let checksum: ChecksumMode = 'pseudo-header';
  if (internetChecksum(prefix, buf) !== 0) {
    if (family === 'ipv4' && internetChecksum(buf) === 0) checksum = 'no-pseudo-header';
    else return fail('bad-checksum', checksumDetail(buf, prefix, family));
  }

  const fields = decodeFields(buf, family);
  return fields.ok ? { ok: true, advert: fields.advert, checksum } : fields;
}

/**
 * decodeFields checks the field values and reads the advert from `buf`, whose structure (version, type, a length
 * holding `count` addresses) and integrity were already checked; bytes past the addresses are not looked at (an
 * authenticated advert's trailer, vrrp/auth.ts).
 */
export function decodeFields(
  buf: Uint8Array,
  family: Family,
): { readonly ok: true; readonly advert: Advert } | Failure<DecodeError> {
  const count = buf[3]!;
  const size = ADDRESS_LENGTH[family];
  const vrid = buf[1]!;
  if (vrid === 0) return fail('zero-vrid', 'vrid 0 is not in 1..255');
  if (count === 0) return fail('zero-count', 'no addresses: RFC 9568 §5.2.5 says ignore the advert');
  const interval = ((buf[4]! & 0x0f) << 8) | buf[5]!;
  if (interval === 0) return fail('zero-interval', 'max advert interval 0 cs');
  if (family === 'ipv6' && !isLinkLocalBytes(buf, VRRP_HEADER_LENGTH)) {
    return fail('not-link-local', `first address ${formatIpBytes(buf, VRRP_HEADER_LENGTH, family)} is not link-local`);
  }

  const addresses: string[] = [];
  for (let i = 0; i < count; i++) addresses.push(formatIpBytes(buf, VRRP_HEADER_LENGTH + i * size, family));
  return { ok: true, advert: { vrid, priority: buf[2]!, maxAdvertIntervalCs: interval, addresses } };
}

/** checksumDetail names the received and the expected checksum, so an operator can tell a mode mismatch from noise. */
function checksumDetail(buf: Uint8Array, prefix: Uint8Array, family: Family): string {
  const received = (buf[6]! << 8) | buf[7]!;
  const zeroed = Uint8Array.from(buf);
  zeroed[6] = 0;
  zeroed[7] = 0;
  const withPseudo = hex16(internetChecksum(prefix, zeroed));
  if (family === 'ipv6') return `checksum ${hex16(received)}, want ${withPseudo}`;
  return `checksum ${hex16(received)}, want ${withPseudo} (or ${hex16(internetChecksum(zeroed))} without pseudo-header)`;
}
