/**
 * The native ARP/NDP responder (native/neighbor_responder.c, src/net/native-neighbor-responder.ts) decides exactly as
 * the JS codecs do (frames/arp.ts, frames/ndp.ts): the same reason for every frame, the same reply bytes for every
 * answer. Checked on named cases, then differentially on random and mutated frames (the fuzz harness of
 * fuzz-frames-arp-ndp.test.ts; FUZZ_SEED / FUZZ_SCALE apply). Also: answerFor changes the table whole, removals
 * stop answers at once. No socket and no thread: create() without start(). Skipped when the addon is not built.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ArpContext, answerArp } from '../../src/net/frames/arp.ts';
import { answerSolicitation, type NdpContext } from '../../src/net/frames/ndp.ts';
import {
  FAMILY_REASONS,
  NativeNeighborResponder,
  nativeResponderAvailable,
} from '../../src/net/native-neighbor-responder.ts';
import { type FuzzRng, fuzz, fuzzRuns, fuzzSeed, pooled, Tally } from '../support/fuzz.ts';
import { fixIcmpv6 } from '../support/icmpv6.ts';
import { arpRequest, randomMac as mac, solicitation } from '../support/neighbor-requests.ts';

const SKIP = nativeResponderAvailable() ? false : 'addon not built with the native neighbour responder';
const RUNS = fuzzRuns(100_000);
const SEED = fuzzSeed();
const MAC = '02:00:00:00:00:09';
const LINK_LOCAL = 'fe80::9';
const VIPS = ['10.0.0.100', '10.0.0.101', 'fd00::100', 'fd00::101'];

const arpCtx: ArpContext = { mac: MAC, ifname: 'eth0', shouldAnswer: (ip) => VIPS.includes(ip) };
const ndpCtx = (answerFrom: 'link-local' | 'target'): NdpContext => ({
  mac: MAC,
  ifname: 'eth0',
  linkLocal: LINK_LOCAL,
  answerFrom,
  shouldAnswer: (ip) => VIPS.includes(ip),
});

function responder(answerFrom: 'link-local' | 'target' = 'link-local'): NativeNeighborResponder {
  const r = NativeNeighborResponder.create({ mac: MAC, linkLocal: LINK_LOCAL, answerFrom }, { ipv4: true, ipv6: true });
  r.answerFor(VIPS);
  return r;
}

/** jsDecision is what the JS codecs do with the frame, in the native responder's terms. */
function jsDecision(family: 'ipv4' | 'ipv6', frame: Buffer, pktType: number, answerFrom: 'link-local' | 'target') {
  const out =
    family === 'ipv4' ? answerArp(frame, pktType, arpCtx) : answerSolicitation(frame, pktType, ndpCtx(answerFrom));
  return out.answer ? { reason: 'answered', reply: out.reply } : { reason: out.reason };
}

const withByte = (f: Buffer, at: number, v: number) => {
  const c = Buffer.from(f);
  c[at] = v;
  return c;
};

const CASES: { name: string; family: 'ipv4' | 'ipv6'; frame: Buffer; pktType?: number; reason: string }[] = [
  { name: 'ARP request for a VIP', family: 'ipv4', frame: arpRequest('10.0.0.100'), reason: 'answered' },
  {
    name: 'ARP probe (sender 0.0.0.0)',
    family: 'ipv4',
    frame: arpRequest('10.0.0.101', { sender: '0.0.0.0' }),
    reason: 'answered',
  },
  { name: 'ARP request for another address', family: 'ipv4', frame: arpRequest('10.0.0.7'), reason: 'not-ours' },
  { name: 'ARP reply', family: 'ipv4', frame: arpRequest('10.0.0.100', { op: 2 }), reason: 'not-request' },
  {
    name: 'gratuitous ARP',
    family: 'ipv4',
    frame: arpRequest('10.0.0.100', { sender: '10.0.0.100' }),
    reason: 'announcement',
  },
  {
    name: 'ARP from our MAC',
    family: 'ipv4',
    frame: arpRequest('10.0.0.100', { senderMac: MAC }),
    reason: 'own-frame',
  },
  { name: 'ARP outgoing copy', family: 'ipv4', frame: arpRequest('10.0.0.100'), pktType: 4, reason: 'own-frame' },
  { name: 'ARP to another host', family: 'ipv4', frame: arpRequest('10.0.0.100'), pktType: 3, reason: 'other-host' },
  { name: 'ARP truncated', family: 'ipv4', frame: arpRequest('10.0.0.100').subarray(0, 41), reason: 'malformed' },
  {
    name: 'ARP hardware type 6',
    family: 'ipv4',
    frame: withByte(arpRequest('10.0.0.100'), 15, 6),
    reason: 'malformed',
  },
  { name: 'empty frame', family: 'ipv4', frame: Buffer.alloc(0), reason: 'malformed' },
  { name: 'NS for a VIP', family: 'ipv6', frame: solicitation('fd00::100'), reason: 'answered' },
  { name: 'DAD probe for a VIP', family: 'ipv6', frame: solicitation('fd00::101', { src: '::' }), reason: 'answered' },
  { name: 'NS for another address', family: 'ipv6', frame: solicitation('fd00::7'), reason: 'not-ours' },
  {
    name: 'NS hop limit 64',
    family: 'ipv6',
    frame: solicitation('fd00::100', { hopLimit: 64 }),
    reason: 'bad-hop-limit',
  },
  {
    name: 'NS bad checksum',
    family: 'ipv6',
    frame: withByte(solicitation('fd00::100'), 57, 0),
    reason: 'bad-checksum',
  },
  { name: 'NS from our MAC', family: 'ipv6', frame: solicitation('fd00::100', { srcMac: MAC }), reason: 'own-frame' },
  { name: 'NS truncated', family: 'ipv6', frame: solicitation('fd00::100').subarray(0, 70), reason: 'malformed' },
  {
    name: 'NS with a zero-length option',
    family: 'ipv6',
    frame: (() => {
      const f = withByte(solicitation('fd00::100'), 79, 0);
      fixIcmpv6(f);
      return f;
    })(),
    reason: 'malformed',
  },
  {
    name: 'NS code 1',
    family: 'ipv6',
    frame: (() => {
      const f = withByte(solicitation('fd00::100'), 55, 1);
      fixIcmpv6(f);
      return f;
    })(),
    reason: 'invalid-solicitation',
  },
  {
    name: 'NA (type 136)',
    family: 'ipv6',
    frame: (() => {
      const f = withByte(solicitation('fd00::100'), 54, 136);
      fixIcmpv6(f);
      return f;
    })(),
    reason: 'not-solicitation',
  },
  { name: 'IPv6 UDP', family: 'ipv6', frame: withByte(solicitation('fd00::100'), 20, 17), reason: 'not-icmpv6' },
];

test('native responder: each named frame gets the JS codec reason and reply bytes', { skip: SKIP }, () => {
  for (const answerFrom of ['link-local', 'target'] as const) {
    const r = responder(answerFrom);
    for (const c of CASES) {
      const pkt = c.pktType ?? 0;
      const got = r.decide(c.family, c.frame, pkt);
      assert.equal(got.reason, c.reason, `${c.name} (${answerFrom})`);
      assert.deepEqual(got, jsDecision(c.family, c.frame, pkt, answerFrom), `${c.name} (${answerFrom}): same as JS`);
    }
    r.close();
  }
});

test('native responder: answerFor replaces the set; a VIP removed is not answered from the next frame', {
  skip: SKIP,
}, () => {
  const r = responder();
  assert.equal(r.decide('ipv4', arpRequest('10.0.0.100'), 0).reason, 'answered');
  r.answerFor(['10.0.0.101', 'fd00::101']);
  assert.equal(r.decide('ipv4', arpRequest('10.0.0.100'), 0).reason, 'not-ours');
  assert.equal(r.decide('ipv6', solicitation('fd00::100'), 0).reason, 'not-ours');
  assert.equal(r.decide('ipv4', arpRequest('10.0.0.101'), 0).reason, 'answered');
  assert.equal(r.decide('ipv6', solicitation('fd00::101'), 0).reason, 'answered');
  r.answerFor([]);
  assert.equal(r.decide('ipv4', arpRequest('10.0.0.101'), 0).reason, 'not-ours');
  // A responder for IPv4 only keeps no IPv6 VIP.
  const v4 = NativeNeighborResponder.create({ mac: MAC, linkLocal: LINK_LOCAL }, { ipv4: true, ipv6: false });
  v4.answerFor(VIPS);
  assert.equal(v4.decide('ipv6', solicitation('fd00::100'), 0).reason, 'not-ours');
  assert.equal(v4.decide('ipv4', arpRequest('10.0.0.100'), 0).reason, 'answered');
  r.close();
  v4.close();
  const stats = r.stats();
  for (const fam of ['ipv4', 'ipv6'] as const) {
    for (const reason of FAMILY_REASONS[fam]) assert.equal(stats[fam][reason], 0, 'decide() counts nothing');
  }
});

function pktTypeOf(rng: FuzzRng): number {
  return rng.below(8) < 6 ? rng.pick([0, 1]) : rng.below(5);
}

for (const family of ['ipv4', 'ipv6'] as const) {
  test(`native responder agrees with the JS codec on ${RUNS} random and mutated ${family} frames`, {
    skip: SKIP,
  }, (t) => {
    const answerFrom = family === 'ipv4' ? 'link-local' : 'target';
    const r = responder(answerFrom);
    const tally = new Tally();
    const valid =
      family === 'ipv4'
        ? (rng: FuzzRng) =>
            arpRequest(rng.below(3) === 0 ? `10.0.0.${rng.below(256)}` : rng.pick(VIPS.slice(0, 2)), {
              senderMac: mac(rng),
              sender: rng.below(8) === 0 ? '0.0.0.0' : `10.0.0.${rng.int(1, 99)}`,
            })
        : (rng: FuzzRng) =>
            solicitation(rng.below(3) === 0 ? `fd00::${rng.below(0x10000).toString(16)}` : rng.pick(VIPS.slice(2)), {
              srcMac: mac(rng),
              src: rng.below(8) === 0 ? '::' : `fe80::${rng.int(1, 0xffff).toString(16)}`,
            });
    fuzz(
      RUNS,
      { valid: pooled(valid), ...(family === 'ipv6' ? { fix: fixIcmpv6 } : {}), maxRandomLength: 120 },
      (input, rng) => {
        const pkt = pktTypeOf(rng);
        const native = r.decide(family, input.bytes, pkt);
        assert.deepEqual(native, jsDecision(family, input.bytes, pkt, answerFrom));
        tally.add(native.reason);
      },
    );
    r.close();
    t.diagnostic(`fuzz seed=${SEED} ${tally.line()}`);
    assert.ok((tally.counts.get('answered') ?? 0) > 0, `some answered: ${tally.line()}`);
  });
}
