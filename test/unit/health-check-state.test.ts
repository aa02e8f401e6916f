// health-check-state.test.ts — keepalived's rise/fall semantics for one check, result by result, time passed in.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type CheckState, initialCheckState, recordResult, type Thresholds } from '../../src/health/check-state.ts';

/** play feeds results ('+' ok, '-' failed), one per second from t=1000, and returns the status after each. */
function play(results: string, thresholds: Thresholds): { statuses: string; changes: number[]; last: CheckState } {
  let state = initialCheckState(0);
  let statuses = '';
  const changes: number[] = [];
  [...results].forEach((r, i) => {
    const now = (i + 1) * 1000;
    const next = recordResult(state, { ok: r === '+', detail: r === '+' ? 'HTTP 200' : 'HTTP 503' }, now, thresholds);
    state = next.state;
    if (next.changed) changes.push(now);
    statuses += state.status === 'up' ? 'U' : state.status === 'down' ? 'D' : '?';
  });
  return { statuses, changes, last: state };
}

describe('recordResult', () => {
  // [results, rise, fall, statuses after each result]
  const cases: readonly [string, number, number, string][] = [
    ['+', 3, 1, 'U'], // the first result decides at once
    ['-', 3, 1, 'D'],
    ['+-', 3, 1, 'UD'], // fall 1: one failure takes it down
    ['+--+++', 3, 1, 'UDDDDU'], // rise 3: three successes in a row bring it back
    ['+-++-+++', 3, 1, 'UDDDDDDU'], // a failure resets the rise streak
    ['+-+-+-+-', 3, 1, 'UDDDDDDD'], // a check flapping every second never comes back
    ['+-+--', 1, 2, 'UUUUD'], // fall 2: a single failure is forgiven, two in a row are not
    ['+-+-+-', 1, 2, 'UUUUUU'],
    ['--+', 1, 1, 'DDU'],
  ];
  for (const [results, rise, fall, want] of cases) {
    test(`${results} rise ${rise} fall ${fall} → ${want}`, () => {
      assert.equal(play(results, { rise, fall }).statuses, want);
    });
  }

  test('since is the time of the last change; streak and detail follow the results', () => {
    const { changes, last } = play('+--++', { rise: 3, fall: 1 });
    assert.deepEqual(changes, [1000, 2000]);
    assert.deepEqual(last, { status: 'down', since: 2000, streak: 2, detail: 'HTTP 200' });
  });

  test('a new check is unknown since its creation', () => {
    assert.deepEqual(initialCheckState(42), { status: 'unknown', since: 42, streak: 0, detail: '' });
  });
});
