// manifests.test.ts — renders manifests/ with kustomize and checks what a reviewer would: objects parse, custom
// objects validate against our CRDs (which restate MetalLB's metallb.io/v1beta1 API), least-privilege RBAC, the
// speaker's capabilities and probes, and the opt-in components. Built-in kinds against the Kubernetes OpenAPI schema:
// manifests-openapi.test.ts; the Grafana dashboard against src/metrics.ts: manifests-dashboard.test.ts.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';
import { parse as parseYaml } from 'yaml';
import { NODE_HEALTH_LEASE_PREFIX } from '../../src/model/node-health-report.ts';
import {
  type K8sObject,
  kubectlAvailable,
  kustomizeBuild,
  kustomizeWithComponents,
  parseManifests,
  type Renderer,
  renderKustomization,
} from '../support/kustomize.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const manifests = join(root, 'manifests');
const NS = 'metallb-system';
const IMAGE = 'ghcr.io/metal-vrrp/metal-vrrp:0.1.0';

const COMPONENTS = [join(manifests, 'components/control-plane'), join(manifests, 'components/prometheus')];
const base = parseManifests(kustomizeBuild(manifests));
const withComponents = parseManifests(kustomizeWithComponents(manifests, COMPONENTS));

// --- shapes of the parts read below (rendered YAML is untyped; these are checked by the assertions) ---

interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: { name: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
  ports?: { name?: string; containerPort: number; protocol?: string }[];
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: SecurityContext;
}
interface Probe {
  httpGet?: { path: string; port: number | string };
}
interface SecurityContext {
  privileged?: boolean;
  allowPrivilegeEscalation?: boolean;
  readOnlyRootFilesystem?: boolean;
  runAsNonRoot?: boolean;
  runAsUser?: number;
  capabilities?: { add?: string[]; drop?: string[] };
  seccompProfile?: { type: string };
}
interface PodSpec {
  serviceAccountName?: string;
  hostNetwork?: boolean;
  dnsPolicy?: string;
  terminationGracePeriodSeconds?: number;
  securityContext?: SecurityContext;
  tolerations?: { key?: string; operator?: string; effect?: string }[];
  containers: Container[];
}
interface Workload extends K8sObject {
  spec: {
    replicas?: number;
    strategy?: { type: string };
    updateStrategy?: { type: string; rollingUpdate?: { maxUnavailable?: number | string; maxSurge?: number | string } };
    selector: { matchLabels: Record<string, string> };
    template: { metadata: { labels: Record<string, string> }; spec: PodSpec };
  };
}
interface Rule {
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
  verbs: string[];
}
interface Binding extends K8sObject {
  roleRef: { kind: string; name: string };
  subjects: { kind: string; name: string; namespace?: string }[];
}
interface Schema {
  type?: string;
  format?: string;
  default?: unknown;
  required?: string[];
  properties?: Record<string, Schema>;
  items?: Schema;
  additionalProperties?: Schema | boolean;
  'x-kubernetes-validations'?: { rule: string; message?: string }[];
  'x-kubernetes-preserve-unknown-fields'?: boolean;
}
interface Crd extends K8sObject {
  spec: {
    group: string;
    scope: string;
    names: { kind: string; plural: string };
    versions: {
      name: string;
      served: boolean;
      storage: boolean;
      subresources?: { status?: object };
      schema: { openAPIV3Schema: Schema };
    }[];
  };
}

function all(objs: readonly K8sObject[], kind: string): K8sObject[] {
  return objs.filter((o) => o.kind === kind);
}
function one<T extends K8sObject>(objs: readonly K8sObject[], kind: string, name: string): T {
  const found = objs.filter((o) => o.kind === kind && o.metadata.name === name);
  assert.equal(found.length, 1, `${kind}/${name}: expected exactly one, found ${found.length}`);
  return found[0] as T;
}
function container(w: Workload): Container {
  assert.equal(w.spec.template.spec.containers.length, 1, `${w.kind}/${w.metadata.name}: one container`);
  return w.spec.template.spec.containers[0]!;
}
/** walk calls fn for every key/value pair in a JSON value, with the path to it. */
function walk(v: unknown, fn: (key: string, value: unknown, path: string) => void, path = ''): void {
  if (Array.isArray(v)) {
    for (const [i, x] of v.entries()) walk(x, fn, `${path}[${i}]`);
  } else if (typeof v === 'object' && v !== null) {
    for (const [k, x] of Object.entries(v)) {
      fn(k, x, `${path}.${k}`);
      walk(x, fn, `${path}.${k}`);
    }
  }
}

// --- rendering ---

test('base renders: Namespace, 3 CRDs, RBAC, 2 ServiceAccounts, controller, speaker, 2 metrics Services', () => {
  const kinds = base.map((o) => `${o.kind}/${o.metadata.name}`).sort();
  assert.deepEqual(kinds, [
    'ClusterRole/metal-vrrp:controller',
    'ClusterRole/metal-vrrp:speaker',
    'ClusterRoleBinding/metal-vrrp:controller',
    'ClusterRoleBinding/metal-vrrp:speaker',
    'CustomResourceDefinition/ipaddresspools.metallb.io',
    'CustomResourceDefinition/l2advertisements.metallb.io',
    'CustomResourceDefinition/servicel2statuses.metallb.io',
    'DaemonSet/speaker',
    'Deployment/controller',
    'Namespace/metallb-system',
    'Role/metal-vrrp-controller',
    'Role/metal-vrrp-speaker',
    'RoleBinding/metal-vrrp-controller',
    'RoleBinding/metal-vrrp-speaker',
    'Service/controller-metrics',
    'Service/speaker-metrics',
    'ServiceAccount/controller',
    'ServiceAccount/speaker',
    'ValidatingAdmissionPolicy/metal-vrrp-speaker-leases',
    'ValidatingAdmissionPolicyBinding/metal-vrrp-speaker-leases',
  ]);
});

/** byName sorts objects by kind, namespace and name, so two renderings compare whatever order each emits. */
function byName(objs: readonly K8sObject[]): K8sObject[] {
  const key = (o: K8sObject) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
  return [...objs].sort((a, b) => key(a).localeCompare(key(b)));
}

test('the built-in renderer (machines without kubectl) gives the same objects as kubectl kustomize', {
  skip: kubectlAvailable() ? false : 'kubectl is not installed here: nothing to compare with',
}, () => {
  const renderings: [string, (r: Renderer) => string][] = [
    ['base', (r) => kustomizeBuild(manifests, r)],
    ['with both components', (r) => kustomizeWithComponents(manifests, COMPONENTS, r)],
  ];
  for (const [what, render] of renderings) {
    const kubectl = byName(parseManifests(render('kubectl')));
    const builtIn = byName(parseManifests(render('built-in')));
    assert.deepEqual(builtIn, kubectl, what);
  }
});

test('the built-in renderer refuses a kustomize feature it does not implement', () => {
  const dir = mkdtempSync(join(tmpdir(), 'metal-vrrp-kustomize-'));
  try {
    writeFileSync(join(dir, 'kustomization.yaml'), 'kind: Kustomization\ncommonLabels: { a: b }\n');
    assert.throws(() => renderKustomization(dir), /"commonLabels" is not supported here/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('namespaced objects are in metallb-system, which allows the privileged speaker', () => {
  const clusterScoped = new Set(['Namespace', 'CustomResourceDefinition', 'ClusterRole', 'ClusterRoleBinding']);
  for (const o of [...base, ...withComponents]) {
    if (clusterScoped.has(o.kind)) assert.equal(o.metadata.namespace, undefined, `${o.kind}/${o.metadata.name}`);
    else assert.equal(o.metadata.namespace, NS, `${o.kind}/${o.metadata.name}`);
  }
  const ns = one(base, 'Namespace', NS);
  assert.equal(ns.metadata.labels?.['pod-security.kubernetes.io/enforce'], 'privileged');
});

test('every container uses the image set by kustomize images:', () => {
  for (const w of [...all(base, 'Deployment'), ...all(base, 'DaemonSet')] as Workload[]) {
    assert.equal(container(w).image, IMAGE, `${w.kind}/${w.metadata.name}`);
  }
});

// --- CRDs: MetalLB's API contract ---

/** shape summarises a schema: `string[]`, `boolean=true`, `integer(int64)`, `map<string>`; `key?` = optional. */
function shape(s: Schema): unknown {
  if (s.type === 'array') {
    const item = shape(s.items ?? {});
    return typeof item === 'string' ? `${item}[]` : [item];
  }
  if (s.type === 'object' && s.properties) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(s.properties)) out[s.required?.includes(k) ? k : `${k}?`] = shape(v);
    return out;
  }
  if (s.type === 'object' && typeof s.additionalProperties === 'object') {
    return `map<${shape(s.additionalProperties)}>`;
  }
  let t = s.type ?? 'untyped';
  if (s.format) t += `(${s.format})`;
  if (s.default !== undefined) t += `=${JSON.stringify(s.default)}`;
  return t;
}

const labelSelector = {
  'matchExpressions?': [{ key: 'string', operator: 'string', 'values?': 'string[]' }],
  'matchLabels?': 'map<string>',
};
const typeMeta = { 'apiVersion?': 'string', 'kind?': 'string', 'metadata?': 'object' };
const crdShapes: Record<string, unknown> = {
  'ipaddresspools.metallb.io': {
    ...typeMeta,
    spec: {
      addresses: 'string[]',
      'autoAssign?': 'boolean=true',
      'avoidBuggyIPs?': 'boolean=false',
      'serviceAllocation?': {
        'priority?': 'integer',
        'namespaces?': 'string[]',
        'namespaceSelectors?': [labelSelector],
        'serviceSelectors?': [labelSelector],
      },
    },
    'status?': {
      assignedIPv4: 'integer(int64)',
      assignedIPv6: 'integer(int64)',
      availableIPv4: 'integer(int64)',
      availableIPv6: 'integer(int64)',
    },
  },
  'l2advertisements.metallb.io': {
    ...typeMeta,
    'spec?': {
      'ipAddressPools?': 'string[]',
      'ipAddressPoolSelectors?': [labelSelector],
      'nodeSelectors?': [labelSelector],
      'preferredNodeSelectors?': [{ preference: labelSelector, weight: 'integer(int32)' }],
      'interfaces?': 'string[]',
    },
    'status?': 'object',
  },
  'servicel2statuses.metallb.io': {
    ...typeMeta,
    'spec?': 'object',
    'status?': {
      'node?': 'string',
      'serviceName?': 'string',
      'serviceNamespace?': 'string',
      'interfaces?': [{ 'name?': 'string' }],
    },
  },
};

for (const [name, expected] of Object.entries(crdShapes)) {
  test(`CRD ${name} has MetalLB's v1beta1 schema, a status subresource and a structural schema`, () => {
    const crd = one<Crd>(base, 'CustomResourceDefinition', name);
    assert.equal(crd.spec.group, 'metallb.io');
    assert.equal(crd.spec.scope, 'Namespaced');
    assert.equal(crd.spec.versions.length, 1);
    const v = crd.spec.versions[0]!;
    assert.deepEqual([v.name, v.served, v.storage], ['v1beta1', true, true]);
    assert.deepEqual(v.subresources?.status, {});
    assert.deepEqual(shape(v.schema.openAPIV3Schema), expected);
    // Structural schema (apiextensions.k8s.io/v1 requires it): every node says its type.
    walk(v.schema.openAPIV3Schema, (key, value, path) => {
      if (key === 'properties') {
        for (const [k, s] of Object.entries(value as Record<string, Schema>))
          assert.ok(s.type, `${path}.${k}: no type`);
      }
      if (key === 'items') assert.ok((value as Schema).type, `${path}: no type`);
    });
  });
}

test('L2Advertisement preferredNodeSelectors weight is bounded to 1..100, as in MetalLB', () => {
  const crd = one<Crd>(base, 'CustomResourceDefinition', 'l2advertisements.metallb.io');
  const spec = crd.spec.versions[0]!.schema.openAPIV3Schema.properties?.spec;
  const weight = spec?.properties?.preferredNodeSelectors?.items?.properties?.weight as
    | (Schema & { minimum?: number; maximum?: number })
    | undefined;
  assert.deepEqual([weight?.minimum, weight?.maximum], [1, 100]);
});

test('ServiceL2Status node, serviceName and serviceNamespace are immutable, as in MetalLB', () => {
  const crd = one<Crd>(base, 'CustomResourceDefinition', 'servicel2statuses.metallb.io');
  const status = crd.spec.versions[0]!.schema.openAPIV3Schema.properties?.['status']?.properties ?? {};
  for (const field of ['node', 'serviceName', 'serviceNamespace']) {
    assert.deepEqual(status[field]?.['x-kubernetes-validations'], [
      { rule: 'self == oldSelf', message: 'Value is immutable' },
    ]);
  }
});

/**
 * strictSchema copies a CRD schema and closes every object that lists its fields, as `kubectl apply` does with
 * server-side strict field validation (unknown fields are errors). metadata stays open: the API server checks it.
 */
function strictSchema(s: Schema, path = ''): Schema {
  const out: Schema = { ...s };
  if (s.properties) {
    out.properties = Object.fromEntries(
      Object.entries(s.properties).map(([k, v]) => [
        k,
        path === '' && k === 'metadata' ? v : strictSchema(v, `${path}.${k}`),
      ]),
    );
  }
  if (s.items) out.items = strictSchema(s.items, `${path}[]`);
  if (s.type === 'object' && s.additionalProperties === undefined && !s['x-kubernetes-preserve-unknown-fields']) {
    out.additionalProperties = false;
  }
  return out;
}

function crdValidators(objs: readonly K8sObject[]): Map<string, ValidateFunction> {
  const ajv = new Ajv({ allErrors: true });
  for (const keyword of [
    'x-kubernetes-validations',
    'x-kubernetes-list-type',
    'x-kubernetes-map-type',
    'x-kubernetes-preserve-unknown-fields',
  ]) {
    ajv.addKeyword({ keyword });
  }
  ajv.addFormat('int64', { type: 'number', validate: (n: number) => Number.isSafeInteger(n) });
  ajv.addFormat('int32', { type: 'number', validate: (n: number) => Number.isInteger(n) && Math.abs(n) < 2 ** 31 });
  const out = new Map<string, ValidateFunction>(); // "group/version Kind" -> validator
  for (const crd of all(objs, 'CustomResourceDefinition') as Crd[]) {
    for (const v of crd.spec.versions) {
      const key = `${crd.spec.group}/${v.name} ${crd.spec.names.kind}`;
      out.set(key, ajv.compile(strictSchema(v.schema.openAPIV3Schema)));
    }
  }
  return out;
}
const validators = crdValidators(base);

function validate(obj: unknown): string[] {
  const o = obj as K8sObject;
  const v = validators.get(`${o.apiVersion} ${o.kind}`);
  assert.ok(v, `no CRD for ${o.apiVersion} ${o.kind}`);
  return v(obj) ? [] : (v.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
}

const seedDir = join(root, 'lab/seed');
const seed = (file: string) => parseYaml(readFileSync(join(seedDir, file), 'utf8')) as K8sObject;

test('seed fixtures: the pool and the advertisement validate against our CRDs; the Service is a LoadBalancer', () => {
  const pool = seed('ip-pool.yaml');
  const adv = seed('advertise.yaml');
  assert.deepEqual(validate(pool), []);
  assert.deepEqual(validate(adv), []);
  assert.deepEqual((adv as unknown as { spec: { ipAddressPools: string[] } }).spec.ipAddressPools, [
    pool.metadata.name,
  ]);
  const svc = seed('demoLB.yaml') as unknown as { apiVersion: string; kind: string; spec: { type: string } };
  assert.deepEqual([svc.apiVersion, svc.kind, svc.spec.type], ['v1', 'Service', 'LoadBalancer']);
});

const meta = { name: 'x', namespace: NS };
const pool = (spec: unknown, extra: object = {}) => ({
  apiVersion: 'metallb.io/v1beta1',
  kind: 'IPAddressPool',
  metadata: meta,
  spec,
  ...extra,
});
const l2 = (spec: unknown) => ({ apiVersion: 'metallb.io/v1beta1', kind: 'L2Advertisement', metadata: meta, spec });
const l2status = (status: unknown) => ({
  apiVersion: 'metallb.io/v1beta1',
  kind: 'ServiceL2Status',
  metadata: meta,
  status,
});
const selector = { matchLabels: { zone: 'a' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['web'] }] };

const validObjects: [string, unknown][] = [
  ['pool: CIDR, range and IPv6', pool({ addresses: ['10.0.0.0/24', '10.1.0.1-10.1.0.9', 'fd00::/120'] })],
  [
    'pool: every MetalLB field',
    pool({
      addresses: ['10.0.0.0/24'],
      autoAssign: false,
      avoidBuggyIPs: true,
      serviceAllocation: {
        priority: 10,
        namespaces: ['web'],
        namespaceSelectors: [selector],
        serviceSelectors: [selector],
      },
    }),
  ],
  [
    'pool with status',
    pool(
      { addresses: ['10.0.0.0/30'] },
      { status: { assignedIPv4: 1, assignedIPv6: 0, availableIPv4: 3, availableIPv6: 0 } },
    ),
  ],
  ['l2: empty spec (every pool)', l2({})],
  [
    'l2: every MetalLB field',
    l2({ ipAddressPools: ['a'], ipAddressPoolSelectors: [selector], nodeSelectors: [selector], interfaces: ['eth0'] }),
  ],
  [
    'servicel2status',
    l2status({ node: 'n1', serviceName: 'demo', serviceNamespace: 'default', interfaces: [{ name: 'eth0' }] }),
  ],
];
for (const [name, obj] of validObjects) {
  test(`valid: ${name}`, () => assert.deepEqual(validate(obj), []));
}

const invalidObjects: [string, unknown, RegExp][] = [
  ['pool: addresses is a number', pool({ addresses: 5 }), /\/spec\/addresses must be array/],
  ['pool: no addresses', pool({}), /must have required property 'addresses'/],
  [
    'pool: no spec',
    { apiVersion: 'metallb.io/v1beta1', kind: 'IPAddressPool', metadata: meta },
    /required property 'spec'/,
  ],
  ['pool: address is not a string', pool({ addresses: [10] }), /\/spec\/addresses\/0 must be string/],
  ['pool: autoAssign is a string', pool({ addresses: [], autoAssign: 'yes' }), /autoAssign must be boolean/],
  ['pool: misspelt field', pool({ addresses: [], adresses: [] }), /must NOT have additional properties/],
  [
    'pool: priority is a string',
    pool({ addresses: [], serviceAllocation: { priority: '1' } }),
    /priority must be integer/,
  ],
  [
    'pool: selector requirement without operator',
    pool({ addresses: [], serviceAllocation: { serviceSelectors: [{ matchExpressions: [{ key: 'a' }] }] } }),
    /required property 'operator'/,
  ],
  [
    'pool: status counter is a string',
    pool({ addresses: [] }, { status: { assignedIPv4: '1', assignedIPv6: 0, availableIPv4: 0, availableIPv6: 0 } }),
    /assignedIPv4 must be integer/,
  ],
  ['l2: ipAddressPools is a string', l2({ ipAddressPools: 'ip-pool' }), /ipAddressPools must be array/],
  ['l2: unknown field', l2({ interface: 'eth0' }), /must NOT have additional properties/],
  ['servicel2status: interface name is a number', l2status({ interfaces: [{ name: 1 }] }), /name must be string/],
];
for (const [name, obj, error] of invalidObjects) {
  test(`invalid: ${name}`, () => {
    const errors = validate(obj);
    assert.ok(
      errors.some((e) => error.test(e)),
      `expected ${error}, got ${JSON.stringify(errors)}`,
    );
  });
}

// --- RBAC ---

test('no wildcard in any RBAC rule', () => {
  for (const role of [...all(base, 'ClusterRole'), ...all(base, 'Role')]) {
    for (const rule of role['rules'] as Rule[]) {
      const fields = [rule.apiGroups, rule.resources, rule.verbs, rule.resourceNames, rule.nonResourceURLs];
      for (const v of fields.flat()) assert.ok(v === undefined || !v.includes('*'), `${role.metadata.name}: ${v}`);
    }
  }
});

test('each ServiceAccount is bound only to its own roles, and each role to one ServiceAccount', () => {
  const bindings = [...all(base, 'ClusterRoleBinding'), ...all(base, 'RoleBinding')] as Binding[];
  const roles = [...all(base, 'ClusterRole'), ...all(base, 'Role')];
  for (const b of bindings) {
    assert.equal(b.subjects.length, 1, b.metadata.name);
    const s = b.subjects[0]!;
    assert.deepEqual([s.kind, s.namespace], ['ServiceAccount', NS]);
    const role = one(roles, b.roleRef.kind, b.roleRef.name);
    assert.equal(
      role.metadata.labels?.['app.kubernetes.io/component'],
      s.name,
      `${b.metadata.name} binds ${s.name} to ${role.metadata.name}`,
    );
  }
  for (const r of roles) {
    const refs = bindings.filter((b) => b.roleRef.kind === r.kind && b.roleRef.name === r.metadata.name);
    assert.equal(refs.length, 1, `${r.kind}/${r.metadata.name} bound ${refs.length} times`);
  }
});

interface Access {
  group: string;
  resource: string;
  verb: string;
  namespace?: string; // undefined: cluster-scoped resource
  name?: string;
}

/** allowed evaluates RBAC as the API server does for a ServiceAccount of metallb-system (no aggregation). */
function allowed(sa: string, a: Access): boolean {
  const bindings = [...all(base, 'ClusterRoleBinding'), ...all(base, 'RoleBinding')] as Binding[];
  return bindings.some((b) => {
    if (!b.subjects.some((s) => s.kind === 'ServiceAccount' && s.name === sa && s.namespace === NS)) return false;
    if (b.kind === 'RoleBinding' && b.metadata.namespace !== a.namespace) return false;
    const role = one(base, b.roleRef.kind, b.roleRef.name);
    return (role['rules'] as Rule[]).some(
      (r) =>
        (r.apiGroups ?? []).includes(a.group) &&
        (r.resources ?? []).includes(a.resource) &&
        r.verbs.includes(a.verb) &&
        (r.resourceNames === undefined || (a.name !== undefined && r.resourceNames.includes(a.name))),
    );
  });
}

function accesses(group: string, resources: string[], verbs: string[], namespace?: string, name?: string): Access[] {
  return resources.flatMap((resource) => verbs.map((verb) => ({ group, resource, verb, namespace, name })));
}

const rbacCases: { sa: string; allow: Access[]; deny: Access[] }[] = [
  {
    sa: 'controller',
    allow: [
      ...accesses('', ['services'], ['list', 'watch', 'patch'], 'default'),
      ...accesses('', ['services/status'], ['patch'], 'default'),
      ...accesses('', ['namespaces'], ['list', 'watch']),
      ...accesses('metallb.io', ['ipaddresspools', 'l2advertisements'], ['list', 'watch'], NS),
      ...accesses('metallb.io', ['ipaddresspools/status'], ['patch'], NS),
      ...accesses('', ['events'], ['create'], 'default'),
      ...accesses('coordination.k8s.io', ['leases'], ['get', 'create', 'update'], NS, 'metal-vrrp-controller'),
    ],
    deny: [
      // granted before, never called (least privilege: test/integration/rbac.kube.test.ts)
      ...accesses('', ['services'], ['get', 'update'], 'default'),
      ...accesses('', ['services/status'], ['update'], 'default'),
      ...accesses('', ['namespaces'], ['get']),
      ...accesses('metallb.io', ['ipaddresspools', 'l2advertisements'], ['get'], NS),
      ...accesses('metallb.io', ['ipaddresspools/status'], ['update'], NS),
      ...accesses('', ['events'], ['patch'], 'default'),
      ...accesses('events.k8s.io', ['events'], ['create', 'patch'], 'default'),
      ...accesses('', ['secrets', 'pods', 'configmaps'], ['get', 'list'], NS),
      ...accesses('', ['services'], ['create', 'delete'], 'default'),
      ...accesses('', ['nodes'], ['update', 'patch']),
      ...accesses('metallb.io', ['ipaddresspools'], ['create', 'update', 'delete'], NS),
      ...accesses('metallb.io', ['servicel2statuses'], ['create'], NS),
      ...accesses('coordination.k8s.io', ['leases'], ['get', 'update'], NS, 'someone-else'),
      ...accesses('coordination.k8s.io', ['leases'], ['create'], 'kube-system'),
      ...accesses('rbac.authorization.k8s.io', ['clusterroles'], ['bind', 'escalate']),
    ],
  },
  {
    sa: 'speaker',
    allow: [
      ...accesses('', ['services', 'namespaces', 'nodes'], ['list', 'watch']),
      ...accesses('', ['services'], ['list', 'watch'], 'default'),
      ...accesses('discovery.k8s.io', ['endpointslices'], ['list', 'watch'], 'default'),
      ...accesses('metallb.io', ['ipaddresspools', 'l2advertisements'], ['list', 'watch'], NS),
      ...accesses('metallb.io', ['servicel2statuses'], ['create', 'get', 'update', 'delete', 'list', 'watch'], NS),
      ...accesses('metallb.io', ['servicel2statuses/status'], ['update'], NS),
      ...accesses('', ['events'], ['create'], 'default'),
      // metal-vrrp.io/auth-secret keys: read-only (an informer), the speaker's namespace only
      ...accesses('', ['secrets'], ['list', 'watch'], NS),
      // its health Lease; the admission policy (speaker-lease-policy.yaml) holds it to its own name
      ...accesses('coordination.k8s.io', ['leases'], ['create', 'patch'], NS),
    ],
    deny: [
      // granted before, never called (least privilege: test/integration/rbac.kube.test.ts)
      ...accesses('', ['services', 'namespaces', 'nodes'], ['get']),
      ...accesses('discovery.k8s.io', ['endpointslices'], ['get'], 'default'),
      ...accesses('metallb.io', ['ipaddresspools', 'l2advertisements'], ['get'], NS),
      ...accesses('metallb.io', ['servicel2statuses'], ['patch'], NS),
      ...accesses(
        'metallb.io',
        ['servicel2statuses/status'],
        ['create', 'patch', 'delete', 'get', 'list', 'watch'],
        NS,
      ),
      ...accesses('', ['events'], ['patch'], 'default'),
      ...accesses('events.k8s.io', ['events'], ['create', 'patch'], 'default'),
      ...accesses('', ['secrets'], ['get'], NS),
      ...accesses('', ['services', 'services/status'], ['update', 'patch'], 'default'),
      ...accesses('', ['secrets'], ['get', 'list', 'watch'], 'default'),
      ...accesses('', ['secrets'], ['get', 'list'], 'kube-system'),
      ...accesses('', ['secrets'], ['create', 'update', 'patch', 'delete'], NS),
      ...accesses('', ['pods'], ['get', 'list'], NS),
      ...accesses('', ['pods/exec'], ['create'], NS),
      ...accesses('', ['nodes'], ['update', 'patch']),
      ...accesses('metallb.io', ['ipaddresspools/status'], ['update', 'patch'], NS),
      ...accesses('metallb.io', ['servicel2statuses'], ['create'], 'default'),
      ...accesses('coordination.k8s.io', ['leases'], ['get', 'list', 'watch', 'update', 'delete'], NS),
      ...accesses('coordination.k8s.io', ['leases'], ['get', 'update'], NS, 'metal-vrrp-controller'),
      ...accesses('coordination.k8s.io', ['leases'], ['create', 'patch'], 'kube-system'),
      ...accesses('coordination.k8s.io', ['leases'], ['create', 'patch'], 'kube-node-lease'),
    ],
  },
];
for (const { sa, allow, deny } of rbacCases) {
  test(`RBAC: ${sa} has exactly the rights it needs`, () => {
    const show = (a: Access) => `${sa} ${a.verb} ${a.group || 'core'}/${a.resource} in ${a.namespace ?? '(cluster)'}`;
    for (const a of allow) assert.ok(allowed(sa, a), `should allow: ${show(a)}`);
    for (const a of deny) assert.ok(!allowed(sa, a), `should deny: ${show(a)}`);
  });
}

test('the speaker Lease policy: bound with Deny, matches only the speaker, holds it to metal-vrrp-speaker-<holder>', () => {
  type Policy = K8sObject & {
    spec: {
      failurePolicy: string;
      matchConstraints: { resourceRules: { apiGroups: string[]; resources: string[]; operations: string[] }[] };
      matchConditions: { expression: string }[];
      validations: { expression: string }[];
    };
  };
  const policy = one(base, 'ValidatingAdmissionPolicy', 'metal-vrrp-speaker-leases') as Policy;
  const binding = one(base, 'ValidatingAdmissionPolicyBinding', 'metal-vrrp-speaker-leases') as K8sObject & {
    spec: { policyName: string; validationActions: string[] };
  };
  assert.deepEqual(binding.spec, { policyName: 'metal-vrrp-speaker-leases', validationActions: ['Deny'] });
  assert.equal(policy.spec.failurePolicy, 'Fail');
  const rule = policy.spec.matchConstraints.resourceRules[0]!;
  assert.deepEqual([rule.apiGroups, rule.resources], [['coordination.k8s.io'], ['leases']]);
  assert.deepEqual([...rule.operations].sort(), ['CREATE', 'DELETE', 'UPDATE']);
  assert.deepEqual(
    policy.spec.matchConditions.map((c) => c.expression),
    [`request.userInfo.username == "system:serviceaccount:${NS}:speaker"`],
  );
  const cel = policy.spec.validations.map((v) => v.expression).join('\n');
  assert.ok(cel.includes(`"${NODE_HEALTH_LEASE_PREFIX}" + object.spec.holderIdentity`), cel);
  assert.ok(cel.includes('authentication.kubernetes.io/node-name'), cel);
});

// --- workloads ---

test('nothing anywhere is privileged: true', () => {
  for (const o of [...base, ...withComponents]) {
    walk(o, (key, value, path) =>
      assert.ok(!(key === 'privileged' && value === true), `${o.kind}/${o.metadata.name}${path}`),
    );
  }
});

const workloads: { kind: string; name: string; sa: string }[] = [
  { kind: 'Deployment', name: 'controller', sa: 'controller' },
  { kind: 'DaemonSet', name: 'speaker', sa: 'speaker' },
];
for (const { kind, name, sa } of workloads) {
  test(`${kind}/${name}: its ServiceAccount, port metrics 7472, probes, resources, hardened container`, () => {
    const w = one<Workload>(base, kind, name);
    const pod = w.spec.template.spec;
    const c = container(w);
    assert.equal(pod.serviceAccountName, sa);
    assert.deepEqual(c.ports, [{ name: 'metrics', containerPort: 7472, protocol: 'TCP' }]);
    assert.deepEqual(c.livenessProbe?.httpGet, { path: '/healthz', port: 'metrics' });
    assert.deepEqual(c.readinessProbe?.httpGet, { path: '/readyz', port: 'metrics' });
    assert.ok(c.resources?.requests?.['cpu'] && c.resources.requests['memory'], 'cpu and memory requests');
    assert.ok(c.resources?.limits?.['memory'], 'memory limit');
    assert.equal(pod.securityContext?.seccompProfile?.type, 'RuntimeDefault');
    const sc = c.securityContext;
    assert.equal(sc?.privileged, false);
    assert.equal(sc?.allowPrivilegeEscalation, false);
    assert.equal(sc?.readOnlyRootFilesystem, true);
    assert.deepEqual(sc?.capabilities?.drop, ['ALL']);
    const env = new Map((c.env ?? []).map((e) => [e.name, e.valueFrom?.fieldRef?.fieldPath]));
    assert.equal(env.get('POD_NAMESPACE'), 'metadata.namespace');
    assert.equal(env.get('POD_NAME'), 'metadata.name');
    const labels = w.spec.template.metadata.labels;
    for (const [k, v] of Object.entries(w.spec.selector.matchLabels)) assert.equal(labels[k], v, `selector ${k}`);
  });
}

test('controller: one replica, Recreate, non-root 65532, no capabilities, its args', () => {
  const d = one<Workload>(base, 'Deployment', 'controller');
  const c = container(d);
  assert.equal(d.spec.replicas, 1);
  assert.equal(d.spec.strategy?.type, 'Recreate');
  assert.deepEqual(c.args, ['controller', '--namespace=$(POD_NAMESPACE)']);
  assert.equal(d.spec.template.spec.securityContext?.runAsNonRoot, true);
  assert.equal(d.spec.template.spec.securityContext?.runAsUser, 65532);
  assert.equal(c.securityContext?.capabilities?.add, undefined);
  assert.ok(!d.spec.template.spec.hostNetwork);
});

test('speaker: hostNetwork, NET_RAW + NET_ADMIN only, NODE_NAME from the downward API, one node at a time', () => {
  const ds = one<Workload>(base, 'DaemonSet', 'speaker');
  const pod = ds.spec.template.spec;
  const c = container(ds);
  assert.equal(pod.hostNetwork, true);
  assert.equal(pod.dnsPolicy, 'ClusterFirstWithHostNet');
  assert.deepEqual(c.args, ['speaker', '--kubernetes', '--node-name=$(NODE_NAME)', '--namespace=$(POD_NAMESPACE)']);
  // No command: the image's ENTRYPOINT runs, with the node flags bench:speaker-load measures (its kube mode).
  assert.equal(c.command, undefined);
  assert.deepEqual([...(c.securityContext?.capabilities?.add ?? [])].sort(), ['NET_ADMIN', 'NET_RAW']);
  assert.deepEqual(c.securityContext?.capabilities?.drop, ['ALL']);
  const fromDownwardApi = (name: string) => c.env?.find((e) => e.name === name)?.valueFrom;
  assert.deepEqual(fromDownwardApi('NODE_NAME'), { fieldRef: { fieldPath: 'spec.nodeName' } });
  // ServiceL2Status objects are owned by the speaker Pod: its uid, without a right to read Pods.
  assert.deepEqual(fromDownwardApi('POD_UID'), { fieldRef: { fieldPath: 'metadata.uid' } });
  assert.deepEqual(ds.spec.updateStrategy, {
    type: 'RollingUpdate',
    rollingUpdate: { maxUnavailable: 1, maxSurge: 0 },
  });
  const grace = pod.terminationGracePeriodSeconds ?? 30;
  assert.ok(grace >= 5, `terminationGracePeriodSeconds ${grace} leaves no time for the priority-0 hand-over`);
  assert.equal(pod.tolerations, undefined, 'control-plane toleration is opt-in (components/control-plane)');
});

test('metrics Services: port metrics 7472, selecting their workload', () => {
  for (const { kind, name } of workloads) {
    const w = one<Workload>(base, kind, name);
    const svc = one(base, 'Service', `${name}-metrics`) as K8sObject & {
      spec: { selector: Record<string, string>; ports: { name: string; port: number; targetPort: number | string }[] };
    };
    assert.deepEqual(
      svc.spec.ports.map((p) => [p.name, p.port, p.targetPort]),
      [['metrics', 7472, 'metrics']],
    );
    for (const [k, v] of Object.entries(svc.spec.selector))
      assert.equal(w.spec.template.metadata.labels[k], v, `${name} ${k}`);
  }
});

// --- components ---

test('component control-plane: the speaker tolerates control-plane nodes', () => {
  const ds = one<Workload>(withComponents, 'DaemonSet', 'speaker');
  assert.deepEqual(ds.spec.template.spec.tolerations, [
    { key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' },
  ]);
});

test('component prometheus: one ServiceMonitor per metrics Service, on port metrics', () => {
  const monitors = all(withComponents, 'ServiceMonitor') as (K8sObject & {
    spec: { selector: { matchLabels: Record<string, string> }; endpoints: { port: string }[] };
  })[];
  assert.equal(monitors.length, 2);
  for (const m of monitors) {
    const matches = all(withComponents, 'Service').filter((s) =>
      Object.entries(m.spec.selector.matchLabels).every(([k, v]) => s.metadata.labels?.[k] === v),
    );
    assert.deepEqual(
      matches.map((s) => s.metadata.name),
      [`${m.metadata.name}-metrics`],
    );
    assert.deepEqual(
      m.spec.endpoints.map((e) => e.port),
      ['metrics'],
    );
  }
});
