// WatchedCache over a fake informer and fake timers: a failed list/watch is counted and the informer started again
// after the backoff delay, synced resolves only after a clean start, objects arrive as plain JSON, stop cancels.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KubernetesObject } from '@kubernetes/client-node';
import { type ClientInformer, type Timers, WatchedCache } from '../../src/k8s/watched-cache.ts';
import { silentLogger } from '../../src/log.ts';

class FakeInformer {
  readonly handlers = new Map<string, ((x: unknown) => void)[]>();
  starts = 0;
  /** plan: per start, either 'ok' (emits the objects) or an error to report. */
  plan: ('ok' | Error)[] = [];
  objects: KubernetesObject[] = [];
  on(verb: string, cb: (x: unknown) => void) {
    this.handlers.set(verb, [...(this.handlers.get(verb) ?? []), cb]);
  }
  emit(verb: string, x: unknown) {
    for (const h of this.handlers.get(verb) ?? []) h(x);
  }
  async start() {
    const step = this.plan[this.starts++] ?? 'ok';
    if (step instanceof Error) this.emit('error', step);
    else for (const o of this.objects) this.emit('add', o);
  }
  async stop() {}
}

class FakeTimers implements Timers {
  pending: { fn: () => void; ms: number; cancelled: boolean }[] = [];
  setTimeout(fn: () => void, ms: number) {
    const t = { fn, ms, cancelled: false };
    this.pending.push(t);
    return t;
  }
  clearTimeout(h: unknown) {
    (h as { cancelled: boolean }).cancelled = true;
  }
  async fire() {
    const t = this.pending.shift();
    if (t && !t.cancelled) t.fn();
    await new Promise((r) => setImmediate(r));
  }
}

test('errors are counted and retried with backoff; synced after a clean start; plain objects', async () => {
  const inf = new FakeInformer();
  const timers = new FakeTimers();
  const errors: string[] = [];
  inf.plan = [Object.assign(new Error('refused'), { statusCode: 503 }), new Error('ECONNREFUSED'), 'ok'];
  inf.objects = [{ metadata: { namespace: 'ns', name: 'a', creationTimestamp: new Date(0) } } as KubernetesObject];
  const cache = new WatchedCache<{ metadata?: { namespace?: string; name?: string; creationTimestamp?: string } }>({
    resource: 'services',
    informer: inf as unknown as ClientInformer,
    logger: silentLogger(),
    onWatchError: (r) => errors.push(r),
    backoff: { baseMs: 100, maxMs: 1000 },
    random: () => 1,
    timers,
  });
  let synced = false;
  void cache.synced().then(() => {
    synced = true;
  });
  cache.start();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(errors, ['services']);
  assert.deepEqual(
    timers.pending.map((t) => t.ms),
    [100],
  );
  await timers.fire();
  assert.deepEqual(errors, ['services', 'services']);
  assert.deepEqual(
    timers.pending.map((t) => t.ms),
    [200],
    'doubles',
  );
  assert.equal(synced, false);
  await timers.fire();
  await new Promise((r) => setImmediate(r));
  assert.equal(synced, true);
  assert.equal(inf.starts, 3);
  assert.deepEqual(cache.get('ns', 'a')?.metadata?.creationTimestamp, '1970-01-01T00:00:00.000Z');
  // After a clean start the backoff starts over.
  inf.emit('error', new Error('watch dropped with error'));
  assert.deepEqual(
    timers.pending.map((t) => t.ms),
    [100],
  );
  await cache.stop();
  await timers.fire();
  assert.equal(inf.starts, 3, 'stop cancels the retry');
});
