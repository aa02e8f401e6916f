/**
 * serveUntilSignal is the tail every long-running command shares: serve /metrics, /healthz and /readyz (port 0: no
 * server), then on SIGTERM or SIGINT stop the component once, close the server and exit 0. A server that cannot bind
 * stops the component and reports the failure, so the command exits non-zero instead of running unobserved.
 */
import type { Server } from 'node:http';
import type { Registry } from 'prom-client';
import { serveEndpoints } from '../http-endpoints.ts';
import type { Logger } from '../log.ts';

/** ServeOptions: what to serve and how to stop. */
export interface ServeOptions {
  readonly logger: Logger;
  readonly registry: Registry;
  readonly ready: () => { ok: true } | { ok: false; reason: string };
  readonly address: string;
  readonly port: number;
  /** stop shuts the component down (a speaker resigns its routers first). */
  readonly stop: () => Promise<void>;
  /** stopping adds fields to the "stopping" log line (how many routers, …). */
  readonly stopping?: () => Record<string, unknown>;
  readonly stoppedMessage: string;
}

/** serveUntilSignal: see the file comment. Resolves with an error message when the server could not start. */
export async function serveUntilSignal(o: ServeOptions): Promise<string | undefined> {
  let server: Server | undefined;
  if (o.port > 0) {
    try {
      server = await serveEndpoints(
        { registry: o.registry, healthz: () => ({ ok: true }), readyz: o.ready },
        o.address,
        o.port,
      );
      o.logger.info({ address: o.address, port: o.port }, 'serving /metrics, /healthz, /readyz');
    } catch (err) {
      await o.stop();
      return `metrics server on ${o.address}:${o.port}: ${(err as Error).message}`;
    }
  }
  let exiting = false;
  const shutdown = async (signal: NodeJS.Signals) => {
    if (exiting) return;
    exiting = true;
    o.logger.info({ signal, ...(o.stopping?.() ?? {}) }, 'stopping');
    await o.stop();
    server?.close();
    o.logger.info(o.stoppedMessage);
    o.logger.flush();
    process.exit(0);
  };
  process.on('SIGTERM', (s) => void shutdown(s));
  process.on('SIGINT', (s) => void shutdown(s));
  return undefined;
}
