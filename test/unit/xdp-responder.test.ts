/**
 * The XDP responder's program (native/xdp_responder.c, src/net/xdp-responder.ts), run by the kernel on single frames
 * (BPF_PROG_TEST_RUN: no interface), against the JS codecs (frames/arp.ts, frames/ndp.ts): every frame it sends back
 * (XDP_TX) is one the codec answers, with the codec's reply byte for byte; every frame the codec answers and the
 * program passes on is one it leaves to the native thread by design (a DAD probe from ::, NS options other than one
 * Source Link-Layer Address). Named cases, then random and mutated frames (the fuzz harness; FUZZ_SEED / FUZZ_SCALE).
 * Needs root (CAP_BPF) and the addon; skipped otherwise.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ArpContext, answerArp } from '../../src/net/frames/arp.ts';
import { macBytes } from '../../src/net/frames/ethernet.ts';
import { answerSolicitation, type NdpContext } from '../../src/net/frames/ndp.ts';
import { XDP_COUNTERS, XdpResponder, xdpAvailable } from '../../src/net/xdp-responder.ts';
import { type FuzzRng, fuzz, fuzzRuns, fuzzSeed, pooled, Tally } from '../support/fuzz.ts';
import { fixIcmpv6 } from '../support/icmpv6.ts';
import { arpRequest, randomMac as mac, solicitation } from '../support/neighbor-requests.ts';

const SKIP =
  process.getuid?.() !== 0 ? 'needs root (bpf)' : xdpAvailable() ? false : 'addon not built with the XDP responder';
const RUNS = fuzzRuns(20_000);
const SEED = fuzzSeed();
const MAC = '02:00:00:00:00:09';
const MAC_BYTES = macBytes(MAC)!;
const LINK_LOCAL = 'fe80::9';
const VIPS = ['10.0.0.100', '10.0.0.101', 'fd00::100', 'fd00::101'];
type AnswerFrom = 'link-local' | 'target';

function responder(answerFrom: AnswerFrom = 'link-local'): XdpResponder {
  const r = XdpResponder.create({ mac: MAC, linkLocal: LINK_LOCAL, answerFrom }, { ipv4: true, ipv6: true });
  r.answerFor(VIPS);
  return r;
}

/** pktTypeOf is what the kernel would tell a packet socket about the frame: to us, broadcast, multicast, or other. */
function pktTypeOf(frame: Buffer): number {
  if (frame.length < 6) return 0;
  if (frame[0]! & 1) return frame.subarray(0, 6).equals(Buffer.alloc(6, 0xff)) ? 1 : 2;
  return frame.subarray(0, 6).equals(MAC_BYTES) ? 0 : 3;
}

/** js is what the JS codecs do with the frame. */
function js(frame: Buffer, answerFrom: AnswerFrom): { reason: string; reply?: Buffer } {
  const shouldAnswer = (ip: string) => VIPS.includes(ip);
  const isArp = frame.length >= 14 && frame.readUInt16BE(12) === 0x0806;
  const out = isArp
    ? answerArp(frame, pktTypeOf(frame), { mac: MAC, ifname: 'eth0', shouldAnswer } satisfies ArpContext)
    : answerSolicitation(frame, pktTypeOf(frame), {
        mac: MAC,
        ifname: 'eth0',
        linkLocal: LINK_LOCAL,
        answerFrom,
        shouldAnswer,
      } satisfies NdpContext);
  return out.answer ? { reason: 'answered', reply: out.reply } : { reason: out.reason };
}

/** leftToThread: an answerable NS the program passes on by design (DAD probe, options other than one SLLA). */
function leftToThread(frame: Buffer): boolean {
  if (frame.length < 78 || frame.readUInt16BE(12) !== 0x86dd) return false;
  const dad = frame.subarray(22, 38).equals(Buffer.alloc(16));
  const plen = frame.readUInt16BE(18);
  const oneSlla = plen === 32 && frame.length >= 86 && frame[78] === 1 && frame[79] === 1;
  return dad || !(plen === 24 || oneSlla);
}

/** check runs one frame through both and asserts they agree; returns the pair for tallies. */
function check(r: XdpResponder, frame: Buffer, answerFrom: AnswerFrom, name: string): string {
  const j = js(frame, answerFrom);
  // No frame shorter than an Ethernet header reaches XDP (BPF_PROG_TEST_RUN refuses one too).
  if (frame.length < 14) {
    assert.notEqual(j.reason, 'answered', `${name}: a runt answered by the codec`);
    return `runt/${j.reason}`;
  }
  const x = r.testRun(frame);
  if (x.action === 'tx') {
    assert.equal(j.reason, 'answered', `${name}: XDP answered what the codec drops (${j.reason})`);
    assert.equal(x.frame.toString('hex'), j.reply!.toString('hex'), `${name}: reply bytes`);
  } else {
    assert.equal(x.action, 'pass', `${name}: XDP_PASS or XDP_TX only`);
    assert.equal(x.frame.toString('hex'), frame.toString('hex'), `${name}: a passed frame is unchanged`);
    if (j.reason === 'answered') assert.ok(leftToThread(frame), `${name}: answerable, passed on`);
  }
  return `${x.action}/${j.reason}`;
}

/** withoutOption is an NS with no option (24-byte message), as a host that omits the SLLA sends. */
function withoutOption(f: Buffer): Buffer {
  const c = Buffer.from(f.subarray(0, 78));
  c.writeUInt16BE(24, 18);
  fixIcmpv6(c);
  return c;
}

const edit = (f: Buffer, at: number, v: number, fix = false) => {
  const c = Buffer.from(f);
  c[at] = v;
  if (fix) fixIcmpv6(c);
  return c;
};

/** CASES: frames with the action the program must take. */
const CASES: { name: string; frame: Buffer; action: 'tx' | 'pass' }[] = [
  { name: 'ARP request for a VIP', frame: arpRequest('10.0.0.100'), action: 'tx' },
  { name: 'ARP request, 42 bytes (unpadded)', frame: arpRequest('10.0.0.100').subarray(0, 42), action: 'tx' },
  {
    name: 'ARP request with a long tail',
    frame: Buffer.concat([arpRequest('10.0.0.101'), Buffer.alloc(40, 0xab)]),
    action: 'tx',
  },
  { name: 'ARP request unicast to us', frame: arpRequest('10.0.0.100', { dst: MAC }), action: 'tx' },
  { name: 'ARP probe (sender 0.0.0.0)', frame: arpRequest('10.0.0.101', { sender: '0.0.0.0' }), action: 'tx' },
  {
    name: 'ARP request to another host',
    frame: arpRequest('10.0.0.100', { dst: '02:00:00:00:00:77' }),
    action: 'pass',
  },
  { name: 'ARP request for another address', frame: arpRequest('10.0.0.7'), action: 'pass' },
  { name: 'ARP reply', frame: arpRequest('10.0.0.100', { op: 2 }), action: 'pass' },
  { name: 'gratuitous ARP', frame: arpRequest('10.0.0.100', { sender: '10.0.0.100' }), action: 'pass' },
  { name: 'ARP from our MAC', frame: arpRequest('10.0.0.100', { senderMac: MAC }), action: 'pass' },
  { name: 'ARP truncated', frame: arpRequest('10.0.0.100').subarray(0, 41), action: 'pass' },
  { name: 'ARP hardware type 6', frame: edit(arpRequest('10.0.0.100'), 15, 6), action: 'pass' },
  { name: 'Ethernet header only', frame: arpRequest('10.0.0.100').subarray(0, 14), action: 'pass' },
  { name: 'NS for a VIP (SLLA option)', frame: solicitation('fd00::100'), action: 'tx' },
  { name: 'NS for a VIP, no option', frame: withoutOption(solicitation('fd00::101')), action: 'tx' },
  { name: 'NS unicast to us', frame: solicitation('fd00::100', { dstMac: MAC }), action: 'tx' },
  { name: 'DAD probe for a VIP (left to the thread)', frame: solicitation('fd00::101', { src: '::' }), action: 'pass' },
  { name: 'NS for another address', frame: solicitation('fd00::7'), action: 'pass' },
  { name: 'NS hop limit 64', frame: solicitation('fd00::100', { hopLimit: 64 }), action: 'pass' },
  { name: 'NS bad checksum', frame: edit(solicitation('fd00::100'), 57, 0), action: 'pass' },
  { name: 'NS from our MAC', frame: solicitation('fd00::100', { srcMac: MAC }), action: 'pass' },
  { name: 'NS truncated', frame: solicitation('fd00::100').subarray(0, 70), action: 'pass' },
  { name: 'NS with a zero-length option', frame: edit(solicitation('fd00::100'), 79, 0, true), action: 'pass' },
  { name: 'NS code 1', frame: edit(solicitation('fd00::100'), 55, 1, true), action: 'pass' },
  { name: 'NS for a multicast target', frame: edit(solicitation('fd00::100'), 62, 0xff, true), action: 'pass' },
  { name: 'NA (type 136)', frame: edit(solicitation('fd00::100'), 54, 136, true), action: 'pass' },
  { name: 'IPv6 UDP', frame: edit(solicitation('fd00::100'), 20, 17), action: 'pass' },
];

test('XDP program: each named frame gets its action, and every reply is the JS codec reply', { skip: SKIP }, () => {
  for (const answerFrom of ['link-local', 'target'] as const) {
    const r = responder(answerFrom);
    for (const c of CASES) {
      assert.equal(check(r, c.frame, answerFrom, `${c.name} (${answerFrom})`).split('/')[0], c.action, c.name);
    }
    const s = r.stats();
    assert.equal(s.arpAnswered, CASES.filter((c) => c.action === 'tx' && c.name.startsWith('ARP')).length);
    assert.equal(s.ndpAnswered, CASES.filter((c) => c.action === 'tx' && c.name.startsWith('NS')).length);
    assert.equal(s.arpResizeFailed + s.ndpResizeFailed, 0);
    r.close();
  }
});

test('XDP program: answerFor changes the map; a VIP removed is passed on from the next frame', { skip: SKIP }, () => {
  const r = responder();
  assert.equal(r.testRun(arpRequest('10.0.0.100')).action, 'tx');
  r.answerFor(['10.0.0.101', 'fd00::101']);
  assert.equal(r.testRun(arpRequest('10.0.0.100')).action, 'pass');
  assert.equal(r.testRun(solicitation('fd00::100')).action, 'pass');
  assert.equal(r.testRun(arpRequest('10.0.0.101')).action, 'tx');
  assert.equal(r.testRun(solicitation('fd00::101')).action, 'tx');
  r.answerFor([]);
  assert.equal(r.testRun(arpRequest('10.0.0.101')).action, 'pass');
  assert.deepEqual(Object.keys(r.stats()).sort(), [...XDP_COUNTERS].sort());
  r.close();
  // IPv4 only: the program has no NDP path at all, and the map keeps no IPv6 VIP.
  const v4 = XdpResponder.create({ mac: MAC, linkLocal: LINK_LOCAL }, { ipv4: true, ipv6: false });
  v4.answerFor(VIPS);
  assert.equal(v4.testRun(solicitation('fd00::100')).action, 'pass');
  assert.equal(v4.testRun(arpRequest('10.0.0.100')).action, 'tx');
  assert.equal(v4.stats().ndpPassed, 0, 'no NDP path: IPv6 frames are not even looked at');
  v4.close();
});

for (const [family, answerFrom] of [
  ['ipv4', 'link-local'],
  ['ipv6', 'link-local'],
  ['ipv6', 'target'],
] as const) {
  test(`XDP program agrees with the JS codec on ${RUNS} random and mutated ${family} frames (${answerFrom})`, {
    skip: SKIP,
  }, (t) => {
    const r = responder(answerFrom);
    const tally = new Tally();
    const valid =
      family === 'ipv4'
        ? (rng: FuzzRng) =>
            arpRequest(rng.below(3) === 0 ? `10.0.0.${rng.below(256)}` : rng.pick(VIPS.slice(0, 2)), {
              senderMac: mac(rng),
              sender: rng.below(8) === 0 ? '0.0.0.0' : `10.0.0.${rng.int(1, 99)}`,
              ...(rng.below(4) === 0 ? { dst: MAC } : {}),
            })
        : (rng: FuzzRng) => {
            const f = solicitation(
              rng.below(3) === 0 ? `fd00::${rng.below(0x10000).toString(16)}` : rng.pick(VIPS.slice(2)),
              {
                srcMac: mac(rng),
                src: rng.below(8) === 0 ? '::' : `fe80::${rng.int(1, 0xffff).toString(16)}`,
                ...(rng.below(4) === 0 ? { dstMac: MAC } : {}),
              },
            );
            return rng.below(4) === 0 ? withoutOption(f) : f;
          };
    fuzz(
      RUNS,
      { valid: pooled(valid), ...(family === 'ipv6' ? { fix: fixIcmpv6 } : {}), maxRandomLength: 120 },
      (input) => tally.add(check(r, input.bytes, answerFrom, 'fuzzed frame')),
    );
    const s = r.stats();
    r.close();
    t.diagnostic(`fuzz seed=${SEED} ${tally.line()} counters ${JSON.stringify(s)}`);
    assert.ok((tally.counts.get('tx/answered') ?? 0) > 0, `some answered by XDP: ${tally.line()}`);
    assert.equal(s.arpResizeFailed + s.ndpResizeFailed, 0);
  });
}
