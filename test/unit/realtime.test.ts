// --realtime-priority (src/realtime.ts, native/realtime.c): the flag's parse, and, as root with the addon built, the
// calling thread really runs SCHED_RR and goes back to normal scheduling.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseRealtimePriority, setRealtimePriority } from '../../src/realtime.ts';

test('parseRealtimePriority takes 0..99 and refuses the rest', () => {
  assert.deepEqual(parseRealtimePriority('0'), { value: 0 });
  assert.deepEqual(parseRealtimePriority('10'), { value: 10 });
  assert.deepEqual(parseRealtimePriority(99), { value: 99 });
  for (const bad of ['100', '-1', '1.5', 'high', '', undefined]) {
    assert.ok('error' in parseRealtimePriority(bad), String(bad));
  }
});

test('setRealtimePriority: SCHED_RR at the priority asked, then back to normal (root)', (t) => {
  if (process.getuid?.() !== 0) return t.skip('needs root (CAP_SYS_NICE)');
  const on = setRealtimePriority(7);
  if (!on.ok && on.code === 'not-built') return t.skip('build/Release/realtime.node not built');
  assert.deepEqual(on, { ok: true, state: { policy: 'rr', priority: 7 } });
  assert.deepEqual(setRealtimePriority(0), { ok: true, state: { policy: 'other', priority: 0 } });
});

test('setRealtimePriority never throws: a refused priority comes back as an outcome', () => {
  const r = setRealtimePriority(100);
  assert.equal(r.ok, false);
});
