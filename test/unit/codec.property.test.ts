import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import ipaddr from 'ipaddr.js';
import type { Advert, Family, PseudoHeader } from '../../vrrp/advert.ts';
import { internetChecksum, ipv4PseudoHeader, ipv6PseudoHeader } from '../../vrrp/checksum.ts';
import {
  DECODE_ERRORS,
  type DecodeResult,
  decodeAdvert,
  encodeAdvert,
  encodeAdvertWithoutPseudoHeader,
} from '../../vrrp/codec.ts';
import { canonicalAddress } from '../../vrrp/ip.ts';

const RUNS = { numRuns: 300 };

/** fullHex writes 16 bytes as eight uncompressed groups: valid, never canonical, so canonicalisation is exercised. */
function fullHex(bytes: Uint8Array): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16).padStart(4, '0'));
  return groups.join(':');
}

const bytes16 = fc.uint8Array({ minLength: 16, maxLength: 16 });
const ipv4Text = fc.ipV4();
// Any IPv6 text fast-check can write (compressed, mixed with a dotted tail, leading zeros) or our uncompressed form.
const ipv6Text = fc.oneof(fc.ipV6(), bytes16.map(fullHex));
const linkLocalText = bytes16.map((b) => {
  const ll = Uint8Array.from(b);
  ll[0] = 0xfe;
  ll[1] = 0x80 | (ll[1]! & 0x3f); // fe80::/10
  return fullHex(ll);
});

function advertOf(family: Family): fc.Arbitrary<Advert> {
  const addresses =
    family === 'ipv4'
      ? fc.array(ipv4Text, { minLength: 1, maxLength: 255 })
      : fc.tuple(linkLocalText, fc.array(ipv6Text, { maxLength: 254 })).map(([first, rest]) => [first, ...rest]);
  return fc.record({
    vrid: fc.integer({ min: 1, max: 255 }),
    priority: fc.integer({ min: 0, max: 255 }),
    maxAdvertIntervalCs: fc.integer({ min: 1, max: 4095 }),
    addresses,
  });
}

function pseudoHeaderOf(family: Family): fc.Arbitrary<PseudoHeader> {
  const addr = family === 'ipv4' ? ipv4Text : ipv6Text;
  return fc.record({ family: fc.constant(family), source: addr, destination: addr });
}

const anyPseudoHeader = fc.oneof(pseudoHeaderOf('ipv4'), pseudoHeaderOf('ipv6'));
const v4Case = fc.record({ advert: advertOf('ipv4'), ph: pseudoHeaderOf('ipv4') });
const v6Case = fc.record({ advert: advertOf('ipv6'), ph: pseudoHeaderOf('ipv6') });
const anyCase = fc.oneof(v4Case, v6Case);

/** pseudoBytes is the checksum pseudo-header for ph (addresses as fast-check wrote them, canonicalised first). */
function pseudoBytes(ph: PseudoHeader, length: number): Uint8Array {
  const bytes = (text: string) => Uint8Array.from(ipaddr.parse(canonicalAddress(text, ph.family)!).toByteArray());
  const make = ph.family === 'ipv4' ? ipv4PseudoHeader : ipv6PseudoHeader;
  return make(bytes(ph.source), bytes(ph.destination), length);
}

function mustEncode(advert: Advert, ph: PseudoHeader): Buffer {
  const res = encodeAdvert(advert, ph);
  if (!res.ok) throw new Error(`encode refused a valid advert: ${res.reason} ${res.detail}`);
  return res.packet;
}

/** wellFormed is the contract every decode result keeps, whatever the input bytes. */
function assertWellFormed(res: DecodeResult): void {
  if (res.ok) {
    assert.ok(res.checksum === 'pseudo-header' || res.checksum === 'no-pseudo-header');
  } else {
    assert.ok(DECODE_ERRORS.includes(res.reason), `unknown reason ${res.reason}`);
    assert.equal(typeof res.detail, 'string');
  }
}

test('decode(encode(p)) gives p back with canonical addresses, both families', () => {
  fc.assert(
    fc.property(anyCase, ({ advert, ph }) => {
      const res = decodeAdvert(mustEncode(advert, ph), ph);
      const family = ph.family;
      const canonical = advert.addresses.map((a) => canonicalAddress(a, family));
      assert.deepEqual(res, { ok: true, advert: { ...advert, addresses: canonical }, checksum: 'pseudo-header' });
    }),
    RUNS,
  );
});

test('canonical adverts round-trip to deep-equal values', () => {
  fc.assert(
    fc.property(anyCase, ({ advert, ph }) => {
      const first = decodeAdvert(mustEncode(advert, ph), ph);
      assert.ok(first.ok);
      const again = decodeAdvert(mustEncode(first.advert, ph), ph);
      assert.deepEqual(again, first);
    }),
    RUNS,
  );
});

test('IPv6 text comes back as WHATWG URL writes it (RFC 5952 compression), except the IPv4-mapped mixed form', () => {
  fc.assert(
    fc.property(bytes16, (b) => {
      const text = fullHex(b);
      const ours = canonicalAddress(text, 'ipv6');
      if (ipaddr.IPv6.parse(text).isIPv4MappedAddress()) {
        assert.equal(ours, `::ffff:${b[12]}.${b[13]}.${b[14]}.${b[15]}`);
      } else {
        assert.equal(ours, new URL(`http://[${text}]/`).hostname.slice(1, -1));
      }
    }),
    { numRuns: 1000 },
  );
});

test('IPv4 adverts without pseudo-header decode to the same advert, flagged', () => {
  fc.assert(
    fc.property(v4Case, ({ advert, ph }) => {
      const legacy = encodeAdvertWithoutPseudoHeader(advert, 'ipv4');
      assert.ok(legacy.ok);
      // A pseudo-header summing to one's-complement zero makes both checksums equal; nothing can tell them apart.
      fc.pre(internetChecksum(pseudoBytes(ph, legacy.packet.length)) !== 0);
      const res = decodeAdvert(legacy.packet, ph);
      const strict = decodeAdvert(mustEncode(advert, ph), ph);
      assert.ok(strict.ok);
      assert.deepEqual(res, { ok: true, advert: strict.advert, checksum: 'no-pseudo-header' });
    }),
    RUNS,
  );
});

test('IPv6 adverts without pseudo-header are always refused', () => {
  fc.assert(
    fc.property(v6Case, ({ advert, ph }) => {
      const legacy = encodeAdvertWithoutPseudoHeader(advert, 'ipv6');
      assert.ok(legacy.ok);
      // As for IPv4, a pseudo-header summing to one's-complement zero would make the legacy sum pass as the real one.
      fc.pre(internetChecksum(pseudoBytes(ph, legacy.packet.length)) !== 0);
      const res = decodeAdvert(legacy.packet, ph);
      assert.equal(res.ok ? 'ok' : res.reason, 'bad-checksum');
    }),
    RUNS,
  );
});

test('decode of random bytes never throws and answers from DECODE_ERRORS', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), anyPseudoHeader, (buf, ph) => {
      assertWellFormed(decodeAdvert(buf, ph));
    }),
    { numRuns: 2000 },
  );
});

test('random bytes behind a valid-looking header never throw', () => {
  // A first byte of 0x31 and a consistent length reach the checksum and field checks, which pure noise rarely does.
  const shaped = fc
    .tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 8 }), fc.uint8Array({ maxLength: 4 }))
    .chain(([count, extra, head]) =>
      fc.uint8Array({ minLength: 4 + count * 16 + extra, maxLength: 4 + count * 16 + extra }).map((rest) => {
        const buf = new Uint8Array(4 + rest.length);
        buf.set([0x31, head[0] ?? 1, head[1] ?? 100, count]);
        buf.set(rest, 4);
        return buf;
      }),
    );
  fc.assert(
    fc.property(shaped, anyPseudoHeader, (buf, ph) => assertWellFormed(decodeAdvert(buf, ph))),
    { numRuns: 1000 },
  );
});

test('every truncation of a valid packet is refused as truncated or count-mismatch', () => {
  fc.assert(
    fc.property(anyCase, fc.nat(), ({ advert, ph }, n) => {
      const packet = mustEncode(advert, ph);
      const cut = n % packet.length;
      const res = decodeAdvert(packet.subarray(0, cut), ph);
      assert.equal(res.ok ? 'ok' : res.reason, cut < 8 ? 'truncated' : 'count-mismatch');
    }),
    RUNS,
  );
});

test('one changed byte is always caught, except IPv4 corruption that lands on the legacy checksum', () => {
  fc.assert(
    fc.property(anyCase, fc.nat(), fc.integer({ min: 1, max: 255 }), ({ advert, ph }, n, mask) => {
      const packet = Buffer.from(mustEncode(advert, ph));
      packet[n % packet.length]! ^= mask;
      const res = decodeAdvert(packet, ph);
      assertWellFormed(res);
      // A one-byte change moves the one's complement sum by a nonzero amount under 0xffff, so the pseudo-header sum
      // always catches it. The IPv4 fallback can, rarely, accept the damaged packet as a legacy one: that is the
      // price of the fallback, and the reason it is reported apart.
      if (res.ok) assert.ok(ph.family === 'ipv4' && res.checksum === 'no-pseudo-header');
    }),
    { numRuns: 1000 },
  );
});

test('random multi-byte mutations of valid packets never throw', () => {
  fc.assert(
    fc.property(
      anyCase,
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
      ({ advert, ph }, edits) => {
        const packet = Buffer.from(mustEncode(advert, ph));
        for (const [at, value] of edits) packet[at % packet.length] = value;
        assertWellFormed(decodeAdvert(packet, ph));
      },
    ),
    RUNS,
  );
});
