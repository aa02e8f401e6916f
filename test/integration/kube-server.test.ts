// The real kube-apiserver + etcd of lab/kube is Kubernetes as an operator meets it: kubectl applies the seed files
// with validation against the served OpenAPI, CRD printer columns show, the CRD schema refuses invalid pools, the
// shipped RBAC is enforced, and a ServiceAccount token from the TokenRequest API works with @kubernetes/client-node.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { type KubeServer, startKubeServer } from '../../lab/kube/server.ts';

const SEED = join(import.meta.dirname, '..', '..', 'lab', 'seed');
const CONTROLLER = 'system:serviceaccount:metallb-system:controller';

describe('real kube-apiserver + etcd (lab/kube)', () => {
  let kube: KubeServer;
  before(async () => {
    kube = await startKubeServer({ name: 'kube-server-test', installMetalVrrp: true });
  });
  after(() => kube?.stop());

  /** ok runs kubectl and fails the test with its stderr when it exits non-zero. */
  async function ok(args: string[], input?: string): Promise<string> {
    const res = await kube.kubectl(args, input === undefined ? {} : { input });
    assert.equal(res.code, 0, `kubectl ${args.join(' ')}: ${res.stderr}`);
    return res.stdout;
  }

  test('kubectl apply -f of the seed files passes client- and server-side validation', async () => {
    const out = await ok(['apply', '--validate=strict', '-f', SEED]);
    assert.match(out, /ipaddresspool\.metallb\.io\/ip-pool created/);
    assert.match(out, /l2advertisement\.metallb\.io\/l2adver created/);
    assert.match(out, /service\/demo-svc created/);
    // A real ClusterIP from --service-cluster-ip-range, and the server-side apply bookkeeping a real server keeps.
    const svc = JSON.parse(await ok(['get', 'service', 'demo-svc', '-o', 'json', '--show-managed-fields']));
    assert.match(svc.spec.clusterIP, /^10\.(9[6-9]|1[01]\d)\./);
    assert.ok(svc.metadata.managedFields?.length > 0, 'managedFields recorded');
  });

  test('kubectl get ipaddresspools prints the CRD printer columns', async () => {
    const out = await ok(['get', 'ipaddresspools', '-n', 'metallb-system']);
    const [header, row] = out.trim().split('\n');
    assert.match(header ?? '', /^NAME\s+AUTO ASSIGN\s+AVOID BUGGY IPS\s+ADDRESSES\s*$/);
    assert.match(row ?? '', /^ip-pool\s+true\s+false\s+\["192\.11\.182\.222-192\.11\.182\.226"\]\s*$/);
  });

  test('the CRD schema refuses a pool without spec.addresses and one with an unknown field', async () => {
    const missing = await kube.kubectl(['apply', '--validate=strict', '-f', '-'], {
      input:
        'apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {name: no-addr, namespace: metallb-system}\nspec: {autoAssign: true}\n',
    });
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /spec\.addresses: Required value/);
    // kubectl's default validation asks the server for fieldValidation=Strict: the refusal is the server's.
    const unknown = await kube.kubectl(['create', '-f', '-'], {
      input:
        'apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {name: extra, namespace: metallb-system}\nspec: {addresses: [10.0.0.1/32], bogus: 1}\n',
    });
    assert.notEqual(unknown.code, 0);
    assert.match(unknown.stderr, /unknown field "spec\.bogus"/);
    const pools = await ok(['get', 'ipaddresspools', '-n', 'metallb-system', '-o', 'name']);
    assert.equal(pools.trim(), 'ipaddresspool.metallb.io/ip-pool', 'nothing invalid was stored');
  });

  test('RBAC is enforced: the controller may list services, not delete nodes', async () => {
    assert.equal((await ok(['auth', 'can-i', 'list', 'services', `--as=${CONTROLLER}`])).trim(), 'yes');
    const del = await kube.kubectl(['auth', 'can-i', 'delete', 'nodes', `--as=${CONTROLLER}`]);
    assert.equal(del.stdout.trim(), 'no');
    assert.equal(del.code, 1);
  });

  test('a ServiceAccount token kubeconfig lists services through @kubernetes/client-node, and is refused the rest', async () => {
    const path = await kube.serviceAccountKubeconfig('metallb-system', 'controller');
    const kc = new KubeConfig();
    kc.loadFromFile(path);
    const core = kc.makeApiClient(CoreV1Api);
    const list = await core.listNamespacedService({ namespace: 'default' });
    assert.ok(list.items.some((s) => s.metadata?.name === 'demo-svc'));
    await assert.rejects(core.deleteNode({ name: 'any' }), (err: { code?: number }) => err.code === 403);
    const whoami = await ok(['auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}', '--kubeconfig', path]);
    assert.equal(whoami, CONTROLLER);
  });
});
