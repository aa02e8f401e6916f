// Known bytes below follow RFC 4861 §4.3/§4.4 and RFC 8200 §3; their ICMPv6 checksums were cross-checked with
// tshark 4.0 (icmpv6.checksum.status = good).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { ipv6Bytes } from '../../src/net/frames/address.ts';
import { decodeIpv6, upperLayerChecksum } from '../../src/net/frames/ipv6.ts';
import {
  answerSolicitation,
  decodeNd,
  NDP_DROP_REASONS,
  type NdpContext,
  type NdpDropReason,
  neighborAdvertisementFrame,
  neighborSolicitationFrame,
  unsolicitedAdvertisement,
} from '../../src/net/frames/ndp.ts';

const OURS = '02:00:00:00:00:0a';
const CLIENT = '02:00:00:00:00:0b';
const VIP = 'fd00::100';
const FE80_A = 'fe80000000000000000000000000000a';
const FE80_B = 'fe80000000000000000000000000000b';
const VIP_HEX = 'fd000000000000000000000000000100';
const SOLICITED = 'ff0200000000000000000001ff000100'; // ff02::1:ff00:100
const ALL_NODES = 'ff020000000000000000000000000001';

// eth | IPv6: ver 6, plen 32, nh 58, hop 255, src, dst | type 135, code 0, checksum, reserved, target | SLLA option
const NS =
  `3333ff000100${'02000000000b'}86dd` +
  `600000000020${'3aff'}${FE80_B}${SOLICITED}` +
  `87007a0700000000${VIP_HEX}` +
  '0101' +
  '02000000000b';
// Answer: unicast to the solicitor, flags S|O (0x60), Target Link-Layer Address option with our MAC.
const NA =
  `02000000000b02000000000a86dd` +
  `6000000000203aff${FE80_A}${FE80_B}` +
  `8800188260000000${VIP_HEX}` +
  '0201' +
  '02000000000a';
// DAD probe: from ::, no option.
const DAD =
  `3333ff00010002000000000b86dd` + `6000000000183aff${'00'.repeat(16)}${SOLICITED}` + `87007ba700000000${VIP_HEX}`;
// Unsolicited NA / DAD answer: to ff02::1, flags O only (0x20).
const UNSOLICITED =
  `33330000000102000000000a86dd` +
  `6000000000203aff${FE80_A}${ALL_NODES}` +
  `8800580a20000000${VIP_HEX}` +
  '0201' +
  '02000000000a';

const ctx = (over: Partial<NdpContext> = {}): NdpContext => ({
  mac: OURS,
  ifname: 'eth0',
  linkLocal: 'fe80::a',
  shouldAnswer: (ip) => ip === VIP,
  ...over,
});

/**
 * withIcmp patches bytes of a frame's IPv6 header or ICMPv6 message (hex at an offset) and fixes the ICMPv6
 * checksum, so only the patched field is wrong.
 */
function withIcmp(hex: string, ...edits: Array<['ip' | 'icmp', number, string]>): Buffer {
  const frame = Buffer.from(hex, 'hex');
  for (const [where, offset, bytes] of edits)
    Buffer.from(bytes, 'hex').copy(frame, (where === 'ip' ? 14 : 54) + offset);
  const icmp = frame.subarray(54, 54 + frame.readUInt16BE(18));
  icmp.writeUInt16BE(0, 2);
  icmp.writeUInt16BE(upperLayerChecksum(frame.subarray(22, 38), frame.subarray(38, 54), 58, icmp), 2);
  return frame;
}

describe('NDP codec', () => {
  test('neighborSolicitationFrame: to the solicited-node group, hop limit 255, SLLA option', () => {
    assert.equal(neighborSolicitationFrame({ srcMac: CLIENT, src: 'fe80::b', target: VIP })?.toString('hex'), NS);
  });

  test('a DAD probe comes from :: and carries no option (RFC 4861 §4.3)', () => {
    assert.equal(neighborSolicitationFrame({ srcMac: CLIENT, src: '::', target: VIP })?.toString('hex'), DAD);
  });

  test('unsolicitedAdvertisement: ff02::1, Override set, Solicited clear (RFC 4861 §7.2.6)', () => {
    assert.equal(unsolicitedAdvertisement(OURS, 'fe80::a', VIP)?.toString('hex'), UNSOLICITED);
    assert.equal(unsolicitedAdvertisement(OURS, 'fe80::a', 'not-an-ip'), undefined);
  });

  test('decodeNd reads flags, target and link-layer options', () => {
    const ip = decodeIpv6(Buffer.from(NA, 'hex').subarray(14));
    assert.ok(ip.ok);
    const nd = decodeNd(ip.payload);
    assert.ok(nd.ok);
    assert.deepEqual(
      [nd.type, nd.code, nd.flags, nd.target, nd.targetLinkLayer, nd.sourceLinkLayer],
      [136, 0, 0x60, VIP, OURS, undefined],
    );
  });

  test('decodeNd refuses short messages and zero-length or overrunning options (RFC 4861 §4.6)', () => {
    const icmp = Buffer.from(NS, 'hex').subarray(54);
    assert.deepEqual(decodeNd(icmp.subarray(0, 23)), { ok: false, reason: 'truncated' });
    assert.deepEqual(decodeNd(Buffer.concat([icmp.subarray(0, 24), Buffer.from([1, 0, 0, 0, 0, 0, 0, 0])])), {
      ok: false,
      reason: 'bad-option',
    });
    assert.deepEqual(decodeNd(Buffer.concat([icmp.subarray(0, 24), Buffer.from([1, 2, 0, 0, 0, 0, 0, 0])])), {
      ok: false,
      reason: 'bad-option',
    });
    assert.deepEqual(decodeNd(Buffer.concat([icmp.subarray(0, 24), Buffer.from([1])])), {
      ok: false,
      reason: 'bad-option',
    });
  });

  test('router flag and checksum of a hand-built advertisement verify', () => {
    const ends = { srcMac: OURS, dstMac: CLIENT, src: 'fe80::a', dst: 'fe80::b' };
    const frame = neighborAdvertisementFrame(ends, VIP, { router: true, solicited: false, override: false })!;
    const ip = decodeIpv6(frame.subarray(14));
    assert.ok(ip.ok);
    assert.equal(ip.payload[4], 0x80);
    assert.equal(upperLayerChecksum(ipv6Bytes('fe80::a')!, ipv6Bytes('fe80::b')!, 58, ip.payload), 0);
  });
});

describe('answerSolicitation', () => {
  test('an NS for a VIP gets a solicited NA from our link-local to the solicitor (RFC 4861 §7.2.4)', () => {
    const out = answerSolicitation(Buffer.from(NS, 'hex'), 2, ctx());
    assert.ok(out.answer);
    assert.deepEqual([out.ip, out.dad], [VIP, false]);
    assert.equal(out.reply.toString('hex'), NA);
  });

  test('answerFrom target puts the VIP as the IPv6 source', () => {
    const out = answerSolicitation(Buffer.from(NS, 'hex'), 2, ctx({ answerFrom: 'target' }));
    assert.ok(out.answer);
    const ip = decodeIpv6(out.reply.subarray(14));
    assert.ok(ip.ok && ip.src === VIP && ip.dst === 'fe80::b');
  });

  test('without an SLLA option the answer goes to the frame source MAC', () => {
    const noOption = Buffer.from(NS, 'hex').subarray(0, 78);
    noOption.writeUInt16BE(24, 18);
    const frame = withIcmp(noOption.toString('hex'));
    const out = answerSolicitation(frame, 2, ctx());
    assert.ok(out.answer);
    assert.equal(out.reply.subarray(0, 6).toString('hex'), '02000000000b');
  });

  test('a DAD probe for a VIP is answered to ff02::1 with Solicited clear (RFC 4861 §7.2.4)', () => {
    const out = answerSolicitation(Buffer.from(DAD, 'hex'), 2, ctx());
    assert.ok(out.answer);
    assert.equal(out.dad, true);
    assert.equal(out.reply.toString('hex'), UNSOLICITED);
  });

  const cases: Array<{ name: string; frame: Buffer; pktType?: number; want: NdpDropReason; c?: Partial<NdpContext> }> =
    [
      { name: 'outgoing copy', frame: Buffer.from(NS, 'hex'), pktType: 4, want: 'own-frame' },
      { name: 'promiscuous', frame: Buffer.from(NS, 'hex'), pktType: 3, want: 'other-host' },
      { name: 'from our MAC', frame: unsolicitedAdvertisement(OURS, 'fe80::a', VIP)!, want: 'own-frame' },
      { name: 'short frame', frame: Buffer.from(NS, 'hex').subarray(0, 12), want: 'malformed' },
      { name: 'not IPv6 ethertype', frame: Buffer.from(NS.replace('86dd', '0800'), 'hex'), want: 'malformed' },
      { name: 'truncated IPv6', frame: Buffer.from(NS, 'hex').subarray(0, 60), want: 'malformed' },
      {
        name: 'UDP',
        frame: withIcmp(NS, ['ip', 6, '11']),
        want: 'not-icmpv6',
      },
      {
        name: 'an advertisement',
        frame: neighborAdvertisementFrame({ srcMac: CLIENT, dstMac: OURS, src: 'fe80::b', dst: 'fe80::a' }, VIP, {
          solicited: true,
          override: true,
        })!,
        want: 'not-solicitation',
      },
      {
        name: 'hop limit 64',
        frame: withIcmp(NS, ['ip', 7, '40']),
        want: 'bad-hop-limit',
      },
      { name: 'corrupt checksum', frame: Buffer.from(NS.replace('7a07', '7a08'), 'hex'), want: 'bad-checksum' },
      { name: 'zero-length option', frame: withIcmp(NS, ['icmp', 25, '00']), want: 'malformed' },
      { name: 'code 1', frame: withIcmp(NS, ['icmp', 1, '01']), want: 'invalid-solicitation' },
      { name: 'multicast target', frame: withIcmp(NS, ['icmp', 8, 'ff']), want: 'invalid-solicitation' },
      {
        name: 'DAD not to solicited-node',
        frame: withIcmp(DAD, ['ip', 24, ALL_NODES]),
        want: 'invalid-solicitation',
      },
      {
        name: 'DAD with SLLA',
        frame: withIcmp(NS, ['ip', 8, '00'.repeat(16)]),
        want: 'invalid-solicitation',
      },
      {
        name: 'not a VIP',
        frame: neighborSolicitationFrame({ srcMac: CLIENT, src: 'fe80::b', target: 'fd00::7' })!,
        want: 'not-ours',
      },
      {
        name: 'shouldAnswer says no',
        frame: Buffer.from(NS, 'hex'),
        want: 'not-ours',
        c: { shouldAnswer: () => false },
      },
    ];
  for (const c of cases) {
    test(`drops: ${c.name} -> ${c.want}`, () => {
      const out = answerSolicitation(c.frame, c.pktType ?? 2, ctx(c.c));
      assert.equal(out.answer ? 'answered' : out.reason, c.want);
    });
  }

  test('every drop reason is reachable by the table above', () => {
    const seen = new Set(cases.map((c) => c.want));
    assert.deepEqual(
      [...NDP_DROP_REASONS].filter((r) => !seen.has(r)),
      [],
    );
  });

  test('answerSolicitation never throws on arbitrary or truncated frames', () => {
    const ns = Buffer.from(NS, 'hex');
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), fc.nat(ns.length), (b, cut) => {
        answerSolicitation(Buffer.from(b), 2, ctx());
        answerSolicitation(ns.subarray(0, cut), 2, ctx());
      }),
    );
  });
});
