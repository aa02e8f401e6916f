/**
 * Cross-checks the codec against Wireshark's VRRP dissector: encoded adverts are wrapped in IPv4 / IPv6 headers,
 * written to a pcap and read back with tshark. tshark is required (scripts/setup.sh installs it): a missing tshark
 * fails the test rather than skipping it, so CI cannot silently lose this check.
 */

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Advert, PseudoHeader } from '../../vrrp/advert.ts';
import { VRRP_MULTICAST } from '../../vrrp/advert.ts';
import { decodeAdvert, encodeAdvert, encodeAdvertWithoutPseudoHeader } from '../../vrrp/codec.ts';
import { canonicalAddress } from '../../vrrp/ip.ts';
import { ipv4Packet, ipv6Packet, LINKTYPE_RAW, pcapFile } from '../support/pcap.ts';

interface Case {
  readonly name: string;
  readonly ph: PseudoHeader;
  readonly advert: Advert;
  readonly legacy?: boolean; // checksum without pseudo-header
}

const v4 = (n: number) => Array.from({ length: n }, (_, i) => `10.${i}.0.${i + 1}`);
const v6 = (n: number) => ['fe80::12', ...Array.from({ length: n - 1 }, (_, i) => `2001:db8:${i.toString(16)}::1`)];
const M4: PseudoHeader = { family: 'ipv4', source: '192.168.1.10', destination: VRRP_MULTICAST.ipv4 };
const M6: PseudoHeader = { family: 'ipv6', source: 'fe80::1', destination: VRRP_MULTICAST.ipv6 };

const CASES: readonly Case[] = [
  { name: 'v4 owner, fastest', ph: M4, advert: { vrid: 1, priority: 255, maxAdvertIntervalCs: 1, addresses: v4(1) } },
  { name: 'v4 default', ph: M4, advert: { vrid: 51, priority: 100, maxAdvertIntervalCs: 100, addresses: v4(3) } },
  {
    name: 'v4 resign, slowest',
    ph: M4,
    advert: { vrid: 255, priority: 0, maxAdvertIntervalCs: 4095, addresses: v4(20) },
  },
  {
    name: 'v4 unicast peer',
    ph: { ...M4, destination: '192.168.1.11' },
    advert: { vrid: 7, priority: 150, maxAdvertIntervalCs: 50, addresses: v4(2) },
  },
  { name: 'v6 owner, fastest', ph: M6, advert: { vrid: 1, priority: 255, maxAdvertIntervalCs: 1, addresses: v6(1) } },
  { name: 'v6 default', ph: M6, advert: { vrid: 51, priority: 100, maxAdvertIntervalCs: 100, addresses: v6(4) } },
  {
    name: 'v6 resign, slowest',
    ph: M6,
    advert: { vrid: 255, priority: 0, maxAdvertIntervalCs: 4095, addresses: v6(30) },
  },
  {
    name: 'v6 unicast peer',
    ph: { ...M6, destination: 'fe80::2' },
    advert: { vrid: 9, priority: 200, maxAdvertIntervalCs: 10, addresses: ['fe80::9', '::ffff:10.0.0.9'] },
  },
  {
    name: 'v4 legacy checksum',
    ph: M4,
    legacy: true,
    advert: { vrid: 33, priority: 90, maxAdvertIntervalCs: 100, addresses: v4(2) },
  },
  {
    name: 'v6 legacy checksum',
    ph: M6,
    legacy: true,
    advert: { vrid: 34, priority: 90, maxAdvertIntervalCs: 100, addresses: v6(2) },
  },
];

const FIELDS = [
  'ip.src',
  'ip.ttl',
  'ipv6.src',
  'ipv6.hlim',
  'vrrp.version',
  'vrrp.type',
  'vrrp.virt_rtr_id',
  'vrrp.prio',
  'vrrp.short_adver_int',
  'vrrp.addr_count',
  'vrrp.ip_addr',
  'vrrp.ipv6_addr',
  'vrrp.checksum.status',
] as const;
type Row = Record<(typeof FIELDS)[number], string>;

// vrrp.checksum.status values (Wireshark's PROTO_CHECKSUM_E_*)
const BAD = '0';
const GOOD = '1';

let dir = '';
let pcap = '';

function packetFor(c: Case): Buffer {
  const res = c.legacy ? encodeAdvertWithoutPseudoHeader(c.advert, c.ph.family) : encodeAdvert(c.advert, c.ph);
  assert.ok(res.ok, `${c.name}: ${JSON.stringify(res)}`);
  return res.packet;
}

/** tshark runs tshark over the pcap with VRRPv3 checksums computed either with a pseudo-header or as in VRRPv2. */
function tshark(checksumAsV2: boolean): Row[] {
  const args = ['-n', '-r', pcap, '-o', `vrrp.v3_checksum_as_in_v2:${checksumAsV2 ? 'TRUE' : 'FALSE'}`, '-Y', 'vrrp'];
  args.push('-T', 'fields', '-E', 'separator=/t', '-E', 'occurrence=a', '-E', 'aggregator=,');
  for (const f of FIELDS) args.push('-e', f);
  const run = spawnSync('tshark', args, { encoding: 'utf8' });
  if (run.error) {
    assert.fail(
      `cannot run tshark (${run.error.message}): install the Debian package "tshark" (scripts/setup.sh does)`,
    );
  }
  assert.equal(run.status, 0, `tshark failed: ${run.stderr}`);
  const lines = run.stdout.split('\n').filter((l) => l.length > 0);
  return lines.map((line) => {
    const cols = line.split('\t');
    return Object.fromEntries(FIELDS.map((f, i) => [f, cols[i] ?? ''])) as Row;
  });
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'metal-vrrp-codec-'));
  pcap = join(dir, 'adverts.pcap');
  const frames = CASES.map((c) => {
    const ip = { source: c.ph.source, destination: c.ph.destination, ttl: 255 };
    return { data: c.ph.family === 'ipv4' ? ipv4Packet(ip, packetFor(c)) : ipv6Packet(ip, packetFor(c)) };
  });
  writeFileSync(pcap, pcapFile(frames, LINKTYPE_RAW));
});

after(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

test('tshark dissects every encoded advert as we meant it', () => {
  const rows = tshark(false);
  assert.equal(rows.length, CASES.length, 'tshark saw every frame as VRRP');
  for (const [i, c] of CASES.entries()) {
    const row = rows[i]!;
    const at = `${c.name}: ${JSON.stringify(row)}`;
    if (c.ph.family === 'ipv4') {
      assert.equal(row['ip.src'], c.ph.source, at);
      assert.equal(row['ip.ttl'], '255', at);
      assert.deepEqual(row['vrrp.ip_addr'].split(','), c.advert.addresses, at);
    } else {
      assert.equal(row['ipv6.src'], c.ph.source, at);
      assert.equal(row['ipv6.hlim'], '255', at);
      // Wireshark prints IPv6 in RFC 5952 form too; our canonical text must match it character for character.
      const ours = c.advert.addresses.map((a) => canonicalAddress(a, 'ipv6'));
      assert.deepEqual(row['vrrp.ipv6_addr'].split(','), ours, at);
    }
    assert.equal(row['vrrp.version'], '3', at);
    assert.equal(row['vrrp.type'], '1', at);
    assert.equal(row['vrrp.virt_rtr_id'], String(c.advert.vrid), at);
    assert.equal(row['vrrp.prio'], String(c.advert.priority), at);
    assert.equal(row['vrrp.short_adver_int'], String(c.advert.maxAdvertIntervalCs), at);
    assert.equal(row['vrrp.addr_count'], String(c.advert.addresses.length), at);
    assert.equal(row['vrrp.checksum.status'], c.legacy ? BAD : GOOD, at);
  }
});

test('the two checksum modes really differ: tshark and decodeAdvert agree on which is which', () => {
  const asV2 = tshark(true);
  assert.equal(asV2.length, CASES.length);
  for (const [i, c] of CASES.entries()) {
    const at = `${c.name}: ${JSON.stringify(asV2[i])}`;
    // Wireshark's "as in v2" preference only changes IPv4; IPv6 always includes the pseudo-header.
    const wantAsV2 = c.ph.family === 'ipv4' ? (c.legacy ? GOOD : BAD) : c.legacy ? BAD : GOOD;
    assert.equal(asV2[i]!['vrrp.checksum.status'], wantAsV2, at);
    const res = decodeAdvert(packetFor(c), c.ph);
    if (c.legacy && c.ph.family === 'ipv6') assert.equal(res.ok ? 'ok' : res.reason, 'bad-checksum', at);
    else assert.deepEqual(res.ok && res.checksum, c.legacy ? 'no-pseudo-header' : 'pseudo-header', at);
  }
});
