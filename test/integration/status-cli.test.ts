// `metal-vrrp status` when the API server sheds load: every list answered 429 Too Many Requests is tried again after
// the Retry-After the answer names (as kubectl does), and the command still prints the right rows; past the attempts
// it fails with the reason. Everything else `status` does is proven on the real server (status-cli.kube.test.ts).
//
// Why this one file still runs on the API stand-in (lab/apiserver-standin): a real kube-apiserver answers 429 only when
// its max-inflight or API Priority and Fairness limits are exceeded by concurrent requests, which no test can make
// happen on demand for exactly the requests it names; the stand-in's failNext does (with the real Retry-After header).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { type ApiServer, startApiServer, writeKubeconfigFile } from '../../lab/apiserver-standin/index.ts';

const run = promisify(execFile);
const NS = 'metallb-system';
const BIN = new URL('../../bin/metal-vrrp.js', import.meta.url).pathname;
let server: ApiServer;
let dir: string;
let kubeconfig: string;

const node = (name: string, ip: string) => ({
  metadata: { name, labels: { 'kubernetes.io/hostname': name } },
  status: { addresses: [{ type: 'InternalIP', address: ip }], conditions: [{ type: 'Ready', status: 'True' }] },
});

async function status(...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [BIN, 'status', '--kubeconfig', kubeconfig, ...args]);
  return stdout;
}

before(async () => {
  server = await startApiServer();
  dir = mkdtempSync(join(tmpdir(), 'mv-status-'));
  kubeconfig = join(dir, 'kubeconfig');
  await writeKubeconfigFile(kubeconfig, server.url);
  const s = server.store;
  for (const [n, ip] of [
    ['node-a', '10.9.0.1'],
    ['node-b', '10.9.0.2'],
    ['node-c', '10.9.0.3'],
  ] as const) {
    s.create('nodes', node(n, ip));
  }
  s.create('ipaddresspools.metallb.io', {
    apiVersion: 'metallb.io/v1beta1',
    kind: 'IPAddressPool',
    metadata: { name: 'lan', namespace: NS, annotations: { 'metal-vrrp.io/advert-interval': '50ms' } },
    spec: { addresses: ['10.9.0.100-10.9.0.120'] },
  });
  s.create('l2advertisements.metallb.io', {
    apiVersion: 'metallb.io/v1beta1',
    kind: 'L2Advertisement',
    metadata: { name: 'all', namespace: NS },
    spec: { ipAddressPools: ['lan'] },
  });
  const svc = s.create('services', {
    metadata: { name: 'web', namespace: 'default', annotations: { 'metal-vrrp.io/vrids': '10.9.0.100=7' } },
    spec: { type: 'LoadBalancer', ports: [{ port: 80, protocol: 'TCP' }] },
  });
  s.update(
    'services',
    { ...svc, status: { loadBalancer: { ingress: [{ ip: '10.9.0.100' }] } } },
    { subresource: 'status' },
  );
  s.create('services', {
    metadata: { name: 'other-class', namespace: 'default' },
    spec: { type: 'LoadBalancer', loadBalancerClass: 'example.com/else', ports: [{ port: 80, protocol: 'TCP' }] },
  });
});
after(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('metal-vrrp status and 429 Too Many Requests', () => {
  test('lists answered 429 are retried after their Retry-After; the rows are right', async () => {
    server.requests.clear();
    server.failNext(2, { code: 429, retryAfterSeconds: 1, match: { verb: 'list', resource: 'services' } });
    server.failNext(1, { code: 429, retryAfterSeconds: 1, match: { verb: 'list', resource: 'nodes' } });
    const t0 = Date.now();
    const out = JSON.parse(await status('-o', 'json'));
    const tookMs = Date.now() - t0;
    assert.equal(out.items.length, 1);
    assert.equal(out.items[0].vip, '10.9.0.100');
    assert.deepEqual(out.items[0].service, { namespace: 'default', name: 'web' });
    const services = server.requests.entries({ verb: 'list', resource: 'services' });
    assert.deepEqual(
      services.map((r) => [r.status, r.injected]),
      [
        [429, true],
        [429, true],
        [200, false],
      ],
    );
    assert.equal(server.requests.count({ verb: 'list', resource: 'nodes' }), 2);
    // Two waits of the 1 s asked for, one after the other, on the Services list.
    assert.ok(tookMs >= 2_000, `Retry-After honoured: the command took ${tookMs} ms`);
  });

  test('a server that keeps answering 429: the command gives up after 10 attempts with the reason, exit code 1', async () => {
    server.requests.clear();
    server.failNext(1_000, { code: 429, retryAfterSeconds: 0, match: { verb: 'list', resource: 'nodes' } });
    try {
      await assert.rejects(status(), (err: { code?: number; stderr?: string }) => {
        assert.equal(err.code, 1);
        assert.match(err.stderr ?? '', /metal-vrrp status: cannot read the cluster: .*429/);
        return true;
      });
      assert.equal(server.requests.count({ verb: 'list', resource: 'nodes' }), 10);
    } finally {
      server.failNext(0);
      await fetch(`${server.url}/__test/reset`, { method: 'POST' });
    }
  });

  test('other errors are not retried', async () => {
    server.requests.clear();
    server.failNext(1, { code: 500, match: { verb: 'list', resource: 'nodes' } });
    await assert.rejects(status(), (err: { code?: number }) => err.code === 1);
    assert.equal(server.requests.count({ verb: 'list', resource: 'nodes' }), 1);
  });
});
