// KeyedQueue's guarantees (one wait per key, never two runs of a key at once, a key added while running runs again,
// a concurrency cap, paused until started, stop waits for running handlers) and the backoff formula.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { KeyedQueue } from '../../src/controller/work-queue.ts';
import { backoffDelay } from '../../src/k8s/backoff.ts';
import { silentLogger } from '../../src/log.ts';

function deferred() {
  let resolve: () => void = () => {};
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe('KeyedQueue', () => {
  test('paused until start; a key waits once however often it is added', async () => {
    const runs: string[] = [];
    const q = new KeyedQueue({ concurrency: 4, logger: silentLogger(), handler: async (k) => void runs.push(k) });
    q.add('a');
    q.add('b');
    q.add('a');
    assert.deepEqual(runs, []);
    q.start();
    await q.idle();
    assert.deepEqual(runs, ['a', 'b']);
  });

  test('a key is never run twice at once, and runs again when added while running', async () => {
    const gate = deferred();
    let active = 0;
    let maxActive = 0;
    let runs = 0;
    const q = new KeyedQueue({
      concurrency: 4,
      logger: silentLogger(),
      handler: async () => {
        active++;
        maxActive = Math.max(maxActive, active);
        runs++;
        if (runs === 1) await gate.promise;
        active--;
      },
    });
    q.start();
    q.add('a');
    q.add('a');
    q.add('a');
    gate.resolve();
    await q.idle();
    assert.equal(maxActive, 1);
    assert.equal(runs, 2);
  });

  test('at most `concurrency` keys run at once; a failing handler does not stop the queue', async () => {
    let active = 0;
    let maxActive = 0;
    const done: string[] = [];
    const q = new KeyedQueue({
      concurrency: 2,
      logger: silentLogger(),
      handler: async (k) => {
        active++;
        maxActive = Math.max(maxActive, active);
        await new Promise((r) => setTimeout(r, 5));
        active--;
        if (k === 'k1') throw new Error('boom');
        done.push(k);
      },
    });
    q.start();
    for (let i = 0; i < 6; i++) q.add(`k${i}`);
    await q.idle();
    assert.equal(maxActive, 2);
    assert.deepEqual(done.sort(), ['k0', 'k2', 'k3', 'k4', 'k5']);
  });

  test('stop drops waiting keys and resolves after the running handler ends', async () => {
    const gate = deferred();
    const runs: string[] = [];
    const q = new KeyedQueue({
      concurrency: 1,
      logger: silentLogger(),
      handler: async (k) => {
        runs.push(k);
        await gate.promise;
      },
    });
    q.start();
    q.add('a');
    q.add('b');
    let stopped = false;
    const s = q.stop().then(() => {
      stopped = true;
    });
    await new Promise((r) => setTimeout(r, 5));
    assert.equal(stopped, false);
    gate.resolve();
    await s;
    assert.deepEqual(runs, ['a']);
  });
});

describe('backoffDelay', () => {
  const table: [number, number, number][] = [
    // attempt, random, delay (base 250, max 30 s; half fixed, half random)
    [0, 0, 125],
    [0, 1, 250],
    [3, 0.5, 1500],
    [7, 1, 30_000],
    [50, 0, 15_000],
  ];
  for (const [attempt, random, want] of table) {
    test(`attempt ${attempt}, random ${random} -> ${want} ms`, () => {
      assert.equal(
        backoffDelay(attempt, {}, () => random),
        want,
      );
    });
  }
});
