// The speakers' health Leases on the real kube-apiserver with the shipped RBAC and admission policy (issue 13): the
// speaker's ServiceAccount publishes its node's health through the speaker's own code (NodeHealthPublisher), the real
// `metal-vrrp status` process shows it for the VIP, and the speaker is refused every other Lease: the controller's,
// one named for another holder, one in another namespace, and — with a token bound to a Pod on node n2, as a speaker
// Pod's is — the Lease of a node other than its own.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { realClock } from '../../src/clock.ts';
import { healthLeaseApi, leaseBody, NodeHealthPublisher } from '../../src/k8s/node-health-lease.ts';
import { createLogger } from '../../src/log.ts';
import type { NodeHealthReport } from '../../src/model/node-health-report.ts';
import { KubeLab, NS } from './kube-lab.ts';

const run = promisify(execFile);
const BIN = new URL('../../bin/metal-vrrp.js', import.meta.url).pathname;
const VIP = '10.9.0.100';
const logLines: string[] = [];
const logger = createLogger({ level: 'debug', destination: { write: (l: string) => void logLines.push(l) } });

let lab: KubeLab;

async function status(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run(process.execPath, [BIN, 'status', '--kubeconfig', lab.server.adminKubeconfig, ...args]);
}

/** kubeConfigWithToken is the admin kubeconfig's cluster with another user's bearer token. */
function kubeConfigWithToken(token: string): KubeConfig {
  const admin = new KubeConfig();
  admin.loadFromFile(lab.server.adminKubeconfig);
  const cluster = admin.getCurrentCluster()!;
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [cluster],
    users: [{ name: 'sa', token }],
    contexts: [{ name: 'sa', cluster: cluster.name, user: 'sa' }],
    currentContext: 'sa',
  });
  return kc;
}

const sick = (node: string): NodeHealthReport => ({
  node,
  routers: [
    {
      family: 'ipv4',
      vrid: 7,
      vips: [VIP],
      effect: 'resign',
      basePriority: 254,
      priority: 1,
      checks: [
        { check: 'http://:10256/healthz', kind: 'kube-proxy', since: new Date().toISOString(), detail: 'HTTP 503' },
      ],
    },
  ],
});

/** refusal runs a write expected to fail and returns its HTTP code and the server's message. */
async function refusal(write: Promise<void>): Promise<{ code: number | undefined; body: string }> {
  try {
    await write;
  } catch (err) {
    const e = err as { code?: number; body?: unknown };
    return { code: e.code, body: typeof e.body === 'string' ? e.body : JSON.stringify(e.body) };
  }
  assert.fail('the write was allowed');
}

before(async () => {
  lab = await KubeLab.start('status-health-kube');
  for (const [n, ip] of [
    ['n1', '10.9.0.1'],
    ['n2', '10.9.0.2'],
    ['n3', '10.9.0.3'],
  ] as const) {
    await lab.apply({ apiVersion: 'v1', kind: 'Node', metadata: { name: n, labels: { 'kubernetes.io/hostname': n } } });
    await lab.kubectl([
      'patch',
      'node',
      n,
      '--subresource=status',
      '--type=merge',
      '-p',
      JSON.stringify({
        status: {
          addresses: [{ type: 'InternalIP', address: ip }],
          conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'lab' }],
        },
      }),
    ]);
  }
  await lab.apply(
    {
      apiVersion: 'metallb.io/v1beta1',
      kind: 'IPAddressPool',
      metadata: { name: 'lan', namespace: NS },
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
      metadata: { name: 'web', namespace: 'default', annotations: { 'metal-vrrp.io/vrids': `${VIP}=7` } },
      spec: { type: 'LoadBalancer', ports: [{ port: 80, protocol: 'TCP' }] },
    },
  );
  await lab.kubectl([
    'patch',
    'service',
    'web',
    '-n',
    'default',
    '--subresource=status',
    '--type=merge',
    '-p',
    JSON.stringify({ status: { loadBalancer: { ingress: [{ ip: VIP }] } } }),
  ]);
  // A fresh server answers lists with 429 while its watch caches fill; `metal-vrrp status` does not retry those.
  for (let i = 0; ; i++) {
    const res = await status().catch((err: { stderr?: string }) => err);
    if (!('stderr' in res) || !/HTTP-Code: 429/.test(res.stderr ?? '') || i >= 30) break;
    await new Promise((r) => setTimeout(r, 1000));
  }
});
after(() => lab?.close());

describe('health Leases: the speaker publishes, status shows (real kube-apiserver)', () => {
  test('published as the speaker ServiceAccount, `metal-vrrp status` names the resigned node, check and age', async () => {
    const kc = kubeConfigWithToken(
      (await lab.kubectl(['create', 'token', 'speaker', '-n', NS, '--duration=1h'])).trim(),
    );
    const pub = new NodeHealthPublisher({
      api: healthLeaseApi(kc),
      namespace: NS,
      node: 'n1',
      clock: realClock,
      logger,
    });
    const before = JSON.parse((await status('-o', 'json')).stdout);
    assert.deepEqual(before.items[0].health, []);

    pub.publish(sick('n1'));
    await pub.idle();
    assert.doesNotMatch(logLines.join(''), /write failed/, logLines.join(''));
    const lease = JSON.parse(await lab.kubectl(['get', 'lease', 'metal-vrrp-speaker-n1', '-n', NS, '-o', 'json']));
    assert.equal(lease.spec.holderIdentity, 'n1');
    assert.equal(lease.metadata.labels['metal-vrrp.io/node-health'], 'true');

    const json = JSON.parse((await status('-o', 'json')).stdout);
    const item = json.items[0];
    assert.equal(item.vip, VIP);
    assert.deepEqual(
      item.health.map((h: { node: string; effect: string; priority: number }) => [h.node, h.effect, h.priority]),
      [['n1', 'resign', 1]],
    );
    assert.deepEqual(
      item.health[0].checks.map((c: { check: string; detail: string }) => [c.check, c.detail]),
      [['http://:10256/healthz', 'HTTP 503']],
    );
    assert.equal(item.backups.at(-1).node, 'n1', 'the resigned node ranks last, at priority 1');
    assert.equal(item.backups.at(-1).priority, 1);
    const table = (await status()).stdout;
    assert.match(table.split('\n')[0] ?? '', /\sHEALTH\s/);
    assert.match(table, /n1:resigned\(http:\/\/:10256\/healthz \d+s\)/);

    // Healthy again: one more patch, and the column empties.
    pub.publish({ node: 'n1', routers: [] });
    await pub.idle();
    assert.deepEqual(JSON.parse((await status('-o', 'json')).stdout).items[0].health, []);
    await pub.stop();
  });

  test('the speaker is refused every other Lease: the controller’s, another holder’s name, another namespace, get', async () => {
    const token = (await lab.kubectl(['create', 'token', 'speaker', '-n', NS, '--duration=1h'])).trim();
    const api = healthLeaseApi(kubeConfigWithToken(token));
    await lab.apply({
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: 'metal-vrrp-controller', namespace: NS },
      spec: { holderIdentity: 'controller-0', leaseDurationSeconds: 15 },
    });
    const body = leaseBody('metal-vrrp-speaker-n1', NS, sick('n1'), Date.now());
    // the leader Lease: a patch reaches admission as an UPDATE and the policy refuses it
    const ctl = await refusal(api.patch({ ...body, metadata: { ...body.metadata, name: 'metal-vrrp-controller' } }));
    assert.equal(ctl.code, 403, ctl.body);
    assert.match(ctl.body, /metal-vrrp-speaker-leases/);
    const held = JSON.parse(await lab.kubectl(['get', 'lease', 'metal-vrrp-controller', '-n', NS, '-o', 'json']));
    assert.equal(held.spec.holderIdentity, 'controller-0');
    // a health Lease named for one node but held by another
    const other = await refusal(api.create({ ...body, metadata: { ...body.metadata, name: 'metal-vrrp-speaker-n2' } }));
    assert.equal(other.code, 403, other.body);
    // RBAC: nothing outside its namespace, no reads
    const elsewhere = await refusal(
      api.create({ ...body, metadata: { ...body.metadata, name: 'metal-vrrp-speaker-n3', namespace: 'default' } }),
    );
    assert.equal(elsewhere.code, 403, elsewhere.body);
    assert.doesNotMatch(elsewhere.body, /metal-vrrp-speaker-leases/, 'refused by RBAC, before admission');
    const res = await lab.server.kubectl(['get', 'lease', 'metal-vrrp-speaker-n1', '-n', NS, `--token=${token}`]);
    assert.notEqual(res.code, 0);
    assert.match(res.stderr, /forbidden/i);
  });

  test('with a token bound to a Pod on n2 (as a speaker Pod’s), only n2’s Lease may be written', async () => {
    await lab.apply({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'speaker-n2', namespace: NS },
      spec: { nodeName: 'n2', serviceAccountName: 'speaker', containers: [{ name: 'speaker', image: 'metal-vrrp' }] },
    });
    const token = (
      await lab.kubectl([
        'create',
        'token',
        'speaker',
        '-n',
        NS,
        '--duration=1h',
        '--bound-object-kind=Pod',
        '--bound-object-name=speaker-n2',
      ])
    ).trim();
    const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as {
      'kubernetes.io'?: { node?: { name?: string } };
    };
    assert.equal(claims['kubernetes.io']?.node?.name, 'n2', 'the token names the Pod’s node');
    const api = healthLeaseApi(kubeConfigWithToken(token));
    const n3 = await refusal(api.create(leaseBody('metal-vrrp-speaker-n3', NS, sick('n3'), Date.now())));
    assert.equal(n3.code, 403, n3.body);
    assert.match(n3.body, /its own node/);
    await api.create(leaseBody('metal-vrrp-speaker-n2', NS, sick('n2'), Date.now()));
    await api.patch(leaseBody('metal-vrrp-speaker-n2', NS, { node: 'n2', routers: [] }, Date.now()));
  });
});
