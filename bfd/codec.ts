/**
 * BFD Control packet codec: bytes ↔ ControlPacket (RFC 5880 §4.1). Covers the UDP payload only; TTL / hop limit and
 * ports (RFC 5881) are the socket edge's to check.
 *
 * decodeControl applies every reception check of RFC 5880 §6.8.6 that needs no session state, in the RFC's order,
 * each as a named reason; the checks that need the session (Your Discriminator lookup, the A bit against
 * bfd.AuthType, local AdminDown) are in session.ts. Neither direction throws: decoding meets bytes from anyone on
 * the link, and an encoding failure is a caller's mistake to report.
 */

import { type ControlPacket, SESSION_STATES } from './packet.ts';

/** CONTROL_LENGTH is a Control packet without authentication section (RFC 5880 §4.1). */
export const CONTROL_LENGTH = 24;

/** MIN_AUTH_LENGTH is the least Length with the A bit set: 24 + Auth Type + Auth Len (RFC 5880 §6.8.6). */
export const MIN_AUTH_LENGTH = 26;

const VERSION = 1;
const MAX_U32 = 0xffffffff;

/**
 * DECODE_ERRORS lists why decodeControl discards bytes, in the order of RFC 5880 §6.8.6, so metrics can pre-register
 * one label per reason.
 */
export const DECODE_ERRORS = [
  'truncated', // fewer than 4 bytes: not even the Length field
  'bad-version', // "If the version number is not correct (1), the packet MUST be discarded."
  'length-too-short', // "If the Length field is less than the minimum correct value (24 if the A bit is clear, or 26 if the A bit is set)"
  'length-exceeds-payload', // "If the Length field is greater than the payload of the encapsulating protocol"
  'zero-detect-mult', // "If the Detect Mult field is zero"
  'multipoint', // "If the Multipoint (M) bit is nonzero"
  'zero-my-discriminator', // "If the My Discriminator field is zero"
  'zero-your-discriminator', // "If the Your Discriminator field is zero and the State field is not Down or AdminDown"
] as const;

/** DecodeError is one reason from DECODE_ERRORS. */
export type DecodeError = (typeof DECODE_ERRORS)[number];

/** DecodeResult is an accepted packet, or a reason with a human detail. */
export type DecodeResult =
  | { readonly ok: true; readonly packet: ControlPacket }
  | { readonly ok: false; readonly reason: DecodeError; readonly detail: string };

/** ENCODE_ERRORS lists why encodeControl refuses a packet; each is a caller's mistake. */
export const ENCODE_ERRORS = [
  'bad-diag', // not an integer in 0..31
  'bad-state', // not one of SESSION_STATES
  'bad-detect-mult', // not an integer in 1..255 (a zero would be discarded by every receiver, §6.8.6)
  'bad-discriminator', // My Discriminator not in 1..2^32-1, or Your Discriminator not in 0..2^32-1 (§6.8.1)
  'bad-interval', // an interval not an integer in 0..2^32-1 µs
  'poll-and-final', // "A BFD Control packet MUST NOT have both the Poll (P) and Final (F) bits set" (§6.5)
  'unsupported-bit', // A or M set: we send no authentication (§6.7) and M is reserved (§4.1)
] as const;

/** EncodeError is one reason from ENCODE_ERRORS. */
export type EncodeError = (typeof ENCODE_ERRORS)[number];

/** EncodeResult is the 24-byte UDP payload, or why it could not be built. */
export type EncodeResult =
  | { readonly ok: true; readonly bytes: Buffer }
  | { readonly ok: false; readonly reason: EncodeError; readonly detail: string };

function isIntIn(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

function fail<R>(reason: R, detail: string): { readonly ok: false; readonly reason: R; readonly detail: string } {
  return { ok: false, reason, detail };
}

/** encodeControl lays out `p` as RFC 5880 §4.1 has it, Length 24 (no authentication section). */
export function encodeControl(p: ControlPacket): EncodeResult {
  if (!isIntIn(p.diag, 0, 31)) return fail('bad-diag', `diag ${p.diag} is not in 0..31`);
  const state = SESSION_STATES.indexOf(p.state);
  if (state < 0) return fail('bad-state', `state ${JSON.stringify(p.state)}`);
  if (!isIntIn(p.detectMult, 1, 255)) return fail('bad-detect-mult', `detect mult ${p.detectMult} is not in 1..255`);
  if (!isIntIn(p.myDiscriminator, 1, MAX_U32)) {
    return fail('bad-discriminator', `my discriminator ${p.myDiscriminator} is not in 1..2^32-1`);
  }
  if (!isIntIn(p.yourDiscriminator, 0, MAX_U32)) {
    return fail('bad-discriminator', `your discriminator ${p.yourDiscriminator} is not in 0..2^32-1`);
  }
  for (const [name, v] of [
    ['desired min tx', p.desiredMinTxUs],
    ['required min rx', p.requiredMinRxUs],
    ['required min echo rx', p.requiredMinEchoRxUs],
  ] as const) {
    if (!isIntIn(v, 0, MAX_U32)) return fail('bad-interval', `${name} ${v} µs is not in 0..2^32-1`);
  }
  if (p.poll && p.final) return fail('poll-and-final', 'P and F both set');
  if (p.authenticationPresent || p.multipoint) return fail('unsupported-bit', 'A or M set');
  const buf = Buffer.alloc(CONTROL_LENGTH);
  buf[0] = (VERSION << 5) | p.diag;
  buf[1] =
    (state << 6) |
    (p.poll ? 0x20 : 0) |
    (p.final ? 0x10 : 0) |
    (p.controlPlaneIndependent ? 0x08 : 0) |
    (p.demand ? 0x02 : 0);
  buf[2] = p.detectMult;
  buf[3] = CONTROL_LENGTH;
  buf.writeUInt32BE(p.myDiscriminator, 4);
  buf.writeUInt32BE(p.yourDiscriminator, 8);
  buf.writeUInt32BE(p.desiredMinTxUs, 12);
  buf.writeUInt32BE(p.requiredMinRxUs, 16);
  buf.writeUInt32BE(p.requiredMinEchoRxUs, 20);
  return { ok: true, bytes: buf };
}

/**
 * decodeControl validates and parses `buf`, exactly the UDP payload. Never throws, never reads past `buf`. Bytes
 * after Length are ignored (§6.8.6 only discards a Length greater than the payload); the authentication section of a
 * packet with the A bit is not parsed, since the session discards it anyway (we use no authentication).
 */
export function decodeControl(buf: Uint8Array): DecodeResult {
  if (buf.length < 4) return fail('truncated', `${buf.length} bytes`);
  const version = buf[0]! >> 5;
  if (version !== VERSION) return fail('bad-version', `version ${version}, want 1`);
  const flags = buf[1]!;
  const auth = (flags & 0x04) !== 0;
  const length = buf[3]!;
  const min = auth ? MIN_AUTH_LENGTH : CONTROL_LENGTH;
  if (length < min) return fail('length-too-short', `length ${length}, want at least ${min}`);
  if (length > buf.length) return fail('length-exceeds-payload', `length ${length}, payload ${buf.length} bytes`);
  const detectMult = buf[2]!;
  if (detectMult === 0) return fail('zero-detect-mult', 'detect mult 0');
  if ((flags & 0x01) !== 0) return fail('multipoint', 'M bit set');
  const view = new DataView(buf.buffer, buf.byteOffset, buf.length);
  const myDiscriminator = view.getUint32(4);
  if (myDiscriminator === 0) return fail('zero-my-discriminator', 'my discriminator 0');
  const state = SESSION_STATES[flags >> 6]!;
  const yourDiscriminator = view.getUint32(8);
  if (yourDiscriminator === 0 && state !== 'down' && state !== 'admin-down') {
    return fail('zero-your-discriminator', `your discriminator 0 in state ${state}`);
  }
  return {
    ok: true,
    packet: {
      diag: buf[0]! & 0x1f,
      state,
      poll: (flags & 0x20) !== 0,
      final: (flags & 0x10) !== 0,
      controlPlaneIndependent: (flags & 0x08) !== 0,
      authenticationPresent: auth,
      demand: (flags & 0x02) !== 0,
      multipoint: false,
      detectMult,
      myDiscriminator,
      yourDiscriminator,
      desiredMinTxUs: view.getUint32(12),
      requiredMinRxUs: view.getUint32(16),
      requiredMinEchoRxUs: view.getUint32(20),
    },
  };
}
