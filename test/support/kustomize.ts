// kustomize.ts — renders manifests/ for the manifest tests and parses the result into plain objects.
//
// The real tool is `kubectl kustomize` (kustomize v5 is built into kubectl and works offline); it is used whenever
// kubectl is on the PATH. Debian's kubectl (package kubernetes-client, 1.20) embeds kustomize v2.0.3, which knows
// neither `labels` nor components, and no registry this project reaches ships a newer one, so a machine without
// kubectl renders with renderKustomization below: the small part of kustomize these manifests use, which refuses
// everything else. manifests.test.ts checks that the two give the same objects wherever kubectl exists.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import jsonPatch, { type Operation } from 'fast-json-patch';
import { parseAllDocuments, parse as parseYaml, stringify } from 'yaml';

/** K8sObject is a rendered Kubernetes object: the type and object meta every object has, the rest unknown. */
export interface K8sObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: {
    readonly name: string;
    readonly namespace?: string;
    readonly labels?: Readonly<Record<string, string>>;
  };
  readonly [field: string]: unknown;
}

/** Renderer says which implementation kustomizeBuild uses on this machine. */
export type Renderer = 'kubectl' | 'built-in';

/** kubectlAvailable tells whether `kubectl` is on the PATH. */
export function kubectlAvailable(): boolean {
  try {
    execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore', timeout: 30_000 });
    return true;
  } catch {
    return false;
  }
}

/** kustomizeBuild renders the kustomization in dir and returns the YAML stream. */
export function kustomizeBuild(dir: string, renderer: Renderer = kubectlAvailable() ? 'kubectl' : 'built-in'): string {
  if (renderer === 'built-in')
    return renderKustomization(dir)
      .map((o) => `---\n${stringify(o)}`)
      .join('');
  try {
    return execFileSync('kubectl', ['kustomize', dir], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 60_000,
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    throw new Error(`kubectl kustomize ${dir} failed: ${e.stderr ?? e.message}`, { cause: err });
  }
}

/**
 * kustomizeWithComponents renders base plus the given components through a throw-away overlay, the way a user enables
 * them. Kustomize refuses absolute paths in a kustomization, so the overlay names them relative to itself.
 */
export function kustomizeWithComponents(base: string, components: readonly string[], renderer?: Renderer): string {
  const overlay = mkdtempSync(join(tmpdir(), 'metal-vrrp-kustomize-'));
  try {
    const rel = (p: string) => JSON.stringify(relative(overlay, p));
    const text = [
      'apiVersion: kustomize.config.k8s.io/v1beta1',
      'kind: Kustomization',
      `resources: [${rel(base)}]`,
      `components: [${components.map(rel).join(', ')}]`,
      '',
    ].join('\n');
    writeFileSync(join(overlay, 'kustomization.yaml'), text);
    return kustomizeBuild(overlay, renderer);
  } finally {
    rmSync(overlay, { recursive: true, force: true });
  }
}

/** parseManifests parses a YAML stream into objects; it throws on a YAML error or on a document that is no object. */
export function parseManifests(text: string): K8sObject[] {
  const out: K8sObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`YAML error: ${doc.errors.map((e) => e.message).join('; ')}`);
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue;
    if (!isK8sObject(value)) throw new Error(`not a Kubernetes object: ${JSON.stringify(value).slice(0, 200)}`);
    out.push(value);
  }
  return out;
}

function isK8sObject(v: unknown): v is K8sObject {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const o = v as Record<string, unknown>;
  const meta = o['metadata'] as Record<string, unknown> | undefined;
  return (
    typeof o['apiVersion'] === 'string' &&
    typeof o['kind'] === 'string' &&
    typeof meta === 'object' &&
    meta !== null &&
    typeof meta['name'] === 'string'
  );
}

// --- the built-in renderer ---

interface Kustomization {
  apiVersion?: string;
  kind?: string;
  namespace?: string;
  resources?: string[];
  components?: string[];
  labels?: { pairs: Record<string, string>; includeSelectors?: boolean; includeTemplates?: boolean }[];
  images?: { name: string; newName?: string; newTag?: string }[];
  patches?: { target: { group?: string; version?: string; kind?: string; name?: string }; patch: string }[];
}
const SUPPORTED = new Set([
  'apiVersion',
  'kind',
  'namespace',
  'resources',
  'components',
  'labels',
  'images',
  'patches',
]);
// Kinds the namespace transformer leaves alone (the cluster-scoped kinds these manifests use).
const CLUSTER_SCOPED = new Set(['Namespace', 'CustomResourceDefinition', 'ClusterRole', 'ClusterRoleBinding']);

type Obj = Record<string, unknown> & K8sObject;

/**
 * renderKustomization renders dir/kustomization.yaml with the kustomize features these manifests use: resources (files
 * and folders), components (resources and inline JSON 6902 patches with a target), namespace, labels (metadata only)
 * and images. It throws on any other field or form, so it never renders something kustomize would render otherwise.
 */
export function renderKustomization(dir: string): K8sObject[] {
  const k = readKustomization(dir, 'Kustomization');
  const objs: Obj[] = [];
  for (const r of k.resources ?? []) objs.push(...loadResource(resolve(dir, r)));
  for (const c of k.components ?? []) {
    const comp = readKustomization(resolve(dir, c), 'Component');
    for (const key of ['namespace', 'labels', 'images', 'components'] as const) {
      if (comp[key] !== undefined) throw new Error(`${c}: "${key}" in a component is not supported here`);
    }
    for (const r of comp.resources ?? []) objs.push(...loadResource(resolve(dir, c, r)));
    applyPatches(objs, comp.patches ?? []);
  }
  applyPatches(objs, k.patches ?? []);
  if (k.namespace !== undefined) setNamespace(objs, k.namespace);
  for (const l of k.labels ?? []) {
    if (l.includeSelectors || l.includeTemplates) throw new Error('labels with includeSelectors/Templates unsupported');
    for (const o of objs) {
      const meta = o.metadata as { labels?: Record<string, string> };
      meta.labels = { ...meta.labels, ...l.pairs };
    }
  }
  for (const image of k.images ?? []) for (const o of objs) setImage(o, image);
  return objs;
}

function readKustomization(dir: string, kind: 'Kustomization' | 'Component'): Kustomization {
  const k = parseYaml(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as Kustomization;
  if ((k.kind ?? 'Kustomization') !== kind) throw new Error(`${dir}: expected a ${kind}, found ${k.kind}`);
  for (const key of Object.keys(k)) {
    if (!SUPPORTED.has(key)) throw new Error(`${dir}/kustomization.yaml: "${key}" is not supported here`);
  }
  return k;
}

function loadResource(path: string): Obj[] {
  if (statSync(path).isDirectory()) return renderKustomization(path) as Obj[];
  return parseManifests(readFileSync(path, 'utf8')) as Obj[];
}

function applyPatches(objs: Obj[], patches: readonly NonNullable<Kustomization['patches']>[number][]): void {
  for (const { target, patch } of patches) {
    const ops = parseYaml(patch) as Operation[];
    if (!Array.isArray(ops)) throw new Error('only JSON 6902 patches (a list of operations) are supported here');
    const hits = objs.filter((o) => {
      const [group, version] = o.apiVersion.includes('/') ? o.apiVersion.split('/') : ['', o.apiVersion];
      return (
        (target.group === undefined || target.group === group) &&
        (target.version === undefined || target.version === version) &&
        (target.kind === undefined || target.kind === o.kind) &&
        (target.name === undefined || target.name === o.metadata.name)
      );
    });
    if (hits.length === 0) throw new Error(`patch target ${JSON.stringify(target)} matches nothing`);
    for (const o of hits) jsonPatch.applyPatch(o, ops, true, true);
  }
}

function setNamespace(objs: Obj[], namespace: string): void {
  for (const o of objs) {
    if (o.kind === 'Namespace' && o.metadata.name !== namespace) throw new Error('renaming a Namespace unsupported');
    if (!CLUSTER_SCOPED.has(o.kind)) (o.metadata as { namespace?: string }).namespace = namespace;
    // kustomize rewrites ServiceAccount subjects that name no namespace or "default"; these manifests name theirs.
    for (const s of (o['subjects'] ?? []) as { kind: string; namespace?: string }[]) {
      if (s.kind === 'ServiceAccount' && (s.namespace ?? 'default') === 'default') {
        throw new Error(`${o.kind}/${o.metadata.name}: a ServiceAccount subject without its namespace unsupported`);
      }
    }
  }
}

function setImage(o: Obj, image: NonNullable<Kustomization['images']>[number]): void {
  const spec = o['spec'] as { template?: { spec?: PodSpecImages } } & PodSpecImages;
  for (const pod of [spec, spec?.template?.spec]) {
    for (const c of [...(pod?.containers ?? []), ...(pod?.initContainers ?? [])]) {
      const m = /^([^:@]+(?::\d+\/[^:@]+)?)(?::([^@]+))?(@.+)?$/.exec(c.image);
      if (!m || m[1] !== image.name) continue;
      if (m[3]) throw new Error(`${c.image}: digests unsupported`);
      c.image = `${image.newName ?? m[1]}${image.newTag !== undefined ? `:${image.newTag}` : m[2] ? `:${m[2]}` : ''}`;
    }
  }
}
interface PodSpecImages {
  containers?: { image: string }[];
  initContainers?: { image: string }[];
}
