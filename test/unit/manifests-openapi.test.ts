// manifests-openapi.test.ts — every object `kubectl kustomize manifests` renders (with both opt-in components) is
// checked against the Kubernetes OpenAPI schema of its kind, as the API server would on `kubectl apply`:
// - types, required fields and enums: the validators of the kubernetes-models package (generated from the Kubernetes
//   OpenAPI spec; the ServiceMonitor from @kubernetes-models/prometheus-operator);
// - unknown fields, which kubectl's strict field validation (the default since 1.25) rejects: the field lists of
//   @kubernetes/client-node's generated models, since kubernetes-models' validators let unknown fields through.
// Custom metallb.io objects are validated against our CRDs' own schemas in manifests.test.ts.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as k8s from '@kubernetes/client-node';
import { PrometheusRule, ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import {
  ValidatingAdmissionPolicy,
  ValidatingAdmissionPolicyBinding,
} from 'kubernetes-models/admissionregistration.k8s.io/v1';
import { CustomResourceDefinition } from 'kubernetes-models/apiextensions.k8s.io/v1';
import { DaemonSet, Deployment } from 'kubernetes-models/apps/v1';
import { ClusterRole, ClusterRoleBinding, Role, RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { Namespace, Service, ServiceAccount } from 'kubernetes-models/v1';
import { parse as parseYaml } from 'yaml';
import { type K8sObject, kustomizeBuild, kustomizeWithComponents, parseManifests } from '../support/kustomize.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const manifests = join(root, 'manifests');

interface Validatable {
  validate(): void;
}
/** Kind is how one apiVersion/kind is checked: a kubernetes-models class, and the client-node model for its fields. */
interface Kind {
  readonly model: new (data: never) => Validatable;
  /** Name of the @kubernetes/client-node model class; undefined where client-node has none (ServiceMonitor). */
  readonly clientModel?: string;
}
// "apiVersion kind" -> how to check it
const kinds: Record<string, Kind> = {
  'v1 Namespace': { model: Namespace, clientModel: 'V1Namespace' },
  'v1 ServiceAccount': { model: ServiceAccount, clientModel: 'V1ServiceAccount' },
  'v1 Service': { model: Service, clientModel: 'V1Service' },
  'apps/v1 Deployment': { model: Deployment, clientModel: 'V1Deployment' },
  'apps/v1 DaemonSet': { model: DaemonSet, clientModel: 'V1DaemonSet' },
  'rbac.authorization.k8s.io/v1 ClusterRole': { model: ClusterRole, clientModel: 'V1ClusterRole' },
  'rbac.authorization.k8s.io/v1 ClusterRoleBinding': { model: ClusterRoleBinding, clientModel: 'V1ClusterRoleBinding' },
  'rbac.authorization.k8s.io/v1 Role': { model: Role, clientModel: 'V1Role' },
  'rbac.authorization.k8s.io/v1 RoleBinding': { model: RoleBinding, clientModel: 'V1RoleBinding' },
  'apiextensions.k8s.io/v1 CustomResourceDefinition': {
    model: CustomResourceDefinition,
    clientModel: 'V1CustomResourceDefinition',
  },
  'admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy': {
    model: ValidatingAdmissionPolicy,
    clientModel: 'V1ValidatingAdmissionPolicy',
  },
  'admissionregistration.k8s.io/v1 ValidatingAdmissionPolicyBinding': {
    model: ValidatingAdmissionPolicyBinding,
    clientModel: 'V1ValidatingAdmissionPolicyBinding',
  },
  'monitoring.coreos.com/v1 ServiceMonitor': { model: ServiceMonitor },
  'monitoring.coreos.com/v1 PrometheusRule': { model: PrometheusRule },
};

interface AttributeType {
  readonly baseName: string;
  readonly type: string;
}
interface ClientModel {
  getAttributeTypeMap(): AttributeType[];
}
function clientModel(name: string): ClientModel | undefined {
  const m = (k8s as unknown as Record<string, unknown>)[name];
  return typeof m === 'function' && 'getAttributeTypeMap' in m ? (m as unknown as ClientModel) : undefined;
}

/**
 * unknownFields lists the paths of fields that the Kubernetes type `type` (a client-node model name, `Array<T>`, or
 * `{ [key: string]: T; }`) does not have. Scalars, IntOrString and free-form objects have no field list: not descended.
 */
function unknownFields(value: unknown, type: string, path = ''): string[] {
  if (value === null || typeof value !== 'object') return [];
  const array = /^Array<(.+)>$/.exec(type);
  if (array) {
    return Array.isArray(value) ? value.flatMap((v, i) => unknownFields(v, array[1]!, `${path}[${i}]`)) : [];
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) {
    return Object.entries(value).flatMap(([k, v]) => unknownFields(v, map[1]!, `${path}.${k}`));
  }
  const model = clientModel(type);
  if (!model || Array.isArray(value)) return [];
  const fields = new Map(model.getAttributeTypeMap().map((a) => [a.baseName, a.type]));
  return Object.entries(value).flatMap(([k, v]) => {
    const t = fields.get(k);
    return t === undefined ? [`${path}.${k}`] : unknownFields(v, t, `${path}.${k}`);
  });
}

/** openApiErrors returns why the API server would reject obj (empty when it would accept it). */
function openApiErrors(obj: K8sObject): string[] {
  const kind = kinds[`${obj.apiVersion} ${obj.kind}`];
  if (!kind) return [`no schema known for ${obj.apiVersion} ${obj.kind}`];
  const errors: string[] = [];
  try {
    new kind.model(obj as never).validate();
  } catch (err) {
    errors.push((err as Error).message);
  }
  if (kind.clientModel) {
    assert.ok(clientModel(kind.clientModel), `@kubernetes/client-node has no ${kind.clientModel}`);
    for (const p of unknownFields(obj, kind.clientModel)) errors.push(`unknown field ${p}`);
  }
  return errors;
}

const rendered = [
  ...parseManifests(kustomizeBuild(manifests)),
  ...parseManifests(
    kustomizeWithComponents(manifests, [
      join(manifests, 'components/control-plane'),
      join(manifests, 'components/prometheus'),
    ]),
  ),
];

test('every rendered object (base and with both components) validates against its Kubernetes OpenAPI schema', () => {
  assert.ok(rendered.length >= 20, `rendered only ${rendered.length} objects`);
  const failures = rendered.flatMap((o) => openApiErrors(o).map((e) => `${o.kind}/${o.metadata.name}: ${e}`));
  assert.deepEqual(failures, []);
});

test("the seed's demo Service validates against the Service schema", () => {
  const svc = parseYaml(readFileSync(join(root, 'lab/seed/demoLB.yaml'), 'utf8')) as K8sObject;
  assert.deepEqual(openApiErrors(svc), []);
});

// The checks above can fail: each broken copy of a real rendered object must be rejected, for the right reason.
function renderedOne(kind: string, name: string): Record<string, unknown> {
  const o = rendered.find((x) => x.kind === kind && x.metadata.name === name);
  assert.ok(o, `${kind}/${name} not rendered`);
  return structuredClone(o) as Record<string, unknown>;
}
// biome-ignore lint/suspicious/noExplicitAny: a breaker reaches into untyped rendered YAML
type Breaker = (o: any) => void;
const broken: [string, string, string, Breaker, RegExp][] = [
  [
    'DaemonSet',
    'speaker',
    'capabilities.add is a string',
    (o) => {
      o.spec.template.spec.containers[0].securityContext.capabilities.add = 'NET_RAW';
    },
    /capabilities\/add must be array/,
  ],
  [
    'DaemonSet',
    'speaker',
    'misspelt readOnlyRootFileSystem',
    (o) => {
      o.spec.template.spec.containers[0].securityContext.readOnlyRootFileSystem = true;
    },
    /unknown field \.spec\.template\.spec\.containers\[0\]\.securityContext\.readOnlyRootFileSystem/,
  ],
  [
    'Deployment',
    'controller',
    'replicas is a string',
    (o) => {
      o.spec.replicas = '1';
    },
    /replicas must be integer/,
  ],
  [
    'Deployment',
    'controller',
    'container without a name',
    (o) => {
      delete o.spec.template.spec.containers[0].name;
    },
    /containers\/0 must have required property name/,
  ],
  [
    'ClusterRole',
    'metal-vrrp:speaker',
    'rule verbs missing',
    (o) => {
      delete o.rules[0].verbs;
    },
    /rules\/0 must have required property verbs/,
  ],
  [
    'Service',
    'speaker-metrics',
    'unknown spec field',
    (o) => {
      o.spec.port = 7472;
    },
    /unknown field \.spec\.port/,
  ],
  [
    'CustomResourceDefinition',
    'ipaddresspools.metallb.io',
    'no versions',
    (o) => {
      delete o.spec.versions;
    },
    /spec must have required property versions/,
  ],
  [
    'ServiceMonitor',
    'speaker',
    'endpoint port is a number',
    (o) => {
      o.spec.endpoints[0].port = 7472;
    },
    /port must be string/,
  ],
];
for (const [kind, name, what, breakIt, error] of broken) {
  test(`rejected: ${kind}/${name} with ${what}`, () => {
    const o = renderedOne(kind, name);
    assert.deepEqual(openApiErrors(o as unknown as K8sObject), [], 'the unbroken object must pass');
    breakIt(o);
    const errors = openApiErrors(o as unknown as K8sObject);
    assert.ok(
      errors.some((e) => error.test(e)),
      `expected ${error}, got ${JSON.stringify(errors)}`,
    );
  });
}

test('an object of a kind without a schema is an error, not a pass', () => {
  const errors = openApiErrors({ apiVersion: 'example.com/v1', kind: 'Thing', metadata: { name: 'x' } });
  assert.deepEqual(errors, ['no schema known for example.com/v1 Thing']);
});
