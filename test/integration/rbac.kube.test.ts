// Least privilege, both ways, on the real kube-apiserver with the shipped RBAC (the kustomize render of manifests/):
// (a) every API call the controller and the speaker make (USED, read off src/k8s/*.ts) is allowed for their
// ServiceAccount (`kubectl auth can-i … --as=system:serviceaccount:metallb-system:…`), and the code paths run for real
// as the ServiceAccount where cheap; (b) `kubectl auth can-i --list` shows exactly USED, once the rules every
// authenticated user has (measured on a fresh unbound ServiceAccount) are subtracted: nothing granted that the code
// does not call. The last tests apply a widened (a wildcard; one verb more) and a narrowed copy of a ClusterRole and
// show that the checks then fail.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { KubeConfig } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { makeClients } from '../../src/k8s/clients.ts';
import { createEventRecorder } from '../../src/k8s/event-recorder.ts';
import { createL2StatusWriter } from '../../src/k8s/l2-status-writer.ts';
import { leaseApiFor } from '../../src/k8s/leader-election.ts';
import { createSpeakerSources } from '../../src/k8s/speaker-sources.ts';
import { createLogger } from '../../src/log.ts';
import { lbService, pool, waitForAsync } from './harness.ts';
import { KubeLab, NS } from './kube-lab.ts';

type Who = 'controller' | 'speaker';
/** Access is one right: `namespace` '*' is every namespace (a cluster-wide list/watch or any Service's namespace). */
interface Access {
  readonly who: Who;
  readonly verb: string;
  readonly group: string;
  readonly resource: string;
  readonly namespace: string | '*' | null;
  readonly name?: string;
  /** site: where the code makes the call. */
  readonly site: string;
}

const a = (
  who: Who,
  verbs: string[],
  group: string,
  resource: string,
  namespace: string | '*' | null,
  site: string,
  name?: string,
): Access[] => verbs.map((verb) => ({ who, verb, group, resource, namespace, site, ...(name ? { name } : {}) }));

/** USED is every API call of the controller and the speaker, from the code. */
const USED: Access[] = [
  // controller
  ...a('controller', ['list', 'watch'], '', 'services', '*', 'k8s/sources.ts informer /api/v1/services'),
  ...a('controller', ['patch'], '', 'services', '*', 'k8s/status-writer.ts patchServiceAnnotations'),
  ...a('controller', ['patch'], '', 'services/status', '*', 'k8s/status-writer.ts patchNamespacedServiceStatus'),
  ...a('controller', ['list', 'watch'], '', 'namespaces', null, 'k8s/sources.ts informer /api/v1/namespaces'),
  ...a('controller', ['create'], '', 'events', '*', 'k8s/event-recorder.ts createNamespacedEvent'),
  ...a('controller', ['list', 'watch'], 'metallb.io', 'ipaddresspools', NS, 'k8s/sources.ts informer'),
  ...a('controller', ['list', 'watch'], 'metallb.io', 'l2advertisements', NS, 'k8s/sources.ts informer'),
  ...a('controller', ['patch'], 'metallb.io', 'ipaddresspools/status', NS, 'k8s/status-writer.ts pool status'),
  ...a('controller', ['create'], 'coordination.k8s.io', 'leases', NS, 'k8s/leader-election.ts leaseApiFor.create'),
  ...a(
    'controller',
    ['get', 'update'],
    'coordination.k8s.io',
    'leases',
    NS,
    'k8s/leader-election.ts leaseApiFor.get/update',
    'metal-vrrp-controller',
  ),
  // speaker
  ...a('speaker', ['list', 'watch'], '', 'services', '*', 'k8s/speaker-sources.ts informer'),
  ...a('speaker', ['list', 'watch'], '', 'nodes', null, 'k8s/speaker-sources.ts informer'),
  ...a('speaker', ['list', 'watch'], '', 'namespaces', null, 'k8s/speaker-sources.ts informer'),
  ...a('speaker', ['list', 'watch'], 'discovery.k8s.io', 'endpointslices', '*', 'k8s/speaker-sources.ts informer'),
  ...a('speaker', ['create'], '', 'events', '*', 'k8s/event-recorder.ts (cli/speaker-kubernetes.ts)'),
  ...a('speaker', ['list', 'watch'], 'metallb.io', 'ipaddresspools', NS, 'k8s/speaker-sources.ts informer'),
  ...a('speaker', ['list', 'watch'], 'metallb.io', 'l2advertisements', NS, 'k8s/speaker-sources.ts informer'),
  ...a('speaker', ['list', 'watch'], 'metallb.io', 'servicel2statuses', NS, 'k8s/speaker-sources.ts informer'),
  ...a(
    'speaker',
    ['list', 'watch'],
    '',
    'secrets',
    NS,
    'k8s/speaker-sources.ts informer (metal-vrrp.io/auth-secret keys)',
  ),
  ...a(
    'speaker',
    ['create', 'get', 'update', 'delete'],
    'metallb.io',
    'servicel2statuses',
    NS,
    'k8s/l2-status-writer.ts',
  ),
  ...a('speaker', ['update'], 'metallb.io', 'servicel2statuses/status', NS, 'k8s/l2-status-writer.ts putStatus'),
  ...a(
    'speaker',
    ['create', 'patch'],
    'coordination.k8s.io',
    'leases',
    NS,
    'k8s/node-health-lease.ts healthLeaseApi (its health Lease; run in status-health.kube.test.ts)',
  ),
];

const sa = (who: Who) => `system:serviceaccount:${NS}:${who}`;
/** kubectlResource is how `kubectl auth can-i` names a resource: plural.group (core: plural). */
const qualified = (group: string, resource: string) => {
  const [plural, sub] = resource.split('/');
  return (group ? `${plural}.${group}` : plural) + (sub ? `/${sub}` : '');
};

/** canI runs `kubectl auth can-i` for one Access; a namespace '*' is checked in the default namespace and in all. */
async function canI(lab: KubeLab, x: Access, as = sa(x.who)): Promise<boolean> {
  const [plural, sub] = x.resource.split('/') as [string, string | undefined];
  const target = qualified(x.group, plural) + (x.name ? `/${x.name}` : '');
  const args = ['auth', 'can-i', x.verb, target, `--as=${as}`];
  if (sub) args.push(`--subresource=${sub}`);
  const namespaces = x.namespace === '*' ? ['-A', '-n=default'] : x.namespace ? [`-n=${x.namespace}`] : ['-A'];
  for (const ns of namespaces) {
    const res = await lab.server.kubectl([...args, ns]);
    if (res.stdout.trim() !== 'yes') return false;
  }
  return true;
}

/** deniedUsed lists each USED access that can-i refuses. */
async function deniedUsed(lab: KubeLab): Promise<string[]> {
  const out: string[] = [];
  for (const x of USED) if (!(await canI(lab, x))) out.push(`${x.who} ${x.verb} ${x.resource} (${x.site})`);
  return out;
}

/** listRights parses `kubectl auth can-i --list` into "resource[/name] verb" lines (non-resource URLs "url verb"). */
async function listRights(lab: KubeLab, as: string, namespace: string): Promise<Set<string>> {
  const out = await lab.kubectl(['auth', 'can-i', '--list', `--as=${as}`, `-n=${namespace}`]);
  const rights = new Set<string>();
  const lines = out.split('\n').filter((l) => l.trim() !== '');
  assert.match(lines[0] ?? '', /^Resources\s+Non-Resource URLs\s+Resource Names\s+Verbs/);
  for (const line of lines.slice(1)) {
    const m = /^(\S*)\s+\[([^\]]*)\]\s+\[([^\]]*)\]\s+\[([^\]]*)\]\s*$/.exec(line);
    assert.ok(m, `unparsed can-i --list line: ${line}`);
    const [, resource, urls, names, verbs] = m as unknown as [string, string, string, string, string];
    const subjects = resource
      ? (names ? names.split(' ') : ['']).map((n) => (n ? `${resource}/${n}` : resource))
      : urls.split(' ');
    for (const s of subjects) for (const v of verbs.split(' ')) rights.add(`${s} ${v}`);
  }
  return rights;
}

/** expectedRights is what `can-i --list` in `namespace` should show for `who`: USED, nothing else. */
function expectedRights(who: Who, namespace: string): Set<string> {
  const set = new Set<string>();
  for (const x of USED) {
    if (x.who !== who) continue;
    if (x.namespace !== '*' && x.namespace !== null && x.namespace !== namespace) continue;
    set.add(`${qualified(x.group, x.resource)}${x.name ? `/${x.name}` : ''} ${x.verb}`);
  }
  return set;
}

/** extraAndMissing compares the listed rights (less the baseline) with the expected ones, as readable lines. */
async function extraAndMissing(lab: KubeLab, baseline: Map<string, Set<string>>): Promise<string[]> {
  const problems: string[] = [];
  for (const who of ['controller', 'speaker'] as const)
    for (const ns of [NS, 'default']) {
      const base = baseline.get(ns) ?? new Set();
      const got = [...(await listRights(lab, sa(who), ns))].filter((r) => !base.has(r));
      const want = expectedRights(who, ns);
      for (const r of got) if (!want.has(r)) problems.push(`${who} in ${ns}: extra ${r}`);
      for (const r of want) if (!got.includes(r)) problems.push(`${who} in ${ns}: missing ${r}`);
    }
  return problems;
}

const logLines: string[] = [];
const logger = createLogger({ level: 'debug', destination: { write: (l: string) => void logLines.push(l) } });

describe('shipped RBAC: least privilege both ways (real kube-apiserver)', () => {
  let lab: KubeLab;
  /** baseline: per namespace, what a fresh unbound ServiceAccount may do (every authenticated user's rules). */
  const baseline = new Map<string, Set<string>>();
  let renderedRbac: string;

  before(async () => {
    lab = await KubeLab.start('rbac-kube');
    await lab.kubectl(['create', 'serviceaccount', 'rbac-test-unbound', '-n', NS]);
    for (const ns of [NS, 'default'])
      baseline.set(ns, await listRights(lab, `system:serviceaccount:${NS}:rbac-test-unbound`, ns));
    const render = await lab.kubectl(['kustomize', fileURLToPath(new URL('../../manifests', import.meta.url))]);
    renderedRbac = parseAllDocuments(render)
      .map((d) => d.toJS() as { kind: string })
      .filter((o) => /^(Cluster)?Role(Binding)?$/.test(o.kind))
      .map((o) => `---\n${JSON.stringify(o)}\n`)
      .join('');
  });
  after(() => lab?.close());

  test('the baseline is only the rules every authenticated user gets', () => {
    const base = baseline.get(NS) ?? new Set();
    assert.ok(base.has('selfsubjectaccessreviews.authorization.k8s.io create'));
    assert.ok(base.has('selfsubjectrulesreviews.authorization.k8s.io create'));
    assert.ok(base.has('selfsubjectreviews.authentication.k8s.io create'));
    assert.ok(base.has('/version get') && base.has('/api get') && base.has('/healthz get'));
    const allowed =
      /^(selfsubject(access|rules)?reviews\.authori[sz]ation\.k8s\.io create|selfsubjectreviews\.authentication\.k8s\.io create|clustertrustbundles\.certificates\.k8s\.io (get|list|watch)|\/\S* get)$/;
    for (const r of base) assert.match(r, allowed, `baseline right ${r}`);
  });

  test('(a) every call of the code is allowed for its ServiceAccount', async () => {
    assert.deepEqual(await deniedUsed(lab), []);
  });

  test('(a) an unbound ServiceAccount is refused the same calls (the check can say no)', async () => {
    for (const x of USED.slice(0, 3))
      assert.equal(await canI(lab, x, `system:serviceaccount:${NS}:rbac-test-unbound`), false, x.resource);
  });

  test('(b) can-i --list shows nothing beyond USED, and lacks none of it', async () => {
    assert.deepEqual(await extraAndMissing(lab, baseline), []);
  });

  test('the controller runs as its ServiceAccount: informers, Service status, annotations, Events, pool status', async () => {
    await lab.apply(pool('rbac-pool', ['10.171.0.0/30']), lbService('rbac-svc'));
    const c = lab.startController();
    await c.controller.whenReady();
    const ip = await waitForAsync(
      'rbac-svc ingress',
      async () => (await lab.ingress('default', 'rbac-svc'))[0],
      30_000,
    );
    assert.ok(ip.startsWith('10.171.0.'));
    await waitForAsync(
      'annotation',
      async () => (await lab.annotations('default', 'rbac-svc'))['metallb.io/ip-allocated-from-pool'] === 'rbac-pool',
      30_000,
    );
    await waitForAsync(
      'IPAllocated',
      async () => (await lab.events('default', 'rbac-svc', 'IPAllocated')).length > 0,
      30_000,
    );
    await waitForAsync('pool status', async () => (await lab.poolStatus('rbac-pool'))?.['assignedIPv4'] === 1, 30_000);
    assert.doesNotMatch(lab.logs.join(''), /forbidden/i);
    await lab.stopController(c);
  });

  test('the controller Lease: create, get and update as the controller; another name is forbidden', async () => {
    const kc = new KubeConfig();
    kc.loadFromFile(lab.controllerKubeconfig);
    const api = leaseApiFor(kc, NS, 'metal-vrrp-controller');
    await lab.kubectl(['delete', 'lease', 'metal-vrrp-controller', '-n', NS, '--ignore-not-found']);
    const now = Date.now();
    const record = {
      holderIdentity: 'rbac-test',
      leaseDurationSeconds: 15,
      acquireTime: now,
      renewTime: now,
      leaseTransitions: 0,
    };
    const created = await api.create(record);
    const got = await api.get();
    assert.equal(got?.record.holderIdentity, 'rbac-test');
    await api.update({ ...record, renewTime: now + 1000 }, created.resourceVersion);
    const other = leaseApiFor(kc, NS, 'not-the-controller-lease');
    await assert.rejects(other.get(), (err: { code?: number }) => err.code === 403);
  });

  test('the speaker as its ServiceAccount: informers sync, ServiceL2Status create/update/delete, an Event', async () => {
    const kc = new KubeConfig();
    kc.loadFromFile(await lab.server.serviceAccountKubeconfig(NS, 'speaker'));
    const clients = makeClients(kc);
    const sources = createSpeakerSources({ clients, namespace: NS, logger });
    sources.start();
    try {
      await sources.synced();
    } finally {
      await sources.stop();
    }
    const writer = createL2StatusWriter(clients, logger);
    const object = {
      apiVersion: 'metallb.io/v1beta1' as const,
      kind: 'ServiceL2Status' as const,
      metadata: { name: 'l2-rbac', namespace: NS, labels: { 'metallb.io/node': 'n1' } },
      status: { node: 'n1', serviceName: 'rbac-svc', serviceNamespace: 'default' },
    };
    assert.equal(await writer.apply([{ op: 'create', object }]), 0, logLines.join(''));
    const stored = JSON.parse(
      await lab.kubectl(['get', 'servicel2statuses.metallb.io', 'l2-rbac', '-n', NS, '-o', 'json']),
    ) as { metadata: { resourceVersion: string }; status?: { node?: string } };
    assert.equal(stored.status?.node, 'n1');
    const updated = {
      ...object,
      metadata: {
        ...object.metadata,
        annotations: { 'metal-vrrp.io/vips': '10.171.0.1' },
        resourceVersion: stored.metadata.resourceVersion,
      },
      status: { ...object.status, interfaces: [{ name: 'eth1' }] },
    };
    assert.equal(
      await writer.apply([{ op: 'update', object: updated, metadata: true, status: true }]),
      0,
      logLines.join(''),
    );
    const after = JSON.parse(
      await lab.kubectl(['get', 'servicel2statuses.metallb.io', 'l2-rbac', '-n', NS, '-o', 'json']),
    ) as { metadata: { annotations?: Record<string, string> }; status?: { interfaces?: { name: string }[] } };
    assert.equal(after.metadata.annotations?.['metal-vrrp.io/vips'], '10.171.0.1');
    assert.deepEqual(after.status?.interfaces, [{ name: 'eth1' }]);
    assert.equal(await writer.apply([{ op: 'delete', namespace: NS, name: 'l2-rbac' }]), 0, logLines.join(''));
    const left = await lab.kubectl(['get', 'servicel2statuses.metallb.io', '-n', NS, '-o', 'name']);
    assert.equal(left.trim(), '');

    const events = createEventRecorder({ core: clients.core, logger, component: 'metal-vrrp-speaker', instance: 'n1' });
    const svc = await lab.service('default', 'rbac-svc');
    const ref = { kind: 'Service', apiVersion: 'v1', namespace: 'default', name: 'rbac-svc', uid: svc?.metadata?.uid };
    events.record(ref, 'Normal', 'RbacTest', 'from the speaker ServiceAccount');
    await events.flush();
    await waitForAsync(
      'speaker event',
      async () => (await lab.events('default', 'rbac-svc', 'RbacTest')).length > 0,
      30_000,
    );
  });

  test('sensitivity: one verb more in a copy of the controller ClusterRole makes (b) fail; restored, it passes', async () => {
    const wider = renderedRbac.replace(
      /("name":"metal-vrrp:controller"[^\n]*?"resources":\["services"\],"verbs":)\["list","watch","patch"\]/,
      '$1["get","list","watch","patch"]',
    );
    assert.notEqual(wider, renderedRbac, 'the edit applied');
    await lab.kubectl(['apply', '-f', '-'], wider);
    try {
      const problems = await extraAndMissing(lab, baseline);
      assert.deepEqual(problems, [
        'controller in metallb-system: extra services get',
        'controller in default: extra services get',
      ]);
    } finally {
      await lab.kubectl(['apply', '-f', '-'], renderedRbac);
    }
    assert.deepEqual(await extraAndMissing(lab, baseline), []);
  });

  test('sensitivity: a wildcard in a copy of the speaker ClusterRole makes (b) fail; restored, it passes', async () => {
    const wide = renderedRbac.replace(
      /("name":"metal-vrrp:speaker"[^\n]*?"resources":\["services","nodes","namespaces"\],"verbs":)\["list","watch"\]/,
      '$1["*"]',
    );
    assert.notEqual(wide, renderedRbac, 'the edit applied');
    await lab.kubectl(['apply', '-f', '-'], wide);
    try {
      const problems = await extraAndMissing(lab, baseline);
      assert.ok(
        problems.some((p) => /speaker in .*: extra services \*/.test(p)),
        problems.join('\n'),
      );
    } finally {
      await lab.kubectl(['apply', '-f', '-'], renderedRbac);
    }
    assert.deepEqual(await extraAndMissing(lab, baseline), []);
  });

  test('sensitivity: a rule removed from a copy of the controller ClusterRole makes (a) and (b) fail', async () => {
    const narrow = renderedRbac.replace(
      /\{"apiGroups":\[""\],"resources":\["services\/status"\],"verbs":\[[^\]]*\]\},?/,
      '',
    );
    assert.notEqual(narrow, renderedRbac, 'the edit applied');
    await lab.kubectl(['apply', '-f', '-'], narrow);
    try {
      const denied = await deniedUsed(lab);
      assert.deepEqual(denied, [
        'controller patch services/status (k8s/status-writer.ts patchNamespacedServiceStatus)',
      ]);
      const problems = await extraAndMissing(lab, baseline);
      assert.ok(
        problems.some((p) => /controller in .*: missing services\/status patch/.test(p)),
        problems.join('\n'),
      );
    } finally {
      await lab.kubectl(['apply', '-f', '-'], renderedRbac);
    }
    assert.deepEqual(await deniedUsed(lab), []);
  });
});
