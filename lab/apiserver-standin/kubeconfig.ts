// kubeconfig.ts — a kubeconfig for the stand-in. client-node 1.x accepts an `http://` server only when the cluster
// sets `insecure-skip-tls-verify: true` (KubeConfig.createAgent throws "HTTP protocol is not allowed when
// skipTLSVerify is not set or false" otherwise), so the stand-in needs no TLS certificate.

import { writeFile } from 'node:fs/promises';
import { KubeConfig } from '@kubernetes/client-node';
import { stringify } from 'yaml';

/** KubeconfigOptions: names inside the file and the context's default namespace. */
export interface KubeconfigOptions {
  readonly clusterName?: string;
  readonly userName?: string;
  readonly contextName?: string;
  readonly namespace?: string;
  /** token is sent as a bearer token; the stand-in does not check it. */
  readonly token?: string;
}

/** kubeconfigYaml renders a kubeconfig that points at `url`. */
export function kubeconfigYaml(url: string, opts: KubeconfigOptions = {}): string {
  const cluster = opts.clusterName ?? 'metal-vrrp-standin';
  const user = opts.userName ?? 'standin-admin';
  const context = opts.contextName ?? 'standin';
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: cluster, cluster: { server: url, 'insecure-skip-tls-verify': true } }],
    users: [{ name: user, user: { token: opts.token ?? 'standin-token' } }],
    contexts: [{ name: context, context: { cluster, user, namespace: opts.namespace ?? 'default' } }],
    'current-context': context,
  });
}

/** kubeConfigFor returns a fresh client-node KubeConfig for `url` (a new object each call: callers may mutate it). */
export function kubeConfigFor(url: string, opts: KubeconfigOptions = {}): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromString(kubeconfigYaml(url, opts));
  return kc;
}

/** writeKubeconfigFile writes the kubeconfig for `url` to `path` (mode 0600, as kubectl does). */
export async function writeKubeconfigFile(path: string, url: string, opts: KubeconfigOptions = {}): Promise<void> {
  await writeFile(path, kubeconfigYaml(url, opts), { mode: 0o600 });
}

/** serverURL formats `http://host:port`, bracketing IPv6 literals. */
export function serverURL(host: string, port: number): string {
  return host.includes(':') ? `http://[${host}]:${port}` : `http://${host}:${port}`;
}
