// Pools as configuration, through the API stand-in: an invalid pool (bad CIDR, reversed range, overlapping an older
// pool) is reported on the pool (Event), in the log and in a metric while the other pools keep working; fixing it
// makes it usable; serviceAllocation steers Services by namespace; every VIP gets a virtual router id, unique while
// there are enough, inside the range a pool's metal-vrrp.io/vrid-range annotation allows.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Lab, lbService, NS, pool, waitFor } from './harness.ts';

let lab: Lab;

const poolEvents = (name: string) =>
  lab.events(NS, name).filter((e) => e.reason === 'InvalidConfiguration' || e.reason === 'ConfigurationWarning');

before(async () => {
  lab = await Lab.start();
  for (const ns of ['cfg', 'team-a', 'team-b']) lab.store.create('namespaces', { metadata: { name: ns } });
  lab.store.patch('namespaces', undefined, 'team-b', 'merge', { metadata: { labels: { tier: 'gold' } } });
  lab.apply(pool('good', ['10.50.0.0/28']));
  await lab.startController().controller.whenReady();
});
after(() => lab.close());

describe('invalid pools', () => {
  const cases: [string, string[], RegExp][] = [
    ['bad-cidr', ['10.60.0.0/33'], /invalid IPAddressPool: pool bad-cidr: .*prefix length/],
    [
      'reversed',
      ['10.61.0.9-10.61.0.1'],
      /invalid IPAddressPool: pool reversed: range "10\.61\.0\.9-10\.61\.0\.1" is reversed/,
    ],
    ['overlaps', ['10.50.0.8/29'], /the pool overlaps an older pool: .*overlaps "10\.50\.0\.0\/28" of pool good/],
  ];
  for (const [name, addresses, pattern] of cases) {
    test(`${name}: Warning Event on the pool, log line, metric; other pools keep allocating`, async () => {
      lab.apply(pool(name, addresses));
      const ev = await waitFor(`Event on ${name}`, () => poolEvents(name)[0]);
      assert.equal(ev.type, 'Warning');
      assert.equal(ev.reason, 'InvalidConfiguration');
      assert.match(ev.message, pattern);
      assert.match(ev.message, /rejected, other pools keep working/);
      await waitFor('log line', () =>
        lab.logs.some((l) => l.includes(`"name":"${name}"`) && l.includes('"level":"warn"')),
      );
      const svc = `after-${name}`;
      lab.apply(lbService(svc, { namespace: 'cfg' }));
      const [ip] = await waitFor(
        `${svc} ingress`,
        () => lab.ingress('cfg', svc).length === 1 && lab.ingress('cfg', svc),
      );
      assert.match(ip ?? '', /^10\.50\.0\./);
      assert.equal(lab.annotations('cfg', svc)['metallb.io/ip-allocated-from-pool'], 'good');
    });
  }

  test('config errors are counted by kind and code', async () => {
    const text = await lab.controllers[0]?.metrics.registry.metrics();
    assert.match(
      text ?? '',
      /metal_vrrp_config_errors_total\{kind="IPAddressPool",code="INVALID_POOL",component="controller"\} 2/,
    );
    assert.match(
      text ?? '',
      /metal_vrrp_config_errors_total\{kind="IPAddressPool",code="POOL_OVERLAP",component="controller"\} 1/,
    );
  });

  test('a Service pinned to the invalid pool fails, then is served once the pool is fixed', async () => {
    lab.apply(lbService('pinned', { namespace: 'cfg', annotations: { 'metallb.io/address-pool': 'bad-cidr' } }));
    await waitFor('UNKNOWN_POOL', () =>
      lab
        .events('cfg', 'pinned', 'AllocationFailed')
        .find((e) => /no valid address pool has that name: bad-cidr/.test(e.message)),
    );
    lab.apply(pool('bad-cidr', ['10.60.0.0/30'], { autoAssign: false }));
    const [ip] = await waitFor(
      'pinned ingress',
      () => lab.ingress('cfg', 'pinned').length === 1 && lab.ingress('cfg', 'pinned'),
    );
    assert.match(ip ?? '', /^10\.60\.0\.[0-3]$/);
    await waitFor('bad-cidr status', () => lab.poolStatus('bad-cidr')?.['assignedIPv4'] === 1);
  });
});

describe('serviceAllocation', () => {
  test('namespaces and namespaceSelectors steer Services to a pool, others go elsewhere', async () => {
    lab.apply(
      pool('team-pool', ['10.70.0.0/29'], { serviceAllocation: { priority: 10, namespaces: ['team-a'] } }),
      pool('gold-pool', ['10.71.0.0/29'], {
        serviceAllocation: { namespaceSelectors: [{ matchLabels: { tier: 'gold' } }] },
      }),
    );
    await waitFor('pools applied', () =>
      lab.logs.some((l) => l.includes('"pools":["bad-cidr","gold-pool","good","team-pool"]')),
    );
    lab.apply(
      lbService('a1', { namespace: 'team-a' }),
      lbService('b1', { namespace: 'team-b' }),
      lbService('c1', { namespace: 'cfg' }),
    );
    const pools = await waitFor('three allocated', () => {
      const p = [
        ['team-a', 'a1'],
        ['team-b', 'b1'],
        ['cfg', 'c1'],
      ].map(([ns, n]) => lab.annotations(ns as string, n as string)['metallb.io/ip-allocated-from-pool']);
      return p.every((x) => x !== undefined) && p;
    });
    assert.deepEqual(pools, ['team-pool', 'gold-pool', 'good']);
  });
});

describe('virtual router ids', () => {
  const vridOf = (ns: string, name: string) => {
    const text = lab.annotations(ns, name)['metal-vrrp.io/vrids'] ?? '';
    return Number(text.split('=')[1]);
  };

  test('every VIP gets its own VRID while there are enough', async () => {
    lab.store.create('namespaces', { metadata: { name: 'vr' } });
    lab.apply(pool('vr-pool', ['10.80.0.0/28'], { autoAssign: false }));
    const names = Array.from({ length: 8 }, (_, i) => `vr-${i}`);
    for (const n of names)
      lab.apply(lbService(n, { namespace: 'vr', annotations: { 'metallb.io/address-pool': 'vr-pool' } }));
    await waitFor('all have VRIDs', () => names.every((n) => lab.annotations('vr', n)['metal-vrrp.io/vrids']));
    // Every VIP of the cluster, in every namespace: unique VRIDs per family.
    const all = lab.store
      .list('services')
      .items.flatMap((s) => (s.metadata.annotations?.['metal-vrrp.io/vrids'] ?? '').split(',').filter(Boolean));
    const byIp = new Map(all.map((p) => p.split('=') as [string, string]));
    const v4 = [...byIp].filter(([ip]) => !ip.includes(':')).map(([, id]) => id);
    assert.equal(new Set(v4).size, v4.length, `unique IPv4 VRIDs: ${v4.join(' ')}`);
    for (const id of v4) assert.ok(Number(id) >= 1 && Number(id) <= 255);
  });

  test('metal-vrrp.io/vrid-range narrows the VRIDs of a pool; past it VIPs share the least-loaded router', async () => {
    lab.apply(pool('narrow', ['10.90.0.0/28'], { autoAssign: false }, { 'metal-vrrp.io/vrid-range': '50-52' }));
    const names = ['n-0', 'n-1', 'n-2', 'n-3'];
    for (const n of names)
      lab.apply(lbService(n, { namespace: 'vr', annotations: { 'metallb.io/address-pool': 'narrow' } }));
    await waitFor('all have VRIDs', () => names.every((n) => lab.annotations('vr', n)['metal-vrrp.io/vrids']));
    const ids = names.map((n) => vridOf('vr', n));
    for (const id of ids) assert.ok(id >= 50 && id <= 52, `VRID ${id} in 50-52`);
    assert.equal(new Set(ids.slice(0, 3)).size, 3, 'the first three get a router each');
  });

  test('an invalid vrid-range is a warning on the pool; the pool still serves with the full range', async () => {
    lab.apply(pool('odd-range', ['10.91.0.0/30'], { autoAssign: false }, { 'metal-vrrp.io/vrid-range': '300-2' }));
    const ev = await waitFor('ConfigurationWarning', () => poolEvents('odd-range')[0]);
    assert.equal(ev.reason, 'ConfigurationWarning');
    assert.match(ev.message, /invalid metal-vrrp\.io\/vrid-range annotation, using 1-255: pool odd-range: "300-2"/);
    lab.apply(lbService('odd', { namespace: 'vr', annotations: { 'metallb.io/address-pool': 'odd-range' } }));
    await waitFor('odd ingress', () => lab.ingress('vr', 'odd').length === 1);
    assert.ok(vridOf('vr', 'odd') >= 1);
  });
});

describe('failover tuning annotations', () => {
  test('an invalid tuning annotation is one warning Event on the pool (from the controller), naming it', async () => {
    lab.apply(
      pool(
        'tuned',
        ['10.92.0.0/30'],
        { autoAssign: false },
        {
          'metal-vrrp.io/advert-interval': 'fast',
          'metal-vrrp.io/preempt': 'false',
        },
      ),
    );
    const ev = await waitFor('tuning warning', () => poolEvents('tuned')[0]);
    assert.equal(ev.type, 'Warning');
    assert.equal(ev.reason, 'ConfigurationWarning');
    assert.match(ev.message, /metal-vrrp\.io\/advert-interval/);
    assert.match(ev.message, /"fast"/);
    assert.match(ev.message, /the default is used/);
    assert.equal(poolEvents('tuned').length, 1, 'the valid preempt annotation is not reported');
  });
});

describe('pool fields', () => {
  test('avoidBuggyIPs skips .0 and .255 addresses', async () => {
    lab.store.create('namespaces', { metadata: { name: 'bug' } });
    lab.apply(pool('buggy', ['10.140.0.254-10.140.1.1'], { autoAssign: false, avoidBuggyIPs: true }));
    const pinned = { 'metallb.io/address-pool': 'buggy' };
    lab.apply(lbService('bug-1', { namespace: 'bug', annotations: pinned }));
    await waitFor('bug-1', () => lab.ingress('bug', 'bug-1').length === 1);
    lab.apply(lbService('bug-2', { namespace: 'bug', annotations: pinned }));
    await waitFor('bug-2', () => lab.ingress('bug', 'bug-2').length === 1);
    assert.deepEqual([lab.ingress('bug', 'bug-1')[0], lab.ingress('bug', 'bug-2')[0]], ['10.140.0.254', '10.140.1.1']);
    lab.apply(lbService('bug-3', { namespace: 'bug', annotations: pinned }));
    await waitFor('exhausted', () => lab.events('bug', 'bug-3', 'AllocationFailed')[0]);
    lab.apply(lbService('bug-4', { namespace: 'bug', spec: { loadBalancerIP: '10.140.0.255' }, annotations: pinned }));
    const ev = await waitFor('buggy refused', () => lab.events('bug', 'bug-4', 'AllocationFailed')[0]);
    assert.match(ev.message, /10\.140\.0\.255 \(buggy \.0\/\.255 count as outside\)/);
  });

  test('serviceSelectors admit only labelled Services', async () => {
    lab.apply(
      pool('labelled', ['10.141.0.0/30'], { serviceAllocation: { serviceSelectors: [{ matchLabels: { lb: 'x' } }] } }),
    );
    await waitFor('pool applied', () =>
      lab.logs.some((l) => l.includes('"labelled"') && l.includes('configuration applied')),
    );
    lab.apply(lbService('sel-yes', { namespace: 'cfg', labels: { lb: 'x' } }));
    await waitFor(
      'sel-yes',
      () => lab.annotations('cfg', 'sel-yes')['metallb.io/ip-allocated-from-pool'] === 'labelled',
    );
    lab.apply(lbService('sel-no', { namespace: 'cfg', annotations: { 'metallb.io/address-pool': 'labelled' } }));
    const ev = await waitFor('refused', () => lab.events('cfg', 'sel-no', 'AllocationFailed')[0]);
    assert.match(ev.message, /serviceAllocation does not admit this service/);
  });

  test('an invalid L2Advertisement is reported on it; allocation goes on', async () => {
    lab.apply({
      apiVersion: 'metallb.io/v1beta1',
      kind: 'L2Advertisement',
      metadata: { name: 'bad-l2', namespace: NS },
      spec: { ipAddressPools: ['good', 'good'] },
    });
    const ev = await waitFor('Event on bad-l2', () => lab.events(NS, 'bad-l2', 'InvalidConfiguration')[0]);
    assert.match(ev.message, /invalid L2Advertisement: bad-l2: duplicate entry in ipAddressPools/);
  });
});

describe('--namespace', () => {
  test('pools are read from the controller namespace only', async () => {
    const other = await Lab.start();
    try {
      other.store.create('namespaces', { metadata: { name: 'lb-system' } });
      other.apply(pool('in-default-ns', ['10.150.0.0/30']));
      other.apply({
        ...pool('in-lb-system', ['10.151.0.0/30']),
        metadata: { name: 'in-lb-system', namespace: 'lb-system' },
      });
      await other.startController({ namespace: 'lb-system' }).controller.whenReady();
      other.apply(lbService('ns-test'));
      await waitFor('ns-test', () => other.ingress('default', 'ns-test').length === 1);
      assert.match(other.ingress('default', 'ns-test')[0] ?? '', /^10\.151\.0\./);
      await waitFor(
        'status in lb-system',
        () =>
          (
            other.store.get('ipaddresspools.metallb.io', 'lb-system', 'in-lb-system')?.['status'] as {
              assignedIPv4?: number;
            }
          )?.assignedIPv4 === 1,
      );
    } finally {
      await other.close();
    }
  });
});
