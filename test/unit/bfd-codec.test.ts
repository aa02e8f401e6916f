import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CONTROL_LENGTH, DECODE_ERRORS, type DecodeError, decodeControl, encodeControl } from '../../bfd/codec.ts';
import type { ControlPacket } from '../../bfd/packet.ts';

const BASE: ControlPacket = {
  diag: 0,
  state: 'up',
  poll: false,
  final: false,
  controlPlaneIndependent: false,
  authenticationPresent: false,
  demand: false,
  multipoint: false,
  detectMult: 3,
  myDiscriminator: 0x01020304,
  yourDiscriminator: 0xa0b0c0d0,
  desiredMinTxUs: 10_000,
  requiredMinRxUs: 20_000,
  requiredMinEchoRxUs: 0,
};

function bytes(p: ControlPacket): Buffer {
  const r = encodeControl(p);
  assert.ok(r.ok, JSON.stringify(r));
  return r.bytes;
}

describe('encodeControl', () => {
  test('lays out RFC 5880 §4.1 bit for bit', () => {
    const b = bytes({ ...BASE, diag: 3, state: 'init', poll: true });
    assert.equal(
      b.toString('hex'),
      [
        '23', // version 1, diag 3
        'a0', // state 2 (Init) << 6 | P
        '03', // detect mult
        '18', // length 24
        '01020304',
        'a0b0c0d0',
        '00002710', // 10 000 µs
        '00004e20', // 20 000 µs
        '00000000',
      ].join(''),
    );
  });

  test('F, C and D bits land where §4.1 puts them', () => {
    assert.equal(bytes({ ...BASE, final: true })[1], 0xd0);
    assert.equal(bytes({ ...BASE, controlPlaneIndependent: true })[1], 0xc8);
    assert.equal(bytes({ ...BASE, demand: true })[1], 0xc2);
    assert.equal(bytes({ ...BASE, state: 'admin-down', yourDiscriminator: 0 })[1], 0x00);
  });

  const refusals: { name: string; p: ControlPacket; reason: string }[] = [
    { name: 'diag 32', p: { ...BASE, diag: 32 }, reason: 'bad-diag' },
    { name: 'unknown state', p: { ...BASE, state: 'gone' as never }, reason: 'bad-state' },
    { name: 'detect mult 0', p: { ...BASE, detectMult: 0 }, reason: 'bad-detect-mult' },
    { name: 'my discriminator 0', p: { ...BASE, myDiscriminator: 0 }, reason: 'bad-discriminator' },
    { name: 'your discriminator 2^32', p: { ...BASE, yourDiscriminator: 2 ** 32 }, reason: 'bad-discriminator' },
    { name: 'fractional interval', p: { ...BASE, desiredMinTxUs: 1.5 }, reason: 'bad-interval' },
    { name: 'negative interval', p: { ...BASE, requiredMinRxUs: -1 }, reason: 'bad-interval' },
    { name: 'P and F', p: { ...BASE, poll: true, final: true }, reason: 'poll-and-final' },
    { name: 'A bit', p: { ...BASE, authenticationPresent: true }, reason: 'unsupported-bit' },
    { name: 'M bit', p: { ...BASE, multipoint: true }, reason: 'unsupported-bit' },
  ];
  for (const r of refusals) {
    test(`refuses ${r.name} as ${r.reason}`, () => {
      const out = encodeControl(r.p);
      assert.equal(out.ok, false);
      if (!out.ok) assert.equal(out.reason, r.reason);
    });
  }
});

describe('decodeControl', () => {
  test('round-trips every state and flag combination we send', () => {
    for (const state of ['admin-down', 'down', 'init', 'up'] as const) {
      for (const flags of [{}, { poll: true }, { final: true }, { demand: true, controlPlaneIndependent: true }]) {
        const p: ControlPacket = {
          ...BASE,
          ...flags,
          state,
          yourDiscriminator: state === 'up' || state === 'init' ? 7 : 0,
        };
        const d = decodeControl(bytes(p));
        assert.ok(d.ok);
        if (d.ok) assert.deepEqual(d.packet, p);
      }
    }
  });

  test('keeps 32-bit discriminators and intervals unsigned', () => {
    const p = { ...BASE, myDiscriminator: 0xffffffff, yourDiscriminator: 0x80000000, desiredMinTxUs: 0xffffffff };
    const d = decodeControl(bytes(p));
    assert.ok(d.ok);
    if (d.ok) assert.deepEqual(d.packet, p);
  });

  test('reads a view into a larger buffer at an offset', () => {
    const frame = Buffer.concat([Buffer.alloc(42, 0xee), bytes(BASE)]);
    const d = decodeControl(frame.subarray(42));
    assert.ok(d.ok);
    if (d.ok) assert.equal(d.packet.myDiscriminator, BASE.myDiscriminator);
  });

  test('ignores bytes after Length (RFC 5880 §6.8.6 discards only a Length beyond the payload)', () => {
    assert.ok(decodeControl(Buffer.concat([bytes(BASE), Buffer.alloc(8)])).ok);
  });

  test('decodes the A bit of a long enough packet, for the session to drop', () => {
    const b = Buffer.concat([bytes(BASE), Buffer.from([1, 6, 1, 0x61, 0x62, 0x63])]);
    b[1] = b[1]! | 0x04;
    b[3] = 30;
    const d = decodeControl(b);
    assert.ok(d.ok);
    if (d.ok) assert.equal(d.packet.authenticationPresent, true);
  });

  // One row per §6.8.6 check, each a valid packet with one thing broken.
  /** poke is BASE's bytes with byte `at` replaced by f(old byte). */
  const poke = (at: number, f: (old: number) => number): Buffer => {
    const b = Buffer.from(bytes(BASE));
    b[at] = f(b[at]!);
    return b;
  };
  const rows: { name: string; buf: Buffer; reason: DecodeError }[] = [
    { name: 'empty', buf: Buffer.alloc(0), reason: 'truncated' },
    { name: '3 bytes', buf: bytes(BASE).subarray(0, 3), reason: 'truncated' },
    { name: 'version 0', buf: poke(0, () => 0x00), reason: 'bad-version' },
    { name: 'version 2', buf: poke(0, () => 0x40), reason: 'bad-version' },
    { name: 'length 23', buf: poke(3, () => 23), reason: 'length-too-short' },
    { name: 'A bit with length 24', buf: poke(1, (v) => v | 0x04), reason: 'length-too-short' },
    { name: 'length 25 in 24 bytes', buf: poke(3, () => 25), reason: 'length-exceeds-payload' },
    { name: 'cut at 20 bytes', buf: bytes(BASE).subarray(0, 20), reason: 'length-exceeds-payload' },
    { name: 'detect mult 0', buf: poke(2, () => 0), reason: 'zero-detect-mult' },
    { name: 'M bit', buf: poke(1, (v) => v | 0x01), reason: 'multipoint' },
    {
      name: 'my discriminator 0',
      buf: Buffer.concat([bytes(BASE).subarray(0, 4), Buffer.alloc(4), bytes(BASE).subarray(8)]),
      reason: 'zero-my-discriminator',
    },
    ...(['init', 'up'] as const).map((state) => ({
      name: `your discriminator 0 in ${state}`,
      buf: bytes({ ...BASE, state, yourDiscriminator: 0 }),
      reason: 'zero-your-discriminator' as const,
    })),
  ];
  for (const r of rows) {
    test(`drops ${r.name}: ${r.reason}`, () => {
      const d = decodeControl(r.buf);
      assert.equal(d.ok, false, JSON.stringify(d));
      if (!d.ok) assert.equal(d.reason, r.reason);
    });
  }

  test('every decode error is exercised by a row', () => {
    assert.deepEqual(new Set(rows.map((r) => r.reason)), new Set(DECODE_ERRORS));
  });

  test('accepts your discriminator 0 in Down and AdminDown', () => {
    for (const state of ['down', 'admin-down'] as const) {
      assert.ok(decodeControl(bytes({ ...BASE, state, yourDiscriminator: 0 })).ok, state);
    }
  });

  test('never throws on random bytes', () => {
    let seed = 1;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed >>> 16;
    };
    for (let i = 0; i < 5000; i++) {
      const b = Buffer.alloc(rand() % 40);
      for (let j = 0; j < b.length; j++) b[j] = rand() & 0xff;
      if (b.length > 3 && i % 2 === 0) {
        b[0] = 0x20 | (b[0]! & 0x1f);
        b[3] = CONTROL_LENGTH;
      }
      const d = decodeControl(b);
      assert.equal(typeof d.ok, 'boolean');
    }
  });
});
