/**
 * Fuzz of the ARP and NDP responders' frame handling (src/net/frames/arp.ts, ndp.ts over ethernet.ts and ipv6.ts,
 * issue 15): random bytes and mutations of valid requests and solicitations, half of the mutated solicitations with
 * the ICMPv6 checksum repaired so they reach the RFC 4861 §7.1.1 checks. Every frame must come out answered (with a
 * reply that parses back as the matching ARP reply / NA) or refused with a reason from ARP_DROP_REASONS /
 * NDP_DROP_REASONS, without throwing.
 * Seed: DEFAULT_FUZZ_SEED, printed; FUZZ_SEED=n overrides it, FUZZ_SCALE=x scales the run count.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ARP_DROP_REASONS, ARP_OP, type ArpContext, answerArp, arpFrame, decodeArp } from '../../src/net/frames/arp.ts';
import { BROADCAST_MAC, decodeEthernet, ETHERTYPE, ZERO_MAC } from '../../src/net/frames/ethernet.ts';
import { decodeIpv6, upperLayerChecksum } from '../../src/net/frames/ipv6.ts';
import {
  answerSolicitation,
  decodeNd,
  ICMPV6,
  ND_TYPE,
  NDP_DROP_REASONS,
  type NdpContext,
  neighborSolicitationFrame,
} from '../../src/net/frames/ndp.ts';
import { type FuzzRng, fuzz, fuzzRuns, fuzzSeed, pooled, Tally } from '../support/fuzz.ts';
import { fixIcmpv6 } from '../support/icmpv6.ts';

const RUNS = fuzzRuns(200_000);
const SEED = fuzzSeed();
const MAC = '02:00:00:00:00:09';
const VIPS4 = new Set(['10.0.0.100', '10.0.0.101']);
const VIPS6 = new Set(['fd00::100', 'fd00::101']);

const arpCtx: ArpContext = {
  mac: MAC,
  ifname: 'eth0',
  shouldAnswer: (ip, ifname) => ifname === 'eth0' && VIPS4.has(ip),
};
const ndpCtx: NdpContext = {
  mac: MAC,
  ifname: 'eth0',
  linkLocal: 'fe80::9',
  shouldAnswer: (ip, ifname) => ifname === 'eth0' && VIPS6.has(ip),
};

function mac(rng: FuzzRng): string {
  return [0x02, ...rng.bytes(5)].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

function validArpRequest(rng: FuzzRng): Buffer {
  const target = rng.below(3) === 0 ? `10.0.0.${rng.below(256)}` : rng.pick([...VIPS4]);
  const sender = rng.below(8) === 0 ? '0.0.0.0' : `10.0.0.${rng.int(1, 99)}`; // 1 in 8: an RFC 5227 probe
  const senderMac = mac(rng);
  const frame = arpFrame(BROADCAST_MAC, senderMac, {
    op: ARP_OP.request,
    senderMac,
    senderIp: sender,
    targetMac: ZERO_MAC,
    targetIp: target,
  });
  assert.ok(frame);
  return frame;
}

function validSolicitation(rng: FuzzRng): Buffer {
  const target = rng.below(3) === 0 ? `fd00::${rng.below(0x10000).toString(16)}` : rng.pick([...VIPS6]);
  const src = rng.below(8) === 0 ? '::' : `fe80::${rng.int(1, 0xffff).toString(16)}`; // 1 in 8: a DAD probe
  const frame = neighborSolicitationFrame({ srcMac: mac(rng), src, target });
  assert.ok(frame);
  return frame;
}

function pktTypeOf(rng: FuzzRng): number {
  return rng.below(8) < 6 ? rng.pick([0, 1]) : rng.below(5); // host / broadcast mostly; other-host and outgoing too
}

test(`answerArp: ${RUNS} random and mutated frames, each answered or refused with a reason`, (t) => {
  const tally = new Tally();
  const known = new Set<string>(ARP_DROP_REASONS);
  fuzz(RUNS, { valid: pooled(validArpRequest), maxRandomLength: 80 }, (input, rng) => {
    const out = answerArp(input.bytes, pktTypeOf(rng), arpCtx);
    if (!out.answer) {
      assert.ok(known.has(out.reason), `unknown reason ${out.reason}`);
      tally.add(out.reason);
      return;
    }
    assert.ok(VIPS4.has(out.ip), `answered for ${out.ip}, not a VIP`);
    const eth = decodeEthernet(out.reply);
    assert.ok(eth.ok && eth.ethertype === ETHERTYPE.arp && eth.src === MAC && eth.dst === out.requester.mac);
    const arp = decodeArp(eth.payload);
    assert.ok(arp.ok && arp.op === ARP_OP.reply && arp.senderIp === out.ip && arp.senderMac === MAC);
    assert.equal(arp.targetIp, out.requester.ip);
    tally.add('answered');
  });
  t.diagnostic(`fuzz seed=${SEED} (FUZZ_SEED overrides) ${tally.line()}`);
  for (const label of ['answered', ...ARP_DROP_REASONS]) {
    assert.ok((tally.counts.get(label) ?? 0) > 0, `${label} reached: ${tally.line()}`);
  }
});

test(`answerSolicitation: ${RUNS} random and mutated frames, each answered or refused with a reason`, (t) => {
  const tally = new Tally();
  const known = new Set<string>(NDP_DROP_REASONS);
  fuzz(RUNS, { valid: pooled(validSolicitation), fix: fixIcmpv6, maxRandomLength: 120 }, (input, rng) => {
    const out = answerSolicitation(input.bytes, pktTypeOf(rng), ndpCtx);
    if (!out.answer) {
      assert.ok(known.has(out.reason), `unknown reason ${out.reason}`);
      tally.add(out.reason);
      return;
    }
    assert.ok(VIPS6.has(out.ip), `answered for ${out.ip}, not a VIP`);
    const eth = decodeEthernet(out.reply);
    assert.ok(eth.ok && eth.ethertype === ETHERTYPE.ipv6 && eth.src === MAC);
    const ip = decodeIpv6(eth.payload);
    assert.ok(ip.ok && ip.nextHeader === ICMPV6 && ip.hopLimit === 255);
    assert.equal(upperLayerChecksum(ip.srcBytes, ip.dstBytes, ICMPV6, ip.payload), 0, 'NA checksum verifies');
    const na = decodeNd(ip.payload);
    assert.ok(na.ok && na.type === ND_TYPE.advertisement && na.target === out.ip && na.targetLinkLayer === MAC);
    tally.add(out.dad ? 'answered/dad' : 'answered');
  });
  t.diagnostic(`fuzz seed=${SEED} (FUZZ_SEED overrides) ${tally.line()}`);
  for (const label of ['answered', 'answered/dad', ...NDP_DROP_REASONS]) {
    assert.ok((tally.counts.get(label) ?? 0) > 0, `${label} reached: ${tally.line()}`);
  }
});
