/**
 * The virtual-router state machine against RFC 5798 §6.4 as revised by RFC 9568 §6.4, as scenario tables: each
 * scenario plays events in order against one router and checks, after every step, the state kind, the exact actions
 * and the exact deadline. Expected times are written out as numbers (formula beside them), not computed with
 * timing.ts, so a wrong formula fails here too.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Advert } from '../../vrrp/advert.ts';
import {
  type BackupReason,
  deadlineOf,
  type IgnoreReason,
  initialRouterState,
  type MasterReason,
  type Peer,
  type RouterAction,
  type RouterEvent,
  type RouterState,
  step,
} from '../../vrrp/router.ts';
import { compareAddresses, type RouterConfig, sameAddressSet, validateRouterConfig } from '../../vrrp/router-config.ts';
import { masterDownIntervalMs, skewTimeMs } from '../../vrrp/timing.ts';

const VRID = 7;
const SELF = '10.0.0.5';
/** HIGHER and LOWER are peers whose primary address is above / below SELF as unsigned integers (§6.4.3). */
const HIGHER = '10.0.0.10'; // a string compare would put this below '10.0.0.5'
const LOWER = '9.0.0.200'; // and this above
const VIPS = ['10.0.0.100', '10.0.0.101'];

/** The default router: priority 100, Advertisement_Interval 100 cs = 1 s, preempt on, no delay. */
const BASE: RouterConfig = {
  vrid: VRID,
  family: 'ipv4',
  priority: 100,
  advertIntervalCs: 100,
  preempt: true,
  preemptDelayMs: 0,
  primaryAddress: SELF,
  addresses: VIPS,
};

function config(over: Partial<RouterConfig> = {}): RouterConfig {
  const checked = validateRouterConfig({ ...BASE, ...over });
  if ('errors' in checked) throw new Error(checked.errors.join('; '));
  return checked.config;
}

function advert(over: Partial<Advert> = {}): Advert {
  return { vrid: VRID, priority: 100, maxAdvertIntervalCs: 100, addresses: VIPS, ...over };
}

// Event shorthands.
const startup: RouterEvent = { type: 'startup' };
const shutdown: RouterEvent = { type: 'shutdown' };
const timer: RouterEvent = { type: 'timer' };
function heard(from: string, over: Partial<Advert> = {}): RouterEvent {
  return { type: 'advert', from, advert: advert(over) };
}

// Action shorthands.
function send(priority = 100, intervalCs = 100, addresses: readonly string[] = VIPS): RouterAction {
  return { type: 'send-advert', priority, intervalCs, addresses };
}
function becomeMaster(reason: MasterReason): RouterAction {
  return { type: 'become-master', reason };
}
function becomeBackup(reason: BackupReason, master?: Peer): RouterAction {
  return master ? { type: 'become-backup', reason, master } : { type: 'become-backup', reason };
}
function ignore(reason: IgnoreReason, from: string): RouterAction {
  return { type: 'ignore', reason, from };
}
function announce(from: string): RouterAction {
  return { type: 'announce', reason: 'lower-priority-master', from };
}
function dropList(from: string, theirs: string): RouterAction {
  return { type: 'drop', reason: 'address-list-mismatch', from, ours: VIPS.join(','), theirs };
}
function intervalMismatch(from: string, ours: number, theirs: number): RouterAction {
  return { type: 'mismatch', field: 'interval', from, ours: `${ours}cs`, theirs: `${theirs}cs` };
}

/** Step is one row of a scenario: at `at` ms deliver `event`, then expect this state kind, actions and deadline. */
interface Step {
  readonly at: number;
  readonly event: RouterEvent;
  readonly kind: RouterState['kind'];
  readonly actions: readonly RouterAction[];
  readonly deadline: number | undefined;
  /** check looks at fields of the state the row cares about beyond kind and deadline. */
  readonly check?: (state: RouterState) => void;
}

interface Scenario {
  readonly name: string;
  readonly config?: Partial<RouterConfig>;
  readonly steps: readonly Step[];
}

/** play runs a scenario and returns the final state. */
function play(scenario: Scenario): RouterState {
  let state: RouterState = initialRouterState(config(scenario.config));
  scenario.steps.forEach((row, i) => {
    const where = `${scenario.name}, step ${i + 1} (${row.event.type} at ${row.at})`;
    const res = step(state, row.event, row.at);
    assert.equal(res.state.kind, row.kind, `${where}: state`);
    assert.deepEqual(res.actions, row.actions, `${where}: actions`);
    assert.equal(res.deadline, row.deadline, `${where}: deadline`);
    assert.equal(deadlineOf(res.state), res.deadline, `${where}: deadlineOf agrees with the step`);
    row.check?.(res.state);
    state = res.state;
  });
  return state;
}

function backupField<K extends keyof Extract<RouterState, { kind: 'backup' }>>(
  state: RouterState,
  key: K,
): Extract<RouterState, { kind: 'backup' }>[K] {
  assert.equal(state.kind, 'backup');
  return (state as Extract<RouterState, { kind: 'backup' }>)[key];
}

// Master_Down_Interval = 3 × 1000 + (256 − 100) × 1000 / 256 = 3000 + 609.375 for the default router (§6.1).
const MDI = 3609.375;
// The default router as master: startup at 0, its Master_Down_Timer fires at MDI, Adver_Timer at MDI + 1000.
const TO_MASTER: readonly Step[] = [
  { at: 0, event: startup, kind: 'backup', actions: [becomeBackup('startup')], deadline: MDI },
  { at: MDI, event: timer, kind: 'master', actions: [send(), becomeMaster('no-master')], deadline: MDI + 1000 },
];

describe('timing formulas (RFC 5798 §6.1)', () => {
  const rows = [
    // priority, interval cs, Skew_Time = (256 − p) × I / 256, Master_Down_Interval = 3 × I + Skew_Time (ms)
    { priority: 100, cs: 100, skew: 609.375, down: 3609.375 },
    { priority: 254, cs: 10, skew: 0.78125, down: 300.78125 },
    { priority: 253, cs: 10, skew: 1.171875, down: 301.171875 },
    { priority: 1, cs: 1, skew: 9.9609375, down: 39.9609375 },
    { priority: 128, cs: 4095, skew: 20475, down: 143325 },
  ];
  for (const r of rows) {
    test(`priority ${r.priority}, interval ${r.cs} cs: skew ${r.skew} ms, down ${r.down} ms (exact)`, () => {
      assert.equal(skewTimeMs(r.priority, r.cs), r.skew);
      assert.equal(masterDownIntervalMs(r.priority, r.cs), r.down);
    });
  }
});

describe('§6.4.1 Initialize', () => {
  const rows = [
    { priority: 100, cs: 100, down: 3609.375 },
    { priority: 254, cs: 10, down: 300.78125 },
    { priority: 1, cs: 1, down: 39.9609375 },
  ];
  for (const r of rows) {
    test(`startup goes to Backup with Master_Down_Timer = ${r.down} ms (priority ${r.priority}, ${r.cs} cs)`, () => {
      play({
        name: 'startup',
        config: { priority: r.priority, advertIntervalCs: r.cs },
        steps: [
          {
            at: 1000,
            event: startup,
            kind: 'backup',
            actions: [becomeBackup('startup')],
            deadline: 1000 + r.down,
            check: (s) => {
              assert.equal(backupField(s, 'masterAdverIntervalCs'), r.cs, 'Master_Adver_Interval starts as ours');
              assert.equal(backupField(s, 'master'), undefined);
            },
          },
        ],
      });
    });
  }

  test('a stopped router arms no timer, ignores timers and adverts, and a second startup changes nothing', () => {
    const s0 = initialRouterState(config());
    assert.equal(deadlineOf(s0), undefined);
    const t = step(s0, timer, 5);
    assert.deepEqual(t, { state: s0, actions: [], deadline: undefined });
    const a = step(s0, heard(HIGHER, { priority: 200 }), 5);
    assert.deepEqual(a.actions, [ignore('not-running', HIGHER)]);
    assert.equal(a.state, s0);
    const up = step(s0, startup, 0).state;
    const again = step(up, startup, 50);
    assert.equal(again.state, up, 'startup while running is a no-op');
    assert.deepEqual(again.actions, []);
    assert.equal(again.deadline, MDI);
  });
});

const scenarios: Scenario[] = [
  {
    name: '§6.4.2 no master heard: Master_Down_Timer fires, send advert, become master, Adver_Timer = interval',
    steps: TO_MASTER,
  },
  {
    name: '§6.4.3 Adver_Timer fires: send an advert and reset the timer to Advertisement_Interval',
    steps: [
      ...TO_MASTER,
      { at: MDI + 1000, event: timer, kind: 'master', actions: [send()], deadline: MDI + 2000 },
      { at: MDI + 2000, event: timer, kind: 'master', actions: [send()], deadline: MDI + 3000 },
    ],
  },
  {
    name: 'a timer delivered before the deadline is ignored, in Backup and in Master',
    steps: [
      { at: 0, event: startup, kind: 'backup', actions: [becomeBackup('startup')], deadline: MDI },
      { at: MDI - 0.001, event: timer, kind: 'backup', actions: [], deadline: MDI },
      { at: MDI, event: timer, kind: 'master', actions: [send(), becomeMaster('no-master')], deadline: MDI + 1000 },
      { at: MDI + 999, event: timer, kind: 'master', actions: [], deadline: MDI + 1000 },
    ],
  },
  {
    name: '§6.4.2 backup accepts a higher priority, learns its interval and recomputes Master_Down_Interval',
    steps: [
      { at: 0, event: startup, kind: 'backup', actions: [becomeBackup('startup')], deadline: MDI },
      {
        // 3 × 500 + (256 − 100) × 500 / 256 = 1500 + 304.6875
        at: 500,
        event: heard(HIGHER, { priority: 200, maxAdvertIntervalCs: 50 }),
        kind: 'backup',
        actions: [intervalMismatch(HIGHER, 100, 50)],
        deadline: 500 + 1804.6875,
        check: (s) => {
          assert.equal(backupField(s, 'masterAdverIntervalCs'), 50);
          assert.deepEqual(backupField(s, 'master'), { address: HIGHER, priority: 200 });
        },
      },
      {
        at: 1000,
        event: heard(HIGHER, { priority: 200, maxAdvertIntervalCs: 50 }),
        kind: 'backup',
        actions: [intervalMismatch(HIGHER, 100, 50)],
        deadline: 1000 + 1804.6875,
      },
      // The master falls silent: the timer fires one learned Master_Down_Interval after its last advert.
      {
        at: 2804.6875,
        event: timer,
        kind: 'master',
        actions: [send(), becomeMaster('master-down')],
        deadline: 2804.6875 + 1000,
      },
    ],
  },
  {
    name: '§6.4.2 backup accepts an equal priority from a lower address (≥ local priority)',
    steps: [
      { at: 0, event: startup, kind: 'backup', actions: [becomeBackup('startup')], deadline: MDI },
      { at: 2000, event: heard(LOWER, { priority: 100 }), kind: 'backup', actions: [], deadline: 2000 + MDI },
    ],
  },
  {
    name: '§6.4.2 priority 0: Master_Down_Timer = Skew_Time, then take over with reason priority-zero',
    steps: [
      { at: 0, event: startup, kind: 'backup', actions: [becomeBackup('startup')], deadline: MDI },
      { at: 200, event: heard(HIGHER, { priority: 200 }), kind: 'backup', actions: [], deadline: 200 + MDI },
      // Skew_Time = (256 − 100) × 1000 / 256 = 609.375
      { at: 700, event: heard(HIGHER, { priority: 0 }), kind: 'backup', actions: [], deadline: 700 + 609.375 },
      {
        at: 1309.375,
        event: timer,
        kind: 'master',
        actions: [send(), becomeMaster('priority-zero')],
        deadline: 2309.375,
      },
    ],
  },
  {
    name: '§6.4.2 priority 0: Skew_Time uses the learned Master_Adver_Interval',
    steps: [
      { at: 0, event: startup, kind: 'backup', actions: [becomeBackup('startup')], deadline: MDI },
      {
        at: 100,
        event: heard(HIGHER, { priority: 200, maxAdvertIntervalCs: 50 }),
        kind: 'backup',
        actions: [intervalMismatch(HIGHER, 100, 50)],
        deadline: 100 + 1804.6875,
      },
      // (256 − 100) × 500 / 256 = 304.6875
      {
        at: 300,
        event: heard(HIGHER, { priority: 0, maxAdvertIntervalCs: 50 }),
        kind: 'backup',
        actions: [intervalMismatch(HIGHER, 100, 50)],
        deadline: 300 + 304.6875,
      },
    ],
  },
  {
    name: '§6.4.2 Preempt_Mode true: a lower priority is discarded (whatever its address), the timer runs out, take over',
    steps: [
      { at: 0, event: startup, kind: 'backup', actions: [becomeBackup('startup')], deadline: MDI },
      {
        at: 1000,
        event: heard(HIGHER, { priority: 99 }),
        kind: 'backup',
        actions: [ignore('lower-priority', HIGHER)],
        deadline: MDI,
        check: (s) => assert.equal(backupField(s, 'preempting'), true),
      },
      // A discarded advert teaches nothing, not even its interval.
      {
        at: 2000,
        event: heard(HIGHER, { priority: 99, maxAdvertIntervalCs: 50 }),
        kind: 'backup',
        actions: [intervalMismatch(HIGHER, 100, 50), ignore('lower-priority', HIGHER)],
        deadline: MDI,
        check: (s) => assert.equal(backupField(s, 'masterAdverIntervalCs'), 100),
      },
      { at: MDI, event: timer, kind: 'master', actions: [send(), becomeMaster('preempt')], deadline: MDI + 1000 },
      // The old master, now hearing us, steps down; if it does not, we re-assert (see the Master rows).
    ],
  },
  {
    name: '§6.4.2 Preempt_Mode false: a lower priority is followed like any master',
    config: { preempt: false },
    steps: [
      { at: 0, event: startup, kind: 'backup', actions: [becomeBackup('startup')], deadline: MDI },
      { at: 1000, event: heard(LOWER, { priority: 1 }), kind: 'backup', actions: [], deadline: 1000 + MDI },
      { at: 4000, event: heard(LOWER, { priority: 1 }), kind: 'backup', actions: [], deadline: 4000 + MDI },
      {
        at: 4000 + MDI,
        event: timer,
        kind: 'master',
        actions: [send(), becomeMaster('master-down')],
        deadline: 5000 + MDI,
      },
    ],
  },
  {
    name: 'preempt delay: lower priority followed while the startup window is open, discarded once it has run out',
    config: { preemptDelayMs: 5000 },
    steps: [
      {
        at: 0,
        event: startup,
        kind: 'backup',
        actions: [becomeBackup('startup')],
        deadline: MDI,
        check: (s) => assert.equal(backupField(s, 'preemptHoldUntil'), 5000),
      },
      { at: 1000, event: heard(LOWER, { priority: 50 }), kind: 'backup', actions: [], deadline: 1000 + MDI },
      { at: 4999, event: heard(LOWER, { priority: 50 }), kind: 'backup', actions: [], deadline: 4999 + MDI },
      {
        at: 5000,
        event: heard(LOWER, { priority: 50 }),
        kind: 'backup',
        actions: [ignore('lower-priority', LOWER)],
        deadline: 4999 + MDI,
      },
      {
        at: 4999 + MDI,
        event: timer,
        kind: 'master',
        actions: [send(), becomeMaster('preempt')],
        deadline: 5999 + MDI,
      },
    ],
  },
  {
    name: 'preempt delay: a higher advert closes the window; the next lower advert opens a new one',
    config: { preemptDelayMs: 5000 },
    steps: [
      { at: 0, event: startup, kind: 'backup', actions: [becomeBackup('startup')], deadline: MDI },
      {
        at: 1000,
        event: heard(HIGHER, { priority: 200 }),
        kind: 'backup',
        actions: [],
        deadline: 1000 + MDI,
        check: (s) => assert.equal(backupField(s, 'preemptHoldUntil'), undefined),
      },
      { at: 4000, event: heard(HIGHER, { priority: 200 }), kind: 'backup', actions: [], deadline: 4000 + MDI },
      { at: 7000, event: heard(HIGHER, { priority: 200 }), kind: 'backup', actions: [], deadline: 7000 + MDI },
      // The 200 master is gone; a 50 router took over. The old startup window (to 5000) is long over, but a new
      // one opens now and runs to 13000.
      {
        at: 8000,
        event: heard(LOWER, { priority: 50 }),
        kind: 'backup',
        actions: [],
        deadline: 8000 + MDI,
        check: (s) => assert.equal(backupField(s, 'preemptHoldUntil'), 13000),
      },
      { at: 11000, event: heard(LOWER, { priority: 50 }), kind: 'backup', actions: [], deadline: 11000 + MDI },
      {
        at: 13000,
        event: heard(LOWER, { priority: 50 }),
        kind: 'backup',
        actions: [ignore('lower-priority', LOWER)],
        deadline: 11000 + MDI,
      },
      {
        at: 11000 + MDI,
        event: timer,
        kind: 'master',
        actions: [send(), becomeMaster('preempt')],
        deadline: 12000 + MDI,
      },
    ],
  },
  {
    name: 'preempt delay does not hold back a router on a silent link',
    config: { preemptDelayMs: 5000 },
    steps: TO_MASTER,
  },
  {
    name: '§6.4.3 master hears a higher priority: step down, learn its interval, Master_Down_Timer from it',
    steps: [
      ...TO_MASTER,
      {
        // 3 × 2000 + (256 − 100) × 2000 / 256 = 6000 + 1218.75
        at: 4000,
        event: heard(LOWER, { priority: 101, maxAdvertIntervalCs: 200 }),
        kind: 'backup',
        actions: [
          intervalMismatch(LOWER, 100, 200),
          becomeBackup('higher-priority', { address: LOWER, priority: 101 }),
        ],
        deadline: 4000 + 7218.75,
        check: (s) => {
          assert.equal(backupField(s, 'masterAdverIntervalCs'), 200);
          assert.equal(backupField(s, 'timerCause'), 'advert');
        },
      },
      {
        at: 11218.75,
        event: timer,
        kind: 'master',
        actions: [send(), becomeMaster('master-down')],
        deadline: 12218.75,
      },
    ],
  },
  {
    name: '§6.4.3 master hears an equal priority from a higher primary address: step down',
    steps: [
      ...TO_MASTER,
      {
        at: 4000,
        event: heard(HIGHER, { priority: 100 }),
        kind: 'backup',
        actions: [becomeBackup('higher-address', { address: HIGHER, priority: 100 })],
        deadline: 4000 + MDI,
      },
    ],
  },
  {
    name: '§6.4.3 master hears an equal priority from a lower primary address: discard, send an advert, re-announce',
    steps: [
      ...TO_MASTER,
      {
        at: 4000,
        event: heard(LOWER, { priority: 100 }),
        kind: 'master',
        actions: [ignore('lower-address', LOWER), send(), announce(LOWER)],
        deadline: MDI + 1000,
      },
    ],
  },
  {
    name: '§6.4.3 master hears a lower priority (even from a higher address): discard, send an advert, re-announce',
    steps: [
      ...TO_MASTER,
      {
        at: 4000,
        event: heard(HIGHER, { priority: 99 }),
        kind: 'master',
        actions: [ignore('lower-priority', HIGHER), send(), announce(HIGHER)],
        deadline: MDI + 1000,
      },
    ],
  },
  {
    name: '§6.4.3 master hears priority 0: send an advert at once and reset Adver_Timer',
    steps: [
      ...TO_MASTER,
      { at: 4000, event: heard(HIGHER, { priority: 0 }), kind: 'master', actions: [send()], deadline: 5000 },
    ],
  },
  {
    name: '§6.4.3 master shutdown: send priority 0, resign, Initialize with no timer; startup again is Backup',
    steps: [
      ...TO_MASTER,
      {
        at: 4000,
        event: shutdown,
        kind: 'initialize',
        actions: [send(0), { type: 'resign', was: 'master' }],
        deadline: undefined,
      },
      { at: 4100, event: timer, kind: 'initialize', actions: [], deadline: undefined },
      { at: 4200, event: shutdown, kind: 'initialize', actions: [], deadline: undefined },
      { at: 5000, event: startup, kind: 'backup', actions: [becomeBackup('startup')], deadline: 5000 + MDI },
    ],
  },
  {
    name: '§6.4.2 backup shutdown: cancel the timer and resign, sending nothing',
    steps: [
      { at: 0, event: startup, kind: 'backup', actions: [becomeBackup('startup')], deadline: MDI },
      {
        at: 100,
        event: shutdown,
        kind: 'initialize',
        actions: [{ type: 'resign', was: 'backup' }],
        deadline: undefined,
      },
    ],
  },
  {
    name: '§7.1 adverts that are not for this router are ignored with a reason, in Backup',
    steps: [
      { at: 0, event: startup, kind: 'backup', actions: [becomeBackup('startup')], deadline: MDI },
      {
        at: 100,
        event: heard(HIGHER, { vrid: VRID + 1, priority: 0 }),
        kind: 'backup',
        actions: [ignore('vrid-mismatch', HIGHER)],
        deadline: MDI,
      },
      {
        at: 200,
        event: heard(SELF, { priority: 0 }),
        kind: 'backup',
        actions: [ignore('own-address', SELF)],
        deadline: MDI,
      },
      {
        at: 300,
        event: heard('2001:db8::1', { priority: 0 }),
        kind: 'backup',
        actions: [ignore('bad-source', '2001:db8::1')],
        deadline: MDI,
      },
      {
        at: 400,
        event: heard('not-an-address', { priority: 0 }),
        kind: 'backup',
        actions: [ignore('bad-source', 'not-an-address')],
        deadline: MDI,
      },
    ],
  },
  {
    name: 'a master never answers its own looped-back advert, nor another VRID',
    steps: [
      ...TO_MASTER,
      { at: 4000, event: heard(SELF), kind: 'master', actions: [ignore('own-address', SELF)], deadline: MDI + 1000 },
      {
        at: 4100,
        event: heard(HIGHER, { vrid: 200, priority: 254 }),
        kind: 'master',
        actions: [ignore('vrid-mismatch', HIGHER)],
        deadline: MDI + 1000,
      },
    ],
  },
  {
    name: '§7.1 backup: a non-owner advert with another address list is dropped, counted, and resets no timer',
    steps: [
      { at: 0, event: startup, kind: 'backup', actions: [becomeBackup('startup')], deadline: MDI },
      // A higher priority and a different list: not accepted as master (the timer keeps running from startup).
      {
        at: 1000,
        event: heard(HIGHER, { priority: 254, addresses: ['10.0.0.100'] }),
        kind: 'backup',
        actions: [dropList(HIGHER, '10.0.0.100')],
        deadline: MDI,
        check: (s) => assert.equal(backupField(s, 'master'), undefined),
      },
      // A superset is not our list either.
      {
        at: 1500,
        event: heard(HIGHER, { priority: 254, addresses: [...VIPS, '10.0.0.102'] }),
        kind: 'backup',
        actions: [dropList(HIGHER, '10.0.0.100,10.0.0.101,10.0.0.102')],
        deadline: MDI,
      },
      // A priority-0 advert with the wrong list does not cut our wait to Skew_Time.
      {
        at: 2000,
        event: heard(HIGHER, { priority: 0, addresses: ['10.9.9.9'] }),
        kind: 'backup',
        actions: [dropList(HIGHER, '10.9.9.9')],
        deadline: MDI,
        check: (s) => assert.equal(backupField(s, 'timerCause'), 'startup'),
      },
      // The same set in another order is our list: accepted, the timer restarts.
      {
        at: 2500,
        event: heard(HIGHER, { priority: 200, addresses: [...VIPS].reverse() }),
        kind: 'backup',
        actions: [],
        deadline: 2500 + MDI,
      },
      // Nothing else heard: the Master_Down_Timer fires as it would have without the dropped adverts.
      {
        at: 2500 + MDI,
        event: timer,
        kind: 'master',
        actions: [send(), becomeMaster('master-down')],
        deadline: 3500 + MDI,
      },
    ],
  },
  {
    name: '§7.1 master: a higher non-owner advert with another address list is dropped; the master stays and sends on',
    steps: [
      ...TO_MASTER,
      {
        at: 4000,
        event: heard(HIGHER, { priority: 254, addresses: ['10.0.0.100'] }),
        kind: 'master',
        actions: [dropList(HIGHER, '10.0.0.100')],
        deadline: MDI + 1000,
      },
      // The same from a lower address and with an interval of its own: still only the drop, no interval note.
      {
        at: 4100,
        event: heard(LOWER, { priority: 254, maxAdvertIntervalCs: 10, addresses: [] }),
        kind: 'master',
        actions: [dropList(LOWER, '')],
        deadline: MDI + 1000,
      },
      { at: MDI + 1000, event: timer, kind: 'master', actions: [send()], deadline: MDI + 2000 },
      // Our own list from a higher priority is the §6.4.3 step-down as before.
      {
        at: MDI + 1500,
        event: heard(HIGHER, { priority: 254 }),
        kind: 'backup',
        actions: [becomeBackup('higher-priority', { address: HIGHER, priority: 254 })],
        // 3 × 1000 + (256 − 100) × 1000 / 256 from the advert.
        deadline: MDI + 1500 + MDI,
      },
    ],
  },
  {
    name: "§7.1 an owner's advert (priority 255) with another list is reported as a mismatch and processed",
    steps: [
      ...TO_MASTER,
      {
        at: 4000,
        event: heard(LOWER, { priority: 255, addresses: ['10.0.0.100'] }),
        kind: 'backup',
        actions: [
          { type: 'mismatch', field: 'addresses', from: LOWER, ours: VIPS.join(','), theirs: '10.0.0.100' },
          becomeBackup('higher-priority', { address: LOWER, priority: 255 }),
        ],
        deadline: 4000 + MDI,
      },
    ],
  },
  {
    name: 'configure: an invalid change is rejected with its errors and changes nothing',
    steps: [
      ...TO_MASTER,
      {
        at: 4000,
        event: { type: 'configure', changes: { priority: 255, advertIntervalCs: 0 } },
        kind: 'master',
        actions: [
          {
            type: 'config-rejected',
            errors: [
              "priority 255 is not an integer in 1..254 (255 is the owner's)",
              'advertIntervalCs 0 is not an integer in 1..4095',
            ],
          },
        ],
        deadline: MDI + 1000,
        check: (s) => assert.equal(s.config.priority, 100),
      },
    ],
  },
  {
    name: 'configure: a master moves its Adver_Timer earlier when the interval shrinks, never later',
    steps: [
      ...TO_MASTER,
      {
        at: 4000,
        event: { type: 'configure', changes: { advertIntervalCs: 200 } },
        kind: 'master',
        actions: [],
        deadline: MDI + 1000,
      },
      { at: MDI + 1000, event: timer, kind: 'master', actions: [send(100, 200)], deadline: MDI + 3000 },
      {
        at: 5000,
        event: { type: 'configure', changes: { advertIntervalCs: 10, priority: 90 } },
        kind: 'master',
        actions: [],
        deadline: 5100,
      },
      { at: 5100, event: timer, kind: 'master', actions: [send(90, 10)], deadline: 5200 },
    ],
  },
  {
    name: 'configure: a backup keeps its timer; the new priority applies from the next accepted advert',
    steps: [
      { at: 0, event: startup, kind: 'backup', actions: [becomeBackup('startup')], deadline: MDI },
      {
        at: 1000,
        event: { type: 'configure', changes: { priority: 200 } },
        kind: 'backup',
        actions: [],
        deadline: MDI,
      },
      // 3 × 1000 + (256 − 200) × 1000 / 256 = 3000 + 218.75; the 150 advert is now lower: discarded (preempt on).
      { at: 2000, event: heard(HIGHER, { priority: 250 }), kind: 'backup', actions: [], deadline: 2000 + 3218.75 },
      {
        at: 3000,
        event: heard(HIGHER, { priority: 150 }),
        kind: 'backup',
        actions: [ignore('lower-priority', HIGHER)],
        deadline: 2000 + 3218.75,
      },
    ],
  },
  {
    name: 'configure: a stopped router starts with the new config',
    steps: [
      {
        at: 0,
        event: { type: 'configure', changes: { priority: 254, advertIntervalCs: 10 } },
        kind: 'initialize',
        actions: [],
        deadline: undefined,
      },
      { at: 0, event: startup, kind: 'backup', actions: [becomeBackup('startup')], deadline: 300.78125 },
    ],
  },
];

/** peerDown is the liveness signal (BFD, RFC 5880) that the router at `address` is gone. */
function peerDown(address: string, holdMs?: number): RouterEvent {
  return holdMs === undefined ? { type: 'peer-down', address } : { type: 'peer-down', address, holdMs };
}

const livenessScenarios: Scenario[] = [
  {
    name: 'peer-down for the master: Master_Down_Timer = Skew_Time (as priority 0, §6.4.2), take over with reason liveness',
    steps: [
      { at: 0, event: startup, kind: 'backup', actions: [becomeBackup('startup')], deadline: MDI },
      { at: 200, event: heard(HIGHER, { priority: 200 }), kind: 'backup', actions: [], deadline: 200 + MDI },
      // Skew_Time = (256 − 100) × 1000 / 256 = 609.375, far before 200 + 3609.375
      {
        at: 700,
        event: peerDown(HIGHER),
        kind: 'backup',
        actions: [],
        deadline: 700 + 609.375,
        check: (s) => assert.equal(backupField(s, 'master'), undefined, 'the master is forgotten'),
      },
      { at: 1309.375, event: timer, kind: 'master', actions: [send(), becomeMaster('liveness')], deadline: 2309.375 },
    ],
  },
  {
    name: 'peer-down uses the learned Master_Adver_Interval for Skew_Time',
    steps: [
      { at: 0, event: startup, kind: 'backup', actions: [becomeBackup('startup')], deadline: MDI },
      {
        at: 100,
        event: heard(HIGHER, { priority: 200, maxAdvertIntervalCs: 50 }),
        kind: 'backup',
        actions: [intervalMismatch(HIGHER, 100, 50)],
        deadline: 100 + 1804.6875,
      },
      // (256 − 100) × 500 / 256 = 304.6875
      { at: 300, event: peerDown('10.0.0.10'), kind: 'backup', actions: [], deadline: 300 + 304.6875 },
    ],
  },
  {
    name: 'peer-down for another address than the master is ignored',
    steps: [
      { at: 0, event: startup, kind: 'backup', actions: [becomeBackup('startup')], deadline: MDI },
      { at: 200, event: heard(HIGHER, { priority: 200 }), kind: 'backup', actions: [], deadline: 200 + MDI },
      {
        at: 700,
        event: peerDown('10.0.0.11'),
        kind: 'backup',
        actions: [],
        deadline: 200 + MDI,
        check: (s) => assert.equal(backupField(s, 'master')?.address, HIGHER),
      },
      {
        at: 200 + MDI,
        event: timer,
        kind: 'master',
        actions: [send(), becomeMaster('master-down')],
        deadline: 200 + MDI + 1000,
      },
    ],
  },
  {
    name: 'peer-down with no master heard yet changes nothing: the startup timer runs (reason no-master)',
    steps: [
      { at: 0, event: startup, kind: 'backup', actions: [becomeBackup('startup')], deadline: MDI },
      { at: 10, event: peerDown(HIGHER), kind: 'backup', actions: [], deadline: MDI },
      { at: MDI, event: timer, kind: 'master', actions: [send(), becomeMaster('no-master')], deadline: MDI + 1000 },
    ],
  },
  {
    name: 'peer-down in Master and in Initialize is ignored',
    steps: [
      { at: 0, event: peerDown(HIGHER), kind: 'initialize', actions: [], deadline: undefined },
      ...TO_MASTER,
      { at: MDI + 10, event: peerDown(HIGHER), kind: 'master', actions: [], deadline: MDI + 1000 },
    ],
  },
  {
    name: 'false detection: the master is heard again after peer-down, Master_Down_Interval is re-armed, no takeover',
    steps: [
      { at: 0, event: startup, kind: 'backup', actions: [becomeBackup('startup')], deadline: MDI },
      { at: 200, event: heard(HIGHER, { priority: 200 }), kind: 'backup', actions: [], deadline: 200 + MDI },
      { at: 700, event: peerDown(HIGHER), kind: 'backup', actions: [], deadline: 1309.375 },
      { at: 1200, event: heard(HIGHER, { priority: 200 }), kind: 'backup', actions: [], deadline: 1200 + MDI },
      { at: 1309.375, event: timer, kind: 'backup', actions: [], deadline: 1200 + MDI },
    ],
  },
  {
    name: 'peer-down never delays a timer already due sooner than Skew_Time',
    steps: [
      { at: 0, event: startup, kind: 'backup', actions: [becomeBackup('startup')], deadline: MDI },
      { at: 200, event: heard(HIGHER, { priority: 200 }), kind: 'backup', actions: [], deadline: 200 + MDI },
      { at: 3500, event: peerDown(HIGHER), kind: 'backup', actions: [], deadline: 200 + MDI },
      {
        at: 200 + MDI,
        event: timer,
        kind: 'master',
        actions: [send(), becomeMaster('liveness')],
        deadline: 200 + MDI + 1000,
      },
    ],
  },
  {
    name: 'peer-down while preempting a lower-priority master takes over after Skew_Time (reason liveness)',
    steps: [
      { at: 0, event: startup, kind: 'backup', actions: [becomeBackup('startup')], deadline: MDI },
      {
        at: 1000,
        event: heard(HIGHER, { priority: 99 }),
        kind: 'backup',
        actions: [ignore('lower-priority', HIGHER)],
        deadline: MDI,
      },
      { at: 1100, event: peerDown(HIGHER), kind: 'backup', actions: [], deadline: 1100 + 609.375 },
      { at: 1709.375, event: timer, kind: 'master', actions: [send(), becomeMaster('liveness')], deadline: 2709.375 },
    ],
  },
  {
    name: 'peer-down with holdMs waits Skew_Time + hold, then takes over (reason liveness) when nobody above claims',
    steps: [
      { at: 0, event: startup, kind: 'backup', actions: [becomeBackup('startup')], deadline: MDI },
      { at: 200, event: heard(HIGHER, { priority: 200 }), kind: 'backup', actions: [], deadline: 200 + MDI },
      { at: 700, event: peerDown(HIGHER, 40), kind: 'backup', actions: [], deadline: 700 + 609.375 + 40 },
      // Early timer deliveries change nothing.
      { at: 1309.375, event: timer, kind: 'backup', actions: [], deadline: 1349.375 },
      { at: 1349.375, event: timer, kind: 'master', actions: [send(), becomeMaster('liveness')], deadline: 2349.375 },
    ],
  },
  {
    name: 'peer-down with holdMs: a higher-ranked backup claiming during the hold is followed, no second claimant',
    steps: [
      { at: 0, event: startup, kind: 'backup', actions: [becomeBackup('startup')], deadline: MDI },
      { at: 200, event: heard(HIGHER, { priority: 200 }), kind: 'backup', actions: [], deadline: 200 + MDI },
      { at: 700, event: peerDown(HIGHER, 400), kind: 'backup', actions: [], deadline: 700 + 609.375 + 400 },
      // The rank above us (priority 150, from another address) became master and advertises: accepted (§6.4.2).
      {
        at: 1000,
        event: heard('10.0.0.11', { priority: 150 }),
        kind: 'backup',
        actions: [],
        deadline: 1000 + MDI,
        check: (s) => assert.deepEqual(backupField(s, 'master'), { address: '10.0.0.11', priority: 150 }),
      },
      { at: 1709.375, event: timer, kind: 'backup', actions: [], deadline: 1000 + MDI },
    ],
  },
  {
    name: 'peer-down with a negative or non-finite holdMs counts as 0 (never earlier than Skew_Time)',
    steps: [
      { at: 0, event: startup, kind: 'backup', actions: [becomeBackup('startup')], deadline: MDI },
      { at: 200, event: heard(HIGHER, { priority: 200 }), kind: 'backup', actions: [], deadline: 200 + MDI },
      { at: 700, event: peerDown(HIGHER, -100), kind: 'backup', actions: [], deadline: 700 + 609.375 },
    ],
  },
  {
    name: 'peer-down with a NaN holdMs counts as 0',
    steps: [
      { at: 0, event: startup, kind: 'backup', actions: [becomeBackup('startup')], deadline: MDI },
      { at: 200, event: heard(HIGHER, { priority: 200 }), kind: 'backup', actions: [], deadline: 200 + MDI },
      { at: 700, event: peerDown(HIGHER, Number.NaN), kind: 'backup', actions: [], deadline: 700 + 609.375 },
    ],
  },
];

describe('liveness signal: peer-down (a master gone, told by BFD rather than by silence)', () => {
  for (const scenario of livenessScenarios) test(scenario.name, () => void play(scenario));
});

describe('§6.4 virtual router scenarios', () => {
  for (const scenario of scenarios) test(scenario.name, () => void play(scenario));
});

describe('IPv6 router', () => {
  test('§6.4.3 tie on priority is broken by the higher link-local address in network byte order', () => {
    const v6 = { family: 'ipv6' as const, primaryAddress: 'fe80::5', addresses: ['2001:db8::100'] };
    const vip = { addresses: ['2001:db8::100'] };
    const toMaster: Step[] = [
      { at: 0, event: startup, kind: 'backup', actions: [becomeBackup('startup')], deadline: MDI },
      {
        at: MDI,
        event: timer,
        kind: 'master',
        actions: [send(100, 100, ['2001:db8::100']), becomeMaster('no-master')],
        deadline: MDI + 1000,
      },
    ];
    play({
      name: 'v6 lower address',
      config: v6,
      steps: [
        ...toMaster,
        {
          at: 4000,
          event: heard('fe80::4:0', vip),
          kind: 'backup',
          actions: [becomeBackup('higher-address', { address: 'fe80::4:0', priority: 100 })],
          deadline: 4000 + MDI,
        },
      ],
    });
    play({
      name: 'v6 higher address',
      config: v6,
      steps: [
        ...toMaster,
        {
          at: 4000,
          event: heard('fe80::1', vip),
          kind: 'master',
          actions: [ignore('lower-address', 'fe80::1'), send(100, 100, ['2001:db8::100']), announce('fe80::1')],
          deadline: MDI + 1000,
        },
        {
          at: 4100,
          event: heard('10.0.0.9', vip),
          kind: 'master',
          actions: [ignore('bad-source', '10.0.0.9')],
          deadline: MDI + 1000,
        },
      ],
    });
  });
});

describe('state is never mutated', () => {
  test('step returns new states and leaves the old ones as they were', () => {
    const s0 = initialRouterState(config());
    const b = step(s0, startup, 0).state;
    const frozen = JSON.stringify(b);
    step(b, heard(HIGHER, { priority: 200, maxAdvertIntervalCs: 50 }), 10);
    step(b, heard(HIGHER, { priority: 0 }), 10);
    step(b, { type: 'configure', changes: { priority: 7 } }, 10);
    assert.equal(JSON.stringify(b), frozen);
  });
});

describe('router config (RFC 5798 §6.1 parameters), validated once', () => {
  const bad: { name: string; over: Record<string, unknown>; error: RegExp }[] = [
    { name: 'family', over: { family: 'ipx' }, error: /family ipx is not ipv4 or ipv6/ },
    { name: 'vrid 0', over: { vrid: 0 }, error: /vrid 0 is not an integer in 1\.\.255/ },
    { name: 'vrid 256', over: { vrid: 256 }, error: /vrid 256/ },
    { name: 'priority 0', over: { priority: 0 }, error: /priority 0 is not an integer in 1\.\.254/ },
    { name: 'priority 255 (owner)', over: { priority: 255 }, error: /255 is the owner's/ },
    { name: 'fractional priority', over: { priority: 100.5 }, error: /priority 100\.5/ },
    { name: 'interval 0', over: { advertIntervalCs: 0 }, error: /advertIntervalCs 0/ },
    {
      name: 'interval 4096',
      over: { advertIntervalCs: 4096 },
      error: /advertIntervalCs 4096 is not an integer in 1\.\.4095/,
    },
    { name: 'preempt "yes"', over: { preempt: 'yes' }, error: /preempt is not a boolean/ },
    { name: 'negative preempt delay', over: { preemptDelayMs: -1 }, error: /preemptDelayMs -1/ },
    { name: 'preempt delay NaN', over: { preemptDelayMs: Number.NaN }, error: /preemptDelayMs NaN/ },
    { name: 'preempt delay over 1000 s', over: { preemptDelayMs: 1_000_001 }, error: /preemptDelayMs 1000001/ },
    {
      name: 'IPv6 primary on IPv4',
      over: { primaryAddress: 'fe80::1' },
      error: /primaryAddress fe80::1 is not an ipv4/,
    },
    { name: 'short IPv4 form', over: { primaryAddress: '10.1' }, error: /primaryAddress 10\.1 is not an ipv4/ },
    { name: 'no addresses', over: { addresses: [] }, error: /0 addresses, want 1\.\.255/ },
    { name: 'addresses not a list', over: { addresses: '10.0.0.1' }, error: /0 addresses/ },
    {
      name: '256 addresses',
      over: { addresses: Array.from({ length: 256 }, (_, i) => `10.1.${i >> 8}.${i & 255}`) },
      error: /256 addresses/,
    },
    {
      name: 'bad address',
      over: { addresses: ['10.0.0.1', '10.0.0.300'] },
      error: /address 10\.0\.0\.300 is not an ipv4/,
    },
    {
      name: 'duplicate address',
      over: { addresses: ['10.0.0.1', '10.0.0.1'] },
      error: /address 10\.0\.0\.1 is listed twice/,
    },
  ];
  for (const r of bad) {
    test(`rejects ${r.name}`, () => {
      const res = validateRouterConfig({ ...BASE, ...r.over } as RouterConfig);
      assert.ok('errors' in res, 'rejected');
      assert.ok(
        res.errors.some((e) => r.error.test(e)),
        JSON.stringify(res.errors),
      );
    });
  }

  test('reports every problem at once, and nothing about addresses when the family is unknown', () => {
    const res = validateRouterConfig({ ...BASE, vrid: 0, priority: 0, family: 'x' as 'ipv4', addresses: ['junk'] });
    assert.ok('errors' in res);
    assert.equal(res.errors.length, 3, JSON.stringify(res.errors));
  });

  test('IPv6 addresses come out canonical (RFC 5952), so received and configured compare with ===', () => {
    const res = validateRouterConfig({
      ...BASE,
      family: 'ipv6',
      primaryAddress: 'FE80:0:0:0::0001',
      addresses: ['2001:DB8:0:0:0:0:0:10', '::FFFF:10.0.0.1'],
    });
    assert.ok('config' in res, JSON.stringify(res));
    assert.equal(res.config.primaryAddress, 'fe80::1');
    assert.deepEqual(res.config.addresses, ['2001:db8::10', '::ffff:10.0.0.1']);
    assert.ok(Object.isFrozen(res.config) && Object.isFrozen(res.config.addresses));
    const dup = validateRouterConfig({
      ...BASE,
      family: 'ipv6',
      primaryAddress: 'fe80::1',
      addresses: ['2001:db8::1', '2001:DB8:0::1'],
    });
    assert.ok('errors' in dup && dup.errors.some((e) => /2001:db8::1 is listed twice/.test(e)));
  });

  test('address order and set helpers', () => {
    assert.ok(compareAddresses('10.0.0.10', '10.0.0.5', 'ipv4')! > 0);
    assert.ok(compareAddresses('9.255.255.255', '10.0.0.0', 'ipv4')! < 0);
    assert.equal(compareAddresses('fe80::1', 'fe80::1', 'ipv6'), 0);
    assert.ok(compareAddresses('fe80::1:0', 'fe80::ffff', 'ipv6')! > 0);
    assert.equal(compareAddresses('junk', '10.0.0.1', 'ipv4'), undefined);
    assert.equal(compareAddresses('10.0.0.1', 'fe80::1', 'ipv4'), undefined);
    assert.ok(sameAddressSet(['a', 'b'], ['b', 'a']));
    assert.ok(!sameAddressSet(['a', 'b'], ['a']));
    assert.ok(!sameAddressSet(['a', 'b'], ['a', 'c']));
  });
});
