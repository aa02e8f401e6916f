/**
 * Fuzz of the VRRP codec (vrrp/codec.ts, issue 15): random byte strings and mutations of valid VRRPv3 adverts (bit
 * flips, boundary values, 16-bit field edits, truncation, extension; half of them with the checksum repaired so they
 * reach the field checks). Every input must be classified — an advert, or a reason from DECODE_ERRORS with a detail —
 * without throwing, and every accepted advert must survive encode → decode unchanged.
 * Seed: DEFAULT_FUZZ_SEED, printed; FUZZ_SEED=n overrides it, FUZZ_SCALE=x scales the run count.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Family, PseudoHeader } from '../../vrrp/advert.ts';
import { DECODE_ERRORS, decodeAdvert, encodeAdvert } from '../../vrrp/codec.ts';
import { type FuzzRng, fuzz, fuzzRuns, fuzzSeed, pooled, Tally } from '../support/fuzz.ts';
import { ADDRESS_SIZE, sealChecksum, validAdvert } from '../support/fuzz-vrrp.ts';

const RUNS_PER_FAMILY = fuzzRuns(150_000);
const SEED = fuzzSeed();

const PH: Record<Family, PseudoHeader> = {
  ipv4: { family: 'ipv4', source: '192.0.2.1', destination: '224.0.0.18' },
  ipv6: { family: 'ipv6', source: 'fe80::1', destination: 'ff02::12' },
};
const KNOWN = new Set<string>(DECODE_ERRORS);

for (const family of ['ipv4', 'ipv6'] as const) {
  test(`decodeAdvert (${family}): ${RUNS_PER_FAMILY} random and mutated inputs, each classified, none throws`, (t) => {
    const tally = new Tally();
    const source = {
      valid: pooled((rng: FuzzRng) => validAdvert(family, rng), 2048),
      fix: (b: Buffer) => sealChecksum(family, b),
    };
    fuzz(RUNS_PER_FAMILY, { ...source, maxRandomLength: 80 }, (input) => {
      const res = decodeAdvert(input.bytes, PH[family]);
      if (!res.ok) {
        assert.ok(KNOWN.has(res.reason), `unknown reason ${res.reason}`);
        assert.notEqual(res.reason, 'bad-pseudo-header');
        assert.ok(res.detail.length > 0, 'a detail for the log');
        tally.add(res.reason);
        return;
      }
      const a = res.advert;
      assert.ok(a.vrid >= 1 && a.vrid <= 255 && a.priority >= 0 && a.priority <= 255);
      assert.ok(a.maxAdvertIntervalCs >= 1 && a.maxAdvertIntervalCs <= 4095);
      assert.equal(a.addresses.length, input.bytes[3]);
      assert.equal(input.bytes.length, 8 + a.addresses.length * ADDRESS_SIZE[family]);
      // Re-encoding gives the same advert back (only the reserved bits of byte 4 may differ on the wire).
      const again = encodeAdvert(a, PH[family]);
      assert.ok(again.ok, `re-encode: ${again.ok ? '' : again.detail}`);
      const back = decodeAdvert(again.packet, PH[family]);
      assert.ok(back.ok);
      assert.deepEqual(back.advert, a);
      tally.add(`ok/${res.checksum}`);
    });
    t.diagnostic(`fuzz seed=${SEED} (FUZZ_SEED overrides) ${tally.line()}`);
    // The mix must reach past the checksum: accepted adverts and field-level refusals both occur.
    assert.ok((tally.counts.get('ok/pseudo-header') ?? 0) > RUNS_PER_FAMILY / 100, tally.line());
    for (const reason of ['truncated', 'bad-version', 'count-mismatch', 'bad-checksum', 'zero-vrid', 'zero-interval']) {
      assert.ok((tally.counts.get(reason) ?? 0) > 0, `${reason} reached: ${tally.line()}`);
    }
  });
}
