// helm.ts — the real helm CLI (built by scripts/build-helm.sh from its Go module into .cache/bin/helm) for the chart
// tests: render, lint, and the normalisation that lets a Helm rendering be compared with the kustomize one.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type K8sObject, parseManifests } from './kustomize.ts';

/** REPO is the checkout's root. */
export const REPO = fileURLToPath(new URL('../../', import.meta.url));
/** CHART is the metal-vrrp chart. */
export const CHART = join(REPO, 'charts', 'metal-vrrp');
/** HELM is where scripts/build-helm.sh puts the binary. */
export const HELM = join(REPO, '.cache', 'bin', 'helm');

/**
 * helmSkipReason says why the chart tests cannot run here, or false when they can. Only a machine that is not root
 * may lack helm (setup.sh builds it when root): as root a missing binary is a failure, not a skip.
 */
export function helmSkipReason(): string | false {
  if (existsSync(HELM)) return false;
  if (process.getuid?.() === 0) return false;
  return `${HELM} is missing and we are not root: run bash scripts/build-helm.sh (needs Go) to run the chart tests`;
}

/** HelmError is a helm run that exited non-zero; stderr says why. */
export class HelmError extends Error {
  constructor(
    readonly args: readonly string[],
    readonly stderr: string,
    options?: ErrorOptions,
  ) {
    super(`helm ${args.join(' ')}: ${stderr.trim()}`, options);
  }
}

/** helm runs the binary and returns its stdout; it throws HelmError on a non-zero exit. */
export function helm(args: readonly string[], env: Readonly<Record<string, string>> = {}): string {
  if (!existsSync(HELM)) throw new Error(`${HELM} is missing: run bash scripts/build-helm.sh (npm test runs it)`);
  try {
    return execFileSync(HELM, args, {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 120_000,
      maxBuffer: 16 * 1024 * 1024,
      // No user config or cache leaks in (and none is written to $HOME).
      env: { ...process.env, HELM_CONFIG_HOME: '/nonexistent', HELM_CACHE_HOME: '/nonexistent', ...env },
    });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    throw new HelmError(args, e.stderr ?? e.message, { cause: err });
  }
}

/** helmTemplate renders a chart (CRDs included) with `--set` pairs and returns the objects. */
export function helmTemplate(set: readonly string[] = [], chart = CHART): K8sObject[] {
  const args = ['template', 'metal-vrrp', chart, '--include-crds'];
  for (const s of set) args.push('--set', s);
  return parseManifests(helm(args));
}

/** HELM_LABELS are the labels Helm's conventions add to every templated object, which the manifests do not carry. */
export const HELM_LABELS = [
  'helm.sh/chart',
  'app.kubernetes.io/managed-by',
  'app.kubernetes.io/instance',
  'app.kubernetes.io/version',
] as const;
/** HELM_ANNOTATIONS are Helm's instructions to itself (the Namespace is kept on uninstall). */
export const HELM_ANNOTATIONS = ['helm.sh/resource-policy'] as const;

/** withoutHelmMetadata copies an object without Helm's own labels and annotations (HELM_LABELS, HELM_ANNOTATIONS). */
export function withoutHelmMetadata(o: K8sObject): K8sObject {
  const copy = structuredClone(o) as K8sObject & {
    metadata: { labels?: Record<string, string>; annotations?: Record<string, string> };
  };
  const meta = copy.metadata;
  for (const k of HELM_LABELS) delete meta.labels?.[k];
  for (const k of HELM_ANNOTATIONS) delete meta.annotations?.[k];
  if (meta.annotations && Object.keys(meta.annotations).length === 0) delete meta.annotations;
  return copy;
}

/** objectKey names an object as kind/namespace/name. */
export function objectKey(o: K8sObject): string {
  return `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
}

/**
 * diffObjects compares two sets of objects matched by kind/namespace/name and returns one line per difference (an
 * object on one side only, or a field path whose values differ), empty when they are equal.
 */
export function diffObjects(
  left: readonly K8sObject[],
  right: readonly K8sObject[],
  names: readonly [string, string] = ['left', 'right'],
): string[] {
  const out: string[] = [];
  const index = (objs: readonly K8sObject[], side: string) => {
    const m = new Map<string, K8sObject>(); // kind/namespace/name -> object
    for (const o of objs) {
      if (m.has(objectKey(o))) out.push(`${objectKey(o)}: twice in ${side}`);
      m.set(objectKey(o), o);
    }
    return m;
  };
  const l = index(left, names[0]);
  const r = index(right, names[1]);
  for (const key of [...new Set([...l.keys(), ...r.keys()])].sort()) {
    const a = l.get(key);
    const b = r.get(key);
    if (a === undefined) out.push(`${key}: only in ${names[1]}`);
    else if (b === undefined) out.push(`${key}: only in ${names[0]}`);
    else
      diffValues(a, b, '', (path, x, y) =>
        out.push(`${key} ${path || '.'}: ${show(x)} (${names[0]}) != ${show(y)} (${names[1]})`),
      );
  }
  return out;
}

function diffValues(
  a: unknown,
  b: unknown,
  path: string,
  report: (path: string, a: unknown, b: unknown) => void,
): void {
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.max(a.length, b.length); i++) diffValues(a[i], b[i], `${path}[${i}]`, report);
    return;
  }
  if (isRecord(a) && isRecord(b)) {
    for (const k of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort())
      diffValues(a[k], b[k], `${path}.${k}`, report);
    return;
  }
  if (!Object.is(a, b)) report(path, a, b);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function show(v: unknown): string {
  return v === undefined ? '(absent)' : JSON.stringify(v).slice(0, 120);
}
