// livenessHold: the rank-ordered wait a backup adds to Skew_Time on a liveness signal (speaker/liveness-hold.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { livenessHold } from '../../src/speaker/liveness-hold.ts';

const ranking = [
  { node: 'a', priority: 254 },
  { node: 'b', priority: 243 },
  { node: 'c', priority: 232 },
  { node: 'd', priority: 221 },
];
const all = () => true;

test('the best surviving backup holds 0: its takeover is not delayed', () => {
  assert.equal(livenessHold({ ranking, self: 'b', dead: 'a', isUp: all, intervalMs: 20 }), 0);
});

test('each live candidate ranked above (the dead one aside) adds one interval + lateness', () => {
  assert.equal(livenessHold({ ranking, self: 'c', dead: 'a', isUp: all, intervalMs: 20 }), 40);
  assert.equal(livenessHold({ ranking, self: 'd', dead: 'a', isUp: all, intervalMs: 20 }), 80);
  assert.equal(livenessHold({ ranking, self: 'd', dead: 'b', isUp: all, intervalMs: 100 }), 400);
});

test('a candidate above whose session is not Up (dead too) is not waited for', () => {
  const isUp = (n: string) => n !== 'b';
  assert.equal(livenessHold({ ranking, self: 'c', dead: 'a', isUp, intervalMs: 20 }), 0);
  assert.equal(livenessHold({ ranking, self: 'd', dead: 'a', isUp, intervalMs: 20 }), 40);
});

test('no ranking (standalone mode) or a node not in it: no hold', () => {
  assert.equal(livenessHold({ ranking: [], self: 'c', dead: 'a', isUp: all, intervalMs: 20 }), 0);
  assert.equal(livenessHold({ ranking, self: 'z', dead: 'a', isUp: all, intervalMs: 20 }), 0);
});
