// kube-restart.kube.test.ts — lab/kube/server.ts's API outage: stopProcess ends the real kube-apiserver + etcd and
// keeps its data dir, restartProcess brings it back on the same URL; what was stored and the tokens handed out before
// (ServiceAccount TokenRequest tokens, the admin token) still work after it. The network tests' outages rely on this.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type KubeServer, startKubeServer } from '../../lab/kube/server.ts';

let server: KubeServer;

before(async () => {
  server = await startKubeServer({ name: 'kube-restart', installMetalVrrp: true });
});

after(async () => {
  await server?.stop();
});

test('stopProcess is an outage; restartProcess keeps the URL, the data and every token', async () => {
  const controller = await server.serviceAccountKubeconfig('metallb-system', 'controller');
  const created = await server.kubectl(['create', 'configmap', 'kept', '-n', 'default', '--from-literal=a=1']);
  assert.equal(created.code, 0, created.stderr);
  const url = server.url;
  const before = server.pid;

  await server.stopProcess();
  const during = await server.kubectl(['get', 'configmap', 'kept', '-n', 'default', '--request-timeout=3s']);
  assert.notEqual(during.code, 0, 'nothing answers while the process is stopped');

  await server.restartProcess();
  assert.equal(server.url, url);
  assert.notEqual(server.pid, before, 'a new process');
  const kept = await server.kubectl(['get', 'configmap', 'kept', '-n', 'default', '-o', 'jsonpath={.data.a}']);
  assert.equal(kept.code, 0, kept.stderr);
  assert.equal(kept.stdout, '1', 'etcd kept the data');
  const asController = await server.kubectl(['get', 'services', '-A', '-o', 'name'], { kubeconfig: controller });
  assert.equal(asController.code, 0, `the controller's token from before still works: ${asController.stderr}`);
  const refused = await server.kubectl(['delete', 'configmap', 'kept', '-n', 'default'], { kubeconfig: controller });
  assert.notEqual(refused.code, 0, 'and RBAC still applies to it');
});
