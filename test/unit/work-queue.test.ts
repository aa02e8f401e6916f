// KeyedQueue's guarantees (one wait per key, never two runs of a key at once, a key added while running runs again,
// a concurrency cap, paused until started, stop waits for running handlers, addAfter on the virtual clock) and the
// backoff formula. No test waits in real time: handlers that take time sleep on a FakeClock the test advances.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { KeyedQueue } from '../../src/controller/work-queue.ts';
import { backoffDelay } from '../../src/k8s/backoff.ts';
import { silentLogger } from '../../src/log.ts';
import { sleep } from '../../vrrp/clock.ts';
import { FakeClock, settle } from '../support/fake-clock.ts';

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
    const clock = new FakeClock();
    let active = 0;
    let maxActive = 0;
    const done: string[] = [];
    const q = new KeyedQueue({
      concurrency: 2,
      logger: silentLogger(),
      handler: async (k) => {
        active++;
        maxActive = Math.max(maxActive, active);
        await sleep(clock, 5);
        active--;
        if (k === 'k1') throw new Error('boom');
        done.push(k);
      },
    });
    q.start();
    for (let i = 0; i < 6; i++) q.add(`k${i}`);
    let idle = false;
    void q.idle().then(() => {
      idle = true;
    });
    for (let i = 0; i < 100 && !idle; i++) await clock.tick(5);
    assert.ok(idle);
    assert.equal(clock.now(), 15, 'six 5 ms handlers, two at a time');
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
    await settle();
    assert.equal(stopped, false);
    gate.resolve();
    await s;
    assert.deepEqual(runs, ['a']);
  });

  test('addAfter queues a key once its delay has passed; a second addAfter keeps the first; stop cancels', async () => {
    const clock = new FakeClock();
    const runs: [string, number][] = [];
    const q = new KeyedQueue({
      concurrency: 4,
      logger: silentLogger(),
      clock,
      handler: async (k) => void runs.push([k, clock.now()]),
    });
    q.start();
    q.addAfter('a', 100);
    q.addAfter('a', 10);
    q.addAfter('b', 300);
    await clock.tick(99);
    assert.deepEqual(runs, []);
    assert.equal(q.size, 0, 'delayed keys are not counted');
    await clock.tick(1);
    assert.deepEqual(runs, [['a', 100]]);
    await q.stop();
    await clock.tick(1_000);
    assert.deepEqual(runs, [['a', 100]], 'b was cancelled by stop');
    assert.equal(clock.pending, 0);
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
