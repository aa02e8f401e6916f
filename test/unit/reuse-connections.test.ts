import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HttpMethod, KubeConfig, RequestContext } from '@kubernetes/client-node';
import { reuseConnections } from '../../src/k8s/clients.ts';

function kubeConfig(caData: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: 'https://127.0.0.1:6443', caData }],
    users: [{ name: 'u', token: 't' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return kc;
}

async function agentOf(kc: KubeConfig): Promise<unknown> {
  const ctx = new RequestContext('https://127.0.0.1:6443/api', HttpMethod.GET);
  await kc.applySecurityAuthentication(ctx);
  return ctx.getAgent();
}

test('every request of one kubeconfig gets the same keep-alive agent', async () => {
  const kc = reuseConnections(kubeConfig(Buffer.from('ca one').toString('base64')));
  const first = await agentOf(kc);
  assert.equal(await agentOf(kc), first);
  assert.equal((first as { keepAlive?: boolean }).keepAlive, true);
});

test('a changed CA (rotated credentials) gets a new agent', async () => {
  const kc = reuseConnections(kubeConfig(Buffer.from('ca one').toString('base64')));
  const first = await agentOf(kc);
  const cluster = kc.getCurrentCluster() as { caData?: string };
  cluster.caData = Buffer.from('ca two').toString('base64');
  const second = await agentOf(kc);
  assert.notEqual(second, first);
  assert.equal(await agentOf(kc), second);
});

test('maxFreeSockets bounds the idle connections kept after a burst; unset, Node keeps its default', async () => {
  const bounded = await agentOf(
    reuseConnections(kubeConfig(Buffer.from('ca one').toString('base64')), { maxFreeSockets: 2 }),
  );
  assert.equal((bounded as { maxFreeSockets?: number }).maxFreeSockets, 2);
  assert.equal((bounded as { maxSockets?: number }).maxSockets, 64);
  const plain = await agentOf(reuseConnections(kubeConfig(Buffer.from('ca one').toString('base64'))));
  assert.equal((plain as { maxFreeSockets?: number }).maxFreeSockets, 256);
});
