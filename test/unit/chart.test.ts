// chart.test.ts — the Helm chart (charts/metal-vrrp) and the kustomize manifests (manifests/) are one source of truth:
// `helm template` with default values must give the same objects as the kustomize render of manifests/, and the chart's
// options the same as the kustomize components, less only Helm's own labels and annotations. The mutation tests below
// show the comparison fails when either side changes alone. Then the values: each lands where it should, every flag
// the chart passes is one the binaries accept, and no value reaches a security setting. All with the real helm
// (scripts/build-helm.sh) and, where the kube lab built it, the real kubectl for kustomize.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { DEFAULT_LOAD_BALANCER_CLASS } from '../../src/model/service-request.ts';
import {
  CHART,
  diffObjects,
  HELM_LABELS,
  HelmError,
  helm,
  helmSkipReason,
  helmTemplate,
  REPO,
  withoutHelmMetadata,
} from '../support/helm.ts';
import { type K8sObject, kustomizeWithComponents, parseManifests } from '../support/kustomize.ts';

// kustomize.ts runs `kubectl` from the PATH: prefer the real, current kubectl that scripts/build-kube.sh builds.
const cacheBin = join(REPO, '.cache', 'bin');
if (existsSync(join(cacheBin, 'kubectl'))) process.env['PATH'] = `${cacheBin}:${process.env['PATH'] ?? ''}`;

const MANIFESTS = join(REPO, 'manifests');
const COMPONENT = {
  controlPlane: join(MANIFESTS, 'components', 'control-plane'),
  prometheus: join(MANIFESTS, 'components', 'prometheus'),
};
const skip = helmSkipReason();
const scratch = mkdtempSync(join(tmpdir(), 'mv-chart-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

function kustomize(components: readonly string[], base = MANIFESTS): K8sObject[] {
  return parseManifests(kustomizeWithComponents(base, components));
}

/** compare is the source-of-truth check: chart rendering and kustomize rendering, less Helm's metadata. */
function compare(chartObjs: readonly K8sObject[], kustomizeObjs: readonly K8sObject[]): string[] {
  return diffObjects(chartObjs.map(withoutHelmMetadata), kustomizeObjs, ['helm template', 'kustomize']);
}

// Each chart option against the kustomize component it stands for.
const variants: { name: string; set: string[]; components: string[] }[] = [
  { name: 'default values = manifests/', set: [], components: [] },
  {
    name: 'speaker.tolerateControlPlane = components/control-plane',
    set: ['speaker.tolerateControlPlane=true'],
    components: [COMPONENT.controlPlane],
  },
  {
    name: 'prometheus.serviceMonitors = components/prometheus',
    set: ['prometheus.serviceMonitors=true'],
    components: [COMPONENT.prometheus],
  },
  {
    name: 'both options = both components',
    set: ['speaker.tolerateControlPlane=true', 'prometheus.serviceMonitors=true'],
    components: [COMPONENT.controlPlane, COMPONENT.prometheus],
  },
];

describe('one source of truth: helm template = kubectl kustomize', { skip }, () => {
  for (const v of variants) {
    test(v.name, () => {
      const chartObjs = helmTemplate(v.set);
      const kustomizeObjs = kustomize(v.components);
      assert.ok(kustomizeObjs.length >= 18, `kustomize rendered only ${kustomizeObjs.length} objects`);
      assert.deepEqual(compare(chartObjs, kustomizeObjs), []);
    });
  }

  test('only Helm bookkeeping is set aside: its labels on every templated object, keep on the Namespace', () => {
    for (const o of helmTemplate()) {
      const labels = o.metadata.labels ?? {};
      if (o.kind === 'CustomResourceDefinition') {
        // crds/ are not templated: no Helm labels, so they compare as they are.
        for (const k of HELM_LABELS) assert.equal(labels[k], undefined, `${o.metadata.name} ${k}`);
      } else {
        assert.equal(labels['app.kubernetes.io/managed-by'], 'Helm', `${o.kind}/${o.metadata.name}`);
      }
    }
    const ns = helmTemplate().find((o) => o.kind === 'Namespace') as K8sObject & {
      metadata: { annotations?: Record<string, string> };
    };
    assert.deepEqual(ns.metadata.annotations, { 'helm.sh/resource-policy': 'keep' });
  });
});

/** mutated copies a folder into the scratch dir, applies edit to one file of the copy, and returns the copy. */
function mutated(dir: string, name: string, file: string, edit: (text: string) => string): string {
  const copy = join(scratch, name);
  cpSync(dir, copy, { recursive: true });
  const path = join(copy, file);
  const before = readFileSync(path, 'utf8');
  const after = edit(before);
  assert.notEqual(after, before, `the mutation of ${file} changed nothing`);
  writeFileSync(path, after);
  return copy;
}

describe('the comparison fails when one side changes alone', { skip }, () => {
  test('a chart template changed without the manifests', () => {
    const chart = mutated(CHART, 'chart-template', 'templates/speaker.yaml', (t) =>
      t.replace('maxUnavailable: 1', 'maxUnavailable: 2'),
    );
    assert.deepEqual(compare(helmTemplate([], chart), kustomize([])), [
      'DaemonSet/metallb-system/speaker .spec.updateStrategy.rollingUpdate.maxUnavailable: 2 (helm template) != 1 (kustomize)',
    ]);
  });

  test("a chart CRD changed without the manifests' CRD", () => {
    const chart = mutated(CHART, 'chart-crd', 'crds/metallb.io_ipaddresspools.yaml', (t) =>
      t.replace('default: true', 'default: false'),
    );
    const diff = compare(helmTemplate([], chart), kustomize([]));
    assert.equal(diff.length, 1, diff.join('\n'));
    assert.match(diff[0]!, /^CustomResourceDefinition\/\/ipaddresspools\.metallb\.io .*autoAssign\.default: false/);
  });

  test('a manifest changed without the chart', () => {
    const manifests = mutated(MANIFESTS, 'manifests', 'rbac/speaker.yaml', (t) =>
      t.replace('verbs: [create, get, update, delete, list, watch]', 'verbs: [create, update, get, list]'),
    );
    const diff = compare(helmTemplate(), kustomize([], manifests));
    assert.ok(diff.length > 0);
    for (const line of diff) assert.match(line, /^Role\/metallb-system\/metal-vrrp-speaker \.rules\[1\]\.verbs/);
  });

  test('a component changed without the chart', () => {
    const manifests = mutated(MANIFESTS, 'components', 'components/prometheus/servicemonitors.yaml', (t) =>
      t.replace('interval: 15s', 'interval: 30s'),
    );
    const diff = compare(
      helmTemplate(['prometheus.serviceMonitors=true']),
      kustomize([join(manifests, 'components', 'prometheus')], manifests),
    );
    assert.deepEqual(diff, [
      'ServiceMonitor/metallb-system/controller .spec.endpoints[0].interval: "15s" (helm template) != "30s" (kustomize)',
    ]);
  });
});

describe('helm lint', { skip }, () => {
  test('--strict is clean with the default values and with every option set', () => {
    for (const set of [[], ALL_VALUES]) {
      const args = ['lint', '--strict', CHART];
      for (const s of set) args.push('--set', s);
      const out = helm(args);
      assert.match(out, /1 chart\(s\) linted, 0 chart\(s\) failed/);
      assert.doesNotMatch(out, /\[(WARNING|ERROR)\]/);
    }
  });
});

// Every value changed from its default (leader election stays on: two replicas need it).
const ALL_VALUES = [
  'image.repository=registry.example/mv',
  'image.tag=1.2.3',
  'image.pullPolicy=Always',
  'namespace=lb',
  'logLevel=debug',
  'loadBalancerClass=example.com/lb',
  'metrics.port=9472',
  'controller.replicas=2',
  'controller.resources.limits.cpu=1',
  'speaker.nodeSelector.role=edge',
  'speaker.tolerateControlPlane=true',
  'speaker.tolerations[0].key=dedicated',
  'speaker.tolerations[0].operator=Exists',
  'speaker.resources.requests.cpu=200m',
  'prometheus.serviceMonitors=true',
];

interface Container {
  image: string;
  imagePullPolicy?: string;
  args: string[];
  ports: { containerPort: number }[];
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext: unknown;
}
interface Workload extends K8sObject {
  spec: {
    replicas?: number;
    template: {
      spec: {
        nodeSelector?: Record<string, string>;
        tolerations?: unknown[];
        securityContext: unknown;
        containers: Container[];
      };
    };
  };
}
function find<T extends K8sObject>(objs: readonly K8sObject[], kind: string, name: string): T {
  const o = objs.find((x) => x.kind === kind && x.metadata.name === name);
  assert.ok(o, `${kind}/${name} not rendered`);
  return o as T;
}
const pod = (w: Workload) => w.spec.template.spec;
const container = (w: Workload) => pod(w).containers[0]!;

describe('values', { skip }, () => {
  const base = skip ? [] : helmTemplate();
  const all = skip ? [] : helmTemplate(ALL_VALUES);

  test('every value lands where it should', () => {
    const controller = find<Workload>(all, 'Deployment', 'controller');
    const speaker = find<Workload>(all, 'DaemonSet', 'speaker');
    for (const w of [controller, speaker]) {
      assert.equal(container(w).image, 'registry.example/mv:1.2.3');
      assert.equal(container(w).imagePullPolicy, 'Always');
      assert.deepEqual(
        container(w).args.filter((a) => /^--(lb-class|metrics-port|log-level)=/.test(a)),
        ['--lb-class=example.com/lb', '--metrics-port=9472', '--log-level=debug'],
      );
      assert.deepEqual(
        container(w).ports.map((p) => p.containerPort),
        [9472],
      );
    }
    assert.equal(controller.spec.replicas, 2);
    assert.deepEqual(container(controller).resources?.limits, { cpu: 1, memory: '256Mi' });
    assert.deepEqual(pod(speaker).nodeSelector, { 'kubernetes.io/os': 'linux', role: 'edge' });
    assert.deepEqual(pod(speaker).tolerations, [
      { key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' },
      { key: 'dedicated', operator: 'Exists' },
    ]);
    assert.deepEqual(container(speaker).resources?.requests, { cpu: '200m', memory: '64Mi' });
    for (const name of ['controller-metrics', 'speaker-metrics']) {
      const svc = find<K8sObject & { spec: { ports: { port: number }[] } }>(all, 'Service', name);
      assert.deepEqual(
        svc.spec.ports.map((p) => p.port),
        [9472],
      );
    }
  });

  test('namespace moves every namespaced object, the RBAC subjects and the ServiceMonitor selectors', () => {
    assert.ok(find(all, 'Namespace', 'lb'));
    const clusterScoped = new Set(['Namespace', 'CustomResourceDefinition', 'ClusterRole', 'ClusterRoleBinding']);
    for (const o of all) {
      if (!clusterScoped.has(o.kind)) assert.equal(o.metadata.namespace, 'lb', `${o.kind}/${o.metadata.name}`);
      for (const s of (o['subjects'] ?? []) as { namespace: string }[]) assert.equal(s.namespace, 'lb');
    }
    for (const name of ['controller', 'speaker']) {
      const m = find<K8sObject & { spec: { namespaceSelector: unknown } }>(all, 'ServiceMonitor', name);
      assert.deepEqual(m.spec.namespaceSelector, { matchNames: ['lb'] });
    }
  });

  test('createNamespace=false renders no Namespace (an existing one is used)', () => {
    const objs = helmTemplate(['createNamespace=false']);
    assert.equal(objs.filter((o) => o.kind === 'Namespace').length, 0);
    assert.equal(objs.length, base.length - 1);
  });

  test('leader election off passes --leader-elect=false, and the chart refuses a second replica without it', () => {
    const objs = helmTemplate(['controller.leaderElection.enabled=false']);
    assert.ok(container(find<Workload>(objs, 'Deployment', 'controller')).args.includes('--leader-elect=false'));
    assert.throws(
      () => helmTemplate(['controller.leaderElection.enabled=false', 'controller.replicas=2']),
      (err: unknown) => err instanceof HelmError && /needs controller\.leaderElection\.enabled/.test(err.stderr),
    );
  });

  test('the defaults name what the binaries default to, so no default value needs a flag', () => {
    const values = parseYaml(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as {
      metrics: { port: number };
      loadBalancerClass: string;
      logLevel: string;
    };
    // Empty strings stand for the binaries' defaults; the port is the one both bind without --metrics-port.
    assert.equal(values.loadBalancerClass, '');
    assert.equal(values.logLevel, '');
    assert.equal(values.metrics.port, 7472);
    const sameClass = helmTemplate([`loadBalancerClass=${DEFAULT_LOAD_BALANCER_CLASS}`]);
    assert.ok(
      container(find<Workload>(sameClass, 'DaemonSet', 'speaker')).args.includes(
        `--lb-class=${DEFAULT_LOAD_BALANCER_CLASS}`,
      ),
    );
  });

  test('every flag the chart can pass is one the binary accepts (its --help lists it)', () => {
    const flagsOff = helmTemplate([
      'controller.leaderElection.enabled=false',
      'logLevel=warn',
      'loadBalancerClass=x',
      'metrics.port=1',
    ]);
    for (const [kind, name, command] of [
      ['Deployment', 'controller', 'controller'],
      ['DaemonSet', 'speaker', 'speaker'],
    ] as const) {
      const help = spawnSync(process.execPath, [join(REPO, 'bin', 'metal-vrrp.js'), command, '--help'], {
        encoding: 'utf8',
        timeout: 60_000,
      });
      assert.equal(help.status, 0, help.stderr);
      const args = [
        ...container(find<Workload>(all, kind, name)).args,
        ...container(find<Workload>(flagsOff, kind, name)).args,
      ];
      const flags = new Set(args.filter((a) => a.startsWith('--')).map((a) => a.split('=')[0]!));
      assert.ok(flags.size >= 4, `${name}: ${[...flags].join(' ')}`);
      for (const flag of flags) assert.match(help.stdout, new RegExp(`${flag}\\b`), `${command} --help has no ${flag}`);
      assert.equal(container(find<Workload>(flagsOff, kind, name)).args[0], command);
    }
  });

  test('no value reaches a security setting: with every value set they are those of the defaults', () => {
    for (const [kind, name] of [
      ['Deployment', 'controller'],
      ['DaemonSet', 'speaker'],
    ] as const) {
      const a = find<Workload>(base, kind, name);
      const b = find<Workload>(all, kind, name);
      assert.deepEqual(container(b).securityContext, container(a).securityContext, name);
      assert.deepEqual(pod(b).securityContext, pod(a).securityContext, name);
    }
    const speaker = container(find<Workload>(all, 'DaemonSet', 'speaker')).securityContext as {
      capabilities: { add: string[]; drop: string[] };
      privileged: boolean;
      allowPrivilegeEscalation: boolean;
    };
    assert.deepEqual(speaker.capabilities, { drop: ['ALL'], add: ['NET_RAW', 'NET_ADMIN'] });
    assert.equal(speaker.privileged, false);
    assert.equal(speaker.allowPrivilegeEscalation, false);
  });

  test('a value the chart does not know is refused, so a security override cannot pass silently', () => {
    for (const set of [
      'speaker.securityContext.privileged=true',
      'speaker.capabilities[0]=SYS_ADMIN',
      'controller.podSecurityContext.runAsUser=0',
      'hostPID=true',
      'logLevel=verbose',
      'metrics.port=70000',
    ]) {
      assert.throws(
        () => helmTemplate([set]),
        (err: unknown) => err instanceof HelmError && /schema|values don't meet/i.test(err.stderr),
        set,
      );
    }
  });
});

describe('README', () => {
  test('the Helm values table lists exactly the values of values.yaml, with their defaults', () => {
    const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
    const start = readme.indexOf('\n### Helm\n');
    assert.ok(start >= 0, 'README has no "### Helm" section');
    const lines = readme.slice(start).split('\n');
    const first = lines.findIndex((l) => l.startsWith('| value'));
    assert.ok(first >= 0, 'no values table under ### Helm');
    const rows = new Map<string, string>(); // value -> default cell
    for (const line of lines.slice(first + 2)) {
      if (!line.startsWith('|')) break;
      const [key, def] = line
        .split('|')
        .slice(1, 3)
        .map((c) => c.trim());
      rows.set(key!.replaceAll('`', ''), def!);
    }
    const values = parseYaml(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as Record<string, unknown>;
    const leaves = new Map<string, unknown>(); // dotted key -> default
    // Free-form maps (resources, nodeSelector) are one value each, as are lists.
    const flatten = (o: Record<string, unknown>, prefix: string) => {
      for (const [k, v] of Object.entries(o)) {
        const key = `${prefix}${k}`;
        if (typeof v === 'object' && v !== null && !Array.isArray(v) && !['resources', 'nodeSelector'].includes(k))
          flatten(v as Record<string, unknown>, `${key}.`);
        else leaves.set(key, v);
      }
    };
    flatten(values, '');
    assert.deepEqual([...rows.keys()].sort(), [...leaves.keys()].sort());
    for (const [key, v] of leaves) {
      if (typeof v === 'object' && !Array.isArray(v)) continue; // a map: described in words
      const want = typeof v === 'string' && v !== '' ? `\`${v}\`` : `\`${JSON.stringify(v)}\``;
      assert.equal(rows.get(key), want, key);
    }
  });
});
