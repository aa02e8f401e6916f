import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { ipv4Bytes, ipv6Bytes } from '../../src/net/frames/address.ts';
import { decodeIpv4, encodeIpv4 } from '../../src/net/frames/ipv4.ts';
import { decodeIpv6, encodeIpv6, upperLayerChecksum } from '../../src/net/frames/ipv6.ts';

describe('IPv4 header (RFC 791 §3.1)', () => {
  const packet = encodeIpv4({
    src: ipv4Bytes('10.0.0.1')!,
    dst: ipv4Bytes('224.0.0.18')!,
    protocol: 112,
    ttl: 255,
    tos: 0xc0,
    payload: Buffer.from('3133c801006411730a000064', 'hex'),
  });

  test('encodeIpv4 writes version/IHL, TOS, length, TTL, protocol, checksum and addresses', () => {
    // 45 c0 0020 | 0000 0000 | ff 70 d09a | 0a000001 | e0000012 — checksum also accepted by tshark.
    assert.equal(packet.subarray(0, 20).toString('hex'), '45c0002000000000ff70d09a0a000001e0000012');
    assert.equal(rfc1071(packet.subarray(0, 20)), 0);
  });

  test('decodeIpv4 reads it back, payload bounded by Total Length', () => {
    const d = decodeIpv4(Buffer.concat([packet, Buffer.alloc(6)])); // Ethernet padding after the packet
    assert.ok(d.ok);
    assert.deepEqual(
      [d.ttl, d.protocol, d.src, d.dst, d.tos, d.payload.length],
      [255, 112, '10.0.0.1', '224.0.0.18', 0xc0, 12],
    );
  });

  test('decodeIpv4 skips options through IHL', () => {
    const withOption = Buffer.alloc(packet.length + 4);
    packet.copy(withOption, 0, 0, 20);
    withOption.fill(1, 20, 24); // four NOP options
    packet.copy(withOption, 24, 20);
    withOption[0] = 0x46;
    withOption.writeUInt16BE(withOption.length, 2);
    withOption.writeUInt16BE(0, 10);
    withOption.writeUInt16BE(rfc1071(withOption.subarray(0, 24)), 10);
    const d = decodeIpv4(withOption);
    assert.ok(d.ok);
    assert.equal(d.payload.toString('hex'), '3133c801006411730a000064');
  });

  const mutate = (offset: number, value: number) => {
    const b = Buffer.from(packet);
    b[offset] = value;
    return b;
  };
  const cases: Array<[string, Buffer, string]> = [
    ['short', packet.subarray(0, 19), 'truncated'],
    ['version 6', mutate(0, 0x65), 'bad-version'],
    ['IHL 4', mutate(0, 0x44), 'bad-header-length'],
    ['total length past the buffer', mutate(3, 0x40), 'truncated'],
    ['total length inside the header', mutate(3, 0x10), 'truncated'],
    ['corrupt header', mutate(8, 64), 'bad-header-checksum'],
  ];
  for (const [name, bytes, reason] of cases) {
    test(`decodeIpv4 refuses: ${name}`, () => assert.deepEqual(decodeIpv4(bytes), { ok: false, reason }));
  }

  test('decodeIpv4 refuses fragments', () => {
    const frag = Buffer.from(packet);
    frag.writeUInt16BE(0x2000, 6); // MF
    frag.writeUInt16BE(0, 10);
    frag.writeUInt16BE(rfc1071(frag.subarray(0, 20)), 10);
    assert.deepEqual(decodeIpv4(frag), { ok: false, reason: 'fragment' });
  });

  test('decodeIpv4 never throws', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (b) => void decodeIpv4(Buffer.from(b))));
  });
});

describe('IPv6 header (RFC 8200 §3)', () => {
  const src = ipv6Bytes('fe80::a')!;
  const dst = ipv6Bytes('ff02::12')!;
  const packet = encodeIpv6({
    src,
    dst,
    nextHeader: 112,
    hopLimit: 255,
    trafficClass: 0xc0,
    payload: Buffer.alloc(8, 7),
  });

  test('encodeIpv6 writes version, traffic class, length, next header, hop limit and addresses', () => {
    // version 6, traffic class 0xc0, flow 0 | payload length 8 | next header 112 | hop limit 255
    assert.equal(packet.subarray(0, 8).toString('hex'), '6c000000' + '0008' + '70' + 'ff');
    assert.equal(packet.subarray(8, 24).toString('hex'), 'fe80000000000000000000000000000a');
    assert.equal(packet.subarray(24, 40).toString('hex'), 'ff020000000000000000000000000012');
  });

  test('decodeIpv6 reads it back and ignores trailing bytes', () => {
    const d = decodeIpv6(Buffer.concat([packet, Buffer.alloc(3)]));
    assert.ok(d.ok);
    assert.deepEqual([d.nextHeader, d.hopLimit, d.src, d.dst, d.payload.length], [112, 255, 'fe80::a', 'ff02::12', 8]);
  });

  test('decodeIpv6 refuses short packets, payload length past the end and other versions', () => {
    assert.deepEqual(decodeIpv6(packet.subarray(0, 39)), { ok: false, reason: 'truncated' });
    assert.deepEqual(decodeIpv6(packet.subarray(0, 47)), { ok: false, reason: 'truncated' });
    const v4 = Buffer.from(packet);
    v4[0] = 0x45;
    assert.deepEqual(decodeIpv6(v4), { ok: false, reason: 'bad-version' });
  });

  test('upperLayerChecksum over data holding its own checksum is 0 (RFC 8200 §8.1)', () => {
    const icmp = Buffer.from('8700000000000000fd000000000000000000000000000100', 'hex');
    icmp.writeUInt16BE(upperLayerChecksum(src, dst, 58, icmp), 2);
    assert.equal(upperLayerChecksum(src, dst, 58, icmp), 0);
  });

  test('decodeIpv6 never throws', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (b) => void decodeIpv6(Buffer.from(b))));
  });
});

/** rfc1071 is a plain RFC 1071 checksum, written out here so the test does not trust the code it tests. */
function rfc1071(b: Buffer): number {
  let sum = 0;
  for (let i = 0; i + 1 < b.length; i += 2) sum += b.readUInt16BE(i);
  if (b.length % 2) sum += b[b.length - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}
