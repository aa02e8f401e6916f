/**
 * Valid VRRPv3 adverts laid out byte by byte for the fuzz tests (not through the codec under test), and the checksum
 * repair they use. Pseudo-header: 192.0.2.1 → 224.0.0.18 (IPv4), fe80::1 → ff02::12 (IPv6).
 */

import type { Family } from '../../vrrp/advert.ts';
import { internetChecksum, ipv4PseudoHeader, ipv6PseudoHeader } from '../../vrrp/checksum.ts';
import type { FuzzRng } from './fuzz.ts';

/** PREFIX_BYTES are the pseudo-header's source and destination per family. */
export const PREFIX_BYTES: Record<Family, [Uint8Array, Uint8Array]> = {
  ipv4: [Uint8Array.of(192, 0, 2, 1), Uint8Array.of(224, 0, 0, 18)],
  ipv6: [
    Uint8Array.of(0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1),
    Uint8Array.of(0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12),
  ],
};
/** ADDRESS_SIZE is one address entry's size per family (§5.2.9). */
export const ADDRESS_SIZE: Record<Family, number> = { ipv4: 4, ipv6: 16 };

/** sealChecksum writes the §5.2.8 checksum over the pseudo-header and the packet (no-op when too short). */
export function sealChecksum(family: Family, buf: Buffer): void {
  if (buf.length < 8) return;
  buf.writeUInt16BE(0, 6);
  const [src, dst] = PREFIX_BYTES[family];
  const prefix = family === 'ipv4' ? ipv4PseudoHeader(src, dst, buf.length) : ipv6PseudoHeader(src, dst, buf.length);
  buf.writeUInt16BE(internetChecksum(prefix, buf), 6);
}

/** validAdvert lays out a valid advert byte by byte (not through the codec under test). */
export function validAdvert(family: Family, rng: FuzzRng): Buffer {
  const size = ADDRESS_SIZE[family];
  const count = rng.int(1, family === 'ipv4' ? 8 : 4);
  const buf = Buffer.alloc(8 + count * size);
  buf[0] = 0x31;
  buf[1] = rng.int(1, 255);
  buf[2] = rng.below(256);
  buf[3] = count;
  buf.writeUInt16BE(rng.int(1, 4095), 4);
  rng.bytes(count * size).copy(buf, 8);
  if (family === 'ipv6') {
    buf[8] = 0xfe; // RFC 9568 §5.2.9: the first IPv6 address is link-local
    buf[9] = 0x80 | (buf[9]! & 0x3f);
  }
  sealChecksum(family, buf);
  return buf;
}
