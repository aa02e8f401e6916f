import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';

/** Probe answers a health question: ok, or not with a reason shown to whoever asked. */
export type Probe = () => { ok: true } | { ok: false; reason: string };

export interface EndpointDeps {
  readonly registry: Registry;
  /** healthz: the process is alive and its loops run (liveness). */
  readonly healthz: Probe;
  /** readyz: the process has done what it must before traffic counts on it (readiness). */
  readonly readyz: Probe;
}

/** serveEndpoints starts the HTTP server for /metrics, /healthz and /readyz (port 7472 by default, as MetalLB). */
export async function serveEndpoints(deps: EndpointDeps, host: string, port: number): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405).end();
      return;
    }
    if (path === '/metrics') {
      deps.registry.metrics().then(
        (body) => res.writeHead(200, { 'content-type': deps.registry.contentType }).end(body),
        (err: unknown) => res.writeHead(500).end(String(err)),
      );
      return;
    }
    const probe = path === '/healthz' ? deps.healthz : path === '/readyz' ? deps.readyz : undefined;
    if (!probe) {
      res.writeHead(404).end('not found\n');
      return;
    }
    const result = probe();
    if (result.ok) res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    else res.writeHead(503, { 'content-type': 'text/plain' }).end(`${result.reason}\n`);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}
