import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ipv4Bytes, ipv6Bytes } from '../../src/net/frames/address.ts';
import { bfdFilter, FRAME_DROPS, type FrameDrop, readBfdFrame } from '../../src/net/frames/bfd-udp.ts';
import { ETHERTYPE, encodeEthernet } from '../../src/net/frames/ethernet.ts';
import { encodeIpv4 } from '../../src/net/frames/ipv4.ts';
import { encodeIpv6 } from '../../src/net/frames/ipv6.ts';

const PAYLOAD = Buffer.from('20c0031800000001000000000000271000002710 00000000'.replace(/ /g, ''), 'hex');

function udp(dport: number, payload: Uint8Array = PAYLOAD, lengthOverride?: number): Buffer {
  const b = Buffer.alloc(8 + payload.length);
  b.writeUInt16BE(49999, 0);
  b.writeUInt16BE(dport, 2);
  b.writeUInt16BE(lengthOverride ?? b.length, 4);
  b.set(payload, 8); // checksum left 0: not verified (see bfd-udp.ts)
  return b;
}

function v4(opts: { ttl?: number; protocol?: number; payload?: Uint8Array } = {}): Buffer {
  const ip = encodeIpv4({
    src: ipv4Bytes('10.0.0.2')!,
    dst: ipv4Bytes('10.0.0.1')!,
    protocol: opts.protocol ?? 17,
    ttl: opts.ttl ?? 255,
    payload: opts.payload ?? udp(3784),
  });
  return encodeEthernet('02:00:00:00:00:01', '02:00:00:00:00:02', ETHERTYPE.ipv4, ip)!;
}

function v6(hopLimit = 255, payload: Uint8Array = udp(3784)): Buffer {
  const ip = encodeIpv6({
    src: ipv6Bytes('fd00::2')!,
    dst: ipv6Bytes('fd00::1')!,
    nextHeader: 17,
    hopLimit,
    payload,
  });
  return encodeEthernet('02:00:00:00:00:01', '02:00:00:00:00:02', ETHERTYPE.ipv6, ip)!;
}

describe('readBfdFrame (RFC 5881)', () => {
  test('IPv4: unwraps the Control packet with source, port and TTL', () => {
    const r = readBfdFrame(v4(), 0);
    assert.ok(r.ok);
    if (!r.ok) return;
    assert.equal(r.family, 'ipv4');
    assert.equal(r.source, '10.0.0.2');
    assert.equal(r.destination, '10.0.0.1');
    assert.equal(r.sourcePort, 49999);
    assert.equal(r.ttl, 255);
    assert.deepEqual(Buffer.from(r.payload), PAYLOAD, 'Ethernet padding is not part of the payload');
  });

  test('IPv6: the same with the hop limit', () => {
    const r = readBfdFrame(v6(), 0);
    assert.ok(r.ok);
    if (r.ok) assert.deepEqual([r.family, r.source, r.ttl], ['ipv6', 'fd00::2', 255]);
  });

  const rows: { name: string; frame: Buffer; pktType?: number; reason: FrameDrop }[] = [
    { name: 'our own frame', frame: v4(), pktType: 4, reason: 'outgoing' },
    {
      name: 'ARP',
      frame: encodeEthernet('ff:ff:ff:ff:ff:ff', '02:00:00:00:00:02', ETHERTYPE.arp, Buffer.alloc(28))!,
      reason: 'not-ip',
    },
    { name: 'a short frame', frame: Buffer.alloc(10), reason: 'not-ip' },
    {
      name: 'a broken IPv4 header',
      frame: (() => {
        const f = v4();
        f[24] = f[24]! ^ 0xff;
        return f;
      })(),
      reason: 'bad-ip',
    },
    { name: 'TCP', frame: v4({ protocol: 6 }), reason: 'not-udp' },
    { name: 'a UDP length past the packet', frame: v4({ payload: udp(3784, PAYLOAD, 200) }), reason: 'truncated' },
    { name: 'multihop port 4784', frame: v4({ payload: udp(4784) }), reason: 'not-bfd-port' },
    { name: 'TTL 254 (one router away)', frame: v4({ ttl: 254 }), reason: 'bad-ttl' },
    { name: 'hop limit 64', frame: v6(64), reason: 'bad-ttl' },
  ];
  for (const r of rows) {
    test(`drops ${r.name}: ${r.reason}`, () => {
      const out = readBfdFrame(r.frame, r.pktType ?? 0);
      assert.equal(out.ok, false);
      if (!out.ok) assert.equal(out.reason, r.reason);
    });
  }

  test('every drop reason has a row', () => {
    assert.deepEqual(new Set(rows.map((r) => r.reason)), new Set(FRAME_DROPS));
  });
});

describe('bfdFilter', () => {
  for (const family of ['ipv4', 'ipv6'] as const) {
    test(`${family}: every conditional jump lands inside the program and it ends in accept, drop`, () => {
      const prog = bfdFilter(family);
      for (const [i, ins] of prog.entries()) {
        if (ins.code !== 0x15 && ins.code !== 0x45) continue; // only JEQ / JSET jump
        assert.ok(i + 1 + ins.jt < prog.length && i + 1 + ins.jf < prog.length, `instruction ${i}`);
        assert.ok(ins.jt >= 0 && ins.jf >= 0);
      }
      assert.deepEqual(
        prog.slice(-2).map((ins) => [ins.code, ins.k]),
        [
          [0x06, 0x40000],
          [0x06, 0],
        ],
      );
    });
  }
});
