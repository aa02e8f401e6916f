// harness.ts — fixtures the integration tests share: Service and pool objects, and polling helpers. (The real
// kube-apiserver and the controller as its ServiceAccount: kube-lab.ts.)

export const NS = 'metallb-system';

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
