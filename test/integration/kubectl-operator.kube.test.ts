// What an operator sees with kubectl on the real kube-apiserver once the controller (as its ServiceAccount) has served
// the seed: `kubectl get services` shows the EXTERNAL-IP, `kubectl get ipaddresspools` / `l2advertisements` /
// `servicel2statuses` print MetalLB's printer columns (from manifests/crds), and `kubectl delete --dry-run=server`
// deletes nothing (the API stand-in really deleted).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { waitForAsync } from './harness.ts';
import { KubeLab, NS } from './kube-lab.ts';

let lab: KubeLab;
let ip: string;

/** table splits kubectl's table output into its header (columns split on two or more spaces) and rows. */
async function table(args: string[]): Promise<{ header: string[]; rows: string[][] }> {
  const [head, ...rest] = (await lab.kubectl(args)).trimEnd().split('\n');
  const split = (l: string) => l.trim().split(/\s{2,}/);
  return { header: split(head ?? ''), rows: rest.map(split) };
}

before(async () => {
  lab = await KubeLab.start('kubectl-operator-kube');
  await lab.applySeed('ip-pool.yaml', 'advertise.yaml', 'demoLB.yaml');
  await lab.startController().controller.whenReady();
  ip = await waitForAsync('demo-svc ingress', async () => (await lab.ingress('default', 'demo-svc'))[0], 30_000);
});
after(() => lab?.close());

describe('kubectl as an operator uses it', () => {
  test('kubectl get services: EXTERNAL-IP is the allocated address', async () => {
    const t = await table(['get', 'services', '-n', 'default']);
    assert.deepEqual(t.header, ['NAME', 'TYPE', 'CLUSTER-IP', 'EXTERNAL-IP', 'PORT(S)', 'AGE']);
    const row = t.rows.find((r) => r[0] === 'demo-svc');
    assert.ok(row);
    assert.equal(row[1], 'LoadBalancer');
    assert.equal(row[3], ip);
    assert.match(row[4] ?? '', /^80:\d+\/TCP$/);
  });

  test('kubectl get ipaddresspools prints MetalLB printer columns', async () => {
    const t = await table(['get', 'ipaddresspools', '-n', NS]);
    assert.deepEqual(t.header, ['NAME', 'AUTO ASSIGN', 'AVOID BUGGY IPS', 'ADDRESSES']);
    const row = t.rows.find((r) => r[0] === 'ip-pool');
    assert.ok(row);
    assert.equal(row[1], 'true');
    assert.equal(row[2], 'false');
    assert.match(row[3] ?? '', /192\.11\.182\./);
  });

  test('kubectl get l2advertisements prints MetalLB printer columns', async () => {
    const t = await table(['get', 'l2advertisements', '-n', NS]);
    assert.deepEqual(t.header, ['NAME', 'IPADDRESSPOOLS', 'IPADDRESSPOOL SELECTORS', 'INTERFACES']);
    // Node Selectors has priority 10, as in MetalLB: shown with -o wide only.
    const wide = await table(['get', 'l2advertisements', '-n', NS, '-o', 'wide']);
    assert.deepEqual(wide.header, [
      'NAME',
      'IPADDRESSPOOLS',
      'IPADDRESSPOOL SELECTORS',
      'INTERFACES',
      'NODE SELECTORS',
    ]);
  });

  test('kubectl get servicel2statuses prints MetalLB printer columns', async () => {
    await lab.apply({
      apiVersion: 'metallb.io/v1beta1',
      kind: 'ServiceL2Status',
      metadata: { name: 'l2-demo', namespace: NS },
    });
    await lab.kubectl([
      'patch',
      'servicel2status',
      'l2-demo',
      '-n',
      NS,
      '--subresource=status',
      '--type=merge',
      '-p',
      JSON.stringify({ status: { node: 'node-a', serviceName: 'demo-svc', serviceNamespace: 'default' } }),
    ]);
    const t = await table(['get', 'servicel2statuses', '-n', NS]);
    assert.deepEqual(t.header, ['NAME', 'ALLOCATED NODE', 'SERVICE NAME', 'SERVICE NAMESPACE']);
    assert.deepEqual(t.rows.find((r) => r[0] === 'l2-demo')?.slice(1, 4), ['node-a', 'demo-svc', 'default']);
  });

  test('kubectl delete --dry-run=server deletes nothing', async () => {
    const out = await lab.kubectl(['delete', 'service', 'demo-svc', '--dry-run=server']);
    assert.match(out, /service "demo-svc" deleted .*\(server dry run\)/);
    const pool = await lab.kubectl(['delete', 'ipaddresspool', 'ip-pool', '-n', NS, '--dry-run=server']);
    assert.match(pool, /ipaddresspool\.metallb\.io "ip-pool" deleted .*\(server dry run\)/);
    await lab.controllers[0]?.controller.idle();
    assert.deepEqual(await lab.ingress('default', 'demo-svc'), [ip], 'still served');
    assert.equal(
      (await lab.kubectl(['get', 'ipaddresspool', 'ip-pool', '-n', NS, '-o', 'name'])).trim(),
      'ipaddresspool.metallb.io/ip-pool',
    );
    // The real delete does delete (the check above can fail).
    await lab.kubectl(['delete', 'service', 'demo-svc']);
    assert.equal(await lab.service('default', 'demo-svc'), undefined);
  });
});
