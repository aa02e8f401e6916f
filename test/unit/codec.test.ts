import assert from 'node:assert/strict';
import { test } from 'node:test';
import ipaddr from 'ipaddr.js';
import type { Advert, PseudoHeader } from '../../vrrp/advert.ts';
import { internetChecksum, ipv4PseudoHeader, ipv6PseudoHeader } from '../../vrrp/checksum.ts';
import {
  DECODE_ERRORS,
  type DecodeError,
  decodeAdvert,
  ENCODE_ERRORS,
  type EncodeError,
  encodeAdvert,
  encodeAdvertWithoutPseudoHeader,
} from '../../vrrp/codec.ts';
import { canonicalAddress } from '../../vrrp/ip.ts';

const PH4: PseudoHeader = { family: 'ipv4', source: '192.168.1.10', destination: '224.0.0.18' };
const PH6: PseudoHeader = { family: 'ipv6', source: 'fe80::1', destination: 'ff02::12' };

function hex(text: string): Buffer {
  return Buffer.from(text.replace(/\s+/g, ''), 'hex');
}

/** seal writes a correct pseudo-header checksum into a crafted packet, so a test reaches the checks after it. */
function seal(text: string, ph: PseudoHeader): Buffer {
  const packet = hex(text);
  packet.writeUInt16BE(0, 6);
  const src = Uint8Array.from(ipaddr.parse(ph.source).toByteArray());
  const dst = Uint8Array.from(ipaddr.parse(ph.destination).toByteArray());
  const pseudo =
    ph.family === 'ipv4' ? ipv4PseudoHeader(src, dst, packet.length) : ipv6PseudoHeader(src, dst, packet.length);
  packet.writeUInt16BE(internetChecksum(pseudo, packet), 6);
  return packet;
}

function encoded(advert: Advert, ph: PseudoHeader): Buffer {
  const res = encodeAdvert(advert, ph);
  assert.ok(res.ok, `encode failed: ${JSON.stringify(res)}`);
  return res.packet;
}

// Known answers, summed by hand (RFC 1071 one's complement over pseudo-header + packet) and confirmed by tshark,
// which reports "should be 0x0619" for the IPv4 packet when given the legacy checksum instead.
const VECTORS = [
  {
    name: 'IPv4, one address',
    ph: PH4,
    advert: { vrid: 51, priority: 100, maxAdvertIntervalCs: 100, addresses: ['192.168.1.100'] },
    packet: '31 33 64 01 0064 0619 c0a80164',
  },
  {
    name: 'IPv6, link-local then global',
    ph: PH6,
    advert: { vrid: 10, priority: 200, maxAdvertIntervalCs: 100, addresses: ['fe80::a', '2001:db8::a'] },
    packet: '31 0a c8 02 0064 dc11 fe80000000000000000000000000000a 20010db800000000000000000000000a',
  },
] as const;

for (const v of VECTORS) {
  test(`known answer: ${v.name} encodes to the hand-checked bytes and decodes back`, () => {
    assert.equal(encoded(v.advert, v.ph).toString('hex'), hex(v.packet).toString('hex'));
    assert.deepEqual(decodeAdvert(hex(v.packet), v.ph), { ok: true, advert: v.advert, checksum: 'pseudo-header' });
  });
}

test('known answer: IPv4 checksum without pseudo-header is accepted and flagged', () => {
  const legacy = encodeAdvertWithoutPseudoHeader(VECTORS[0].advert, 'ipv4');
  assert.ok(legacy.ok);
  assert.equal(legacy.packet.toString('hex'), hex('31 33 64 01 0064 a85a c0a80164').toString('hex'));
  assert.deepEqual(decodeAdvert(legacy.packet, PH4), {
    ok: true,
    advert: VECTORS[0].advert,
    checksum: 'no-pseudo-header',
  });
});

test('IPv6 checksum without pseudo-header is refused', () => {
  const legacy = encodeAdvertWithoutPseudoHeader(VECTORS[1].advert, 'ipv6');
  assert.ok(legacy.ok);
  const res = decodeAdvert(legacy.packet, PH6);
  assert.equal(res.ok ? 'ok' : res.reason, 'bad-checksum');
});

test('the pseudo-header counts: a unicast destination does not verify a packet summed for the multicast group', () => {
  const packet = hex(VECTORS[0].packet);
  for (const ph of [
    { ...PH4, destination: '192.168.1.11' },
    { ...PH4, source: '192.168.1.12' },
  ]) {
    const res = decodeAdvert(packet, ph);
    assert.equal(res.ok ? 'ok' : res.reason, 'bad-checksum');
  }
});

test('internetChecksum matches RFC 1071 §3 and does not depend on how the input is split', () => {
  const data = hex('0001 f203 f4f5 f6f7'); // RFC 1071's example: sum 0xddf2
  assert.equal(internetChecksum(data), ~0xddf2 & 0xffff);
  for (let cut = 0; cut <= data.length; cut++) {
    assert.equal(internetChecksum(data.subarray(0, cut), data.subarray(cut)), 0x220d, `cut at ${cut}`);
  }
  assert.equal(internetChecksum(data.subarray(0, 1), new Uint8Array(0), data.subarray(1)), 0x220d);
  assert.equal(internetChecksum(hex('01')), ~0x0100 & 0xffff, 'an odd total is padded with a zero byte');
  assert.equal(internetChecksum(), 0xffff);
});

const IPV6_LL = 'fe800000000000000000000000000001';
const DECODE_CASES: readonly { name: string; buf: Buffer; ph?: PseudoHeader; reason: DecodeError }[] = [
  {
    name: 'unknown family',
    buf: hex(VECTORS[0].packet),
    ph: { ...PH4, family: 'ipx' as 'ipv4' },
    reason: 'bad-pseudo-header',
  },
  {
    name: 'source not an address',
    buf: hex(VECTORS[0].packet),
    ph: { ...PH4, source: 'nope' },
    reason: 'bad-pseudo-header',
  },
  {
    name: 'IPv6 source for IPv4',
    buf: hex(VECTORS[0].packet),
    ph: { ...PH4, source: 'fe80::1' },
    reason: 'bad-pseudo-header',
  },
  { name: 'empty buffer', buf: hex(''), reason: 'truncated' },
  { name: '7 bytes', buf: hex('31 33 64 01 0064 06'), reason: 'truncated' },
  { name: 'VRRPv2 with auth data', buf: hex('21 33 64 01 0001 0000 c0a80164 0000000000000000'), reason: 'bad-version' },
  { name: 'version 4', buf: seal('41 33 64 01 0064 0000 c0a80164', PH4), reason: 'bad-version' },
  { name: 'type 2', buf: seal('32 33 64 01 0064 0000 c0a80164', PH4), reason: 'bad-type' },
  { name: 'type 0', buf: seal('30 33 64 01 0064 0000 c0a80164', PH4), reason: 'bad-type' },
  { name: 'count 2, one address', buf: seal('31 33 64 02 0064 0000 c0a80164', PH4), reason: 'count-mismatch' },
  { name: 'trailing bytes', buf: seal('31 33 64 01 0064 0000 c0a80164 00000000', PH4), reason: 'count-mismatch' },
  {
    name: 'v2-style auth padding',
    buf: seal('31 33 64 01 0064 0000 c0a80164 0000000000000000', PH4),
    reason: 'count-mismatch',
  },
  {
    name: 'IPv4-sized address for IPv6',
    ph: PH6,
    buf: seal('31 33 64 01 0064 0000 c0a80164', PH6),
    reason: 'count-mismatch',
  },
  { name: 'count 0 with an address', buf: seal('31 33 64 00 0064 0000 c0a80164', PH4), reason: 'count-mismatch' },
  { name: 'flipped checksum', buf: hex('31 33 64 01 0064 0618 c0a80164'), reason: 'bad-checksum' },
  { name: 'zero checksum', buf: hex('31 33 64 01 0064 0000 c0a80164'), reason: 'bad-checksum' },
  { name: 'vrid 0', buf: seal('31 00 64 01 0064 0000 c0a80164', PH4), reason: 'zero-vrid' },
  { name: 'count 0, no address', buf: seal('31 33 64 00 0064 0000', PH4), reason: 'zero-count' },
  { name: 'interval 0', buf: seal('31 33 64 01 0000 0000 c0a80164', PH4), reason: 'zero-interval' },
  { name: 'interval 0, reserved bits set', buf: seal('31 33 64 01 f000 0000 c0a80164', PH4), reason: 'zero-interval' },
  {
    name: 'IPv6 led by a global address',
    ph: PH6,
    buf: seal(`31 0a c8 02 0064 0000 20010db800000000000000000000000a ${IPV6_LL}`, PH6),
    reason: 'not-link-local',
  },
];

for (const c of DECODE_CASES) {
  test(`decode refuses ${c.name} with ${c.reason}`, () => {
    const res = decodeAdvert(c.buf, c.ph ?? PH4);
    assert.equal(res.ok, false);
    if (res.ok) return;
    assert.equal(res.reason, c.reason, res.detail);
    assert.ok(res.detail.length > 0);
  });
}

test('every decode reason has a crafted case', () => {
  assert.deepEqual(new Set(DECODE_CASES.map((c) => c.reason)), new Set(DECODE_ERRORS));
});

test('reserved bits beside the interval are ignored on reception (RFC 5798 §5.2.6)', () => {
  const res = decodeAdvert(seal('31 33 64 01 f064 0000 c0a80164', PH4), PH4);
  assert.deepEqual(res, { ok: true, advert: VECTORS[0].advert, checksum: 'pseudo-header' });
});

test('a link-local pseudo-header source may carry a zone', () => {
  const res = decodeAdvert(hex(VECTORS[1].packet), { ...PH6, source: 'fe80::1%eth0' });
  assert.equal(res.ok, true);
});

const v4 = (n: number) => Array.from({ length: n }, (_, i) => `10.0.${i >> 8}.${i & 0xff}`);
const v6 = (n: number) => ['fe80::1', ...Array.from({ length: n - 1 }, (_, i) => `2001:db8::${(i + 1).toString(16)}`)];
const BOUNDARIES: readonly { name: string; ph: PseudoHeader; advert: Advert }[] = [
  { name: 'interval 1, vrid 1', ph: PH4, advert: { vrid: 1, priority: 0, maxAdvertIntervalCs: 1, addresses: v4(1) } },
  {
    name: 'interval 4095, vrid 255',
    ph: PH4,
    advert: { vrid: 255, priority: 255, maxAdvertIntervalCs: 4095, addresses: v4(1) },
  },
  {
    name: '255 IPv4 addresses',
    ph: PH4,
    advert: { vrid: 7, priority: 1, maxAdvertIntervalCs: 100, addresses: v4(255) },
  },
  {
    name: '255 IPv6 addresses',
    ph: PH6,
    advert: { vrid: 7, priority: 254, maxAdvertIntervalCs: 4095, addresses: v6(255) },
  },
  {
    name: 'IPv6 vrid 255, interval 1',
    ph: PH6,
    advert: { vrid: 255, priority: 0, maxAdvertIntervalCs: 1, addresses: v6(1) },
  },
];

for (const b of BOUNDARIES) {
  test(`boundary round trip: ${b.name}`, () => {
    const packet = encoded(b.advert, b.ph);
    const size = b.ph.family === 'ipv4' ? 4 : 16;
    assert.equal(packet.length, 8 + b.advert.addresses.length * size);
    assert.equal(packet[0], 0x31);
    assert.equal(packet[4]! >> 4, 0, 'reserved bits are zero');
    assert.equal(packet.readUInt16BE(4), b.advert.maxAdvertIntervalCs);
    assert.deepEqual(decodeAdvert(packet, b.ph), { ok: true, advert: b.advert, checksum: 'pseudo-header' });
  });
}

const good: Advert = VECTORS[0].advert;
const ENCODE_CASES: readonly { name: string; advert: Advert; ph?: PseudoHeader; reason: EncodeError }[] = [
  { name: 'unknown family', advert: good, ph: { ...PH4, family: 'ipx' as 'ipv4' }, reason: 'bad-pseudo-header' },
  {
    name: 'destination not an address',
    advert: good,
    ph: { ...PH4, destination: '224.0.0' },
    reason: 'bad-pseudo-header',
  },
  { name: 'vrid 0', advert: { ...good, vrid: 0 }, reason: 'bad-vrid' },
  { name: 'vrid 256', advert: { ...good, vrid: 256 }, reason: 'bad-vrid' },
  { name: 'vrid 1.5', advert: { ...good, vrid: 1.5 }, reason: 'bad-vrid' },
  { name: 'priority -1', advert: { ...good, priority: -1 }, reason: 'bad-priority' },
  { name: 'priority 256', advert: { ...good, priority: 256 }, reason: 'bad-priority' },
  { name: 'priority NaN', advert: { ...good, priority: Number.NaN }, reason: 'bad-priority' },
  { name: 'interval 0', advert: { ...good, maxAdvertIntervalCs: 0 }, reason: 'bad-interval' },
  { name: 'interval 4096', advert: { ...good, maxAdvertIntervalCs: 4096 }, reason: 'bad-interval' },
  { name: 'no address', advert: { ...good, addresses: [] }, reason: 'bad-count' },
  { name: '256 addresses', advert: { ...good, addresses: v4(256) }, reason: 'bad-count' },
  { name: 'IPv6 address for IPv4', advert: { ...good, addresses: ['192.168.1.1', 'fe80::1'] }, reason: 'bad-address' },
  { name: 'short IPv4 form', advert: { ...good, addresses: ['10.1'] }, reason: 'bad-address' },
  { name: 'IPv4 with leading zero', advert: { ...good, addresses: ['010.0.0.1'] }, reason: 'bad-address' },
  { name: 'IPv4 address for IPv6', advert: { ...good, addresses: ['192.168.1.1'] }, ph: PH6, reason: 'bad-address' },
  { name: 'IPv6 with zone', advert: { ...good, addresses: ['fe80::1%eth0'] }, ph: PH6, reason: 'bad-address' },
  {
    name: 'IPv6 led by global',
    advert: { ...good, addresses: ['2001:db8::1', 'fe80::1'] },
    ph: PH6,
    reason: 'not-link-local',
  },
];

for (const c of ENCODE_CASES) {
  test(`encode refuses ${c.name} with ${c.reason}`, () => {
    const res = encodeAdvert(c.advert, c.ph ?? PH4);
    assert.equal(res.ok ? 'ok' : res.reason, c.reason);
  });
}

test('the legacy encoder validates like encodeAdvert', () => {
  const unknown = encodeAdvertWithoutPseudoHeader(good, 'ipx' as 'ipv4');
  assert.equal(unknown.ok ? 'ok' : unknown.reason, 'bad-pseudo-header');
  const badVrid = encodeAdvertWithoutPseudoHeader({ ...good, vrid: 0 }, 'ipv4');
  assert.equal(badVrid.ok ? 'ok' : badVrid.reason, 'bad-vrid');
});

test('every encode reason has a case', () => {
  assert.deepEqual(new Set(ENCODE_CASES.map((c) => c.reason)), new Set(ENCODE_ERRORS));
});

test('addresses come back canonical: dotted quad, RFC 5952 for IPv6', () => {
  const cases: [string, string][] = [
    ['2001:DB8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // §4.3 lower case; §4.2.3 first of equal runs
    ['2001:0db8:0000:0000:0000:0000:0002:0001', '2001:db8::2:1'], // §4.1 no leading zeros; §4.2.1 shortest
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // §4.2.2 a lone zero group is not compressed
    ['1:0:0:2:0:0:0:3', '1:0:0:2::3'], // §4.2.3 the longest run is compressed
    ['::ffff:1.2.3.4', '::ffff:1.2.3.4'], // §5 IPv4-mapped keeps the dotted tail
    ['::ffff:102:304', '::ffff:1.2.3.4'],
    ['::1.2.3.4', '::102:304'], // RFC 4291 §2.5.5.1, not ::ffff:1.2.3.4 as ipaddr.js alone would make it
  ];
  const addresses = ['FE80::A', ...cases.map(([input]) => input)];
  const res = decodeAdvert(encoded({ ...good, addresses }, PH6), PH6);
  assert.ok(res.ok);
  assert.deepEqual(res.advert.addresses, ['fe80::a', ...cases.map(([, want]) => want)]);
  for (const [input, want] of cases) assert.equal(canonicalAddress(input, 'ipv6'), want);
  assert.equal(canonicalAddress('10.0.0.1', 'ipv4'), '10.0.0.1');
  const refused: [string, 'ipv4' | 'ipv6'][] = [
    ['10.1', 'ipv4'],
    ['0x0a.0.0.1', 'ipv4'],
    ['', 'ipv4'],
    ['1.2.3.4', 'ipv6'],
    ['::ffff:01.2.3.4', 'ipv6'],
    ['fe80::1%eth0', 'ipv6'],
  ];
  for (const [bad, family] of refused) assert.equal(canonicalAddress(bad, family), undefined, bad);
});

test('a corrupted byte anywhere is refused, never thrown', () => {
  for (const v of VECTORS) {
    const packet = hex(v.packet);
    for (let i = 0; i < packet.length; i++) {
      for (const mask of [0x01, 0x10, 0x80, 0xff]) {
        const bad = Buffer.from(packet);
        bad[i]! ^= mask;
        const res = decodeAdvert(bad, v.ph);
        assert.equal(res.ok, false, `${v.name}: byte ${i} ^ ${mask} accepted`);
        if (!res.ok) assert.ok(DECODE_ERRORS.includes(res.reason));
      }
    }
  }
});

test('decode reads only its own bytes: a view into a larger buffer decodes the same', () => {
  const packet = hex(VECTORS[1].packet);
  const big = new Uint8Array(packet.length + 16).fill(0xaa);
  big.set(packet, 8);
  assert.deepEqual(decodeAdvert(big.subarray(8, 8 + packet.length), PH6), decodeAdvert(packet, PH6));
});
