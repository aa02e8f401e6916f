// The API stand-in (lab/apiserver-standin) speaks the Kubernetes REST protocol as @kubernetes/client-node expects it:
// driven here through the real client only (typed APIs, Watch, ListWatch), never through the store, so a stand-in
// that answered differently from an API server would fail here before it fooled a test that still uses it.
//
// Why the stand-in (and so this file) remains, use by use: the integration tests run on the real kube-apiserver
// except status-cli.test.ts, whose 429 Too Many Requests on named requests a real server cannot be made to give on
// demand. `npm run lab` (lab/cluster.ts) and the network tests (lab/kube/k8s-lab.ts) run on the real server.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  ListWatch,
  PatchStrategy,
  setHeaderOptions,
  type V1Service,
  Watch,
} from '@kubernetes/client-node';
import { type ApiServer, startApiServer } from '../../lab/apiserver-standin/index.ts';
import { waitFor } from './harness.ts';

let server: ApiServer;
let kc: KubeConfig;
let core: CoreV1Api;
let custom: CustomObjectsApi;

const svc = (name: string, labels: Record<string, string> = {}): V1Service => ({
  metadata: { name, labels },
  spec: { type: 'LoadBalancer', ports: [{ name: 'http', port: 80, protocol: 'TCP' }] },
});

/** codeOf is the HTTP status of a failed client call. */
async function codeOf(p: Promise<unknown>): Promise<number | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    return (err as { code?: number }).code;
  }
}

before(async () => {
  server = await startApiServer();
  kc = server.makeKubeConfig();
  core = kc.makeApiClient(CoreV1Api);
  custom = kc.makeApiClient(CustomObjectsApi);
});
after(() => server.close());

describe('API stand-in through client-node', () => {
  test('create, get, list with a label selector; the server defaults Service fields', async () => {
    const created = await core.createNamespacedService({ namespace: 'default', body: svc('p1', { tier: 'a' }) });
    await core.createNamespacedService({ namespace: 'default', body: svc('p2', { tier: 'b' }) });
    assert.ok(created.metadata?.uid);
    assert.match(created.spec?.clusterIP ?? '', /^10\.96\./);
    assert.deepEqual(created.spec?.ipFamilies, ['IPv4']);
    assert.equal(created.spec?.externalTrafficPolicy, 'Cluster');
    const list = await core.listNamespacedService({ namespace: 'default', labelSelector: 'tier in (a)' });
    assert.deepEqual(
      list.items.map((s) => s.metadata?.name),
      ['p1'],
    );
    assert.ok(Number(list.metadata?.resourceVersion) > 0);
    assert.equal(await codeOf(core.readNamespacedService({ namespace: 'default', name: 'nope' })), 404);
    assert.equal(await codeOf(core.createNamespacedService({ namespace: 'default', body: svc('p1') })), 409);
  });

  test('a stale resourceVersion is a 409; a fresh one succeeds', async () => {
    const cur = await core.readNamespacedService({ namespace: 'default', name: 'p1' });
    const stale = { ...cur, metadata: { ...cur.metadata, resourceVersion: '1' } };
    assert.equal(await codeOf(core.replaceNamespacedService({ namespace: 'default', name: 'p1', body: stale })), 409);
    const next = { ...cur, metadata: { ...cur.metadata, labels: { tier: 'c' } } };
    const replaced = await core.replaceNamespacedService({ namespace: 'default', name: 'p1', body: next });
    assert.equal(replaced.metadata?.labels?.['tier'], 'c');
  });

  test('status subresource: /status changes only status, the main endpoint ignores status', async () => {
    const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
    const st = await core.patchNamespacedServiceStatus(
      {
        namespace: 'default',
        name: 'p1',
        body: { metadata: { labels: { ignored: 'x' } }, status: { loadBalancer: { ingress: [{ ip: '192.0.2.1' }] } } },
      },
      merge,
    );
    assert.deepEqual(
      st.status?.loadBalancer?.ingress?.map((i) => i.ip),
      ['192.0.2.1'],
    );
    assert.equal(st.metadata?.labels?.['ignored'], undefined);
    const main = await core.patchNamespacedService(
      {
        namespace: 'default',
        name: 'p1',
        body: { status: { loadBalancer: { ingress: [] } }, metadata: { annotations: { a: 'b' } } },
      },
      merge,
    );
    assert.deepEqual(
      main.status?.loadBalancer?.ingress?.map((i) => i.ip),
      ['192.0.2.1'],
    );
    assert.equal(main.metadata?.annotations?.['a'], 'b');
    const bad = core.patchNamespacedServiceStatus(
      { namespace: 'default', name: 'p1', body: { status: { loadBalancer: { ingress: [{ ip: 'not-an-ip' }] } } } },
      merge,
    );
    assert.equal(await codeOf(bad), 422);
  });

  test('JSON patch and strategic merge patch (ports merged by port)', async () => {
    const json = await core.patchNamespacedService(
      { namespace: 'default', name: 'p2', body: [{ op: 'add', path: '/metadata/labels/j', value: 'yes' }] },
      setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
    );
    assert.equal(json.metadata?.labels?.['j'], 'yes');
    const smp = await core.patchNamespacedService(
      { namespace: 'default', name: 'p2', body: { spec: { ports: [{ port: 443, protocol: 'TCP', name: 'https' }] } } },
      setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
    );
    assert.deepEqual(smp.spec?.ports?.map((p) => p.port).sort(), [443, 80]);
  });

  test('custom resources: CRUD, status, generation, and strategic merge refused (415)', async () => {
    const base = { group: 'metallb.io', version: 'v1beta1', namespace: 'metallb-system', plural: 'ipaddresspools' };
    const created = (await custom.createNamespacedCustomObject({
      ...base,
      body: {
        apiVersion: 'metallb.io/v1beta1',
        kind: 'IPAddressPool',
        metadata: { name: 'cr' },
        spec: { addresses: ['10.0.0.0/30'] },
      },
    })) as { metadata: { generation: number } };
    assert.equal(created.metadata.generation, 1);
    const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
    const st = (await custom.patchNamespacedCustomObjectStatus(
      { ...base, name: 'cr', body: { status: { assignedIPv4: 1 } } },
      merge,
    )) as { metadata: { generation: number }; status: { assignedIPv4: number } };
    assert.equal(st.status.assignedIPv4, 1);
    assert.equal(st.metadata.generation, 1, 'status writes do not bump generation');
    const spec = (await custom.patchNamespacedCustomObject(
      { ...base, name: 'cr', body: { spec: { autoAssign: false } } },
      merge,
    )) as { metadata: { generation: number } };
    assert.equal(spec.metadata.generation, 2);
    const smp = custom.patchNamespacedCustomObject(
      { ...base, name: 'cr', body: { spec: {} } },
      setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
    );
    assert.equal(await codeOf(smp), 415);
    const list = (await custom.listNamespacedCustomObject(base)) as { items: { kind: string }[] };
    assert.equal(list.items[0]?.kind, 'IPAddressPool', 'custom resource list items carry their kind');
  });

  test('core Events are validated as by a real server', async () => {
    const ok = await core.createNamespacedEvent({
      namespace: 'default',
      body: {
        metadata: { name: 'p1.1' },
        involvedObject: { kind: 'Service', namespace: 'default', name: 'p1' },
        reason: 'IPAllocated',
        message: 'm',
        type: 'Normal',
        firstTimestamp: new Date(),
      },
    });
    assert.equal(ok.reason, 'IPAllocated');
    const wrongNs = core.createNamespacedEvent({
      namespace: 'default',
      body: { metadata: { name: 'p1.2' }, involvedObject: { kind: 'Service', namespace: 'other', name: 'p1' } },
    });
    assert.equal(await codeOf(wrongNs), 422);
  });

  test('watch from a resourceVersion: events after it; a compacted one gives ERROR 410', async () => {
    const rv = (await core.listNamespacedService({ namespace: 'default' })).metadata?.resourceVersion ?? '';
    await core.deleteNamespacedService({ namespace: 'default', name: 'p2' });
    const seen: string[] = [];
    const ended = new Promise<void>((resolve) => {
      void new Watch(kc).watch(
        '/api/v1/namespaces/default/services',
        { resourceVersion: rv },
        (type: string, obj: { metadata?: { name?: string } }) => {
          seen.push(`${type} ${obj.metadata?.name}`);
          server.dropWatches();
        },
        () => resolve(),
      );
    });
    await ended;
    assert.deepEqual(seen, ['DELETED p2']);
    server.store.compact();
    await core.createNamespacedService({ namespace: 'default', body: svc('p3') });
    const expired: number[] = [];
    await new Promise<void>((resolve) => {
      void new Watch(kc).watch(
        '/api/v1/namespaces/default/services',
        { resourceVersion: rv },
        (type: string, obj: { code?: number }) => {
          if (type === 'ERROR') expired.push(obj.code ?? 0);
        },
        () => resolve(),
      );
    });
    assert.deepEqual(expired, [410]);
  });

  test("client-node's ListWatch re-lists after 410 and reports deletions it missed", async () => {
    const deleted: string[] = [];
    const lw = new ListWatch(
      '/api/v1/namespaces/default/services',
      new Watch(kc),
      () => core.listNamespacedService({ namespace: 'default' }),
      false,
    );
    lw.on('delete', (o) => deleted.push(o.metadata?.name ?? ''));
    await lw.start();
    await waitFor('watch open', () => server.openWatchCount() > 0);
    await server.stopListening();
    server.store.delete('services', 'default', 'p3');
    server.store.compact();
    await server.startListening();
    await lw.start();
    await waitFor('p3 deleted', () => deleted.includes('p3'));
    await lw.stop();
  });

  test('injected failures: the next N matching requests get the code asked for', async () => {
    server.failNext(2, { code: 500, match: { verb: 'get', resource: 'services' } });
    assert.equal(await codeOf(core.readNamespacedService({ namespace: 'default', name: 'p1' })), 500);
    assert.equal(await codeOf(core.readNamespacedService({ namespace: 'default', name: 'p1' })), 500);
    assert.equal(await codeOf(core.readNamespacedService({ namespace: 'default', name: 'p1' })), undefined);
    assert.equal(server.requests.entries({ verb: 'get', resource: 'services' }).filter((r) => r.injected).length, 2);
  });

  test('an injected 429 carries Retry-After, as the real server sheds load', async () => {
    server.failNext(1, { code: 429, retryAfterSeconds: 3, match: { verb: 'get', resource: 'services' } });
    const err = await core.readNamespacedService({ namespace: 'default', name: 'p1' }).then(
      () => undefined,
      (e: { code?: number; headers?: Record<string, string> }) => e,
    );
    assert.equal(err?.code, 429);
    assert.equal(err?.headers?.['retry-after'], '3');
  });
});
