// server.ts — startApiServer: the Kubernetes API stand-in on node:http, with its store, request log and the
// switches tests use to break it (fail the next requests, answer 503, refuse connections, drop watches).

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { KubeConfig } from '@kubernetes/client-node';
import { makeControl } from './control.ts';
import { type FailOptions, Faults, RequestLog } from './faults.ts';
import { makeHandler } from './handlers.ts';
import { type KubeconfigOptions, kubeConfigFor, kubeconfigYaml, serverURL, writeKubeconfigFile } from './kubeconfig.ts';
import { Registry } from './resources.ts';
import { Store, type StoreOptions } from './store.ts';
import type { OpenWatch } from './watch.ts';

/** ApiServerOptions: where to listen and how the API behaves; all optional. */
export interface ApiServerOptions extends StoreOptions {
  /** host to bind (default 127.0.0.1); the lab passes an address inside a network namespace. */
  readonly host?: string;
  /** port to bind (default 0: any free port). */
  readonly port?: number;
  /** bookmarkIntervalMs between BOOKMARK events on watches that allow them (default 1000). */
  readonly bookmarkIntervalMs?: number;
  /** watchTimeoutSeconds ends watches that set no `timeoutSeconds` (default: never). */
  readonly watchTimeoutSeconds?: number;
  /** requestLogLimit: how many requests the log keeps (default 10000). */
  readonly requestLogLimit?: number;
}

/** ApiServer is the handle startApiServer returns. */
export interface ApiServer {
  /** url is `http://host:port`. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** store is the server's state; tests may read and write it directly (writes notify watches). */
  readonly store: Store;
  /** requests is the log of API requests (not `/__test/` ones). */
  readonly requests: RequestLog;
  /** kubeconfig is the YAML text of a kubeconfig for this server. */
  readonly kubeconfig: string;
  /** makeKubeConfig returns a new client-node KubeConfig for this server. */
  makeKubeConfig(opts?: KubeconfigOptions): KubeConfig;
  /** writeKubeconfig writes the kubeconfig to a file. */
  writeKubeconfig(path: string, opts?: KubeconfigOptions): Promise<void>;
  /** failNext makes the next `count` matching requests fail (default 503 ServiceUnavailable). */
  failNext(count: number, opts?: FailOptions): void;
  /** setUnavailable: while true every API request gets 503, and turning it on drops open watches. */
  setUnavailable(unavailable: boolean): void;
  /** stopListening closes the port and every connection: clients get ECONNREFUSED until startListening. */
  stopListening(): Promise<void>;
  /** startListening reopens the same host and port. */
  startListening(): Promise<void>;
  /** dropWatches ends every open watch stream cleanly (as an API server restart or timeout does); returns how many. */
  dropWatches(): number;
  /** openWatchCount is the number of watch streams open now. */
  openWatchCount(): number;
  /** close ends watches and connections and stops the server. */
  close(): Promise<void>;
}

function listen(server: Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve(server.address() as AddressInfo);
    });
  });
}

function stop(server: Server, watches: Set<OpenWatch>): Promise<void> {
  for (const w of [...watches]) w.close();
  return new Promise((resolve) => {
    if (!server.listening) {
      resolve();
      return;
    }
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** startApiServer starts a stand-in API server and resolves once it listens. */
export async function startApiServer(opts: ApiServerOptions = {}): Promise<ApiServer> {
  const host = opts.host ?? '127.0.0.1';
  const registry = opts.registry ?? new Registry();
  const store = new Store({ ...opts, registry });
  const faults = new Faults();
  const log = new RequestLog(opts.requestLogLimit);
  const openWatches = new Set<OpenWatch>();
  const dropWatches = (): number => {
    const all = [...openWatches];
    for (const w of all) w.close();
    return all.length;
  };
  let port = opts.port ?? 0;
  const handler = makeHandler({
    store,
    registry,
    faults,
    log,
    openWatches,
    watch: { bookmarkIntervalMs: opts.bookmarkIntervalMs ?? 1000, defaultTimeoutSeconds: opts.watchTimeoutSeconds },
    serverAddress: () => (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`),
    control: makeControl({ store, faults, log, dropWatches }),
  });
  const server = createServer(handler);
  port = (await listen(server, port, host)).port;
  const url = serverURL(host, port);
  return {
    url,
    host,
    port,
    store,
    requests: log,
    kubeconfig: kubeconfigYaml(url),
    makeKubeConfig: (o) => kubeConfigFor(url, o),
    writeKubeconfig: (path, o) => writeKubeconfigFile(path, url, o),
    failNext: (count, o) => faults.failNext(count, o),
    setUnavailable(on) {
      faults.setUnavailable(on);
      if (on) dropWatches();
    },
    stopListening: () => stop(server, openWatches),
    async startListening() {
      if (!server.listening) await listen(server, port, host);
    },
    dropWatches,
    openWatchCount: () => openWatches.size,
    close: () => stop(server, openWatches),
  };
}
