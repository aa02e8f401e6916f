// MetalLB's allocation semantics through the API (controller/service.go convergeBalancer, main.go SetBalancer): an
// address that can no longer be kept is cleared with ClearAssignment and a new one is tried; with none the Service
// goes back to pending with AllocationFailed; the last pool deleted clears every assignment without an Event.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Lab, lbService, NS, pool, waitFor } from './harness.ts';

let lab: Lab;
const ns = 'parity';

before(async () => {
  lab = await Lab.start();
  lab.store.create('namespaces', { metadata: { name: ns } });
  lab.apply(pool('first', ['10.70.0.1/32']), pool('second', ['10.71.0.1/32']));
  await lab.startController().controller.whenReady();
});
after(() => lab.close());

const reasons = (name: string) => lab.events(ns, name).map((e) => `${e.type}/${e.reason}`);

describe('MetalLB parity through the API', () => {
  test('pool deleted: ClearAssignment, then an address from the remaining pool', async () => {
    lab.apply(lbService('moves', { namespace: ns, annotations: { 'metallb.io/address-pool': 'first' } }));
    await waitFor('first address', () => lab.ingress(ns, 'moves')[0] === '10.70.0.1');
    // Unpinned, so the Service may move; then its pool goes.
    lab.apply(lbService('moves', { namespace: ns }));
    lab.store.delete('ipaddresspools.metallb.io', NS, 'first');
    await waitFor('moved to the second pool', () => lab.ingress(ns, 'moves')[0] === '10.71.0.1');
    await waitFor('events', () => reasons('moves').includes('Normal/ClearAssignment'));
    assert.deepEqual(
      reasons('moves').filter((r) => r !== 'Normal/IPAllocated'),
      ['Normal/ClearAssignment'],
      'a move the user did not ask for is announced with ClearAssignment, nothing else',
    );
  });

  test('no address to move to: back to pending with AllocationFailed', async () => {
    lab.apply(pool('third', ['10.72.0.1/32']));
    lab.apply(lbService('stuck', { namespace: ns, annotations: { 'metallb.io/address-pool': 'third' } }));
    await waitFor('third address', () => lab.ingress(ns, 'stuck')[0] === '10.72.0.1');
    lab.apply(lbService('stuck', { namespace: ns }));
    lab.store.delete('ipaddresspools.metallb.io', NS, 'third');
    await waitFor('status cleared', () => lab.ingress(ns, 'stuck').length === 0);
    await waitFor('AllocationFailed', () => reasons('stuck').includes('Warning/AllocationFailed'));
    assert.ok(reasons('stuck').includes('Normal/ClearAssignment'));
    await waitFor(
      'pool annotation removed',
      () => !('metallb.io/ip-allocated-from-pool' in lab.annotations(ns, 'stuck')),
    );
  });

  test('the last pool deleted: every assignment cleared, no Event', async () => {
    await waitFor('moves served', () => lab.ingress(ns, 'moves').length === 1);
    const before = reasons('moves').length;
    lab.store.delete('ipaddresspools.metallb.io', NS, 'second');
    await waitFor('moves cleared', () => lab.ingress(ns, 'moves').length === 0);
    await lab.controllers[0]?.controller.idle();
    assert.equal(reasons('moves').length, before, 'no Event when no pool exists');
    lab.apply(pool('back', ['10.73.0.0/30']));
    await waitFor('served again once a pool exists', () => lab.ingress(ns, 'moves').length === 1);
  });
});
