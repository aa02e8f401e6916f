// kustomize.ts — renders manifests/ with `kubectl kustomize` (kustomize v5 is built into kubectl; it works offline)
// and parses the result into plain objects for the manifest tests.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parseAllDocuments } from 'yaml';

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

/** kustomizeBuild renders the kustomization in dir and returns the YAML stream. */
export function kustomizeBuild(dir: string): string {
  try {
    return execFileSync('kubectl', ['kustomize', dir], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 60_000,
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') {
      throw new Error(
        'kubectl not found: the manifest tests render with `kubectl kustomize` (Debian package kubectl)',
        {
          cause: err,
        },
      );
    }
    throw new Error(`kubectl kustomize ${dir} failed: ${e.stderr ?? e.message}`, { cause: err });
  }
}

/**
 * kustomizeWithComponents renders base plus the given components through a throw-away overlay, the way a user enables
 * them. Kustomize refuses absolute paths in a kustomization, so the overlay names them relative to itself.
 */
export function kustomizeWithComponents(base: string, components: readonly string[]): string {
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
    return kustomizeBuild(overlay);
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
