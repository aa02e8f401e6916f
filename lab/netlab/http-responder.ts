// http-responder.ts — a tiny HTTP server run inside a node's namespace, answering the node's name, so a client's
// curl to a VIP shows which node's datapath took the connection. The server itself is plain JavaScript run with
// `node -e` (starts in ~75 ms here; with the tsx loader ~165 ms), listening on [::]:80, which also takes
// IPv4 (dual-stack socket).
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { killPids, spawnIn } from './exec.ts';
import type { Lab, LabHost } from './netns.ts';

/** RESPONDER_SOURCE is the server: argv[1] = body, argv[2] = port, argv[3] (optional) = JSON map of node address to
 * node name; with it the answer is "<body> via <node>", the node the connection came through: the one whose address
 * the connection comes from (kube-proxy masquerades what it forwards to another node), else this node itself (a
 * connection DNATed to a local endpoint keeps the client's address). Prints "listening" once bound. */
export const RESPONDER_SOURCE = `
import { createServer } from 'node:http';
const [body, port, peers] = process.argv.slice(1);
const via = peers ? JSON.parse(peers) : null;
const from = (req) => String(req.socket.remoteAddress).replace(/^::ffff:/, '');
createServer((req, res) => res.end((via ? body + ' via ' + (via[from(req)] ?? body) : body) + '\\n'))
  .listen(Number(port), '::', () => console.log('listening'));
`;

/** viaOf reads the node a connection came through from a "<body> via <node>" answer (null for any other text). */
export function viaOf(answer: string | null): string | null {
  const m = answer === null ? null : / via (\S+)$/.exec(answer);
  return m ? m[1]! : null;
}

/** HttpResponder is one running server; stop() ends it (SIGTERM by exact pid). */
export interface HttpResponder {
  readonly host: LabHost;
  readonly port: number;
  readonly child: ChildProcess;
  stop(): Promise<void>;
}

/** startHttpResponder starts the server in `host`'s namespace and resolves once it listens; `body` defaults to the
 * host's name ('n1'). The process is recorded in the lab's pid file, so a teardown stops it even after a crash. */
export async function startHttpResponder(
  host: LabHost,
  opts: {
    readonly port?: number;
    readonly body?: string;
    readonly timeoutMs?: number;
    /** peers maps node addresses to node names: answer "<body> via <node>" (see RESPONDER_SOURCE). */
    readonly peers?: Readonly<Record<string, string>>;
  } = {},
): Promise<HttpResponder> {
  const port = opts.port ?? 80;
  const child = spawnIn(host.ns, [
    process.execPath,
    '--input-type=module',
    '-e',
    RESPONDER_SOURCE,
    opts.body ?? host.name,
    String(port),
    ...(opts.peers ? [JSON.stringify(opts.peers)] : []),
  ]);
  const stderr: string[] = [];
  child.stderr?.setEncoding('utf8').on('data', (d: string) => stderr.push(d));
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      if (d.includes('listening')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`http responder in ${host.ns} exited ${code}: ${stderr.join('')}`)));
  });
  const timeout = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 5000);
  try {
    await ready;
  } finally {
    clearTimeout(timeout);
  }
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    if (child.pid !== undefined) await killPids([child.pid]);
    await exited;
  };
  return { host, port, child, stop };
}

/** startHttpResponders starts one server per node of the lab (not on the client). */
export function startHttpResponders(lab: Lab, opts: { readonly port?: number } = {}): Promise<HttpResponder[]> {
  return Promise.all(lab.nodes.map((n) => startHttpResponder(n, opts)));
}
