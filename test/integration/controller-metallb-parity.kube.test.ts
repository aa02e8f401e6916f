// MetalLB's allocation semantics (controller/service.go convergeBalancer, main.go SetBalancer) on the real
// kube-apiserver + etcd, the controller as its ServiceAccount, objects changed with kubectl as an operator would: an
// address that can no longer be kept is cleared with ClearAssignment and a new one is tried; with none the Service
// goes back to pending with AllocationFailed; the last pool deleted clears every assignment without an Event.
// (controller-metallb-parity.test.ts is the same on the API stand-in.)

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { lbService, NS, pool, waitForAsync } from './harness.ts';
import { KubeLab } from './kube-lab.ts';

const WAIT = 30_000;
const until = <T>(what: string, check: () => Promise<T | undefined | false>) => waitForAsync(what, check, WAIT);

let lab: KubeLab;
const ns = 'parity';

before(async () => {
  lab = await KubeLab.start('ctl-parity-kube');
  await lab.kubectl(['create', 'namespace', ns]);
  await lab.apply(pool('first', ['10.70.0.1/32']), pool('second', ['10.71.0.1/32']));
  await lab.startController().controller.whenReady();
});
after(() => lab?.close());

const reasons = async (name: string) => (await lab.events(ns, name)).map((e) => `${e.type}/${e.reason}`);
const deletePool = (name: string) => lab.kubectl(['delete', 'ipaddresspool', name, '-n', NS]);

describe('MetalLB parity through the real API server', () => {
  test('pool deleted: ClearAssignment, then an address from the remaining pool', async () => {
    await lab.apply(lbService('moves', { namespace: ns, annotations: { 'metallb.io/address-pool': 'first' } }));
    await until('first address', async () => (await lab.ingress(ns, 'moves'))[0] === '10.70.0.1');
    // Unpinned (kubectl apply drops the annotation the last applied configuration had), then its pool goes.
    await lab.apply(lbService('moves', { namespace: ns }));
    await until('unpinned', async () => !('metallb.io/address-pool' in (await lab.annotations(ns, 'moves'))));
    await deletePool('first');
    await until('moved to the second pool', async () => (await lab.ingress(ns, 'moves'))[0] === '10.71.0.1');
    await until('events', async () => (await reasons('moves')).includes('Normal/ClearAssignment'));
    assert.deepEqual(
      (await reasons('moves')).filter((r) => r !== 'Normal/IPAllocated'),
      ['Normal/ClearAssignment'],
      'a move the user did not ask for is announced with ClearAssignment, nothing else',
    );
  });

  test('no address to move to: back to pending with AllocationFailed', async () => {
    await lab.apply(pool('third', ['10.72.0.1/32']));
    await lab.apply(lbService('stuck', { namespace: ns, annotations: { 'metallb.io/address-pool': 'third' } }));
    await until('third address', async () => (await lab.ingress(ns, 'stuck'))[0] === '10.72.0.1');
    await lab.apply(lbService('stuck', { namespace: ns }));
    await until('unpinned', async () => !('metallb.io/address-pool' in (await lab.annotations(ns, 'stuck'))));
    await deletePool('third');
    await until('status cleared', async () => (await lab.ingress(ns, 'stuck')).length === 0);
    await until('AllocationFailed', async () => (await reasons('stuck')).includes('Warning/AllocationFailed'));
    assert.ok((await reasons('stuck')).includes('Normal/ClearAssignment'));
    await until(
      'pool annotation removed',
      async () => !('metallb.io/ip-allocated-from-pool' in (await lab.annotations(ns, 'stuck'))),
    );
    // What an operator sees: EXTERNAL-IP pending.
    const row = (await lab.kubectl(['get', 'service', 'stuck', '-n', ns, '--no-headers'])).trim().split(/\s+/);
    assert.equal(row[3], '<pending>', 'EXTERNAL-IP column');
  });

  test('the last pool deleted: every assignment cleared, no Event', async () => {
    await until('moves served', async () => (await lab.ingress(ns, 'moves')).length === 1);
    const before = (await reasons('moves')).length;
    await deletePool('second');
    await until('moves cleared', async () => (await lab.ingress(ns, 'moves')).length === 0);
    await lab.controllers[0]?.controller.idle();
    assert.equal((await reasons('moves')).length, before, 'no Event when no pool exists');
    await lab.apply(pool('back', ['10.73.0.0/30']));
    await until('served again once a pool exists', async () => (await lab.ingress(ns, 'moves')).length === 1);
  });
});
