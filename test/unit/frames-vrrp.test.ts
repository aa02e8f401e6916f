// VRRP inside IP (RFC 5798 §5.1) and the receive checks of §7.1. Known bytes cross-checked with tshark 4.0
// (vrrp.checksum.status = good, ip.ttl / ipv6.hlim 255).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { ipv4Bytes } from '../../src/net/frames/address.ts';
import { encodeIpv4 } from '../../src/net/frames/ipv4.ts';
import {
  type ReceiveContext,
  receiveIpv4,
  receiveIpv4Frame,
  receiveIpv6Frame,
  VRRP_DROP_REASONS,
  vrrpIpv4Frame,
  vrrpIpv4Packet,
  vrrpIpv6Frame,
} from '../../src/net/frames/vrrp.ts';
import type { Advert } from '../../vrrp/advert.ts';
import { encodeAdvertWithoutPseudoHeader } from '../../vrrp/codec.ts';

const ADVERT4: Advert = { vrid: 51, priority: 200, maxAdvertIntervalCs: 100, addresses: ['10.0.0.100'] };
const ADVERT6: Advert = { vrid: 51, priority: 200, maxAdvertIntervalCs: 100, addresses: ['fe80::100', 'fd00::100'] };
// IPv4: 45 c0 len 32, id 0, flags 0, TTL 255, proto 112, header checksum, 10.0.0.1 -> 224.0.0.18 | VRRP v3 type 1
const IPV4 = '45c0002000000000ff70d09a0a000001e0000012' + '3133c801006411730a000064';
// IPv6 frame: 33:33:00:00:00:12 <- 02:..:0a | tc 0xc0, plen 40, nh 112, hop 255, fe80::a -> ff02::12 | VRRP
const IPV6 =
  '33330000001202000000000a86dd' +
  '6c0000000028' +
  '70ff' +
  'fe80000000000000000000000000000a' +
  'ff020000000000000000000000000012' +
  '3133c80200640aac' +
  'fe800000000000000000000000000100' +
  'fd000000000000000000000000000100';

const covered = new Set<string>(); // drop reasons the tables below reach
const ctx4: ReceiveContext = { ownAddresses: new Set(['10.0.0.2']) };
const ctx6: ReceiveContext = { ownAddresses: new Set(['fe80::b', 'fd00::b']), mac: '02:00:00:00:00:0b' };

describe('building', () => {
  test('vrrpIpv4Packet: TTL 255, protocol 112, TOS 0xc0, pseudo-header checksum', () => {
    const built = vrrpIpv4Packet(ADVERT4, '10.0.0.1');
    assert.ok(built.ok);
    assert.equal(built.bytes.toString('hex'), IPV4);
  });

  test('vrrpIpv6Frame: group MAC, hop limit 255, next header 112, link-local source', () => {
    const built = vrrpIpv6Frame(ADVERT6, { srcMac: '02:00:00:00:00:0a', src: 'fe80::a' });
    assert.ok(built.ok);
    assert.equal(built.bytes.toString('hex'), IPV6);
  });

  test('build errors are results: bad addresses and codec reasons', () => {
    assert.equal(vrrpIpv4Packet(ADVERT4, 'fe80::1').ok === false && 'bad-address', 'bad-address');
    const r = vrrpIpv4Packet({ ...ADVERT4, vrid: 0 }, '10.0.0.1');
    assert.equal(!r.ok && r.reason, 'bad-vrid');
    const m = vrrpIpv6Frame(ADVERT6, { srcMac: 'nope', src: 'fe80::a' });
    assert.equal(!m.ok && m.reason, 'bad-address');
    const ll = vrrpIpv6Frame({ ...ADVERT6, addresses: ['fd00::100'] }, { srcMac: '02:00:00:00:00:0a', src: 'fe80::a' });
    assert.equal(!ll.ok && ll.reason, 'not-link-local');
  });
});

describe('receiveIpv4', () => {
  test('a good multicast advert is decoded with source and destination', () => {
    assert.deepEqual(receiveIpv4(Buffer.from(IPV4, 'hex'), ctx4), {
      ok: true,
      family: 'ipv4',
      from: '10.0.0.1',
      to: '224.0.0.18',
      advert: ADVERT4,
      checksumMode: 'pseudo-header',
    });
  });

  test('a unicast advert to one of our addresses is accepted', () => {
    const built = vrrpIpv4Packet(ADVERT4, '10.0.0.1', '10.0.0.2');
    assert.ok(built.ok);
    const r = receiveIpv4(built.bytes, ctx4);
    assert.ok(r.ok && r.to === '10.0.0.2');
  });

  test('a checksum without pseudo-header is accepted and flagged', () => {
    const vrrp = encodeAdvertWithoutPseudoHeader(ADVERT4, 'ipv4');
    assert.ok(vrrp.ok);
    const ip = encodeIpv4({
      src: ipv4Bytes('10.0.0.1')!,
      dst: ipv4Bytes('224.0.0.18')!,
      protocol: 112,
      ttl: 255,
      payload: vrrp.packet,
    });
    const r = receiveIpv4(ip, ctx4);
    assert.equal(r.ok && r.checksumMode, 'no-pseudo-header');
  });

  const reencode = (o: { ttl?: number; protocol?: number; src?: string; dst?: string; payload?: Buffer }) => {
    const good = Buffer.from(IPV4, 'hex');
    return encodeIpv4({
      src: ipv4Bytes(o.src ?? '10.0.0.1')!,
      dst: ipv4Bytes(o.dst ?? '224.0.0.18')!,
      protocol: o.protocol ?? 112,
      ttl: o.ttl ?? 255,
      payload: o.payload ?? good.subarray(20),
    });
  };
  const cases: Array<[string, Buffer, string]> = [
    ['TTL 64 (RFC 5798 §7.1)', reencode({ ttl: 64 }), 'bad-ttl'],
    ['protocol 17', reencode({ protocol: 17 }), 'not-vrrp'],
    ['from our own address', reencode({ src: '10.0.0.2' }), 'own-packet'],
    ['to someone else', reencode({ dst: '10.0.0.9' }), 'not-for-us'],
    ['short IP header', Buffer.from(IPV4, 'hex').subarray(0, 10), 'malformed'],
    ['VRRPv2', reencode({ payload: Buffer.from('2133c801006411730a000064', 'hex') }), 'bad-version'],
    ['corrupt advert', reencode({ payload: Buffer.from('3133c901006411730a000064', 'hex') }), 'bad-checksum'],
  ];
  for (const [name, bytes, reason] of cases) {
    covered.add(reason);
    test(`drops: ${name} -> ${reason}`, () => {
      const r = receiveIpv4(bytes, ctx4);
      assert.equal(r.ok ? 'accepted' : r.reason, reason);
      assert.equal(r.family, 'ipv4');
    });
  }
});

describe('receiveIpv6Frame', () => {
  test('a good advert is decoded', () => {
    assert.deepEqual(receiveIpv6Frame(Buffer.from(IPV6, 'hex'), 2, ctx6), {
      ok: true,
      family: 'ipv6',
      from: 'fe80::a',
      to: 'ff02::12',
      advert: ADVERT6,
      checksumMode: 'pseudo-header',
    });
  });

  const edit = (offset: number, value: number) => {
    const b = Buffer.from(IPV6, 'hex');
    b[offset] = value;
    return b;
  };
  const fromUs = vrrpIpv6Frame(ADVERT6, { srcMac: '02:00:00:00:00:0c', src: 'fe80::b' });
  assert.ok(fromUs.ok);
  const toAllNodes = vrrpIpv6Frame(ADVERT6, { srcMac: '02:00:00:00:00:0a', src: 'fe80::a', dst: 'ff02::1' });
  assert.ok(toAllNodes.ok);
  const cases: Array<[string, Buffer, number, string]> = [
    ['PACKET_OUTGOING', Buffer.from(IPV6, 'hex'), 4, 'own-packet'],
    ['PACKET_OTHERHOST', Buffer.from(IPV6, 'hex'), 3, 'other-host'],
    // Not PACKET_OUTGOING, so not sent by this host although its source says so: a replay, a spoof or a reflection.
    ['from our MAC', Buffer.from(IPV6.replace('02000000000a', '02000000000b'), 'hex'), 2, 'own-source'],
    ['from our address', fromUs.bytes, 2, 'own-source'],
    ['hop limit 64', edit(21, 64), 2, 'bad-ttl'],
    ['next header 58', edit(20, 58), 2, 'not-vrrp'],
    ['to ff02::1', toAllNodes.bytes, 2, 'not-for-us'],
    ['not IPv6 ethertype', edit(12, 0x08), 2, 'malformed'],
    ['truncated', Buffer.from(IPV6, 'hex').subarray(0, 80), 2, 'malformed'],
    ['corrupt advert', edit(56, 0xc9), 2, 'bad-checksum'],
  ];
  for (const [name, bytes, pktType, reason] of cases) {
    covered.add(reason);
    test(`drops: ${name} -> ${reason}`, () => {
      const r = receiveIpv6Frame(bytes, pktType, ctx6);
      assert.equal(r.ok ? 'accepted' : r.reason, reason);
    });
  }

  test('every socket-level drop reason is covered by the tables', () => {
    assert.deepEqual(
      [...VRRP_DROP_REASONS].filter((r) => !covered.has(r)),
      [],
    );
  });

  test('receive functions never throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), fc.nat(7), (b, t) => {
        receiveIpv4(Buffer.from(b), ctx4);
        receiveIpv6Frame(Buffer.from(b), t, ctx6);
        const good = Buffer.from(IPV6, 'hex');
        receiveIpv6Frame(good.subarray(0, b.length % good.length), t, ctx6);
      }),
    );
  });
});

describe('IPv4 as Ethernet frames (AF_PACKET)', () => {
  test('vrrpIpv4Frame: group MAC 01:00:5e:00:00:12, EtherType 0x0800, the same IPv4 packet, padded to 60', () => {
    const built = vrrpIpv4Frame(ADVERT4, { srcMac: '02:00:00:00:00:0a', src: '10.0.0.1' });
    assert.ok(built.ok);
    assert.equal(
      built.bytes.toString('hex'),
      `01005e00001202000000000a0800${IPV4}${'00'.repeat(60 - 14 - IPV4.length / 2)}`,
    );
  });

  test('unicast: the peer MAC and address are used; a bad MAC is a result', () => {
    const built = vrrpIpv4Frame(ADVERT4, {
      srcMac: '02:00:00:00:00:0a',
      src: '10.0.0.1',
      dst: '10.0.0.2',
      dstMac: '02:00:00:00:00:0b',
    });
    assert.ok(built.ok);
    assert.equal(built.bytes.subarray(0, 6).toString('hex'), '02000000000b');
    const r = receiveIpv4Frame(built.bytes, 0, ctx4);
    assert.ok(r.ok);
    assert.deepEqual([r.from, r.to, r.advert.priority], ['10.0.0.1', '10.0.0.2', 200]);
    const bad = vrrpIpv4Frame(ADVERT4, { srcMac: 'nope', src: '10.0.0.1' });
    assert.equal(bad.ok ? 'built' : bad.reason, 'bad-address');
  });

  test('receiveIpv4Frame: padding ignored; outgoing, other-host, our MAC and non-IPv4 frames dropped', () => {
    const frame = vrrpIpv4Frame(ADVERT4, { srcMac: '02:00:00:00:00:0a', src: '10.0.0.1' });
    assert.ok(frame.ok);
    const ok = receiveIpv4Frame(frame.bytes, 2, ctx4);
    assert.ok(ok.ok);
    assert.deepEqual(ok.advert.addresses, ['10.0.0.100']);
    const reason = (b: Buffer, t: number, c: ReceiveContext = ctx4) => {
      const r = receiveIpv4Frame(b, t, c);
      return r.ok ? 'accepted' : r.reason;
    };
    assert.equal(reason(frame.bytes, 4), 'own-packet');
    assert.equal(reason(frame.bytes, 3), 'other-host');
    assert.equal(reason(frame.bytes, 2, { ...ctx4, mac: '02:00:00:00:00:0a' }), 'own-source');
    assert.equal(reason(frame.bytes, 2, { ...ctx4, ownAddresses: new Set(['10.0.0.1']) }), 'own-source');
    const arp = Buffer.from(frame.bytes);
    arp.writeUInt16BE(0x0806, 12);
    assert.equal(reason(arp, 2), 'malformed');
    assert.equal(reason(frame.bytes.subarray(0, 10), 2), 'malformed');
  });
});
