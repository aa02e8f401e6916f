// Pools as configuration on the real kube-apiserver + etcd, the controller as its ServiceAccount, objects applied with
// kubectl (validation on): what MetalLB's CRD schema refuses (no spec.addresses, an unknown field, a wrong type) is
// refused by `kubectl apply`, and so is a reversed range, which MetalLB's webhook refuses (CEL in our CRD); what only
// MetalLB's webhook or controller refuses otherwise (bad CIDR, overlap) is stored and reported on the pool (Event), in
// the log and in a metric while the other pools keep working; fixing it makes it usable; serviceAllocation steers
// Services by namespace; every VIP gets a virtual router id, unique while there are enough, inside the range a pool's
// metal-vrrp.io/vrid-range annotation allows.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { lbService, NS, pool, waitForAsync } from './harness.ts';
import { KubeLab } from './kube-lab.ts';

const WAIT = 30_000;
const until = <T>(what: string, check: () => Promise<T | undefined | false>) => waitForAsync(what, check, WAIT);

let lab: KubeLab;

const poolEvents = async (name: string) =>
  (await lab.events(NS, name)).filter(
    (e) => e.reason === 'InvalidConfiguration' || e.reason === 'ConfigurationWarning',
  );
const firstPoolEvent = async (name: string) => (await poolEvents(name))[0];
const hasLog = (pred: (l: string) => boolean) => async () => lab.logs.some(pred);

before(async () => {
  lab = await KubeLab.start('ctl-config-kube');
  for (const ns of ['cfg', 'team-a', 'team-b', 'vr', 'bug']) await lab.kubectl(['create', 'namespace', ns]);
  await lab.kubectl(['label', 'namespace', 'team-b', 'tier=gold']);
  await lab.apply(pool('good', ['10.50.0.0/28']));
  await lab.startController().controller.whenReady();
});
after(() => lab?.close());

describe('the CRD schema refuses what MetalLB schema refuses (kubectl apply fails, nothing stored)', () => {
  const refused: [string, Record<string, unknown>, RegExp][] = [
    ['no spec.addresses', { ...pool('no-addresses', []), spec: { autoAssign: true } }, /spec\.addresses: Required/],
    [
      'no spec',
      { apiVersion: 'metallb.io/v1beta1', kind: 'IPAddressPool', metadata: { name: 'no-spec', namespace: NS } },
      /spec: Required/,
    ],
    ['an unknown field', pool('unknown-field', ['10.59.0.0/30'], { bogus: 1 }), /unknown field "spec\.bogus"/],
    [
      'a wrong type',
      pool('wrong-type', ['10.59.0.4/30'], { autoAssign: 'not-a-bool' }),
      /spec\.autoAssign: Invalid value: "string"/,
    ],
    // MetalLB's webhook refuses these; our CRD does with CEL (x-kubernetes-validations on spec.addresses[]).
    [
      'a reversed IPv4 range',
      pool('reversed', ['10.0.0.0/30', '10.0.0.20-10.0.0.10']),
      /spec\.addresses\[1\]: Invalid value: "10\.0\.0\.20-10\.0\.0\.10": the range's first address is after its last/,
    ],
    [
      'a reversed IPv6 range',
      pool('reversed-v6', ['fd00:0:0:1::-fd00::ff']),
      /spec\.addresses\[0\]: Invalid value: "fd00:0:0:1::-fd00::ff": the range's first address is after its last/,
    ],
  ];
  for (const [what, obj, pattern] of refused) {
    test(`${what}`, async () => {
      const res = await lab.server.kubectl(['apply', '-f', '-'], { input: stringify(obj) });
      assert.notEqual(res.code, 0, `kubectl apply should fail: ${res.stdout}`);
      assert.match(res.stderr, pattern, res.stderr);
      const name = (obj['metadata'] as { name: string }).name;
      const got = await lab.server.kubectl([
        'get',
        'ipaddresspool',
        name,
        '-n',
        NS,
        '--ignore-not-found',
        '-o',
        'name',
      ]);
      assert.equal(got.stdout.trim(), '', 'not stored');
    });
  }

  test('ordered ranges of both families, a one-address range and CIDRs pass the range rule', async () => {
    const ok = pool(
      'ordered',
      ['10.58.0.1-10.58.0.9', '10.58.1.0 - 10.58.1.0', 'fd00:58::1-fd00:58::1:0', '10.58.2.0/30'],
      {
        autoAssign: false,
      },
    );
    await lab.apply(ok);
    await lab.kubectl(['delete', 'ipaddresspool', 'ordered', '-n', NS]);
  });

  test('server-side validation refuses too (kubectl --validate=false still meets the schema)', async () => {
    const obj = { ...pool('no-addresses', []), spec: { autoAssign: true } };
    const res = await lab.server.kubectl(['apply', '--validate=false', '-f', '-'], { input: stringify(obj) });
    assert.notEqual(res.code, 0);
    assert.match(res.stderr, /spec\.addresses: Required value/);
    const reversed = pool('reversed', ['10.0.0.20-10.0.0.10']);
    const res2 = await lab.server.kubectl(['apply', '--validate=false', '-f', '-'], { input: stringify(reversed) });
    assert.notEqual(res2.code, 0);
    assert.match(res2.stderr, /the range's first address is after its last/);
  });
});

describe('invalid pools the schema lets through (as MetalLB: its webhook or controller refuses them)', () => {
  const cases: [string, string[], RegExp][] = [
    ['bad-cidr', ['10.60.0.0/33'], /invalid IPAddressPool: pool bad-cidr: .*prefix length/],
    ['overlaps', ['10.50.0.8/29'], /the pool overlaps an older pool: .*overlaps "10\.50\.0\.0\/28" of pool good/],
  ];
  for (const [name, addresses, pattern] of cases) {
    test(`${name}: stored; Warning Event on the pool, log line, metric; other pools keep allocating`, async () => {
      await lab.apply(pool(name, addresses));
      const ev = await until(`Event on ${name}`, () => firstPoolEvent(name));
      assert.equal(ev.type, 'Warning');
      assert.equal(ev.reason, 'InvalidConfiguration');
      assert.match(ev.message, pattern);
      assert.match(ev.message, /rejected, other pools keep working/);
      await until(
        'log line',
        hasLog((l) => l.includes(`"name":"${name}"`) && l.includes('"level":"warn"')),
      );
      const svc = `after-${name}`;
      await lab.apply(lbService(svc, { namespace: 'cfg' }));
      const [ip] = await until(`${svc} ingress`, async () => {
        const got = await lab.ingress('cfg', svc);
        return got.length === 1 && got;
      });
      assert.match(ip ?? '', /^10\.50\.0\./);
      assert.equal((await lab.annotations('cfg', svc))['metallb.io/ip-allocated-from-pool'], 'good');
    });
  }

  test('config errors are counted by kind and code', async () => {
    const text = await lab.controllers[0]?.metrics.registry.metrics();
    assert.match(
      text ?? '',
      /metal_vrrp_config_errors_total\{kind="IPAddressPool",code="INVALID_POOL",component="controller"\} 1/,
    );
    assert.match(
      text ?? '',
      /metal_vrrp_config_errors_total\{kind="IPAddressPool",code="POOL_OVERLAP",component="controller"\} 1/,
    );
  });

  test('a Service pinned to the invalid pool fails, then is served once the pool is fixed', async () => {
    await lab.apply(lbService('pinned', { namespace: 'cfg', annotations: { 'metallb.io/address-pool': 'bad-cidr' } }));
    await until('UNKNOWN_POOL', async () =>
      (await lab.events('cfg', 'pinned', 'AllocationFailed')).find((e) =>
        /no valid address pool has that name: bad-cidr/.test(e.message),
      ),
    );
    await lab.apply(pool('bad-cidr', ['10.60.0.0/30'], { autoAssign: false }));
    const [ip] = await until('pinned ingress', async () => {
      const got = await lab.ingress('cfg', 'pinned');
      return got.length === 1 && got;
    });
    assert.match(ip ?? '', /^10\.60\.0\.[0-3]$/);
    await until('bad-cidr status', async () => (await lab.poolStatus('bad-cidr'))?.['assignedIPv4'] === 1);
  });
});

describe('serviceAllocation', () => {
  test('namespaces and namespaceSelectors steer Services to a pool, others go elsewhere', async () => {
    await lab.apply(
      pool('team-pool', ['10.70.0.0/29'], { serviceAllocation: { priority: 10, namespaces: ['team-a'] } }),
      pool('gold-pool', ['10.71.0.0/29'], {
        serviceAllocation: { namespaceSelectors: [{ matchLabels: { tier: 'gold' } }] },
      }),
    );
    await until(
      'pools applied',
      hasLog((l) => l.includes('configuration applied') && l.includes('"gold-pool"') && l.includes('"team-pool"')),
    );
    await lab.apply(
      lbService('a1', { namespace: 'team-a' }),
      lbService('b1', { namespace: 'team-b' }),
      lbService('c1', { namespace: 'cfg' }),
    );
    const pools = await until('three allocated', async () => {
      const p = await Promise.all(
        [
          ['team-a', 'a1'],
          ['team-b', 'b1'],
          ['cfg', 'c1'],
        ].map(
          async ([ns, n]) => (await lab.annotations(ns as string, n as string))['metallb.io/ip-allocated-from-pool'],
        ),
      );
      return p.every((x) => x !== undefined) && p;
    });
    assert.deepEqual(pools, ['team-pool', 'gold-pool', 'good']);
  });
});

describe('virtual router ids', () => {
  const vridOf = async (ns: string, name: string) => {
    const text = (await lab.annotations(ns, name))['metal-vrrp.io/vrids'] ?? '';
    return Number(text.split('=')[1]);
  };
  const allHaveVrids = (names: string[]) => async () =>
    (await Promise.all(names.map(async (n) => (await lab.annotations('vr', n))['metal-vrrp.io/vrids']))).every(Boolean);

  test('every VIP gets its own VRID while there are enough', async () => {
    await lab.apply(pool('vr-pool', ['10.80.0.0/28'], { autoAssign: false }));
    const names = Array.from({ length: 8 }, (_, i) => `vr-${i}`);
    await lab.apply(
      ...names.map((n) => lbService(n, { namespace: 'vr', annotations: { 'metallb.io/address-pool': 'vr-pool' } })),
    );
    await until('all have VRIDs', allHaveVrids(names));
    // Every VIP of the cluster, in every namespace: unique VRIDs per family.
    const all = (await lab.core.listServiceForAllNamespaces()).items.flatMap((s) =>
      (s.metadata?.annotations?.['metal-vrrp.io/vrids'] ?? '').split(',').filter(Boolean),
    );
    const byIp = new Map(all.map((p) => p.split('=') as [string, string]));
    const v4 = [...byIp].filter(([ip]) => !ip.includes(':')).map(([, id]) => id);
    assert.equal(new Set(v4).size, v4.length, `unique IPv4 VRIDs: ${v4.join(' ')}`);
    for (const id of v4) assert.ok(Number(id) >= 1 && Number(id) <= 255);
  });

  test('metal-vrrp.io/vrid-range narrows the VRIDs of a pool; past it VIPs share the least-loaded router', async () => {
    await lab.apply(pool('narrow', ['10.90.0.0/28'], { autoAssign: false }, { 'metal-vrrp.io/vrid-range': '50-52' }));
    const names = ['n-0', 'n-1', 'n-2', 'n-3'];
    for (const n of names)
      await lab.apply(lbService(n, { namespace: 'vr', annotations: { 'metallb.io/address-pool': 'narrow' } }));
    await until('all have VRIDs', allHaveVrids(names));
    const ids = await Promise.all(names.map((n) => vridOf('vr', n)));
    for (const id of ids) assert.ok(id >= 50 && id <= 52, `VRID ${id} in 50-52`);
    assert.equal(new Set(ids.slice(0, 3)).size, 3, 'the first three get a router each');
  });

  test('an invalid vrid-range is a warning on the pool; the pool still serves with the full range', async () => {
    await lab.apply(
      pool('odd-range', ['10.91.0.0/30'], { autoAssign: false }, { 'metal-vrrp.io/vrid-range': '300-2' }),
    );
    const ev = await until('ConfigurationWarning', () => firstPoolEvent('odd-range'));
    assert.equal(ev.reason, 'ConfigurationWarning');
    assert.match(ev.message, /invalid metal-vrrp\.io\/vrid-range annotation, using 1-255: pool odd-range: "300-2"/);
    await lab.apply(lbService('odd', { namespace: 'vr', annotations: { 'metallb.io/address-pool': 'odd-range' } }));
    await until('odd ingress', async () => (await lab.ingress('vr', 'odd')).length === 1);
    assert.ok((await vridOf('vr', 'odd')) >= 1);
  });
});

describe('failover tuning annotations', () => {
  test('an invalid tuning annotation is one warning Event on the pool (from the controller), naming it', async () => {
    await lab.apply(
      pool(
        'tuned',
        ['10.92.0.0/30'],
        { autoAssign: false },
        { 'metal-vrrp.io/advert-interval': 'fast', 'metal-vrrp.io/preempt': 'false' },
      ),
    );
    const ev = await until('tuning warning', () => firstPoolEvent('tuned'));
    assert.equal(ev.type, 'Warning');
    assert.equal(ev.reason, 'ConfigurationWarning');
    assert.match(ev.message, /metal-vrrp\.io\/advert-interval/);
    assert.match(ev.message, /"fast"/);
    assert.match(ev.message, /the default is used/);
    assert.equal((await poolEvents('tuned')).length, 1, 'the valid preempt annotation is not reported');
  });
});

describe('pool fields', () => {
  test('avoidBuggyIPs skips .0 and .255 addresses', async () => {
    await lab.apply(pool('buggy', ['10.140.0.254-10.140.1.1'], { autoAssign: false, avoidBuggyIPs: true }));
    const pinned = { 'metallb.io/address-pool': 'buggy' };
    await lab.apply(lbService('bug-1', { namespace: 'bug', annotations: pinned }));
    await until('bug-1', async () => (await lab.ingress('bug', 'bug-1')).length === 1);
    await lab.apply(lbService('bug-2', { namespace: 'bug', annotations: pinned }));
    await until('bug-2', async () => (await lab.ingress('bug', 'bug-2')).length === 1);
    assert.deepEqual(
      [(await lab.ingress('bug', 'bug-1'))[0], (await lab.ingress('bug', 'bug-2'))[0]],
      ['10.140.0.254', '10.140.1.1'],
    );
    await lab.apply(lbService('bug-3', { namespace: 'bug', annotations: pinned }));
    await until('exhausted', async () => (await lab.events('bug', 'bug-3', 'AllocationFailed'))[0]);
    await lab.apply(
      lbService('bug-4', { namespace: 'bug', spec: { loadBalancerIP: '10.140.0.255' }, annotations: pinned }),
    );
    const ev = await until('buggy refused', async () => (await lab.events('bug', 'bug-4', 'AllocationFailed'))[0]);
    assert.match(ev.message, /10\.140\.0\.255 \(buggy \.0\/\.255 count as outside\)/);
  });

  test('serviceSelectors admit only labelled Services', async () => {
    await lab.apply(
      pool('labelled', ['10.141.0.0/30'], { serviceAllocation: { serviceSelectors: [{ matchLabels: { lb: 'x' } }] } }),
    );
    await until(
      'pool applied',
      hasLog((l) => l.includes('"labelled"') && l.includes('configuration applied')),
    );
    await lab.apply(lbService('sel-yes', { namespace: 'cfg', labels: { lb: 'x' } }));
    await until(
      'sel-yes',
      async () => (await lab.annotations('cfg', 'sel-yes'))['metallb.io/ip-allocated-from-pool'] === 'labelled',
    );
    await lab.apply(lbService('sel-no', { namespace: 'cfg', annotations: { 'metallb.io/address-pool': 'labelled' } }));
    const ev = await until('refused', async () => (await lab.events('cfg', 'sel-no', 'AllocationFailed'))[0]);
    assert.match(ev.message, /serviceAllocation does not admit this service/);
  });

  test('an invalid L2Advertisement is reported on it; allocation goes on', async () => {
    await lab.apply({
      apiVersion: 'metallb.io/v1beta1',
      kind: 'L2Advertisement',
      metadata: { name: 'bad-l2', namespace: NS },
      spec: { ipAddressPools: ['good', 'good'] },
    });
    const ev = await until('Event on bad-l2', async () => (await lab.events(NS, 'bad-l2', 'InvalidConfiguration'))[0]);
    assert.match(ev.message, /invalid L2Advertisement: bad-l2: duplicate entry in ipAddressPools/);
  });
});

describe('--namespace', () => {
  test('pools are read from the controller namespace only (its Role copied there, as an operator would)', async () => {
    // Every Service of this file is unpinned-served from the /24 of lb-system once its controller runs.
    // The controller of metallb-system stops: two controllers with different pools would fight over the Services.
    const first = lab.controllers[0];
    assert.ok(first);
    await lab.stopController(first);
    await lab.kubectl(['create', 'namespace', 'lb-system']);
    const role = JSON.parse(
      await lab.kubectl(['get', 'role,rolebinding', 'metal-vrrp-controller', '-n', NS, '-o', 'json']),
    );
    for (const o of role.items as { metadata: Record<string, unknown> }[])
      o.metadata = { name: o.metadata['name'], namespace: 'lb-system' };
    await lab.kubectl(['apply', '-f', '-'], JSON.stringify(role));
    await lab.apply(pool('in-default-ns', ['10.150.0.0/24']), {
      ...pool('in-lb-system', ['10.151.0.0/24']),
      metadata: { name: 'in-lb-system', namespace: 'lb-system' },
    });
    await lab.startController({ namespace: 'lb-system' }).controller.whenReady();
    await lab.apply(lbService('ns-test'));
    const [ip] = await until('ns-test', async () => {
      const got = await lab.ingress('default', 'ns-test');
      return got.length === 1 && got;
    });
    assert.match(ip ?? '', /^10\.151\.0\./);
    await until('status in lb-system', async () => {
      const p = (await lab.custom.getNamespacedCustomObject({
        group: 'metallb.io',
        version: 'v1beta1',
        namespace: 'lb-system',
        plural: 'ipaddresspools',
        name: 'in-lb-system',
      })) as { status?: { assignedIPv4?: number } };
      return (p.status?.assignedIPv4 ?? 0) >= 1 && p.status?.assignedIPv4;
    });
    // Whatever this controller serves comes from lb-system's pool: never from the pool of metallb-system.
    const ips = (await lab.core.listServiceForAllNamespaces()).items.flatMap((s) =>
      (s.status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? ''),
    );
    assert.ok(ips.length >= 1);
    assert.deepEqual(
      ips.filter((ip) => !ip.startsWith('10.151.0.')),
      [],
    );
  });
});
