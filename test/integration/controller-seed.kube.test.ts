// The seed's three files applied unchanged with `kubectl apply -f`, on the real kube-apiserver + etcd, to the real
// controller authenticated as its ServiceAccount (shipped RBAC): demo-svc gets an IP from the pool with status,
// annotation, Event and pool status saying so; the pool runs out and recovers; addresses are released on delete and
// on a type change; `metal-vrrp controller` runs as its own process. (A controller SIGKILLed mid-churn:
// controller-resilience.kube.test.ts.)

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { lbService, waitForAsync } from './harness.ts';
import { KubeLab } from './kube-lab.ts';

const POOL = ['192.11.182.222', '192.11.182.223', '192.11.182.224', '192.11.182.225', '192.11.182.226'];
const WAIT = 30_000;

/** until polls an async check until it gives a value (not undefined/false), failing after WAIT with `what`. */
const until = <T>(what: string, check: () => Promise<T | undefined | false>) => waitForAsync(what, check, WAIT);

describe('seed fixtures through the real API server', () => {
  let lab: KubeLab;
  before(async () => {
    lab = await KubeLab.start('ctl-seed-kube-a');
    await lab.applySeed('ip-pool.yaml', 'advertise.yaml', 'demoLB.yaml');
    await lab.startController().controller.whenReady();
  });
  after(() => lab?.close());

  test('demo-svc gets an address of ip-pool, with annotation, VRID and an IPAllocated Event', async () => {
    const [ip] = await until('demo-svc ingress', async () => {
      const got = await lab.ingress('default', 'demo-svc');
      return got.length > 0 && got;
    });
    assert.ok(POOL.includes(ip as string), `${ip} in the seed range`);
    const ann = await lab.annotations('default', 'demo-svc');
    assert.equal(ann['metallb.io/ip-allocated-from-pool'], 'ip-pool');
    assert.match(ann['metal-vrrp.io/vrids'] ?? '', new RegExp(`^${ip?.replaceAll('.', '\\.')}=\\d+$`));
    const events = await until('IPAllocated event', async () => {
      const e = await lab.events('default', 'demo-svc', 'IPAllocated');
      return e.length > 0 && e;
    });
    assert.equal(events[0]?.type, 'Normal');
    assert.equal(events[0]?.message, `Assigned IP ["${ip}"]`);
    // What an operator sees: kubectl's EXTERNAL-IP column.
    const row = (await lab.kubectl(['get', 'service', 'demo-svc', '--no-headers'])).trim().split(/\s+/);
    assert.equal(row[3], ip, 'EXTERNAL-IP column');
  });

  test('pool status counts assigned and available addresses', async () => {
    const st = await until('pool status', async () => {
      const s = await lab.poolStatus('ip-pool');
      return s?.['assignedIPv4'] === 1 && s;
    });
    assert.deepEqual(st, { assignedIPv4: 1, assignedIPv6: 0, availableIPv4: 4, availableIPv6: 0 });
  });

  test('six Services exhaust the pool: the sixth gets "pool exhausted", then an IP once another is deleted', async () => {
    await lab.apply(...[2, 3, 4, 5, 6].map((i) => lbService(`demo-${i}`)));
    for (let i = 2; i <= 5; i++)
      await until(`demo-${i} ingress`, async () => (await lab.ingress('default', `demo-${i}`)).length === 1);
    const failed = await until('AllocationFailed on demo-6', async () => {
      const e = await lab.events('default', 'demo-6', 'AllocationFailed');
      return e.length > 0 && e;
    });
    assert.equal(failed[0]?.type, 'Warning');
    assert.match(failed[0]?.message ?? '', /no free address left in the eligible pools: ip-pool/);
    assert.deepEqual(await lab.ingress('default', 'demo-6'), []);
    const all = await Promise.all(
      ['demo-svc', 'demo-2', 'demo-3', 'demo-4', 'demo-5'].map(async (n) => (await lab.ingress('default', n))[0]),
    );
    assert.deepEqual([...all].sort(), POOL, 'five Services, five distinct addresses: the whole pool');
    await until('pool full', async () => (await lab.poolStatus('ip-pool'))?.['availableIPv4'] === 0);

    const freed = (await lab.ingress('default', 'demo-3'))[0];
    await lab.kubectl(['delete', 'service', 'demo-3']);
    const got = await until('demo-6 ingress', async () => (await lab.ingress('default', 'demo-6'))[0]);
    assert.equal(got, freed, 'the only free address');
  });

  test('changing type away from LoadBalancer releases the address and clears status and annotations', async () => {
    const ip = (await lab.ingress('default', 'demo-4'))[0];
    assert.ok(ip);
    await lab.kubectl(['patch', 'service', 'demo-4', '--type=merge', '-p', '{"spec":{"type":"ClusterIP"}}']);
    await until('demo-4 status cleared', async () => (await lab.ingress('default', 'demo-4')).length === 0);
    const ann = await lab.annotations('default', 'demo-4');
    assert.equal(ann['metallb.io/ip-allocated-from-pool'], undefined);
    assert.equal(ann['metal-vrrp.io/vrids'], undefined);
    await until('pool has one free', async () => (await lab.poolStatus('ip-pool'))?.['availableIPv4'] === 1);
    await lab.apply(lbService('demo-7'));
    assert.equal(await until('demo-7 ingress', async () => (await lab.ingress('default', 'demo-7'))[0]), ip);
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

/** runController starts bin/metal-vrrp.js controller with a kubeconfig; output is collected in `out()`. */
function runController(kubeconfig: string, extra: string[] = []) {
  const bin = new URL('../../bin/metal-vrrp.js', import.meta.url).pathname;
  const child = spawn(process.execPath, [bin, 'controller', '--kubeconfig', kubeconfig, ...extra], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout.on('data', (d: Buffer) => {
    text += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    text += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, out: () => text };
}

describe('metal-vrrp controller as a process, as its ServiceAccount', () => {
  let lab: KubeLab;
  before(async () => {
    lab = await KubeLab.start('ctl-seed-kube-b');
  });
  after(() => lab?.close());

  test('bin/metal-vrrp.js controller --kubeconfig allocates, serves /readyz and /metrics, stops on SIGTERM', async () => {
    await lab.applySeed('ip-pool.yaml', 'advertise.yaml', 'demoLB.yaml');
    const port = 17472 + Math.floor(Math.random() * 1000);
    const ctl = runController(lab.controllerKubeconfig, [
      '--metrics-port',
      String(port),
      '--metrics-address',
      '127.0.0.1',
    ]);
    try {
      const ip = await until('demo-svc ingress', async () => (await lab.ingress('default', 'demo-svc'))[0]);
      assert.equal((await lab.annotations('default', 'demo-svc'))['metallb.io/ip-allocated-from-pool'], 'ip-pool');
      assert.ok(ip.startsWith('192.11.182.'));
      await until('/readyz 200', async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200);
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      assert.match(
        metrics,
        /metal_vrrp_pool_addresses_in_use\{pool="ip-pool",family="ipv4",component="controller"\} 1/,
      );
      assert.match(ctl.out(), /"msg":"controller ready"/);
    } finally {
      ctl.child.kill('SIGTERM');
      assert.equal(await ctl.exited, 0, ctl.out());
    }
    assert.equal(
      (await lab.kubectl(['get', 'ipaddresspool', 'ip-pool', '-n', 'metallb-system', '-o', 'name'])).trim(),
      'ipaddresspool.metallb.io/ip-pool',
    );
  });
});
