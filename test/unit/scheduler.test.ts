import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DeadlineScheduler } from '../../src/speaker/runtime/scheduler.ts';
import { FakeClock } from '../support/fake-clock.ts';

function setup() {
  const clock = new FakeClock();
  const fired: [string, number][] = [];
  const sched = new DeadlineScheduler<string>({ clock, onDue: (key, now) => fired.push([key, now]) });
  return { clock, fired, sched };
}

test('fires keys in deadline order with a single armed timer', () => {
  const { clock, fired, sched } = setup();
  sched.set('b', 30);
  sched.set('a', 10);
  sched.set('c', 20);
  assert.equal(clock.pending, 1);
  clock.advance(100);
  assert.deepEqual(fired, [
    ['a', 10],
    ['c', 20],
    ['b', 30],
  ]);
  assert.equal(sched.size, 0);
});

test('moving a deadline later or earlier re-arms for the new earliest', () => {
  const { clock, fired, sched } = setup();
  sched.set('a', 10);
  sched.set('b', 50);
  sched.set('a', 80);
  clock.advance(60);
  assert.deepEqual(fired, [['b', 50]]);
  sched.set('a', 65);
  clock.advance(10);
  assert.deepEqual(fired.at(-1), ['a', 65]);
  assert.equal(clock.pending, 0);
});

test('removing a key cancels it', () => {
  const { clock, fired, sched } = setup();
  sched.set('a', 10);
  sched.set('b', 20);
  sched.set('a', undefined);
  clock.advance(30);
  assert.deepEqual(fired, [['b', 20]]);
});

test('a handler that re-arms its own key for the same instant does not loop', () => {
  const clock = new FakeClock();
  let calls = 0;
  const sched: DeadlineScheduler<string> = new DeadlineScheduler<string>({
    clock,
    onDue: (key, now) => {
      calls++;
      sched.set(key, now + (calls < 3 ? 0 : 100));
    },
  });
  sched.set('a', 5);
  clock.advance(6);
  assert.ok(calls >= 1 && calls <= 3, `calls ${calls}`);
});

test('stop leaves no timer armed and nothing fires', () => {
  const { clock, fired, sched } = setup();
  sched.set('a', 10);
  sched.stop();
  sched.set('b', 5);
  clock.advance(50);
  assert.deepEqual(fired, []);
  assert.equal(clock.pending, 0);
});

test('heap keeps order over many random updates', () => {
  const { clock, fired, sched } = setup();
  const want = new Map<number, number>();
  let seed = 7;
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed;
  };
  for (let i = 0; i < 2000; i++) {
    const key = rnd() % 300;
    const at = 1 + (rnd() % 10000);
    sched.set(String(key), at);
    want.set(key, at);
  }
  clock.advance(20000);
  const times = fired.map(([, t]) => t);
  assert.deepEqual(
    times,
    [...times].sort((a, b) => a - b),
  );
  assert.equal(fired.length, want.size);
  for (const [k, t] of fired) assert.equal(want.get(Number(k)), t);
});

test('slice: at most `slice` keys per callback; the rest fire from a 0 ms timer, in deadline order', () => {
  const clock = new FakeClock();
  const fired: string[] = [];
  const sched = new DeadlineScheduler<string>({ clock, onDue: (key) => fired.push(key), slice: 2 });
  for (const [key, at] of [
    ['a', 10],
    ['b', 10],
    ['c', 11],
    ['d', 12],
    ['e', 50],
  ] as const)
    sched.set(key, at);
  clock.advance(20);
  assert.deepEqual(fired, ['a', 'b', 'c', 'd'], 'every due key fired by the time the clock reached 20');
  sched.set('z', 20);
  sched.set('x', 18);
  sched.set('y', 19);
  sched.runDue();
  assert.deepEqual(fired.slice(4), ['x', 'y'], 'one call fires one slice');
  assert.equal(clock.pending, 1);
  clock.advance(0);
  assert.deepEqual(fired.slice(4), ['x', 'y', 'z'], 'the rest on the next turn');
  assert.equal(sched.size, 1);
});

test('deadlines moved later with sortNow wake the timer once for nothing, not once per old deadline', () => {
  const wakeups = (sortNow: boolean) => {
    const clock = new FakeClock();
    let count = 0;
    const setTimer = clock.setTimer.bind(clock);
    clock.setTimer = (fn: () => void, ms: number) =>
      setTimer(() => {
        count++;
        fn();
      }, ms);
    const fired: [string, number][] = [];
    const sched = new DeadlineScheduler<string>({ clock, onDue: (key, now) => fired.push([key, now]) });
    const keys = ['a', 'b', 'c', 'd', 'e'];
    for (const [i, k] of keys.entries()) sched.set(k, 10 * (i + 1));
    for (const k of keys) sched.set(k, 200, sortNow);
    clock.advance(300);
    assert.deepEqual(
      fired.map(([, at]) => at),
      [200, 200, 200, 200, 200],
      'every key fires at its new deadline',
    );
    return count;
  };
  assert.equal(wakeups(false), 6, 'lazy: woken at each of the five old deadlines, then for all');
  assert.equal(wakeups(true), 2, 'sorted at once: one wake-up for nothing, then for all');
});
