// harness.ts — what the controller integration tests share: an API stand-in on loopback, the real controller
// started in this process through a kubeconfig for that stand-in (the same startController the CLI runs), seed
// fixtures, and polling helpers. The controller's logs go to an in-memory sink the tests can read.

import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { type ApiServer, type KubeObject, startApiServer } from '../../lab/apiserver-standin/index.ts';
import { type RunningController, startController } from '../../src/cli/controller.ts';
import { createLogger } from '../../src/log.ts';

export const NS = 'metallb-system';
const SEED = new URL('../../lab/seed/', import.meta.url);

/** seedObjects reads one seed file (ip-pool.yaml, advertise.yaml, demoLB.yaml) as it is. */
export function seedObjects(file: string): Record<string, unknown>[] {
  const text = readFileSync(new URL(file, SEED), 'utf8');
  return parseAllDocuments(text).map((d) => d.toJSON() as Record<string, unknown>);
}

/** resourceOf maps apiVersion+kind to the stand-in's resource name. */
function resourceOf(obj: Record<string, unknown>): string {
  const kind = String(obj['kind']);
  const group = String(obj['apiVersion']).includes('/') ? `.${String(obj['apiVersion']).split('/')[0]}` : '';
  const plural = `${kind.toLowerCase()}${kind.endsWith('s') ? 'es' : 's'}`;
  return `${plural}${group}`;
}

/** Lab is one stand-in with helpers; each test file makes its own. */
export class Lab {
  readonly logs: string[] = [];
  readonly controllers: RunningController[] = [];

  private constructor(readonly server: ApiServer) {}

  static async start(opts: { historyLimit?: number } = {}): Promise<Lab> {
    const server = await startApiServer({ historyLimit: opts.historyLimit, bookmarkIntervalMs: 200 });
    return new Lab(server);
  }

  get store() {
    return this.server.store;
  }

  /** startController runs the real controller against the stand-in, with fast retries. */
  startController(opts: { namespace?: string; lbClass?: string } = {}): RunningController {
    const logger = createLogger({
      level: 'debug',
      destination: { write: (line: string) => void this.logs.push(line) },
    });
    const running = startController({
      kubeConfig: this.server.makeKubeConfig(),
      namespace: opts.namespace ?? NS,
      logger,
      loadBalancerClass: opts.lbClass,
      backoff: { baseMs: 50, maxMs: 500 },
    });
    this.controllers.push(running);
    return running;
  }

  /** stopController stops one controller (as a killed pod: nothing is cleaned up in the API). */
  async stopController(c: RunningController): Promise<void> {
    await c.stop();
    this.controllers.splice(this.controllers.indexOf(c), 1);
  }

  /** apply creates (or replaces) objects as `kubectl apply` would. */
  apply(...objs: Record<string, unknown>[]): KubeObject[] {
    return objs.map((o) => {
      const resource = resourceOf(o);
      const meta = (o['metadata'] ?? {}) as { namespace?: string; name?: string };
      const existing = this.store.get(resource, meta.namespace, meta.name ?? '');
      if (!existing) return this.store.create(resource, o);
      const next = { ...o, metadata: { ...meta, resourceVersion: existing.metadata.resourceVersion } };
      if (existing['status'] !== undefined) (next as Record<string, unknown>)['status'] = existing['status'];
      return this.store.update(resource, next);
    });
  }

  applySeed(...files: string[]): void {
    for (const f of files) this.apply(...seedObjects(f));
  }

  service(namespace: string, name: string): KubeObject | undefined {
    return this.store.get('services', namespace, name);
  }

  /** ingress is the addresses in a Service's status. */
  ingress(namespace: string, name: string): string[] {
    const s = this.service(namespace, name) as { status?: { loadBalancer?: { ingress?: { ip?: string }[] } } };
    return (s?.status?.loadBalancer?.ingress ?? []).flatMap((i) => (i.ip ? [i.ip] : []));
  }

  annotations(namespace: string, name: string): Record<string, string> {
    return this.service(namespace, name)?.metadata.annotations ?? {};
  }

  /** events lists core Events about an object, oldest first. */
  events(namespace: string, name?: string, reason?: string): { reason: string; type: string; message: string }[] {
    return this.store
      .list('events', { namespace })
      .items.map((e) => e as unknown as EventJson)
      .filter((e) => (name === undefined || e.involvedObject?.name === name) && (!reason || e.reason === reason))
      .sort((a, b) =>
        (a.metadata.resourceVersion ?? '').localeCompare(b.metadata.resourceVersion ?? '', 'en', {
          numeric: true,
        }),
      )
      .map((e) => ({ reason: e.reason ?? '', type: e.type ?? '', message: e.message ?? '' }));
  }

  poolStatus(name: string): Record<string, number> | undefined {
    return this.store.get('ipaddresspools.metallb.io', NS, name)?.['status'] as Record<string, number> | undefined;
  }

  /** close stops every controller and the stand-in. */
  async close(): Promise<void> {
    for (const c of [...this.controllers]) await this.stopController(c);
    await this.server.close();
  }
}

interface EventJson {
  metadata: { resourceVersion?: string };
  involvedObject?: { name?: string; kind?: string };
  reason?: string;
  type?: string;
  message?: string;
}

/** waitFor polls `check` until it returns a value other than undefined/false, or fails after `ms` naming `what`. */
export async function waitFor<T>(what: string, check: () => T | undefined | false, ms = 15_000): Promise<T> {
  const until = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = check();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** waitForAsync is waitFor for an async check. */
export async function waitForAsync<T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  ms = 15_000,
): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await check().catch(() => undefined);
    if (v !== undefined && v !== false) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** lbService builds a type LoadBalancer Service. */
export function lbService(
  name: string,
  opts: {
    namespace?: string;
    annotations?: Record<string, string>;
    labels?: Record<string, string>;
    spec?: Record<string, unknown>;
    port?: number;
    protocol?: string;
  } = {},
): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name,
      namespace: opts.namespace ?? 'default',
      ...(opts.annotations ? { annotations: opts.annotations } : {}),
      ...(opts.labels ? { labels: opts.labels } : {}),
    },
    spec: {
      type: 'LoadBalancer',
      selector: { app: name },
      ports: [{ protocol: opts.protocol ?? 'TCP', port: opts.port ?? 80, targetPort: opts.port ?? 80 }],
      ...(opts.spec ?? {}),
    },
  };
}

/** pool builds an IPAddressPool in metallb-system. */
export function pool(
  name: string,
  addresses: string[],
  spec: Record<string, unknown> = {},
  annotations?: Record<string, string>,
): Record<string, unknown> {
  return {
    apiVersion: 'metallb.io/v1beta1',
    kind: 'IPAddressPool',
    metadata: { name, namespace: NS, ...(annotations ? { annotations } : {}) },
    spec: { addresses, ...spec },
  };
}
