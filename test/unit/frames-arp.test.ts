// Known bytes below were built by hand from RFC 826's layout and cross-checked with tshark 4.0 ("ARP Announcement",
// "Gratuitous ARP (Reply)", "Who has", "is at").
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  ARP_DROP_REASONS,
  type ArpContext,
  type ArpDropReason,
  answerArp,
  arpFrame,
  decodeArp,
  encodeArp,
  gratuitousArp,
} from '../../src/net/frames/arp.ts';

const OURS = '02:00:00:00:00:0a';
const CLIENT = '02:00:00:00:00:0b';
const VIP = '10.0.0.100';
const PAD = '00'.repeat(18); // 42-byte ARP frames are padded to 60

// Ethernet header | htype 1, ptype 0800, hlen 6, plen 4 | op | sha | spa | tha | tpa
const ANNOUNCEMENT =
  `ffffffffffff${'02000000000a'}0806` + `0001080006040001` + `02000000000a0a000064` + `0000000000000a000064`;
const GRATUITOUS_REPLY =
  `ffffffffffff02000000000a0806` + `0001080006040002` + `02000000000a0a000064` + `02000000000a0a000064`;
const REQUEST = `ffffffffffff02000000000b0806` + `0001080006040001` + `02000000000b0a000002` + `0000000000000a000064`;
const REPLY = `02000000000b02000000000a0806` + `0001080006040002` + `02000000000a0a000064` + `02000000000b0a000002`;

const ctx = (answer = true): ArpContext => ({ mac: OURS, ifname: 'eth0', shouldAnswer: (ip) => answer && ip === VIP });

describe('ARP codec', () => {
  test('gratuitous forms: RFC 5227 §3 announcement and RFC 5944 §4.6 reply', () => {
    assert.equal(gratuitousArp(OURS, VIP, 'request')?.toString('hex'), ANNOUNCEMENT + PAD);
    assert.equal(gratuitousArp(OURS, VIP, 'reply')?.toString('hex'), GRATUITOUS_REPLY + PAD);
  });

  test('decodeArp reads every field and ignores padding', () => {
    const d = decodeArp(Buffer.from(REQUEST + PAD, 'hex').subarray(14));
    assert.deepEqual(d, {
      ok: true,
      op: 1,
      senderMac: CLIENT,
      senderIp: '10.0.0.2',
      targetMac: '00:00:00:00:00:00',
      targetIp: VIP,
    });
  });

  test('encodeArp and decodeArp round-trip', () => {
    const p = { op: 2, senderMac: OURS, senderIp: '192.0.2.1', targetMac: CLIENT, targetIp: '192.0.2.2' };
    assert.deepEqual(decodeArp(encodeArp(p)!), { ok: true, ...p });
    assert.equal(encodeArp({ ...p, senderIp: '192.0.2' }), undefined);
  });

  test('decodeArp refuses short packets and other hardware/protocol types', () => {
    const good = Buffer.from(REQUEST, 'hex').subarray(14);
    assert.deepEqual(decodeArp(good.subarray(0, 27)), { ok: false, reason: 'truncated' });
    for (const [offset, value] of [
      [1, 6], // htype IEEE 802
      [2, 0x86], // ptype not IPv4
      [4, 8], // hlen
      [5, 16], // plen
    ] as const) {
      const bad = Buffer.from(good);
      bad[offset] = value;
      assert.deepEqual(decodeArp(bad), { ok: false, reason: 'not-ethernet-ipv4' }, `byte ${offset}`);
    }
  });

  test('decodeArp never throws on arbitrary bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 40 }), (b) => void decodeArp(Buffer.from(b))));
  });
});

describe('answerArp', () => {
  test('a request for a VIP gets a unicast reply with our MAC (RFC 826)', () => {
    const out = answerArp(Buffer.from(REQUEST + PAD, 'hex'), 1, ctx());
    assert.ok(out.answer);
    assert.equal(out.ip, VIP);
    assert.deepEqual(out.requester, { mac: CLIENT, ip: '10.0.0.2' });
    assert.equal(out.reply.toString('hex'), REPLY + PAD);
  });

  test('a probe (sender 0.0.0.0, RFC 5227 §2.1.1) for a VIP is answered to the prober', () => {
    const probe = arpFrame('ff:ff:ff:ff:ff:ff', CLIENT, {
      op: 1,
      senderMac: CLIENT,
      senderIp: '0.0.0.0',
      targetMac: '00:00:00:00:00:00',
      targetIp: VIP,
    })!;
    const out = answerArp(probe, 1, ctx());
    assert.ok(out.answer);
    assert.deepEqual(out.requester, { mac: CLIENT, ip: '0.0.0.0' });
  });

  const request = Buffer.from(REQUEST + PAD, 'hex');
  const withByte = (offset: number, value: number) => {
    const b = Buffer.from(request);
    b[offset] = value;
    return b;
  };
  const cases: Array<{ name: string; frame: Buffer; pktType?: number; answer?: boolean; want: ArpDropReason }> = [
    { name: 'outgoing copy of our own frame', frame: request, pktType: 4, want: 'own-frame' },
    { name: 'seen in promiscuous mode', frame: request, pktType: 3, want: 'other-host' },
    { name: 'from our MAC', frame: gratuitousArp(OURS, '10.0.0.7', 'request')!, want: 'own-frame' },
    { name: 'shorter than Ethernet', frame: request.subarray(0, 10), want: 'malformed' },
    { name: 'shorter than ARP', frame: request.subarray(0, 40), want: 'malformed' },
    { name: 'not ARP ethertype', frame: withByte(13, 0x00), want: 'malformed' },
    { name: 'hardware type 6', frame: withByte(15, 6), want: 'malformed' },
    { name: 'a reply', frame: gratuitousArp(CLIENT, '10.0.0.2', 'reply')!, want: 'not-request' },
    { name: 'someone else announcing', frame: gratuitousArp(CLIENT, VIP, 'request')!, want: 'announcement' },
    { name: 'not a VIP', frame: withByte(14 + 27, 0x65), want: 'not-ours' },
    { name: 'shouldAnswer says no', frame: request, answer: false, want: 'not-ours' },
  ];
  for (const c of cases) {
    test(`drops: ${c.name} -> ${c.want}`, () => {
      const out = answerArp(c.frame, c.pktType ?? 1, ctx(c.answer ?? true));
      assert.equal(out.answer, false);
      assert.equal(!out.answer && out.reason, c.want);
    });
  }

  test('every drop reason is reachable by the table above', () => {
    const seen = new Set(cases.map((c) => c.want));
    assert.deepEqual(
      [...ARP_DROP_REASONS].filter((r) => !seen.has(r)),
      [],
    );
  });

  test('answerArp never throws on arbitrary frames', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 70 }), fc.integer({ min: 0, max: 7 }), (b, t) => {
        answerArp(Buffer.from(b), t, ctx());
      }),
    );
  });
});
