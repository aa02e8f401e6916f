/** AnswerSet (src/net/answer-set.ts): the whole mastered list in, the table's additions and removals out. */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AnswerSet } from '../../src/net/answer-set.ts';

test('AnswerSet: steps of the mastered list give the additions and removals of each step', () => {
  const steps: { vips: string[]; adds: string[]; removes: string[] }[] = [
    { vips: [], adds: [], removes: [] },
    { vips: ['10.0.0.1'], adds: ['10.0.0.1'], removes: [] },
    { vips: ['10.0.0.1', '10.0.0.2', 'fd00::1'], adds: ['10.0.0.2', 'fd00::1'], removes: [] },
    { vips: ['10.0.0.2', 'fd00::1', '10.0.0.1'], adds: [], removes: [] }, // order does not matter
    { vips: ['10.0.0.2', '10.0.0.2'], adds: [], removes: ['10.0.0.1', 'fd00::1'] }, // duplicates count once
    { vips: ['10.0.0.3'], adds: ['10.0.0.3'], removes: ['10.0.0.2'] },
    { vips: [], adds: [], removes: ['10.0.0.3'] },
  ];
  const set = new AnswerSet({ ipv4: true, ipv6: true });
  for (const [i, s] of steps.entries()) {
    const change = set.apply(s.vips);
    assert.deepEqual([...change.adds].sort(), s.adds.sort(), `step ${i} adds`);
    assert.deepEqual([...change.removes].sort(), s.removes.sort(), `step ${i} removes`);
    assert.equal(set.size, new Set(s.vips).size, `step ${i} size`);
  }
});

test('AnswerSet: a responder of one family keeps only that family', () => {
  const v4 = new AnswerSet({ ipv4: true, ipv6: false });
  assert.deepEqual(v4.apply(['10.0.0.1', 'fd00::1']), { adds: ['10.0.0.1'], removes: [] });
  assert.ok(v4.has('10.0.0.1') && !v4.has('fd00::1'));
  const v6 = new AnswerSet({ ipv4: false, ipv6: true });
  assert.deepEqual(v6.apply(['10.0.0.1', 'fd00::1']), { adds: ['fd00::1'], removes: [] });
  assert.deepEqual(v6.apply(['10.0.0.1']), { adds: [], removes: ['fd00::1'] });
});
