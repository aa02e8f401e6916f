// The seed's three files applied unchanged, through the API stand-in, to the real controller: demo-svc gets an IP
// from the pool with status, annotation, Event and pool status saying so; the pool runs out and recovers; addresses
// are released on delete and on a type change; and `metal-vrrp controller` runs as its own process.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Lab, lbService, NS, pool, waitFor, waitForAsync } from './harness.ts';

const POOL = ['192.11.182.222', '192.11.182.223', '192.11.182.224', '192.11.182.225', '192.11.182.226'];

describe('seed fixtures through the API stand-in', () => {
  let lab: Lab;
  before(async () => {
    lab = await Lab.start();
    lab.applySeed('ip-pool.yaml', 'advertise.yaml', 'demoLB.yaml');
    await lab.startController().controller.whenReady();
  });
  after(() => lab.close());

  test('demo-svc gets an address of ip-pool, with annotation, VRID and an IPAllocated Event', async () => {
    const [ip] = await waitFor(
      'demo-svc ingress',
      () => lab.ingress('default', 'demo-svc')[0] && lab.ingress('default', 'demo-svc'),
    );
    assert.ok(POOL.includes(ip as string), `${ip} in the seed range`);
    const ann = lab.annotations('default', 'demo-svc');
    assert.equal(ann['metallb.io/ip-allocated-from-pool'], 'ip-pool');
    assert.match(ann['metal-vrrp.io/vrids'] ?? '', new RegExp(`^${ip?.replaceAll('.', '\\.')}=\\d+$`));
    const events = await waitFor('IPAllocated event', () => {
      const e = lab.events('default', 'demo-svc', 'IPAllocated');
      return e.length > 0 && e;
    });
    assert.equal(events[0]?.type, 'Normal');
    assert.equal(events[0]?.message, `Assigned IP ["${ip}"]`);
  });

  test('pool status counts assigned and available addresses', async () => {
    const st = await waitFor(
      'pool status',
      () => lab.poolStatus('ip-pool')?.['assignedIPv4'] === 1 && lab.poolStatus('ip-pool'),
    );
    assert.deepEqual(st, { assignedIPv4: 1, assignedIPv6: 0, availableIPv4: 4, availableIPv6: 0 });
  });

  test('six Services exhaust the pool: the sixth gets "pool exhausted", then an IP once another is deleted', async () => {
    for (let i = 2; i <= 6; i++) lab.apply(lbService(`demo-${i}`));
    for (let i = 2; i <= 5; i++)
      await waitFor(`demo-${i} ingress`, () => lab.ingress('default', `demo-${i}`).length === 1);
    const failed = await waitFor('AllocationFailed on demo-6', () => {
      const e = lab.events('default', 'demo-6', 'AllocationFailed');
      return e.length > 0 && e;
    });
    assert.equal(failed[0]?.type, 'Warning');
    assert.match(failed[0]?.message ?? '', /no free address left in the eligible pools: ip-pool/);
    assert.deepEqual(lab.ingress('default', 'demo-6'), []);
    const all = ['demo-svc', 'demo-2', 'demo-3', 'demo-4', 'demo-5'].map((n) => lab.ingress('default', n)[0]);
    assert.deepEqual([...all].sort(), POOL, 'five Services, five distinct addresses: the whole pool');
    await waitFor('pool full', () => lab.poolStatus('ip-pool')?.['availableIPv4'] === 0);

    const freed = lab.ingress('default', 'demo-3')[0];
    lab.store.delete('services', 'default', 'demo-3');
    const got = await waitFor('demo-6 ingress', () => lab.ingress('default', 'demo-6')[0]);
    assert.equal(got, freed, 'the only free address');
  });

  test('changing type away from LoadBalancer releases the address and clears status and annotations', async () => {
    const svc = lab.service('default', 'demo-4');
    assert.ok(svc);
    const ip = lab.ingress('default', 'demo-4')[0];
    lab.store.patch('services', 'default', 'demo-4', 'merge', { spec: { type: 'ClusterIP' } });
    await waitFor('demo-4 status cleared', () => lab.ingress('default', 'demo-4').length === 0);
    const ann = lab.annotations('default', 'demo-4');
    assert.equal(ann['metallb.io/ip-allocated-from-pool'], undefined);
    assert.equal(ann['metal-vrrp.io/vrids'], undefined);
    await waitFor('pool has one free', () => lab.poolStatus('ip-pool')?.['availableIPv4'] === 1);
    lab.apply(lbService('demo-7'));
    assert.equal(await waitFor('demo-7 ingress', () => lab.ingress('default', 'demo-7')[0]), ip);
  });

  test('metrics: addresses total and in use per pool, errors by reason', async () => {
    const c = lab.controllers[0];
    assert.ok(c);
    await c.controller.idle();
    const text = await c.metrics.registry.metrics();
    assert.match(text, /metal_vrrp_pool_addresses\{pool="ip-pool",family="ipv4",component="controller"\} 5/);
    assert.match(text, /metal_vrrp_pool_addresses_in_use\{pool="ip-pool",family="ipv4",component="controller"\} 5/);
    assert.match(text, /metal_vrrp_allocation_errors_total\{reason="POOL_EXHAUSTED",component="controller"\} [1-9]/);
  });
});

describe('metal-vrrp controller as a process', () => {
  let lab: Lab;
  let dir: string;
  before(async () => {
    lab = await Lab.start();
    dir = await mkdtemp(join(tmpdir(), 'mv-ctl-'));
  });
  after(async () => {
    await lab.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('bin/metal-vrrp.js controller --kubeconfig allocates, serves /readyz and /metrics, stops on SIGTERM', async () => {
    const kubeconfig = join(dir, 'kubeconfig');
    await lab.server.writeKubeconfig(kubeconfig);
    lab.applySeed('ip-pool.yaml', 'advertise.yaml', 'demoLB.yaml');
    const port = 17472 + Math.floor(Math.random() * 1000);
    const bin = new URL('../../bin/metal-vrrp.js', import.meta.url).pathname;
    const child = spawn(
      process.execPath,
      [bin, 'controller', '--kubeconfig', kubeconfig, '--metrics-port', String(port), '--metrics-address', '127.0.0.1'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const ip = await waitFor('demo-svc ingress', () => lab.ingress('default', 'demo-svc')[0], 30_000);
      assert.equal(lab.annotations('default', 'demo-svc')['metallb.io/ip-allocated-from-pool'], 'ip-pool');
      assert.ok(ip.startsWith('192.11.182.'));
      await waitForAsync(
        '/readyz 200',
        async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200,
        30_000,
      );
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      assert.match(
        metrics,
        /metal_vrrp_pool_addresses_in_use\{pool="ip-pool",family="ipv4",component="controller"\} 1/,
      );
      assert.match(out, /"msg":"controller ready"/);
    } finally {
      child.kill('SIGTERM');
      const code = await exited;
      assert.equal(code, 0, out);
    }
    assert.equal(lab.store.get('ipaddresspools.metallb.io', NS, 'ip-pool')?.metadata.name, 'ip-pool');
  });
});

describe('metal-vrrp controller killed with SIGKILL mid-allocation', () => {
  let lab: Lab;
  let dir: string;
  before(async () => {
    lab = await Lab.start();
    dir = await mkdtemp(join(tmpdir(), 'mv-kill-'));
  });
  after(async () => {
    await lab.close();
    await rm(dir, { recursive: true, force: true });
  });

  const run = (kubeconfig: string) => {
    const bin = new URL('../../bin/metal-vrrp.js', import.meta.url).pathname;
    const child = spawn(process.execPath, [bin, 'controller', '--kubeconfig', kubeconfig, '--metrics-port', '0'], {
      stdio: 'ignore',
    });
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    return { child, exited };
  };

  test('a restarted controller keeps every address written before the kill and finishes the rest', async () => {
    const kubeconfig = join(dir, 'kubeconfig');
    await lab.server.writeKubeconfig(kubeconfig);
    lab.apply(pool('kill-pool', ['10.160.0.0/24']));
    const names = Array.from({ length: 60 }, (_, i) => `k-${i}`);
    const first = run(kubeconfig);
    try {
      for (const n of names) lab.apply(lbService(n));
      await waitFor(
        'some allocated',
        () => names.filter((n) => lab.ingress('default', n).length > 0).length >= 10,
        30_000,
      );
    } finally {
      first.child.kill('SIGKILL');
      await first.exited;
    }
    const held = new Map(names.map((n) => [n, lab.ingress('default', n)]));
    const second = run(kubeconfig);
    try {
      await waitFor('all allocated', () => names.every((n) => lab.ingress('default', n).length === 1), 30_000);
    } finally {
      second.child.kill('SIGTERM');
      await second.exited;
    }
    let kept = 0;
    for (const [n, ips] of held) {
      if (ips.length === 0) continue;
      kept++;
      assert.deepEqual(lab.ingress('default', n), ips, `${n} kept its address`);
    }
    assert.ok(kept >= 10);
    const all = names.map((n) => lab.ingress('default', n)[0]);
    assert.equal(new Set(all).size, names.length, 'no address given twice');
  });
});
