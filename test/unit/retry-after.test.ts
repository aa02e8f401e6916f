// withRetryAfter: a 429 is tried again after the wait its Retry-After header names (1 s without one, capped), up to
// the attempts allowed; other errors and successes pass through at once. The sleep is injected: exact waits, no time.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Clock } from '../../src/clock.ts';
import { retryAfterMs, withRetryAfter } from '../../src/k8s/retry-after.ts';

const tooMany = (retryAfter?: string) =>
  Object.assign(new Error('HTTP-Code: 429'), {
    code: 429,
    headers: retryAfter === undefined ? {} : { 'retry-after': retryAfter },
  });

test('retryAfterMs: seconds from the header, 1 s without a usable one, capped', () => {
  const cases: [unknown, number, number][] = [
    [tooMany('3'), 30_000, 3_000],
    [tooMany('0'), 30_000, 0],
    [tooMany(), 30_000, 1_000],
    [tooMany('Wed, 21 Oct 2026 07:28:00 GMT'), 30_000, 1_000],
    [tooMany('120'), 30_000, 30_000],
    [tooMany('5'), 2_000, 2_000],
    [null, 30_000, 1_000],
  ];
  for (const [err, max, want] of cases) assert.equal(retryAfterMs(err, max), want, JSON.stringify(err));
});

/** recordingClock fires every timer at once and records its delay: the waits withRetryAfter asked for. */
function recordingClock(waits: number[]): Clock {
  return {
    now: () => 0,
    wallNow: () => 0,
    setTimer: (fn, ms) => {
      waits.push(ms);
      queueMicrotask(fn);
      return () => {};
    },
  };
}

test('withRetryAfter waits what each 429 asks, then returns the result', async () => {
  const waits: number[] = [];
  const answers = [tooMany('2'), tooMany(), 'ok'];
  let calls = 0;
  const got = await withRetryAfter(
    async () => {
      const a = answers[calls++];
      if (a instanceof Error) throw a;
      return a;
    },
    { clock: recordingClock(waits) },
  );
  assert.equal(got, 'ok');
  assert.equal(calls, 3);
  assert.deepEqual(waits, [2_000, 1_000]);
});

test('withRetryAfter gives up after `attempts`, with the last 429', async () => {
  const waits: number[] = [];
  let calls = 0;
  await assert.rejects(
    withRetryAfter(
      async () => {
        calls++;
        throw tooMany('1');
      },
      { attempts: 4, clock: recordingClock(waits) },
    ),
    (err: { code?: number }) => err.code === 429,
  );
  assert.equal(calls, 4);
  assert.deepEqual(waits, [1_000, 1_000, 1_000]);
});

test('withRetryAfter does not retry other errors', async () => {
  let calls = 0;
  const notFound = Object.assign(new Error('HTTP-Code: 404'), { code: 404 });
  await assert.rejects(
    withRetryAfter(async () => {
      calls++;
      throw notFound;
    }),
    notFound,
  );
  assert.equal(calls, 1);
});
