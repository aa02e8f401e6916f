import assert from 'node:assert/strict';
import { test } from 'node:test';
import { planRouterSpec, type RouterSpecInput, virtualLinkLocal } from '../../src/speaker/router-spec.ts';
import { VipTable } from '../../src/speaker/runtime/vip-table.ts';
import type { StandaloneConfig } from '../../src/speaker/standalone/standalone-config.ts';
import { standaloneSpecs } from '../../src/speaker/standalone/standalone-plan.ts';

const base: RouterSpecInput = {
  vrid: 51,
  family: 'ipv4',
  priority: 200,
  advertIntervalCs: 10,
  preempt: true,
  preemptDelayMs: 0,
  vips: ['10.0.0.100'],
  interface: 'eth0',
  peerMode: 'multicast',
  peers: [],
  gratuitous: { count: 3, spacingMs: 100, refreshMs: 60_000 },
};
const sources = { ipv4: '10.0.0.1', ipv6: 'fe80::1' };

test('planRouterSpec: IPv4 router keeps its VIPs, source is the primary address', () => {
  const res = planRouterSpec(base, sources);
  assert.ok('spec' in res, JSON.stringify(res));
  const r = res.spec;
  assert.equal(r!.key, 'ipv4/51');
  assert.equal(r!.config.primaryAddress, '10.0.0.1');
  assert.deepEqual(r!.config.addresses, ['10.0.0.100']);
  assert.deepEqual(r!.vips, ['10.0.0.100']);
});

test('planRouterSpec: an IPv6 router with global VIPs gets the virtual link-local first (RFC 9568 §5.2.9)', () => {
  const res = planRouterSpec({ ...base, family: 'ipv6', vrid: 10, vips: ['fd00::100', 'fd00::101'] }, sources);
  assert.ok('spec' in res, JSON.stringify(res));
  const r = res.spec;
  assert.equal(virtualLinkLocal(10), 'fe80::200:5eff:fe00:20a');
  assert.deepEqual(r!.config.addresses, ['fe80::200:5eff:fe00:20a', 'fd00::100', 'fd00::101']);
  assert.deepEqual(r!.vips, ['fd00::100', 'fd00::101'], 'the link-local is never answered for');
  assert.equal(r!.config.primaryAddress, 'fe80::1');
});

// A VRID defined twice is refused where routers are listed: standalone-config.test.ts ("used twice"); the
// Kubernetes planner keys routers by family/VRID, so it cannot produce two.
const bad: [string, RouterSpecInput, Partial<typeof sources>, RegExp][] = [
  ['no IPv4 source', base, { ipv6: 'fe80::1' }, /has no IPv4 address/],
  ['no link-local', { ...base, family: 'ipv6', vips: ['fd00::1'] }, { ipv4: '10.0.0.1' }, /link-local/],
  ['owner priority', { ...base, priority: 255 }, sources, /priority 255/],
  ['VIP of the wrong family', { ...base, vips: ['fd00::1'] }, sources, /not an ipv4 address/],
];
for (const [name, spec, src, want] of bad) {
  test(`planRouterSpec refuses: ${name}`, () => {
    const res = planRouterSpec(spec, src);
    assert.ok('errors' in res, 'expected errors');
    assert.match(res.errors.join('\n'), want);
  });
}

test('VipTable: only VIPs of mastered routers are answered for, and only until the router leaves master', () => {
  const a = planRouterSpec(base, sources);
  const b = planRouterSpec({ ...base, vrid: 52, vips: ['10.0.0.200'] }, sources);
  assert.ok('spec' in a && 'spec' in b);
  const t = new VipTable([a.spec, b.spec]);
  assert.equal(t.isMastered('10.0.0.100'), false);
  assert.deepEqual(t.setMaster('ipv4/51', true), ['10.0.0.100']);
  assert.equal(t.isMastered('10.0.0.100'), true);
  assert.equal(t.isMastered('10.0.0.200'), false);
  t.setMaster('ipv4/52', true);
  t.setMaster('ipv4/51', false);
  assert.deepEqual(t.mastered(), ['10.0.0.200']);
  assert.deepEqual(t.setMaster('ipv4/99', true), [], 'an unknown router has no VIPs');
});

// engine is base without the spec-only fields: a standalone `routers:` entry.
const { interface: _i, peerMode: _m, peers: _p, gratuitous: _g, ...engine } = base;

test('standaloneSpecs: speaker-wide announcements and unicast peers become each router’s, peers by family', () => {
  const config: StandaloneConfig = {
    interface: 'eth0',
    metrics: { address: '0.0.0.0', port: 7472 },
    gratuitous: { count: 5, spacingMs: 20, refreshMs: 0 },
    unicastPeers: ['10.0.0.2', 'fd00::2'],
    routers: [
      { ...engine, vrid: 1 },
      { ...engine, vrid: 1, family: 'ipv6', vips: ['fd00::100'] },
    ],
  };
  const res = standaloneSpecs(config, sources);
  assert.ok('specs' in res, JSON.stringify(res));
  assert.deepEqual(
    res.specs.map((s) => [s.key, s.interface, s.peerMode, s.peers, s.gratuitous]),
    [
      ['ipv4/1', 'eth0', 'unicast', ['10.0.0.2'], { count: 5, spacingMs: 20, refreshMs: 0 }],
      ['ipv6/1', 'eth0', 'unicast', ['fd00::2'], { count: 5, spacingMs: 20, refreshMs: 0 }],
    ],
  );
  const missing = standaloneSpecs(config, { ipv4: '10.0.0.1' });
  assert.ok('errors' in missing);
  assert.match(missing.errors.join('\n'), /ipv6\/1: interface eth0 has no IPv6 link-local address/);
});
