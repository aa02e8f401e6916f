// Restarts and a misbehaving API server, through the stand-in: a restarted controller rebuilds every assignment
// from Service status before allocating anything (no IP moves, none given twice), survives dropped watches, refused
// connections, 410 Gone and failing writes, and random churn with pools edited and a restart in the middle never
// leaves two Services on one address (sharing aside) and leaves every satisfiable Service allocated.

import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { Lab, lbService, NS, pool, waitFor } from './harness.ts';

interface Seen {
  ips: string[];
  vrids: string | undefined;
}

/** settledAt says whether a Service's status matched its pool wish when the snapshot was taken. */
function settledAt(lab: Lab, namespace: string, name: string): boolean {
  const ann = lab.annotations(namespace, name);
  const wish = ann['metallb.io/address-pool'];
  const from = ann['metallb.io/ip-allocated-from-pool'];
  return wish === undefined ? from !== undefined : wish === from;
}

function snapshot(lab: Lab, namespace: string): Map<string, Seen> {
  const out = new Map<string, Seen>();
  for (const s of lab.store.list('services', { namespace }).items) {
    const name = s.metadata.name ?? '';
    out.set(name, { ips: lab.ingress(namespace, name), vrids: s.metadata.annotations?.['metal-vrrp.io/vrids'] });
  }
  return out;
}

/** duplicates lists addresses shown by two Services that do not share them by key. */
function duplicates(lab: Lab): string[] {
  const byIp = new Map<string, { key: string; sharing: string }[]>();
  for (const s of lab.store.list('services').items) {
    const key = `${s.metadata.namespace}/${s.metadata.name}`;
    const ann = s.metadata.annotations ?? {};
    const sharing = ann['metallb.io/allow-shared-ip'] ?? ann['metallb.universe.tf/allow-shared-ip'] ?? '';
    for (const ip of lab.ingress(s.metadata.namespace ?? '', s.metadata.name ?? '')) {
      byIp.set(ip, [...(byIp.get(ip) ?? []), { key, sharing }]);
    }
  }
  const bad: string[] = [];
  for (const [ip, users] of byIp) {
    if (users.length < 2) continue;
    const key = users[0]?.sharing ?? '';
    if (key === '' || users.some((u) => u.sharing !== key)) bad.push(`${ip}: ${users.map((u) => u.key).join(', ')}`);
  }
  return bad;
}

describe('restart', () => {
  let lab: Lab;
  before(async () => {
    lab = await Lab.start();
    lab.store.create('namespaces', { metadata: { name: 'rs' } });
    lab.apply(pool('rs-pool', ['10.110.0.0/27', 'fd00:110::/124']));
  });
  after(() => lab.close());

  test('a restarted controller keeps every address and VRID and gives none twice', async () => {
    const first = lab.startController();
    await first.controller.whenReady();
    for (let i = 0; i < 12; i++) lab.apply(lbService(`svc-${String(i).padStart(2, '0')}`, { namespace: 'rs' }));
    lab.apply(
      lbService('shared-a', { namespace: 'rs', port: 1, annotations: { 'metallb.io/allow-shared-ip': 'x' } }),
      lbService('shared-b', { namespace: 'rs', port: 2, annotations: { 'metallb.io/allow-shared-ip': 'x' } }),
      lbService('dual', {
        namespace: 'rs',
        spec: { ipFamilyPolicy: 'RequireDualStack', ipFamilies: ['IPv4', 'IPv6'] },
      }),
    );
    await waitFor('all allocated', () => [...snapshot(lab, 'rs').values()].every((s) => s.ips.length > 0 && s.vrids));
    await first.controller.idle();
    await lab.stopController(first);

    // While it is down: one Service goes (its address must come back), new ones arrive whose names sort first — a
    // controller that allocated before restoring would hand them addresses in use.
    const low = lab.ingress('rs', 'svc-00')[0];
    lab.store.delete('services', 'rs', 'svc-00');
    const before_ = snapshot(lab, 'rs');
    const allocatedBefore = lab.events('rs', undefined, 'IPAllocated').length;
    lab.apply(lbService('aaa-new-1', { namespace: 'rs' }), lbService('aaa-new-2', { namespace: 'rs' }));

    const second = lab.startController();
    await second.controller.whenReady();
    await waitFor(
      'new ones allocated',
      () => lab.ingress('rs', 'aaa-new-1').length && lab.ingress('rs', 'aaa-new-2').length,
    );
    await second.controller.idle();
    for (const [name, seen] of before_) {
      assert.deepEqual(snapshot(lab, 'rs').get(name), seen, `${name} unchanged`);
    }
    assert.deepEqual(duplicates(lab), []);
    const fresh = [lab.ingress('rs', 'aaa-new-1')[0], lab.ingress('rs', 'aaa-new-2')[0]];
    assert.ok(fresh.includes(low), `the released ${low} is reused (${fresh.join(', ')})`);
    assert.equal(lab.events('rs', undefined, 'IPAllocated').length, allocatedBefore + 2, 'no Event for kept ones');
    await second.controller.idle();
    const st = lab.poolStatus('rs-pool');
    assert.equal(st?.['assignedIPv4'], 15, '12 - 1 deleted + 1 shared + 1 dual + 2 new');
    assert.equal(st?.['assignedIPv6'], 1);
    await lab.stopController(second);
  });

  test('two Services claiming one address in status: the older keeps it, the younger is moved and told', async () => {
    lab.apply(lbService('old-claim', { namespace: 'rs' }), lbService('young-claim', { namespace: 'rs' }));
    const ingress = { status: { loadBalancer: { ingress: [{ ip: '10.110.0.30' }] } } };
    lab.store.patch('services', 'rs', 'old-claim', 'merge', ingress, { subresource: 'status' });
    // creationTimestamp has one-second resolution: make the age difference explicit.
    lab.store.patch('services', 'rs', 'young-claim', 'merge', ingress, { subresource: 'status' });
    const old = lab.store.get('services', 'rs', 'old-claim');
    const young = lab.store.get('services', 'rs', 'young-claim');
    assert.ok(old && young);
    if ((old.metadata.creationTimestamp ?? '') >= (young.metadata.creationTimestamp ?? '')) {
      // Same second: the tie is broken by name, and old-claim < young-claim.
    }
    const c = lab.startController();
    await c.controller.whenReady();
    const moved = await waitFor('young-claim moved', () => {
      const ip = lab.ingress('rs', 'young-claim')[0];
      return ip && ip !== '10.110.0.30' && ip;
    });
    assert.deepEqual(lab.ingress('rs', 'old-claim'), ['10.110.0.30']);
    assert.notEqual(moved, '10.110.0.30');
    const ev = await waitFor('IPNotRestored', () => lab.events('rs', 'young-claim', 'IPNotRestored')[0]);
    assert.equal(ev.type, 'Warning');
    assert.match(ev.message, /10\.110\.0\.30.*in use by a service that does not share it/);
    assert.deepEqual(duplicates(lab), []);
  });
});

describe('a misbehaving API server', () => {
  let lab: Lab;
  before(async () => {
    lab = await Lab.start();
    lab.store.create('namespaces', { metadata: { name: 'ft' } });
    lab.apply(pool('ft-pool', ['10.120.0.0/25']));
    await lab.startController().controller.whenReady();
  });
  after(() => lab.close());
  afterEach(() => lab.server.failNext(0));

  const watchErrors = async () => {
    const text = (await lab.controllers[0]?.metrics.registry.metrics()) ?? '';
    return [
      ...text.matchAll(/metal_vrrp_api_watch_errors_total\{resource="(\w+)",component="controller"\} (\d+)/g),
    ].reduce((n, m) => n + Number(m[2]), 0);
  };

  test('dropped watches are resumed and no change is missed', async () => {
    for (let i = 0; i < 10; i++) {
      lab.apply(lbService(`drop-${i}`, { namespace: 'ft' }));
      assert.ok(lab.server.dropWatches() >= 0);
      await new Promise((r) => setTimeout(r, 10));
    }
    for (let i = 0; i < 10; i++) await waitFor(`drop-${i}`, () => lab.ingress('ft', `drop-${i}`).length === 1);
    await waitFor('watches open again', () => lab.server.openWatchCount() >= 4);
  });

  test('refused watches are counted and retried with backoff', async () => {
    const errorsBefore = await watchErrors();
    lab.server.failNext(3, { match: { verb: 'watch', resource: 'services' } });
    lab.server.dropWatches();
    lab.apply(lbService('after-refusal', { namespace: 'ft' }));
    await waitFor('after-refusal', () => lab.ingress('ft', 'after-refusal').length === 1);
    assert.ok((await watchErrors()) >= errorsBefore + 3, 'each refused watch counted');
    assert.ok(lab.server.requests.count({ verb: 'watch', resource: 'services' }) > 3);
  });

  test('an API server gone and back with compacted history: 410 Gone, re-list, deletions seen', async () => {
    const gone = lab.ingress('ft', 'drop-0')[0];
    assert.ok(gone);
    const log410 = lab.server.requests.count({ verb: 'list', resource: 'services' });
    await lab.server.stopListening();
    lab.store.delete('services', 'ft', 'drop-0');
    lab.apply(lbService('while-away', { namespace: 'ft', spec: { loadBalancerIP: gone } }));
    lab.store.compact();
    const compactedAt = Number(lab.store.resourceVersion);
    const watchesBefore = lab.server.requests.count({ verb: 'watch', resource: 'services' });
    await new Promise((r) => setTimeout(r, 300));
    await lab.server.startListening();
    // The deleted Service's address is only free if the re-list showed the deletion.
    await waitFor('while-away gets the freed address', () => lab.ingress('ft', 'while-away')[0] === gone, 20_000);
    assert.ok(lab.server.requests.count({ verb: 'list', resource: 'services' }) > log410, 're-listed');
    const resumed = lab.server.requests
      .entries({ verb: 'watch', resource: 'services' })
      .slice(watchesBefore)
      .map((r) => Number(r.query['resourceVersion'] ?? 0));
    assert.ok(
      resumed.some((rv) => rv > 0 && rv < compactedAt),
      `a watch resumed from a compacted resourceVersion (got 410): ${resumed.join(' ')} < ${compactedAt}`,
    );
    assert.ok((await watchErrors()) > 0);
  });

  test('failing status writes are retried until they land', async () => {
    lab.server.failNext(4, { match: { verb: 'patch', resource: 'services' } });
    lab.apply(lbService('write-retry', { namespace: 'ft' }));
    await waitFor('write-retry', () => lab.ingress('ft', 'write-retry').length === 1);
    assert.equal(lab.annotations('ft', 'write-retry')['metallb.io/ip-allocated-from-pool'], 'ft-pool');
    assert.ok(lab.server.requests.entries({ verb: 'patch', resource: 'services' }).some((r) => r.injected));
  });

  test('an unavailable API server for a while: the controller keeps running and catches up', async () => {
    lab.server.setUnavailable(true);
    lab.apply(lbService('during-outage', { namespace: 'ft' }));
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(lab.ingress('ft', 'during-outage'), []);
    lab.server.setUnavailable(false);
    await waitFor('during-outage', () => lab.ingress('ft', 'during-outage').length === 1, 20_000);
    assert.deepEqual(duplicates(lab), []);
  });
});

describe('churn', () => {
  let lab: Lab;
  before(async () => {
    lab = await Lab.start();
    lab.store.create('namespaces', { metadata: { name: 'ch' } });
  });
  after(() => lab.close());

  test('random create/update/delete with pool edits and a restart: no duplicates, all satisfiable served', async () => {
    let seed = 42;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    lab.apply(pool('churn-a', ['10.130.0.0/24']), pool('churn-b', ['10.131.0.0/25'], { autoAssign: false }));
    let ctl = lab.startController();
    await ctl.controller.whenReady();
    const live = new Set<string>();
    const op = (i: number) => {
      const name = `c-${rnd(250)}`;
      if (!live.has(name)) {
        const sharing = rnd(5) === 0 ? { 'metallb.io/allow-shared-ip': 'grp' } : undefined;
        lab.apply(lbService(name, { namespace: 'ch', port: 1000 + i, ...(sharing ? { annotations: sharing } : {}) }));
        live.add(name);
        return;
      }
      switch (rnd(4)) {
        case 0:
          lab.store.delete('services', 'ch', name);
          live.delete(name);
          return;
        case 1:
          lab.store.patch('services', 'ch', name, 'merge', { metadata: { labels: { v: String(i) } } });
          return;
        case 2:
          lab.store.patch('services', 'ch', name, 'merge', { spec: { type: 'ClusterIP' } });
          lab.store.patch('services', 'ch', name, 'merge', { spec: { type: 'LoadBalancer' } });
          return;
        default:
          lab.store.patch('services', 'ch', name, 'merge', {
            metadata: { annotations: { 'metallb.io/address-pool': rnd(2) ? 'churn-b' : null } },
          });
      }
    };
    for (let i = 0; i < 200; i++) {
      op(i);
      if (i % 10 === 0) await new Promise((r) => setTimeout(r, 5));
      if (i === 80) {
        // Pools edited mid-way: churn-a grows, churn-b becomes auto-assignable.
        lab.apply(pool('churn-a', ['10.130.0.0/24', '10.132.0.0/26']), pool('churn-b', ['10.131.0.0/25']));
      }
      if (i === 120) {
        // Kill in the middle (no time to settle), then check the restart moves nothing.
        await lab.stopController(ctl);
        const held = snapshot(lab, 'ch');
        const settled = new Set([...held.keys()].filter((n) => settledAt(lab, 'ch', n)));
        ctl = lab.startController();
        await ctl.controller.whenReady();
        let checked = 0;
        for (const [name, seen] of held) {
          // A Service whose pool wish changed just before the kill may rightly move: only settled ones count.
          if (seen.ips.length === 0 || !settled.has(name)) continue;
          checked++;
          assert.deepEqual(lab.ingress('ch', name), seen.ips, `${name} kept its address over the restart`);
        }
        assert.ok(checked >= 10, `${checked} settled Services checked over the restart`);
      }
    }
    await ctl.controller.idle();
    await waitFor(
      'settled',
      () => {
        const unserved = [...live].filter((n) => lab.ingress('ch', n).length === 0);
        return unserved.length === 0 || undefined;
      },
      30_000,
    ).catch((err: Error) => {
      const unserved = [...live].filter((n) => lab.ingress('ch', n).length === 0);
      throw new Error(
        `${err.message}: ${unserved.join(', ')} ${JSON.stringify(unserved.map((n) => lab.events('ch', n)))}`,
      );
    });
    assert.deepEqual(duplicates(lab), []);
    for (const s of lab.store.list('services', { namespace: 'ch' }).items) {
      const name = s.metadata.name ?? '';
      const ips = lab.ingress('ch', name);
      const vrids = s.metadata.annotations?.['metal-vrrp.io/vrids'] ?? '';
      assert.deepEqual(
        vrids.split(',').map((p) => p.split('=')[0]),
        ips,
        `${name}: VRIDs name the status addresses`,
      );
    }
    const total = lab.store.list('services', { namespace: 'ch' }).items.length;
    assert.equal(total, live.size);
    const a = lab.poolStatus('churn-a');
    const b = lab.poolStatus('churn-b');
    const distinct = new Set(
      lab.store.list('services', { namespace: 'ch' }).items.flatMap((s) => lab.ingress('ch', s.metadata.name ?? '')),
    );
    assert.equal((a?.['assignedIPv4'] ?? 0) + (b?.['assignedIPv4'] ?? 0), distinct.size, 'pool status counts match');
    assert.equal(NS, 'metallb-system');
  });
});
