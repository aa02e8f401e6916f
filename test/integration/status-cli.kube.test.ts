// `metal-vrrp status` against the real kube-apiserver + etcd with an operator's kubeconfig: the real CLI process lists
// Services, Nodes, EndpointSlices, pools, advertisements and ServiceL2Status objects (all created with kubectl), and
// prints who masters each VIP (from ServiceL2Status), the backups in rendezvous order, the VRID the controller recorded
// and the pool's interval. (status-cli.test.ts is the same on the API stand-in.)
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { type KubeServer, startKubeServer } from '../../lab/kube/server.ts';
import { nodePriorities } from '../../vrrp/priority.ts';

const run = promisify(execFile);
const NS = 'metallb-system';
const BIN = new URL('../../bin/metal-vrrp.js', import.meta.url).pathname;
let server: KubeServer;

async function kubectl(args: string[], input?: string): Promise<string> {
  const res = await server.kubectl(args, input === undefined ? {} : { input });
  if (res.code !== 0) throw new Error(`kubectl ${args.join(' ')} exited ${res.code}: ${res.stderr.trim()}`);
  return res.stdout;
}
const apply = (...objs: Record<string, unknown>[]) =>
  kubectl(['apply', '-f', '-'], objs.map((o) => `---\n${stringify(o)}`).join(''));
const patchStatus = (kind: string, name: string, status: unknown, ns?: string) =>
  kubectl([
    'patch',
    kind,
    name,
    ...(ns ? ['-n', ns] : []),
    '--subresource=status',
    '--type=merge',
    '-p',
    JSON.stringify({ status }),
  ]);

async function status(...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [BIN, 'status', '--kubeconfig', server.adminKubeconfig, ...args]);
  return stdout;
}

before(async () => {
  server = await startKubeServer({ name: 'status-cli-kube', installMetalVrrp: true });
  const nodes = [
    ['node-a', '10.9.0.1'],
    ['node-b', '10.9.0.2'],
    ['node-c', '10.9.0.3'],
  ] as const;
  await apply(
    ...nodes.map(([n]) => ({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: n, labels: { 'kubernetes.io/hostname': n } },
    })),
  );
  for (const [n, ip] of nodes)
    await patchStatus('node', n, {
      addresses: [{ type: 'InternalIP', address: ip }],
      conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'lab' }],
    });
  await apply(
    {
      apiVersion: 'metallb.io/v1beta1',
      kind: 'IPAddressPool',
      metadata: { name: 'lan', namespace: NS, annotations: { 'metal-vrrp.io/advert-interval': '50ms' } },
      spec: { addresses: ['10.9.0.100-10.9.0.120'] },
    },
    {
      apiVersion: 'metallb.io/v1beta1',
      kind: 'L2Advertisement',
      metadata: { name: 'all', namespace: NS },
      spec: { ipAddressPools: ['lan'] },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web', namespace: 'default', annotations: { 'metal-vrrp.io/vrids': '10.9.0.100=7' } },
      spec: { type: 'LoadBalancer', ports: [{ port: 80, protocol: 'TCP' }] },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'other-class', namespace: 'default' },
      spec: { type: 'LoadBalancer', loadBalancerClass: 'example.com/else', ports: [{ port: 80, protocol: 'TCP' }] },
    },
  );
  await patchStatus('service', 'web', { loadBalancer: { ingress: [{ ip: '10.9.0.100' }] } }, 'default');
  // A fresh server answers a list with 429 "storage is (re)initializing" (Retry-After: 1) until the watch cache of
  // that resource is filled; client-go (kubectl) retries those, `metal-vrrp status` does not (yet): wait them out
  // here, and only those.
  for (let i = 0; ; i++) {
    const res = await run(process.execPath, [BIN, 'status', '--kubeconfig', server.adminKubeconfig]).catch(
      (err: { stderr?: string }) => err,
    );
    if (!('stderr' in res) || !/HTTP-Code: 429/.test(res.stderr ?? '') || i >= 30) break;
    await new Promise((r) => setTimeout(r, 1000));
  }
});
after(() => server?.stop());

describe('metal-vrrp status on the real API server', () => {
  const ranking = () => {
    // The pool's 50 ms interval sets the priority ladder's step (Skew_Times 4 ms apart).
    const r = nodePriorities('ipv4/7', ['node-a', 'node-b', 'node-c'], new Map(), { intervalCs: 5 });
    assert.ok('priorities' in r);
    return [...r.priorities];
  };

  test('before any speaker reports, the VIP shows no master and the computed ranking as backups', async () => {
    const out = JSON.parse(await status('-o', 'json'));
    assert.equal(out.items.length, 1, 'only the Service metal-vrrp manages');
    const item = out.items[0];
    assert.deepEqual(item.service, { namespace: 'default', name: 'web' });
    assert.equal(item.vip, '10.9.0.100');
    assert.equal(item.vrid, 7);
    assert.equal(item.pool, 'lan');
    assert.equal(item.master, null);
    assert.equal(item.advertIntervalMs, 50);
    assert.deepEqual(
      item.backups.map((b: { node: string; priority: number }) => [b.node, b.priority]),
      ranking(),
    );
  });

  test('the master comes from the ServiceL2Status a speaker wrote; the table names it and the other nodes in order', async () => {
    const [best, second, third] = ranking();
    await apply({
      apiVersion: 'metallb.io/v1beta1',
      kind: 'ServiceL2Status',
      metadata: {
        name: 'l2-web',
        namespace: NS,
        labels: {
          'metallb.io/node': best![0],
          'metallb.io/service-name': 'web',
          'metallb.io/service-namespace': 'default',
        },
      },
    });
    // With the status subresource on, status is written through it (as the speaker does).
    await patchStatus(
      'servicel2status',
      'l2-web',
      { node: best![0], serviceName: 'web', serviceNamespace: 'default', interfaces: [{ name: 'eth0' }] },
      NS,
    );
    const table = await status();
    const [header, row, extra] = table.trimEnd().split('\n');
    assert.match(header ?? '', /^NAMESPACE\s+NAME\s+VIP\s+POOL\s+VRID\s+MASTER\s+BACKUPS/);
    assert.equal(extra, undefined);
    assert.match(row ?? '', new RegExp(`^default\\s+web\\s+10\\.9\\.0\\.100\\s+lan\\s+7\\s+${best![0]}\\s`));
    assert.ok(
      (row ?? '').includes(`${second![0]}`) && (row ?? '').indexOf(second![0]) < (row ?? '').indexOf(third![0]),
    );
    const json = JSON.parse(await status('-o', 'json'));
    assert.equal(json.items[0].master, best![0]);
  });

  test('an unreachable API gives a clear error and exit code 1', async () => {
    const bad = join(server.dataDir, 'bad.kubeconfig');
    writeFileSync(
      bad,
      readFileSync(server.adminKubeconfig, 'utf8').replace(/server: \S+/, 'server: https://127.0.0.1:1'),
    );
    await assert.rejects(
      run(process.execPath, [BIN, 'status', '--kubeconfig', bad]),
      (err: { code?: number; stderr?: string }) => {
        assert.equal(err.code, 1);
        assert.match(err.stderr ?? '', /metal-vrrp status: cannot read the cluster/);
        return true;
      },
    );
  });
});
