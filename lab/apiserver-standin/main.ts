// main.ts — run the API stand-in as its own process (the lab does, inside a network namespace):
//   node --import tsx lab/apiserver-standin/main.ts --host 10.0.0.1 --port 6443 --kubeconfig /tmp/kubeconfig
// Prints the URL on stdout once listening; SIGINT/SIGTERM close it. Test controls: POST /__test/… (see control.ts).

import { parseArgs } from 'node:util';
import { startApiServer } from './server.ts';

const { values } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '0' },
    kubeconfig: { type: 'string' },
    'history-limit': { type: 'string' },
    'bookmark-interval-ms': { type: 'string' },
    'watch-timeout-seconds': { type: 'string' },
  },
  strict: true,
});

function optionalNumber(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) {
    process.stderr.write(`apiserver: --${name} must be a non-negative integer, got "${v}"\n`);
    process.exit(2);
  }
  return n;
}

const server = await startApiServer({
  host: values.host,
  port: optionalNumber('port', values.port),
  historyLimit: optionalNumber('history-limit', values['history-limit']),
  bookmarkIntervalMs: optionalNumber('bookmark-interval-ms', values['bookmark-interval-ms']),
  watchTimeoutSeconds: optionalNumber('watch-timeout-seconds', values['watch-timeout-seconds']),
});
if (values.kubeconfig) await server.writeKubeconfig(values.kubeconfig);
process.stdout.write(`${server.url}\n`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void server.close().then(() => process.exit(0));
  });
}
