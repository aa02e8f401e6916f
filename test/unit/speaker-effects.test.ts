import assert from 'node:assert/strict';
import { test } from 'node:test';
import { planEffects } from '../../src/speaker/runtime/effects.ts';
import type { RouterAction } from '../../vrrp/router.ts';
import { planSpecs } from '../support/router-specs.ts';

const [router] = planSpecs(
  [
    {
      vrid: 5,
      family: 'ipv4',
      priority: 150,
      advertIntervalCs: 10,
      preempt: true,
      preemptDelayMs: 0,
      vips: ['10.0.0.100'],
    },
  ],
  { ipv4: '10.0.0.1' },
);
if (!router) throw new Error('no router planned');
const send: RouterAction = { type: 'send-advert', priority: 150, intervalCs: 10, addresses: ['10.0.0.100'] };
const multicast = { unicastPeers: [] };

test('becoming master: advert first, then answer, then the transition and the announcement', () => {
  const effects = planEffects(router, [send, { type: 'become-master', reason: 'master-down' }], multicast);
  assert.deepEqual(
    effects.map((e) => e.kind),
    ['send', 'answer', 'transition', 'announce'],
  );
  assert.deepEqual(effects[0], {
    kind: 'send',
    advert: { vrid: 5, priority: 150, maxAdvertIntervalCs: 10, addresses: ['10.0.0.100'] },
    to: undefined,
  });
  assert.deepEqual(effects[1], { kind: 'answer', on: true });
});

test('becoming backup or resigning stops answering and cancels announcements before anything else', () => {
  const master = { address: '10.0.0.2', priority: 200 };
  const backup = planEffects(router, [{ type: 'become-backup', reason: 'higher-priority', master }], multicast);
  assert.deepEqual(backup, [
    { kind: 'answer', on: false },
    { kind: 'cancel-announce' },
    { kind: 'transition', to: 'backup', reason: 'higher-priority', master },
  ]);
  const resign = planEffects(
    router,
    [
      { ...send, priority: 0 },
      { type: 'resign', was: 'master' },
    ],
    multicast,
  );
  assert.deepEqual(
    resign.map((e) => e.kind),
    ['answer', 'cancel-announce', 'send', 'transition'],
  );
  assert.equal(resign[2]!.kind === 'send' && resign[2]!.advert.priority, 0);
});

test('unicast peers: one send per peer of the router family; other families are left out', () => {
  const effects = planEffects(router, [send], { unicastPeers: ['10.0.0.2', 'fd00::2', '10.0.0.3'] });
  assert.deepEqual(
    effects.map((e) => (e.kind === 'send' ? e.to : e.kind)),
    ['10.0.0.2', '10.0.0.3'],
  );
});

test('ignore, mismatch, lower-priority announce and rejected config pass through as effects', () => {
  const effects = planEffects(
    router,
    [
      { type: 'ignore', reason: 'lower-priority', from: '10.0.0.9' },
      { type: 'mismatch', field: 'interval', from: '10.0.0.9', ours: '10cs', theirs: '100cs' },
      { type: 'announce', reason: 'lower-priority-master', from: '10.0.0.9' },
      { type: 'config-rejected', errors: ['priority 0'] },
      { type: 'drop', reason: 'address-list-mismatch', from: '10.0.0.9', ours: '10.0.0.100', theirs: '10.0.0.7' },
    ],
    multicast,
  );
  assert.deepEqual(
    effects.map((e) => e.kind),
    ['ignored', 'mismatch', 'announce', 'config-rejected', 'invalid'],
  );
  assert.deepEqual(effects[4], {
    kind: 'invalid',
    reason: 'address-list-mismatch',
    from: '10.0.0.9',
    ours: '10.0.0.100',
    theirs: '10.0.0.7',
  });
});
