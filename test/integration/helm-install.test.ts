// helm-install.test.ts — the chart as an operator uses it, with the real helm against the real kube-apiserver of
// lab/kube: install creates every object `helm template` renders, upgrade with a changed value updates them, uninstall
// removes them but leaves the CRDs (Helm never deletes crds/), the kept Namespace and the pools in it, and a second
// install over what is left works.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CHART, HELM, helm, helmSkipReason, helmTemplate, objectKey, REPO } from '../support/helm.ts';
import type { K8sObject } from '../support/kustomize.ts';

/** The parts of lab/kube/server.ts used here (imported at run time: see skipReason). */
interface KubeServer {
  readonly adminKubeconfig: string;
  kubectl(
    args: readonly string[],
    opts?: { input?: string },
  ): Promise<{ readonly code: number; readonly stdout: string; readonly stderr: string }>;
  stop(): Promise<void>;
}
interface KubeModule {
  startKubeServer(opts: { name: string }): Promise<KubeServer>;
  kubeBinary(name: string): string;
}

const KUBE_MODULE = join(REPO, 'lab', 'kube', 'server.ts');
const kube: KubeModule | undefined = existsSync(KUBE_MODULE) ? ((await import(KUBE_MODULE)) as KubeModule) : undefined;

function skipReason(): string | false {
  if (kube === undefined) return `lab/kube/server.ts (the real kube-apiserver launcher) is missing from this checkout`;
  if (kube.kubeBinary('helm') !== HELM) return `lab/kube resolves helm to ${kube.kubeBinary('helm')}, not ${HELM}`;
  if (!existsSync(kube.kubeBinary('kube-lab-apiserver')) && process.getuid?.() !== 0) {
    return 'the kube-apiserver is not built and we are not root: run bash scripts/build-kube.sh';
  }
  return helmSkipReason();
}

const RELEASE = 'metal-vrrp';
const NS = 'metallb-system';
const POOL = `apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: { name: survivor, namespace: ${NS} }
spec: { addresses: [192.0.2.10-192.0.2.20] }
`;

describe('helm install / upgrade / uninstall against the real kube-apiserver', { skip: skipReason() }, () => {
  let server: KubeServer;
  let home = ''; // HELM_*_HOME: a scratch dir, so no user config is read and nothing is written to $HOME
  const helmAt = (args: string[]) =>
    helm([...args, '--kubeconfig', server.adminKubeconfig, '--namespace', NS], {
      HELM_CONFIG_HOME: join(home, 'config'),
      HELM_CACHE_HOME: join(home, 'cache'),
      HELM_DATA_HOME: join(home, 'data'),
    });

  before(async () => {
    home = mkdtempSync(join(tmpdir(), 'mv-helm-home-'));
    server = await (kube as KubeModule).startKubeServer({ name: 'helm-install' });
  });
  after(async () => {
    // stop() waits on an unref'd child and timers: hold the event loop open, or node:test ends the file first.
    const hold = setInterval(() => {}, 1000);
    await server?.stop().finally(() => clearInterval(hold));
    if (home) rmSync(home, { recursive: true, force: true });
  });

  async function kubectl(args: string[], input?: string): Promise<string> {
    const res = await server.kubectl(args, input === undefined ? {} : { input });
    assert.equal(res.code, 0, `kubectl ${args.join(' ')}: ${res.stderr}`);
    return res.stdout;
  }
  /** live gets an object as the server has it, or undefined when it does not exist. */
  async function live(
    o: Pick<K8sObject, 'kind' | 'metadata'> & { apiVersion: string },
  ): Promise<K8sObject | undefined> {
    const group = o.apiVersion.includes('/') ? `.${o.apiVersion.split('/')[0]}` : '';
    const args = ['get', `${o.kind.toLowerCase()}${group}`, o.metadata.name, '-o', 'json'];
    if (o.metadata.namespace !== undefined) args.push('-n', o.metadata.namespace);
    const res = await server.kubectl(args);
    if (res.code !== 0 && /NotFound|not found/.test(res.stderr)) return undefined;
    assert.equal(res.code, 0, `kubectl ${args.join(' ')}: ${res.stderr}`);
    return JSON.parse(res.stdout) as K8sObject;
  }
  const workload = async (kind: string, name: string) =>
    (await live({ apiVersion: 'apps/v1', kind, metadata: { name, namespace: NS } })) as
      | (K8sObject & { spec: { replicas?: number; template: { spec: { containers: { args: string[] }[] } } } })
      | undefined;

  const rendered = skipReason() ? [] : helmTemplate();

  test('install creates every object the chart renders, CRDs first', async () => {
    // As the README says: the release in metallb-system, which --create-namespace makes and the chart then labels.
    const out = helmAt(['install', RELEASE, CHART, '--create-namespace']);
    assert.match(out, /STATUS: deployed/);
    for (const o of rendered) {
      const got = await live(o);
      assert.ok(got, `${objectKey(o)} not created`);
      // Subset: the server adds kubernetes.io/metadata.name to a Namespace.
      for (const [k, v] of Object.entries(o.metadata.labels ?? {}))
        assert.equal(got.metadata.labels?.[k], v, `${objectKey(o)} label ${k}`);
    }
    const ns = await live({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
    assert.equal(ns?.metadata.labels?.['pod-security.kubernetes.io/enforce'], 'privileged');
    const controller = await workload('Deployment', 'controller');
    assert.equal(controller?.spec.replicas, 1);
    assert.deepEqual(controller?.spec.template.spec.containers[0]?.args, [
      'controller',
      '--namespace=$(POD_NAMESPACE)',
    ]);
  });

  test('upgrade with changed values updates the objects in place', async () => {
    const out = helmAt([
      'upgrade',
      RELEASE,
      CHART,
      '--set',
      'controller.replicas=2',
      '--set',
      'logLevel=debug',
      '--set',
      'speaker.tolerateControlPlane=true',
    ]);
    assert.match(out, /REVISION: 2/);
    const controller = await workload('Deployment', 'controller');
    assert.equal(controller?.spec.replicas, 2);
    assert.ok(controller?.spec.template.spec.containers[0]?.args.includes('--log-level=debug'));
    const speaker = (await workload('DaemonSet', 'speaker')) as K8sObject & {
      spec: { template: { spec: { tolerations?: { key: string }[]; containers: { args: string[] }[] } } };
    };
    assert.deepEqual(
      speaker.spec.template.spec.tolerations?.map((t) => t.key),
      ['node-role.kubernetes.io/control-plane'],
    );
    assert.ok(speaker.spec.template.spec.containers[0]?.args.includes('--log-level=debug'));
    assert.match(helmAt(['status', RELEASE]), /STATUS: deployed/);
  });

  test('uninstall removes the templated objects; the CRDs, the Namespace and a pool survive', async () => {
    await kubectl(['apply', '-f', '-'], POOL);
    helmAt(['uninstall', RELEASE]);
    for (const o of rendered) {
      const got = await live(o);
      if (o.kind === 'CustomResourceDefinition' || o.kind === 'Namespace')
        assert.ok(got, `${objectKey(o)} was removed`);
      else assert.equal(got, undefined, `${objectKey(o)} still exists after uninstall`);
    }
    const pool = await live({
      apiVersion: 'metallb.io/v1beta1',
      kind: 'IPAddressPool',
      metadata: { name: 'survivor', namespace: NS },
    });
    assert.ok(pool, 'the IPAddressPool did not survive the uninstall');
    // No release record left (Helm keeps it in a Secret in the release namespace unless --keep-history).
    assert.equal(helmAt(['list', '--short']).trim(), '');
    assert.equal((await kubectl(['get', 'secrets', '-n', NS, '-l', 'owner=helm', '-o', 'name'])).trim(), '');
  });

  test('a second install adopts the kept Namespace, skips the existing CRDs, and the pool is still there', async () => {
    helmAt(['install', RELEASE, CHART]);
    assert.ok(await workload('DaemonSet', 'speaker'));
    const pools = await kubectl(['get', 'ipaddresspools', '-n', NS, '-o', 'name']);
    assert.equal(pools.trim(), 'ipaddresspool.metallb.io/survivor');
  });
});
