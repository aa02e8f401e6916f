// WatchedCache over a fake informer on the virtual clock: a failed list/watch is counted and the informer started again
// after the backoff delay, synced resolves only after a clean start, objects arrive as plain JSON, stop cancels.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KubernetesObject } from '@kubernetes/client-node';
import { type ClientInformer, WatchedCache } from '../../src/k8s/watched-cache.ts';
import { silentLogger } from '../../src/log.ts';
import { FakeClock } from '../support/fake-clock.ts';

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

test('errors are counted and retried with backoff; synced after a clean start; plain objects', async () => {
  const inf = new FakeInformer();
  const clock = new FakeClock();
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
    clock,
  });
  let synced = false;
  void cache.synced().then(() => {
    synced = true;
  });
  cache.start();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(errors, ['services']);
  assert.deepEqual(clock.pendingDelays(), [100]);
  await clock.fireNext();
  assert.deepEqual(errors, ['services', 'services']);
  assert.deepEqual(clock.pendingDelays(), [200], 'doubles');
  assert.equal(synced, false);
  await clock.fireNext();
  await new Promise((r) => setImmediate(r));
  assert.equal(synced, true);
  assert.equal(inf.starts, 3);
  assert.deepEqual(cache.get('ns', 'a')?.metadata?.creationTimestamp, '1970-01-01T00:00:00.000Z');
  // After a clean start the backoff starts over.
  inf.emit('error', new Error('watch dropped with error'));
  assert.deepEqual(clock.pendingDelays(), [100]);
  await cache.stop();
  await clock.tick(10_000);
  assert.equal(inf.starts, 3, 'stop cancels the retry');
  assert.equal(clock.pending, 0);
});
