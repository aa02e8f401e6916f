import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { VrrpReceive } from '../../src/net/frames/vrrp.ts';
import { classifyReceive, INVALID_REASONS } from '../../src/speaker/runtime/receive-filter.ts';

const advert = { vrid: 7, priority: 100, maxAdvertIntervalCs: 10, addresses: ['10.0.0.100'] };
const good: VrrpReceive = {
  ok: true,
  family: 'ipv4',
  from: '10.0.0.2',
  to: '224.0.0.18',
  advert,
  checksumMode: 'pseudo-header',
};
const routers = new Set(['ipv4/7'] as const);

const cases: [string, VrrpReceive, ReadonlySet<string>, ReturnType<typeof classifyReceive>['kind'], string?][] = [
  ['a good advert for our router', good, new Set(), 'deliver'],
  ['bad TTL', { ok: false, family: 'ipv4', reason: 'bad-ttl', detail: 'ttl 64' }, new Set(), 'invalid', 'bad-ttl'],
  [
    'bad checksum',
    { ok: false, family: 'ipv6', reason: 'bad-checksum', detail: '' },
    new Set(),
    'invalid',
    'bad-checksum',
  ],
  ['truncated', { ok: false, family: 'ipv4', reason: 'truncated', detail: '' }, new Set(), 'invalid', 'truncated'],
  ['VRRPv2', { ok: false, family: 'ipv4', reason: 'bad-version', detail: '' }, new Set(), 'invalid', 'bad-version'],
  ['our own advert back', { ok: false, family: 'ipv4', reason: 'own-packet', detail: '' }, new Set(), 'own'],
  ['another VRID', { ...good, advert: { ...advert, vrid: 8 } }, new Set(), 'unknown-router'],
  ['unicast: a peer', good, new Set(['10.0.0.2']), 'deliver'],
  ['unicast: not a peer', good, new Set(['10.0.0.3']), 'invalid', 'not-a-peer'],
  [
    'unicast: a peer by its MAC (IPv6 link-local source)',
    { ...good, fromPeer: '10.0.0.3' },
    new Set(['10.0.0.3']),
    'deliver',
  ],
  [
    'unicast: another peer by its MAC',
    { ...good, fromPeer: '10.0.0.4' },
    new Set(['10.0.0.3']),
    'invalid',
    'not-a-peer',
  ],
];
test('classifyReceive IPv6: a link-local source passes by its MAC (fromPeer); the check opens while a MAC is unknown', () => {
  const candidateSources = new Map([['ipv6/7' as const, new Set(['fd00::1', 'fd00::2'])]]);
  const known = new Set(['fd00::1', 'fd00::2']);
  const ctx = {
    routers: new Set(['ipv6/7'] as const),
    unicastPeers: new Set<string>(),
    candidateSources,
    resolved: (_f: string, a: string) => known.has(a),
  };
  const v6: VrrpReceive = {
    ok: true,
    family: 'ipv6',
    from: 'fe80::2',
    to: 'ff02::12',
    advert: { ...advert, addresses: ['fd00::100'] },
    checksumMode: 'pseudo-header',
  };
  assert.equal(classifyReceive({ ...v6, fromPeer: 'fd00::2' }, ctx).kind, 'deliver', 'a candidate by its MAC');
  assert.deepEqual(classifyReceive({ ...v6, from: 'fe80::66' }, ctx), {
    kind: 'invalid',
    reason: 'not-a-candidate',
    detail: 'fe80::66 is not a candidate node of ipv6/7',
  });
  // A candidate whose MAC the kernel has not resolved yet could be this sender: not dropped (no second master).
  known.delete('fd00::2');
  assert.equal(classifyReceive({ ...v6, from: 'fe80::66' }, ctx).kind, 'deliver');
  // Without a resolver (no MACs at all) IPv6 sources are not checked.
  assert.equal(classifyReceive({ ...v6, from: 'fe80::66' }, { ...ctx, resolved: undefined }).kind, 'deliver');
});

test('classifyReceive: a checked router accepts its candidates only; others and unknown VRIDs are not checked', () => {
  const candidateSources = new Map([['ipv4/7' as const, new Set(['10.0.0.1', '10.0.0.2'])]]);
  const ctx = { routers: new Set(['ipv4/7', 'ipv4/8'] as const), unicastPeers: new Set<string>(), candidateSources };
  assert.equal(classifyReceive(good, ctx).kind, 'deliver');
  const spoofed: VrrpReceive = { ...good, from: '10.0.0.66', advert: { ...advert, priority: 255 } };
  const d = classifyReceive(spoofed, ctx);
  assert.deepEqual(d, {
    kind: 'invalid',
    reason: 'not-a-candidate',
    detail: '10.0.0.66 is not a candidate node of ipv4/7',
  });
  assert.ok(INVALID_REASONS.includes('not-a-candidate'));
  // VRID 8 runs here without a source list (standalone, IPv6): anyone may speak.
  assert.equal(classifyReceive({ ...spoofed, advert: { ...advert, vrid: 8 } }, ctx).kind, 'deliver');
  // VRID 9 is someone else's: valid VRRP, not ours to judge.
  assert.equal(classifyReceive({ ...spoofed, advert: { ...advert, vrid: 9 } }, ctx).kind, 'unknown-router');
});

for (const [name, packet, peers, kind, reason] of cases) {
  test(`classifyReceive: ${name} -> ${kind}${reason ? ` (${reason})` : ''}`, () => {
    const d = classifyReceive(packet, { routers, unicastPeers: peers });
    assert.equal(d.kind, kind);
    if (reason !== undefined) assert.equal(d.kind === 'invalid' && d.reason, reason);
    if (reason !== undefined) assert.ok(INVALID_REASONS.includes(reason), `${reason} is pre-registered`);
  });
}

test('INVALID_REASONS leaves out own packets and has no duplicates', () => {
  assert.equal(INVALID_REASONS.includes('own-packet'), false);
  assert.equal(new Set(INVALID_REASONS).size, INVALID_REASONS.length);
});
