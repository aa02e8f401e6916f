// The one neighbour responder (src/net/frame-responder.ts) behind ArpResponder and NdpResponder, on a fake socket:
// a table of frames per family, each dropped for the reason named or answered, counted in stats() and exported as
// metal_vrrp_neighbor_requests_dropped_total{family,interface,reason}, every reason present from the start at 0.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createSpeakerMetrics } from '../../src/metrics.ts';
import { ArpResponder } from '../../src/net/arp-responder.ts';
import { ARP_DROP_REASONS, arpFrame, gratuitousArp } from '../../src/net/frames/arp.ts';
import { NDP_DROP_REASONS, neighborSolicitationFrame } from '../../src/net/frames/ndp.ts';
import type { InterfaceInfo } from '../../src/net/interface-info.ts';
import { NdpResponder } from '../../src/net/ndp-responder.ts';
import type { FrameSocket, SendResult } from '../../src/net/packet-socket.ts';

const OURS = '02:00:00:00:00:0a';
const CLIENT = '02:00:00:00:00:0b';
const VIP4 = '10.0.0.100';
const VIP6 = '2001:db8::100';
const info: InterfaceInfo = { name: 'eth0', index: 2, mac: OURS, ipv4: ['10.0.0.1'], ipv6: [], linkLocal: 'fe80::a' };

/** rig opens a responder on a fake socket: `deliver` plays a received frame, `sent` collects what it sends. */
function rig(family: 'ipv4' | 'ipv6', opts: { answer?: boolean; sendFails?: boolean } = {}) {
  const metrics = createSpeakerMetrics({ processMetrics: false });
  const sent: Buffer[] = [];
  let deliver: (frame: Buffer, pktType: number) => void = () => {};
  const socket: FrameSocket = {
    send: (frame): SendResult => {
      if (opts.sendFails) return { ok: false, code: 'ENOBUFS', message: 'no buffer space' };
      sent.push(frame);
      return { ok: true, bytes: frame.length };
    },
    addMembership: () => {},
    dropMembership: () => {},
    close: () => {},
  };
  const results: { answer: boolean; reason?: string }[] = [];
  const deps = {
    ifname: 'eth0',
    interfaceInfo: info,
    shouldAnswer: (ip: string) => (opts.answer ?? true) && (ip === VIP4 || ip === VIP6),
    openSocket: (o: { onFrame: (frame: Buffer, pktType: number) => void }) => {
      deliver = o.onFrame;
      return socket;
    },
    onFrame: (r: { answer: boolean; reason?: string }) => void results.push(r),
    drops: metrics.neighborDrops,
  };
  const responder = family === 'ipv4' ? new ArpResponder(deps) : new NdpResponder(deps);
  return { responder, metrics, sent, results, deliver: (f: Buffer, t = 0) => deliver(f, t) };
}

async function dropped(metrics: ReturnType<typeof createSpeakerMetrics>, family: string, reason: string) {
  const text = await metrics.registry.metrics();
  const re = new RegExp(
    `^metal_vrrp_neighbor_requests_dropped_total\\{family="${family}",interface="eth0",reason="${reason}",component="speaker"\\} (\\d+)$`,
    'm',
  );
  const m = re.exec(text);
  return m ? Number(m[1]) : undefined;
}

const arpRequest = (target: string, from = CLIENT) =>
  arpFrame('ff:ff:ff:ff:ff:ff', from, {
    op: 1,
    senderMac: from,
    senderIp: '10.0.0.2',
    targetMac: '00:00:00:00:00:00',
    targetIp: target,
  })!;
const ns = (o: { target?: string; srcMac?: string; hopLimit?: number } = {}) =>
  neighborSolicitationFrame({
    srcMac: o.srcMac ?? CLIENT,
    src: 'fe80::b',
    target: o.target ?? VIP6,
    ...(o.hopLimit === undefined ? {} : { hopLimit: o.hopLimit }),
  })!;
const withByte = (frame: Buffer, offset: number, value: number) => {
  const b = Buffer.from(frame);
  b[offset] = value;
  return b;
};

interface Case {
  readonly name: string;
  readonly frame: Buffer;
  readonly pktType?: number;
  readonly answer?: boolean;
  readonly want: string;
}

const TABLE: Record<'ipv4' | 'ipv6', { reasons: readonly string[]; ok: Buffer; cases: Case[] }> = {
  ipv4: {
    reasons: ARP_DROP_REASONS,
    ok: arpRequest(VIP4),
    cases: [
      { name: 'our own outgoing frame', frame: arpRequest(VIP4), pktType: 4, want: 'own-frame' },
      { name: 'from our MAC', frame: arpRequest(VIP4, OURS), want: 'own-frame' },
      { name: 'promiscuous copy', frame: arpRequest(VIP4), pktType: 3, want: 'other-host' },
      { name: 'truncated', frame: arpRequest(VIP4).subarray(0, 30), want: 'malformed' },
      { name: 'a reply', frame: gratuitousArp(CLIENT, '10.0.0.2', 'reply')!, want: 'not-request' },
      { name: 'an announcement', frame: gratuitousArp(CLIENT, VIP4, 'request')!, want: 'announcement' },
      { name: 'another address', frame: arpRequest('10.0.0.101'), want: 'not-ours' },
      { name: 'a VIP shouldAnswer refuses', frame: arpRequest(VIP4), answer: false, want: 'not-ours' },
    ],
  },
  ipv6: {
    reasons: NDP_DROP_REASONS,
    ok: ns(),
    cases: [
      { name: 'our own outgoing frame', frame: ns(), pktType: 4, want: 'own-frame' },
      { name: 'from our MAC', frame: ns({ srcMac: OURS }), want: 'own-frame' },
      { name: 'promiscuous copy', frame: ns(), pktType: 3, want: 'other-host' },
      { name: 'truncated', frame: ns().subarray(0, 40), want: 'malformed' },
      { name: 'next header UDP', frame: withByte(ns(), 14 + 6, 17), want: 'not-icmpv6' },
      { name: 'an advertisement', frame: withByte(ns(), 14 + 40, 136), want: 'not-solicitation' },
      { name: 'hop limit 64', frame: ns({ hopLimit: 64 }), want: 'bad-hop-limit' },
      { name: 'checksum broken', frame: withByte(ns(), 14 + 42, ns()[14 + 42]! ^ 0xff), want: 'bad-checksum' },
      { name: 'multicast target', frame: ns({ target: 'ff02::1' }), want: 'invalid-solicitation' },
      { name: 'another address', frame: ns({ target: '2001:db8::101' }), want: 'not-ours' },
      { name: 'a VIP shouldAnswer refuses', frame: ns(), answer: false, want: 'not-ours' },
    ],
  },
};

for (const family of ['ipv4', 'ipv6'] as const) {
  const { reasons, ok, cases } = TABLE[family];
  describe(`FrameResponder (${family})`, () => {
    test('every drop reason is exported at 0 before any frame arrives', async () => {
      const r = rig(family);
      for (const reason of reasons) assert.equal(await dropped(r.metrics, family, reason), 0, reason);
      r.responder.stop();
    });

    for (const c of cases) {
      test(`drops ${c.name} -> ${c.want}, counted in stats() and /metrics`, async () => {
        const r = rig(family, { answer: c.answer ?? true });
        r.deliver(c.frame, c.pktType ?? 0);
        assert.deepEqual(
          r.results.map((x) => x.reason),
          [c.want],
        );
        assert.equal(r.sent.length, 0);
        const stats = r.responder.stats() as Record<string, number>;
        assert.equal(stats[c.want], 1);
        assert.equal(stats.answered, 0);
        assert.equal(await dropped(r.metrics, family, c.want), 1);
        for (const other of reasons.filter((x) => x !== c.want)) {
          assert.equal(await dropped(r.metrics, family, other), 0, other);
        }
        r.responder.stop();
      });
    }

    test('the table reaches every drop reason of the family', () => {
      const seen = new Set(cases.map((c) => c.want));
      assert.deepEqual(
        reasons.filter((x) => !seen.has(x)),
        [],
      );
    });

    test('a request for a VIP is answered once, not counted as a drop; a failed send is counted apart', async () => {
      const r = rig(family);
      r.deliver(ok);
      assert.equal(r.sent.length, 1);
      assert.deepEqual(
        r.results.map((x) => x.answer),
        [true],
      );
      const stats = r.responder.stats() as Record<string, number>;
      assert.equal(stats.answered, 1);
      for (const reason of reasons) assert.equal(await dropped(r.metrics, family, reason), 0, reason);
      const failing = rig(family, { sendFails: true });
      failing.deliver(ok);
      assert.equal((failing.responder.stats() as Record<string, number>)['send-failed'], 1);
      r.responder.stop();
      failing.responder.stop();
    });
  });
}
