/**
 * Fuzz of the VRRP receive path (src/net/frames/vrrp.ts over ipv4.ts, ipv6.ts, ethernet.ts and the codec, issue 15):
 * random bytes and mutations of valid packets as the IPv4 raw socket and the IPv6 AF_PACKET socket deliver them, half
 * of the mutated ones with the IPv4 header checksum and the VRRP checksum repaired. Every input must come out as an
 * advert or as a drop with a reason from VRRP_DROP_REASONS or DECODE_ERRORS (a 'malformed' IPv4 packet names an
 * IPV4_DECODE_ERRORS reason), without throwing.
 * Seed: DEFAULT_FUZZ_SEED, printed; FUZZ_SEED=n overrides it, FUZZ_SCALE=x scales the run count.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ETHERTYPE, encodeEthernet } from '../../src/net/frames/ethernet.ts';
import { encodeIpv4, IPV4_DECODE_ERRORS } from '../../src/net/frames/ipv4.ts';
import { encodeIpv6 } from '../../src/net/frames/ipv6.ts';
import {
  type ReceiveContext,
  type ReceivedAdvert,
  receiveIpv4,
  receiveIpv6Frame,
  VRRP_DROP_REASONS,
  type VrrpReceive,
} from '../../src/net/frames/vrrp.ts';
import type { Family } from '../../vrrp/advert.ts';
import { internetChecksum, ipv4PseudoHeader, ipv6PseudoHeader } from '../../vrrp/checksum.ts';
import { DECODE_ERRORS } from '../../vrrp/codec.ts';
import { type FuzzRng, fuzz, fuzzRuns, fuzzSeed, pooled, Tally } from '../support/fuzz.ts';
import { validAdvert } from '../support/fuzz-vrrp.ts';

const RUNS_PER_FAMILY = fuzzRuns(150_000);
const SEED = fuzzSeed();
const KNOWN = new Set<string>([...VRRP_DROP_REASONS, ...DECODE_ERRORS]);
const IPV4_ERRORS = new Set<string>(IPV4_DECODE_ERRORS);

const SRC4 = Uint8Array.of(192, 0, 2, 1);
const GROUP4 = Uint8Array.of(224, 0, 0, 18);
const SRC6 = Buffer.from('fe800000000000000000000000000001', 'hex');
const GROUP6 = Buffer.from('ff020000000000000000000000000012', 'hex');
const MAC = '02:00:00:00:00:09';

function context(): ReceiveContext {
  return { ownAddresses: new Set(['192.0.2.9', 'fe80::9']), mac: MAC, decoded: new Map() };
}

/** sealVrrp rewrites the VRRP checksum of `payload` for the addresses the IP header carries now. */
function sealVrrp(family: Family, src: Uint8Array, dst: Uint8Array, payload: Buffer): void {
  if (payload.length < 8) return;
  payload.writeUInt16BE(0, 6);
  const prefix =
    family === 'ipv4' ? ipv4PseudoHeader(src, dst, payload.length) : ipv6PseudoHeader(src, dst, payload.length);
  payload.writeUInt16BE(internetChecksum(prefix, payload), 6);
}

/** fixIpv4 repairs what a sender would have computed: the VRRP checksum, then the header checksum. */
function fixIpv4(buf: Buffer): void {
  if (buf.length < 20) return;
  const ihl = (buf[0]! & 0x0f) * 4;
  if (ihl < 20 || buf.length < ihl) return;
  const total = Math.min(buf.readUInt16BE(2), buf.length);
  if (total > ihl) sealVrrp('ipv4', buf.subarray(12, 16), buf.subarray(16, 20), buf.subarray(ihl, total));
  buf.writeUInt16BE(0, 10);
  buf.writeUInt16BE(internetChecksum(buf.subarray(0, ihl)), 10);
}

/** fixIpv6Frame repairs the VRRP checksum inside an Ethernet + IPv6 frame (IPv6 has no header checksum). */
function fixIpv6Frame(buf: Buffer): void {
  if (buf.length < 14 + 40) return;
  const end = Math.min(14 + 40 + buf.readUInt16BE(14 + 4), buf.length);
  sealVrrp('ipv6', buf.subarray(22, 38), buf.subarray(38, 54), buf.subarray(54, end));
}

function validIpv4(rng: FuzzRng): Buffer {
  return encodeIpv4({ src: SRC4, dst: GROUP4, protocol: 112, ttl: 255, tos: 0xc0, payload: validAdvert('ipv4', rng) });
}

function validIpv6Frame(rng: FuzzRng): Buffer {
  const ip = encodeIpv6({
    src: SRC6,
    dst: GROUP6,
    nextHeader: 112,
    hopLimit: 255,
    trafficClass: 0xc0,
    payload: validAdvert('ipv6', rng),
  });
  const frame = encodeEthernet('33:33:00:00:00:12', '02:00:00:00:00:01', ETHERTYPE.ipv6, ip);
  assert.ok(frame);
  return frame;
}

/** classify checks one receive result and returns its tally label. */
function classify(r: VrrpReceive, family: Family): string {
  assert.equal(r.family, family);
  if (!r.ok) {
    assert.ok(KNOWN.has(r.reason), `unknown reason ${r.reason}`);
    assert.equal(typeof r.detail, 'string');
    if (family === 'ipv4' && r.reason === 'malformed') {
      assert.ok(IPV4_ERRORS.has(r.detail), `malformed names an IPv4 decode error, got ${r.detail}`);
      return `malformed/${r.detail}`;
    }
    return r.reason;
  }
  const ok: ReceivedAdvert = r;
  assert.ok(ok.advert.addresses.length >= 1 && ok.advert.vrid >= 1);
  return 'advert';
}

test(`receiveIpv4: ${RUNS_PER_FAMILY} random and mutated raw-socket packets, each classified`, (t) => {
  const tally = new Tally();
  const ctx = context();
  fuzz(RUNS_PER_FAMILY, { valid: pooled(validIpv4), fix: fixIpv4, maxRandomLength: 100 }, (input) => {
    tally.add(classify(receiveIpv4(input.bytes, ctx), 'ipv4'));
  });
  t.diagnostic(`fuzz seed=${SEED} (FUZZ_SEED overrides) ${tally.line()}`);
  for (const label of ['advert', 'bad-ttl', 'not-vrrp', 'not-for-us', 'bad-checksum', 'count-mismatch']) {
    assert.ok((tally.counts.get(label) ?? 0) > 0, `${label} reached: ${tally.line()}`);
  }
  for (const e of ['truncated', 'bad-version', 'bad-header-checksum', 'fragment', 'bad-header-length']) {
    assert.ok((tally.counts.get(`malformed/${e}`) ?? 0) > 0, `malformed/${e} reached: ${tally.line()}`);
  }
});

test(`receiveIpv6Frame: ${RUNS_PER_FAMILY} random and mutated AF_PACKET frames, each classified`, (t) => {
  const tally = new Tally();
  const ctx = context();
  fuzz(RUNS_PER_FAMILY, { valid: pooled(validIpv6Frame), fix: fixIpv6Frame, maxRandomLength: 140 }, (input, rng) => {
    // Mostly PACKET_HOST / MULTICAST; sometimes the kinds the socket also reports.
    const pktType = rng.below(8) < 6 ? 2 : rng.below(5);
    tally.add(classify(receiveIpv6Frame(input.bytes, pktType, ctx), 'ipv6'));
  });
  t.diagnostic(`fuzz seed=${SEED} (FUZZ_SEED overrides) ${tally.line()}`);
  for (const label of [
    'advert',
    'malformed',
    'bad-ttl',
    'not-vrrp',
    'not-for-us',
    'own-packet',
    'own-source',
    'not-link-local',
  ]) {
    assert.ok((tally.counts.get(label) ?? 0) > 0, `${label} reached: ${tally.line()}`);
  }
});
