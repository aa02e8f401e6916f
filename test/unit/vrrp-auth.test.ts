// Authenticated adverts (vrrp/auth.ts) and the replay guard (vrrp/replay.ts): round trip, every refusal reason, key
// rotation (two accepted keys), and counters. HMAC-SHA-256 from node:crypto is injected here as the product does.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, test } from 'node:test';
import type { Advert, PseudoHeader } from '../../vrrp/advert.ts';
import {
  AUTH_TRAILER_LENGTH,
  type AuthKey,
  authKey,
  decodeAuthenticatedAdvert,
  encodeAuthenticatedAdvert,
} from '../../vrrp/auth.ts';
import { decodeAdvert, encodeAdvert } from '../../vrrp/codec.ts';
import { nextCounter, ReplayGuard } from '../../vrrp/replay.ts';

const hmac = (secret: string): AuthKey =>
  authKey((chunks) => {
    const h = createHmac('sha256', secret);
    for (const c of chunks) h.update(c);
    return h.digest();
  });
const OLD = hmac('old key: 32 bytes of secret data!');
const NEW = hmac('new key: 32 bytes of secret data!');
const advert: Advert = { vrid: 7, priority: 200, maxAdvertIntervalCs: 10, addresses: ['10.0.0.100'] };
const ph: PseudoHeader = { family: 'ipv4', source: '10.0.0.1', destination: '224.0.0.18' };

function seal(a: Advert = advert, key: AuthKey = NEW, counter = 1000n, p: PseudoHeader = ph): Buffer {
  const r = encodeAuthenticatedAdvert(a, p, key, counter);
  assert.ok(r.ok, JSON.stringify(r));
  return r.packet;
}

describe('authenticated advert codec', () => {
  test('round trip, IPv4 and IPv6: advert, key id and counter come back', () => {
    const packet = seal();
    assert.equal(packet.length, 8 + 4 + AUTH_TRAILER_LENGTH);
    assert.equal(packet[3], 1, 'Count still counts addresses only');
    assert.deepEqual(decodeAuthenticatedAdvert(packet, ph, [NEW]), {
      ok: true,
      advert,
      keyId: NEW.id,
      counter: 1000n,
    });
    const ph6: PseudoHeader = { family: 'ipv6', source: 'fe80::1', destination: 'ff02::12' };
    const a6 = { ...advert, addresses: ['fe80::200:5eff:fe00:207', 'fd00::100'] };
    const r6 = decodeAuthenticatedAdvert(seal(a6, NEW, 2n ** 63n, ph6), ph6, [NEW]);
    assert.ok(r6.ok);
    assert.deepEqual([r6.advert, r6.counter], [a6, 2n ** 63n]);
  });

  test('key ids differ per key and are stable', () => {
    assert.notEqual(OLD.id, NEW.id);
    assert.equal(hmac('new key: 32 bytes of secret data!').id, NEW.id);
  });

  test('rotation: while both keys are accepted, adverts under either verify; afterwards the old one is refused', () => {
    assert.ok(decodeAuthenticatedAdvert(seal(advert, OLD), ph, [NEW, OLD]).ok);
    assert.ok(decodeAuthenticatedAdvert(seal(advert, NEW), ph, [NEW, OLD]).ok);
    const after = decodeAuthenticatedAdvert(seal(advert, OLD), ph, [NEW]);
    assert.equal(!after.ok && after.reason, 'auth-unknown-key');
  });

  const refusals: [string, () => Uint8Array, PseudoHeader, string][] = [
    ['a plain advert (no key): auth-missing', () => plain(advert), ph, 'auth-missing'],
    ['a plain priority-255 advert: auth-missing', () => plain({ ...advert, priority: 255 }), ph, 'auth-missing'],
    [
      'a forged trailer (right key id, MAC of another key, checksum fixed): auth-bad-mac',
      () => {
        const forged = seal(advert, hmac('attacker'));
        forged.writeUInt32BE(NEW.id, forged.length - 44);
        return fixChecksum(forged);
      },
      ph,
      'auth-bad-mac',
    ],
    [
      'priority raised after signing (checksum fixed): auth-bad-mac',
      () => {
        const p = seal();
        p[2] = 255;
        return fixChecksum(p);
      },
      ph,
      'auth-bad-mac',
    ],
    [
      'counter raised after signing (checksum fixed): auth-bad-mac',
      () => {
        const p = seal();
        p.writeBigUInt64BE(5000n, p.length - 40);
        return fixChecksum(p);
      },
      ph,
      'auth-bad-mac',
    ],
    [
      're-sent from another source: auth-bad-mac (the pseudo-header is signed)',
      () => fixChecksum(seal(), { ...ph, source: '10.0.0.66' }),
      { ...ph, source: '10.0.0.66' },
      'auth-bad-mac',
    ],
    ['a flipped bit, checksum not fixed: bad-checksum', () => flip(seal(), 30), ph, 'bad-checksum'],
    ['an unknown key: auth-unknown-key', () => seal(advert, hmac('other')), ph, 'auth-unknown-key'],
    [
      'bad magic: auth-malformed',
      () => {
        const p = seal();
        p[12] = 0;
        return fixChecksum(p);
      },
      ph,
      'auth-malformed',
    ],
    ['truncated trailer: count-mismatch', () => fixChecksum(seal().subarray(0, 40)), ph, 'count-mismatch'],
    ['VRRPv2: bad-version', () => versioned(seal(), 0x21), ph, 'bad-version'],
    ['type 2: bad-type', () => versioned(seal(), 0x32), ph, 'bad-type'],
    ['4 bytes: truncated', () => new Uint8Array(4), ph, 'truncated'],
    ['max advert interval 0 under a valid MAC: zero-interval', signedZeroInterval, ph, 'zero-interval'],
  ];
  for (const [name, build, p, reason] of refusals) {
    test(name, () => {
      const r = decodeAuthenticatedAdvert(build(), p, [NEW, OLD]);
      assert.equal(r.ok, false);
      assert.equal(!r.ok && r.reason, reason, !r.ok ? r.detail : '');
    });
  }

  test('a peer without a key (our plain codec) refuses an authenticated advert as count-mismatch', () => {
    const r = decodeAdvert(seal(), ph);
    assert.equal(!r.ok && r.reason, 'count-mismatch');
  });
});

describe('replay guard', () => {
  test('a counter is accepted once; lower or equal ones are replays; senders and routers are apart', () => {
    const g = new ReplayGuard();
    assert.equal(g.accept('ipv4/7', '10.0.0.1', 10n), true);
    assert.equal(g.accept('ipv4/7', '10.0.0.1', 10n), false, 'the same advert again');
    assert.equal(g.accept('ipv4/7', '10.0.0.1', 9n), false, 'an older one');
    assert.equal(g.accept('ipv4/7', '10.0.0.2', 9n), true, 'another sender');
    assert.equal(g.accept('ipv4/8', '10.0.0.1', 9n), true, 'another router');
    assert.equal(g.accept('ipv4/7', '10.0.0.1', 11n), true);
    g.forget('ipv4/7');
    assert.equal(g.accept('ipv4/7', '10.0.0.1', 5n), true, 'a router started afresh knows nothing');
  });

  test('nextCounter follows wall-clock microseconds and never repeats or goes back', () => {
    assert.equal(nextCounter(0n, 1_700_000_000_000), 1_700_000_000_000_000n);
    assert.equal(nextCounter(1_700_000_000_000_000n, 1_700_000_000_000), 1_700_000_000_000_001n, 'same ms');
    assert.equal(nextCounter(1_700_000_000_000_000n, 1_600_000_000_000), 1_700_000_000_000_001n, 'clock stepped back');
    let c = 0n;
    for (let i = 0; i < 1000; i++) {
      const n = nextCounter(c, 1_700_000_000_000 + (i % 3));
      assert.ok(n > c);
      c = n;
    }
  });
});

function plain(a: Advert): Buffer {
  const r = encodeAdvert(a, ph);
  assert.ok(r.ok);
  return r.packet;
}

/** fixChecksum recomputes the VRRP checksum over the whole payload, as an attacker without the key can. */
function fixChecksum(packet: Uint8Array, p: PseudoHeader = ph): Uint8Array {
  const out = Buffer.from(packet);
  out.writeUInt16BE(0, 6);
  const src = p.source.split('.').map(Number);
  const dst = p.destination.split('.').map(Number);
  const pseudo = Uint8Array.from([...src, ...dst, 0, 112, out.length >> 8, out.length & 0xff]);
  let sum = 0;
  const all = Buffer.concat([pseudo, out, out.length % 2 ? Buffer.alloc(1) : Buffer.alloc(0)]);
  for (let i = 0; i < all.length; i += 2) sum += all.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  out.writeUInt16BE(~sum & 0xffff, 6);
  return out;
}

function flip(packet: Uint8Array, at: number): Uint8Array {
  const out = Buffer.from(packet);
  out[at] = out[at]! ^ 1;
  return out;
}

function versioned(packet: Uint8Array, first: number): Uint8Array {
  const out = Buffer.from(packet);
  out[0] = first;
  return fixChecksum(out);
}

/** signedZeroInterval: a key holder's advert with interval 0 (the encoder refuses it, so sign the bytes by hand). */
function signedZeroInterval(): Uint8Array {
  const p = seal();
  p.writeUInt16BE(0, 4);
  p.writeUInt16BE(0, 6);
  const t = p.length - AUTH_TRAILER_LENGTH;
  const pseudo = Uint8Array.from([10, 0, 0, 1, 224, 0, 0, 18, 0, 112, 0, p.length]);
  const tag = createHmac('sha256', 'new key: 32 bytes of secret data!')
    .update(pseudo)
    .update(p.subarray(0, t + 16))
    .digest();
  tag.copy(p, t + 16);
  return fixChecksum(p);
}
