import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFAULT_LIVENESS, resolveLiveness } from '../../src/model/liveness.ts';
import {
  TUNING_ANNOTATIONS as A,
  classifyTuningChange,
  DEFAULT_POOL_TUNING,
  type PoolTuning,
  parsePoolTuning,
  parsePoolTunings,
  tuningOf,
} from '../../src/model/pool-tuning.ts';

/** pick reads one field (or nested path) of a tuning for table comparisons. */
function field(t: PoolTuning, name: string): unknown {
  switch (name) {
    case 'count':
      return t.gratuitous.count;
    case 'spacing':
      return t.gratuitous.spacingMs;
    case 'refresh':
      return t.gratuitous.refreshMs;
    case 'pins':
      return [...t.pinnedPriorities];
    case 'vridRange':
      return [t.vridRange.lo, t.vridRange.hi];
    case 'livenessMode':
      return t.liveness.mode;
    case 'livenessInterval':
      return t.liveness.intervalMs;
    case 'livenessMult':
      return t.liveness.detectMult;
    default:
      return t[name as keyof PoolTuning];
  }
}

describe('parsePoolTuning: valid values', () => {
  // [annotation, value, field, expected]
  const cases: readonly [string, string, string, unknown][] = [
    [A.advertInterval, '100ms', 'advertIntervalCs', 10],
    [A.advertInterval, '10ms', 'advertIntervalCs', 1],
    [A.advertInterval, '1s', 'advertIntervalCs', 100],
    [A.advertInterval, '0.07s', 'advertIntervalCs', 7],
    [A.advertInterval, '40.95s', 'advertIntervalCs', 4095],
    [A.advertInterval, ' 20ms ', 'advertIntervalCs', 2],
    [A.preempt, 'false', 'preempt', false],
    [A.preempt, 'TRUE', 'preempt', true],
    [A.preemptDelay, '30s', 'preemptDelayMs', 30_000],
    [A.preemptDelay, '0s', 'preemptDelayMs', 0],
    [A.preemptDelay, '1000s', 'preemptDelayMs', 1_000_000],
    [A.gratuitousCount, '0', 'count', 0],
    [A.gratuitousCount, '100', 'count', 100],
    [A.gratuitousSpacing, '20ms', 'spacing', 20],
    [A.gratuitousSpacing, '10s', 'spacing', 10_000],
    [A.gratuitousRefresh, '0', 'refresh', 0],
    [A.gratuitousRefresh, 'off', 'refresh', 0],
    [A.gratuitousRefresh, '1s', 'refresh', 1000],
    [A.gratuitousRefresh, '5m', 'refresh', 300_000],
    [A.vridRange, '50-99', 'vridRange', [50, 99]],
    [A.vridRange, '7', 'vridRange', [7, 7]],
    [
      A.priorities,
      'node-a=250,node-b=200',
      'pins',
      [
        ['node-a', 250],
        ['node-b', 200],
      ],
    ],
    [
      A.priorities,
      ' node-a = 1 , w1.example.com=254 ',
      'pins',
      [
        ['node-a', 1],
        ['w1.example.com', 254],
      ],
    ],
    [A.priorities, '', 'pins', []],
    [A.peers, 'unicast', 'peers', 'unicast'],
    [A.peers, 'Multicast', 'peers', 'multicast'],
    [A.liveness, 'bfd', 'livenessMode', 'bfd'],
    [A.liveness, ' OFF ', 'livenessMode', 'off'],
    [A.livenessInterval, '20ms', 'livenessInterval', 20],
    [A.livenessInterval, '10ms', 'livenessInterval', 10],
    [A.livenessInterval, '0.05s', 'livenessInterval', 50],
    [A.livenessInterval, '10s', 'livenessInterval', 10_000],
    [A.livenessMultiplier, '3', 'livenessMult', 3],
    [A.livenessMultiplier, '255', 'livenessMult', 255],
  ];
  for (const [annotation, value, name, want] of cases) {
    test(`${annotation}="${value}"`, () => {
      const r = parsePoolTuning('gold', { [annotation]: value });
      assert.deepEqual(r.problems, []);
      assert.deepEqual(field(r.tuning, name), want);
    });
  }
});

describe('parsePoolTuning: invalid values are reported and the default is used', () => {
  // [annotation, value, field, fragment of the message]
  const cases: readonly [string, string, string, string][] = [
    [A.advertInterval, '5ms', 'advertIntervalCs', 'outside 10 ms'],
    [A.advertInterval, '41s', 'advertIntervalCs', 'outside 10 ms'],
    [A.advertInterval, '105ms', 'advertIntervalCs', 'whole number of centiseconds'],
    [A.advertInterval, '100', 'advertIntervalCs', 'no unit'],
    [A.advertInterval, 'fast', 'advertIntervalCs', 'not a duration'],
    [A.advertInterval, '-100ms', 'advertIntervalCs', 'not a duration'],
    [A.preempt, 'yes', 'preempt', 'not true or false'],
    [A.preemptDelay, '1001s', 'preemptDelayMs', 'longer than 1000s'],
    [A.preemptDelay, '5', 'preemptDelayMs', 'no unit'],
    [A.gratuitousCount, '101', 'count', '0..100'],
    [A.gratuitousCount, '-1', 'count', '0..100'],
    [A.gratuitousCount, '2.5', 'count', '0..100'],
    [A.gratuitousSpacing, '11s', 'spacing', 'longer than 10s'],
    [A.gratuitousRefresh, '500ms', 'refresh', 'between 1s and 1h'],
    [A.gratuitousRefresh, '61m', 'refresh', 'between 1s and 1h'],
    [A.gratuitousRefresh, '60', 'refresh', 'no unit'],
    [A.vridRange, '99-50', 'vridRange', 'lo-hi'],
    [A.vridRange, '0-10', 'vridRange', 'lo-hi'],
    [A.priorities, 'node-a=255', 'pins', 'priority must be 1..254'],
    [A.priorities, 'node-a=0', 'pins', 'priority must be 1..254'],
    [A.priorities, 'node-a=250,node-b=250', 'pins', 'both pinned to 250'],
    [A.priorities, 'node-a=250,node-a=200', 'pins', 'pinned twice'],
    [A.priorities, 'Node_A=250', 'pins', 'not a node name'],
    [A.priorities, 'node-a', 'pins', 'not node=priority'],
    [A.priorities, 'node-a=250,', 'pins', 'not node=priority'],
    [A.peers, 'broadcast', 'peers', 'not multicast or unicast'],
    [A.liveness, 'on', 'livenessMode', 'not bfd or off'],
    [A.livenessInterval, '5ms', 'livenessInterval', '10ms..10s'],
    [A.livenessInterval, '11s', 'livenessInterval', '10ms..10s'],
    [A.livenessInterval, '12.5ms', 'livenessInterval', 'whole number of ms'],
    [A.livenessInterval, '20', 'livenessInterval', 'no unit'],
    [A.livenessMultiplier, '1', 'livenessMult', '2..255'],
    [A.livenessMultiplier, '256', 'livenessMult', '2..255'],
    [A.livenessMultiplier, 'three', 'livenessMult', '2..255'],
  ];
  for (const [annotation, value, name, fragment] of cases) {
    test(`${annotation}="${value}"`, () => {
      const r = parsePoolTuning('gold', { [annotation]: value });
      assert.equal(r.problems.length, 1);
      const p = r.problems[0]!;
      assert.deepEqual([p.pool, p.annotation, p.value, p.error.code], ['gold', annotation, value, 'INVALID_TUNING']);
      assert.match(p.error.message, new RegExp(fragment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
      assert.deepEqual(field(r.tuning, name), field(DEFAULT_POOL_TUNING, name));
    });
  }

  test('a pool without liveness annotations leaves every liveness field to the cluster default', () => {
    const r = parsePoolTuning('gold', {});
    assert.deepEqual(r.tuning.liveness, {});
  });

  test('one bad field does not disturb the others', () => {
    const r = parsePoolTuning('gold', { [A.advertInterval]: 'x', [A.preempt]: 'false', [A.peers]: 'unicast' });
    assert.deepEqual(
      r.problems.map((p) => p.annotation),
      [A.advertInterval],
    );
    assert.equal(r.tuning.advertIntervalCs, 10);
    assert.equal(r.tuning.preempt, false);
    assert.equal(r.tuning.peers, 'unicast');
  });

  test('an unknown annotation under the prefix is reported; other prefixes are not ours', () => {
    const r = parsePoolTuning('gold', {
      'metal-vrrp.io/advert-intervall': '20ms',
      'metallb.io/whatever': 'x',
      'example.com/note': 'y',
    });
    assert.deepEqual(
      r.problems.map((p) => [p.annotation, p.error.code]),
      [['metal-vrrp.io/advert-intervall', 'UNKNOWN_TUNING_ANNOTATION']],
    );
    assert.equal(r.tuning.advertIntervalCs, 10);
  });
});

describe('defaults and many pools', () => {
  test('no annotations gives the documented defaults', () => {
    for (const ann of [undefined, null, {}]) {
      const r = parsePoolTuning('p', ann);
      assert.deepEqual(r.problems, []);
      assert.deepEqual(
        [
          r.tuning.advertIntervalCs,
          r.tuning.preempt,
          r.tuning.preemptDelayMs,
          r.tuning.gratuitous,
          r.tuning.vridRange,
          r.tuning.pinnedPriorities.size,
          r.tuning.peers,
        ],
        [10, true, 0, { count: 3, spacingMs: 100, refreshMs: 60_000 }, { lo: 1, hi: 255 }, 0, 'multicast'],
      );
      assert.ok(Object.isFrozen(r.tuning));
    }
  });

  test('parsePoolTunings maps every named pool and gathers problems; tuningOf falls back to defaults', () => {
    const r = parsePoolTunings([
      { metadata: { name: 'a', annotations: { [A.advertInterval]: '20ms' } } },
      { metadata: { name: 'b', annotations: { [A.preempt]: 'maybe' } } },
      { metadata: {} },
    ]);
    assert.deepEqual([...r.tunings.keys()], ['a', 'b']);
    assert.equal(tuningOf(r.tunings, 'a').advertIntervalCs, 2);
    assert.equal(tuningOf(r.tunings, 'b').preempt, true);
    assert.equal(tuningOf(r.tunings, 'missing'), DEFAULT_POOL_TUNING);
    assert.equal(tuningOf(r.tunings, undefined), DEFAULT_POOL_TUNING);
    assert.deepEqual(
      r.problems.map((p) => p.pool),
      ['b'],
    );
  });
});

describe('classifyTuningChange', () => {
  const t = (ann: Record<string, string>) => parsePoolTuning('p', ann).tuning;
  // [name, before, after, effect, changed, configure, flags [priorities, gratuitous, transport, vridRange]]
  const cases: readonly [
    string,
    Record<string, string>,
    Record<string, string>,
    string,
    string[],
    object,
    boolean[],
  ][] = [
    ['nothing', {}, {}, 'none', [], {}, [false, false, false, false]],
    [
      'same values, other spelling',
      { [A.advertInterval]: '1s' },
      { [A.advertInterval]: '1000ms' },
      'none',
      [],
      {},
      [false, false, false, false],
    ],
    [
      'interval',
      {},
      { [A.advertInterval]: '20ms' },
      'live',
      ['advertIntervalCs'],
      { advertIntervalCs: 2 },
      [false, false, false, false],
    ],
    [
      'preempt off',
      {},
      { [A.preempt]: 'false' },
      'live',
      ['preempt'],
      { preempt: false },
      [false, false, false, false],
    ],
    [
      'preempt back on may move a master',
      { [A.preempt]: 'false' },
      {},
      'failover',
      ['preempt'],
      { preempt: true },
      [false, false, false, false],
    ],
    [
      'preempt delay',
      {},
      { [A.preemptDelay]: '5s' },
      'live',
      ['preemptDelayMs'],
      { preemptDelayMs: 5000 },
      [false, false, false, false],
    ],
    ['gratuitous', {}, { [A.gratuitousCount]: '5' }, 'live', ['gratuitous'], {}, [false, true, false, false]],
    ['peers', {}, { [A.peers]: 'unicast' }, 'live', ['peers'], {}, [false, false, true, false]],
    [
      'pins',
      { [A.priorities]: 'a=200' },
      { [A.priorities]: 'a=201' },
      'failover',
      ['pinnedPriorities'],
      {},
      [true, false, false, false],
    ],
    ['vrid range', {}, { [A.vridRange]: '10-20' }, 'failover', ['vridRange'], {}, [false, false, false, true]],
  ];
  for (const [name, before, after, effect, changed, configure, flags] of cases) {
    test(name, () => {
      const c = classifyTuningChange(t(before), t(after));
      assert.equal(c.effect, effect);
      assert.deepEqual([...c.changed].sort(), [...changed].sort());
      assert.deepEqual(c.configure, configure);
      assert.deepEqual([c.priorities, c.gratuitous, c.transport, c.vridRange], flags);
    });
  }
});

describe('liveness settings: pool over cluster default', () => {
  test('resolveLiveness takes each field the pool sets, the cluster default for the rest', () => {
    const cluster = { mode: 'off', intervalMs: 20, detectMult: 3 } as const;
    assert.deepEqual(resolveLiveness({}, cluster), cluster);
    assert.deepEqual(resolveLiveness({ mode: 'bfd' }, cluster), { mode: 'bfd', intervalMs: 20, detectMult: 3 });
    assert.deepEqual(resolveLiveness({ mode: 'bfd', intervalMs: 50, detectMult: 5 }, cluster), {
      mode: 'bfd',
      intervalMs: 50,
      detectMult: 5,
    });
    assert.equal(DEFAULT_LIVENESS.mode, 'off');
  });

  test('a liveness change is live: no router restarts, no failover', () => {
    const before = parsePoolTuning('gold', {}).tuning;
    const after = parsePoolTuning('gold', { [A.liveness]: 'bfd' }).tuning;
    const c = classifyTuningChange(before, after);
    assert.deepEqual([c.effect, c.changed], ['live', ['liveness']]);
  });
});
