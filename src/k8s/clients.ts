/**
 * The typed API clients the controller uses, built once from a KubeConfig, and the kubeconfig loading rule of every
 * Kubernetes controller: an explicit file when given, else in-cluster (service account), else $KUBECONFIG/~/.kube.
 */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';

/** Clients are the API groups the controller talks to. */
export interface Clients {
  readonly kubeConfig: KubeConfig;
  readonly core: CoreV1Api;
  readonly custom: CustomObjectsApi;
}

/** METALLB_GROUP and METALLB_VERSION locate MetalLB's custom resources. */
export const METALLB_GROUP = 'metallb.io';
export const METALLB_VERSION = 'v1beta1';

/** loadKubeConfig reads `path` when given, else the default chain (in-cluster first when running in a pod). */
export function loadKubeConfig(path?: string): KubeConfig {
  const kc = new KubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromDefault();
  return kc;
}

type AuthContext = Parameters<KubeConfig['applySecurityAuthentication']>[0];

/** ConnectionOptions bound the shared agent's pool. */
export interface ConnectionOptions {
  /**
   * maxFreeSockets: idle keep-alive connections kept after a burst (Node's default 256: all of them). Each is a TLS
   * session with its buffers (~100 KB of native memory and the JS socket objects): a speaker that wrote 255 statuses
   * at start over 64 connections keeps them all open for good unless this bounds it.
   */
  readonly maxFreeSockets?: number;
}

/**
 * reuseConnections makes the API clients of `kc` share one keep-alive agent. client-node 1.x builds a new agent for
 * every request, so each call opens a new TCP (and, on a real cluster, TLS) connection: at a few hundred writes a
 * second that is most of the controller's CPU. The agent depends only on the TLS options, which are compared on
 * every request (a rotated client certificate gets a new agent); proxy agents are left alone.
 */
export function reuseConnections(kc: KubeConfig, options: ConnectionOptions = {}): KubeConfig {
  const original = kc.applySecurityAuthentication.bind(kc);
  let shared: { key: readonly unknown[]; agent: HttpAgent } | undefined;
  kc.applySecurityAuthentication = async (context: AuthContext) => {
    await original(context);
    const made = context.getAgent();
    if (!made || (made.constructor !== HttpAgent && made.constructor !== HttpsAgent)) return;
    const opts = (made as HttpAgent & { options: Record<string, unknown> }).options;
    const key = [
      made.constructor === HttpsAgent,
      opts['ca'],
      opts['cert'],
      opts['key'],
      opts['rejectUnauthorized'],
      opts['servername'],
    ];
    if (!shared || !sameOptions(shared.key, key)) {
      shared?.agent.destroy();
      const Ctor = made.constructor as typeof HttpAgent;
      const free = options.maxFreeSockets === undefined ? {} : { maxFreeSockets: options.maxFreeSockets };
      shared = { key, agent: new Ctor({ ...opts, keepAlive: true, maxSockets: 64, ...free }) };
    }
    made.destroy();
    context.setAgent(shared.agent);
  };
  return kc;
}

/** sameOptions compares TLS option values by content: the CA and keys are Buffers read anew for each request
 * (serialising them to compare cost most of a millisecond per request). */
function sameOptions(a: readonly unknown[], b: readonly unknown[]): boolean {
  return (
    a.length === b.length &&
    a.every((x, i) => {
      const y = b[i];
      if (Buffer.isBuffer(x) && Buffer.isBuffer(y)) return x.equals(y);
      if (Array.isArray(x) && Array.isArray(y)) return sameOptions(x, y);
      return x === y;
    })
  );
}

/** makeClients builds the API clients for a KubeConfig (connections reused, see reuseConnections). */
export function makeClients(kubeConfig: KubeConfig, options: ConnectionOptions = {}): Clients {
  reuseConnections(kubeConfig, options);
  return {
    kubeConfig,
    core: kubeConfig.makeApiClient(CoreV1Api),
    custom: kubeConfig.makeApiClient(CustomObjectsApi),
  };
}

/** statusCodeOf returns the HTTP status of a failed client call, if the failure came from the server. */
export function statusCodeOf(err: unknown): number | undefined {
  if (err === null || typeof err !== 'object') return undefined;
  const e = err as { code?: unknown; statusCode?: unknown };
  if (typeof e.code === 'number') return e.code;
  if (typeof e.statusCode === 'number') return e.statusCode;
  return undefined;
}
