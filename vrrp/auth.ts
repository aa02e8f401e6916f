/**
 * Authenticated VRRPv3 adverts (metal-vrrp's own extension; VRRPv3 itself has none, RFC 5798 §9 removed the
 * VRRPv2 authentication fields). An authenticated advert is a complete VRRPv3 advert followed by a 48-byte trailer:
 *
 *   offset  size  field
 *   0       2     magic 0x4d56 ("MV")
 *   2       1     trailer version, 1
 *   3       1     reserved, 0
 *   4       4     key id: the first 4 bytes of HMAC-SHA-256(key, "metal-vrrp key id"), so a receiver picks the key
 *   8       8     counter: strictly increasing per sender (microseconds of wall time, bumped when equal), big-endian
 *   16      32    HMAC-SHA-256(key, pseudo-header ‖ VRRP packet with checksum 0 ‖ trailer bytes 0..15)
 *
 * The pseudo-header (RFC 5798 §5.2.8) carries source, destination and the total VRRP length (trailer included), so
 * a captured advert cannot be re-sent from another address or to another peer. The VRRP checksum covers the whole
 * payload, trailer included, computed after the MAC. The Count field still counts addresses only, so the trailer is
 * plainly "extra bytes after the addresses": a receiver that checks the length exactly (ours without a key: a
 * `count-mismatch`) refuses it, which keeps authenticated and unauthenticated speakers clearly apart rather than
 * half-interoperating.
 *
 * Pure: the MAC function is injected (node:crypto lives at the edge, src/speaker/auth/), and replay is judged by
 * ReplayGuard (replay.ts) with the counter decoded here.
 */

import type { Advert, Family, PseudoHeader } from './advert.ts';
import { internetChecksum } from './checksum.ts';
import {
  ADDRESS_LENGTH,
  buildPacket,
  type DecodeError,
  decodeAdvert,
  decodeFields,
  type EncodeResult,
  type Failure,
  pseudoHeader,
  VRRP_HEADER_LENGTH,
} from './codec.ts';

/** AUTH_TRAILER_LENGTH is the size of the trailer after the addresses (see the file comment). */
export const AUTH_TRAILER_LENGTH = 48;
const MAGIC = 0x4d56;
const TRAILER_VERSION = 1;
const SIGNED_TRAILER = 16; // magic, version, reserved, key id, counter: what the MAC covers of the trailer
const MAC_LENGTH = 32;

/** KEY_ID_LABEL is the message whose MAC names a key (its first 4 bytes are the key id). */
export const KEY_ID_LABEL = new TextEncoder().encode('metal-vrrp key id');

/** Mac is HMAC-SHA-256 under one key over the concatenated chunks (32 bytes). Injected so vrrp/ stays pure. */
export type Mac = (chunks: readonly Uint8Array[]) => Uint8Array;

/** AuthKey is one key as the codec uses it: its id (uint32) and its MAC function. */
export interface AuthKey {
  readonly id: number;
  readonly mac: Mac;
}

/** authKey derives the key id from the MAC function itself (see KEY_ID_LABEL). */
export function authKey(mac: Mac): AuthKey {
  const tag = mac([KEY_ID_LABEL]);
  const id = ((tag[0]! << 24) | (tag[1]! << 16) | (tag[2]! << 8) | tag[3]!) >>> 0;
  return Object.freeze({ id, mac });
}

/** AUTH_ERRORS lists why an advert for an authenticated router is refused beyond the codec's own reasons. */
export const AUTH_ERRORS = [
  'auth-missing', // a well-formed advert without the trailer: someone without the key (or not configured for it)
  'auth-malformed', // trailer present but magic or version wrong
  'auth-unknown-key', // key id is neither the current nor the previous key
  'auth-bad-mac', // the MAC does not verify: forged or altered
  'auth-replay', // counter not above the last one accepted from that sender (judged by ReplayGuard)
] as const;

/** AuthError is one reason from AUTH_ERRORS. */
export type AuthError = (typeof AUTH_ERRORS)[number];

/** AuthDecodeResult is a verified advert with its key id and counter, or why it was refused. */
export type AuthDecodeResult =
  | { readonly ok: true; readonly advert: Advert; readonly keyId: number; readonly counter: bigint }
  | Failure<DecodeError | AuthError>;

const fail = <R>(reason: R, detail: string): Failure<R> => ({ ok: false, reason, detail });

/**
 * encodeAuthenticatedAdvert builds the advert, its trailer under `key` with `counter` (uint64), and the checksum over
 * everything. The caller keeps the counter strictly increasing (see the file comment).
 */
export function encodeAuthenticatedAdvert(
  advert: Advert,
  ph: PseudoHeader,
  key: AuthKey,
  counter: bigint,
): EncodeResult {
  if (ph.family !== 'ipv4' && ph.family !== 'ipv6') return fail('bad-pseudo-header', `unknown family ${ph.family}`);
  const built = buildPacket(advert, ph.family);
  if (!built.ok) return built;
  const body = built.packet;
  const packet = Buffer.alloc(body.length + AUTH_TRAILER_LENGTH);
  packet.set(body, 0);
  const prefix = pseudoHeader(ph, packet.length);
  if (prefix === undefined) {
    return fail('bad-pseudo-header', `source ${ph.source} / destination ${ph.destination} are not ${ph.family}`);
  }
  const t = body.length;
  packet.writeUInt16BE(MAGIC, t);
  packet[t + 2] = TRAILER_VERSION;
  packet.writeUInt32BE(key.id >>> 0, t + 4);
  packet.writeBigUInt64BE(BigInt.asUintN(64, counter), t + 8);
  const tag = key.mac([prefix, packet.subarray(0, t + SIGNED_TRAILER)]);
  packet.set(tag.subarray(0, MAC_LENGTH), t + SIGNED_TRAILER);
  packet.writeUInt16BE(internetChecksum(prefix, packet), 6);
  return { ok: true, packet };
}

/** equalBytes compares without an early exit, so timing does not tell how much of a forged MAC was right. */
function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/**
 * decodeAuthenticatedAdvert checks an advert for a router that requires authentication, accepting any of `keys`
 * (the current and, during a rotation, the previous one). Never throws. Order: structure (the codec's reasons), a
 * missing trailer, the checksum over the whole payload, the trailer, the key, the MAC, then the field values.
 */
export function decodeAuthenticatedAdvert(
  buf: Uint8Array,
  ph: PseudoHeader,
  keys: readonly AuthKey[],
): AuthDecodeResult {
  if (ph.family !== 'ipv4' && ph.family !== 'ipv6') return fail('bad-pseudo-header', `unknown family ${ph.family}`);
  const family: Family = ph.family;
  if (buf.length < VRRP_HEADER_LENGTH) return decodePlain(buf, ph);
  const bodyLength = VRRP_HEADER_LENGTH + buf[3]! * ADDRESS_LENGTH[family];
  if (buf.length !== bodyLength + AUTH_TRAILER_LENGTH) return decodePlain(buf, ph);
  const first = buf[0]!;
  if (first >> 4 !== 3 || (first & 0x0f) !== 1) return decodePlain(buf, ph); // version / type reasons
  const prefix = pseudoHeader(ph, buf.length);
  if (prefix === undefined) {
    return fail('bad-pseudo-header', `source ${ph.source} / destination ${ph.destination} are not ${family}`);
  }
  if (internetChecksum(prefix, buf) !== 0) return fail('bad-checksum', 'checksum over advert and trailer fails');
  const t = bodyLength;
  const magic = (buf[t]! << 8) | buf[t + 1]!;
  if (magic !== MAGIC || buf[t + 2] !== TRAILER_VERSION) {
    return fail('auth-malformed', `trailer magic 0x${magic.toString(16)} version ${buf[t + 2]}`);
  }
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const keyId = view.getUint32(t + 4);
  const key = keys.find((k) => k.id >>> 0 === keyId);
  if (key === undefined) return fail('auth-unknown-key', `key id ${keyId.toString(16).padStart(8, '0')}`);
  const signed = Uint8Array.from(buf.subarray(0, t + SIGNED_TRAILER));
  signed[6] = 0; // the MAC was computed before the checksum
  signed[7] = 0;
  const want = key.mac([prefix, signed]).subarray(0, MAC_LENGTH);
  if (!equalBytes(want, buf.subarray(t + SIGNED_TRAILER, t + AUTH_TRAILER_LENGTH))) {
    return fail('auth-bad-mac', `MAC does not verify under key ${keyId.toString(16).padStart(8, '0')}`);
  }
  const fields = decodeFields(buf, family);
  if (!fields.ok) return fields;
  return { ok: true, advert: fields.advert, keyId, counter: view.getBigUint64(t + 8) };
}

/** decodePlain names what is wrong with a packet without a well-placed trailer: a codec reason, or auth-missing. */
function decodePlain(buf: Uint8Array, ph: PseudoHeader): Failure<DecodeError | AuthError> {
  const plain = decodeAdvert(buf, ph);
  if (!plain.ok) return plain;
  return fail('auth-missing', `advert for VRID ${plain.advert.vrid} carries no authentication trailer`);
}
