// api-bridge.ts — lets processes in lab namespaces reach an API server on the host's loopback (the real
// kube-apiserver of lab/kube/, or the stand-in), without any traffic outside loopback: the test listens on a Unix
// socket (the filesystem is shared by every network namespace) that forwards to the server on 127.0.0.1, and one tiny
// forwarder per node namespace listens on that namespace's 127.0.0.1:BRIDGE_PORT and connects to the socket. It
// forwards bytes, so TLS passes through: speakers and kube-proxy use https://127.0.0.1:BRIDGE_PORT (the real server's
// certificate names 127.0.0.1), the stand-in http://. pause() cuts the nodes off the server: a partition between the
// nodes and the control plane, while the server itself keeps serving the test process.

import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { PIDS_DIR, spawnIn } from './exec.ts';

/** BRIDGE_PORT is where the forwarder listens inside each namespace. */
export const BRIDGE_PORT = 6443;

const FORWARDER = `
const net = require('node:net');
const [port, path] = process.argv.slice(1);
net.createServer((c) => {
  const u = net.createConnection(path);
  c.pipe(u).pipe(c);
  const end = () => { c.destroy(); u.destroy(); };
  c.on('error', end); u.on('error', end);
}).listen(Number(port), '127.0.0.1', () => console.log('ready'));
`;

/** ApiBridge is the Unix socket and the forwarders; close() stops them all. */
export interface ApiBridge {
  readonly socketPath: string;
  /** serverURL is the server's address as seen from inside a bridged namespace (plain HTTP: the stand-in). */
  readonly serverURL: string;
  /** secureServerURL is the same over TLS (the real kube-apiserver). */
  readonly secureServerURL: string;
  addNamespace(ns: string): Promise<ChildProcess>;
  /** pause cuts every connection and refuses new ones: the API server is unreachable until resume(). */
  pause(): void;
  resume(): void;
  close(): Promise<void>;
}

/** startApiBridge forwards `${prefix}`'s socket to the API server at 127.0.0.1:`apiPort`. */
export async function startApiBridge(prefix: string, apiPort: number): Promise<ApiBridge> {
  const dir = `${PIDS_DIR}/${prefix}-api`;
  mkdirSync(dir, { recursive: true });
  const socketPath = `${dir}/api.sock`;
  rmSync(socketPath, { force: true });
  let paused = false;
  const open = new Set<Socket>(); // client sockets, to cut them on pause()
  const server: Server = createServer((c) => {
    if (paused) {
      c.destroy();
      return;
    }
    open.add(c);
    c.on('close', () => open.delete(c));
    const u = createConnection(apiPort, '127.0.0.1');
    c.pipe(u).pipe(c);
    const end = () => {
      c.destroy();
      u.destroy();
    };
    c.on('error', end);
    u.on('error', end);
  });
  server.listen(socketPath);
  await once(server, 'listening');
  const children: ChildProcess[] = [];
  return {
    socketPath,
    serverURL: `http://127.0.0.1:${BRIDGE_PORT}`,
    secureServerURL: `https://127.0.0.1:${BRIDGE_PORT}`,
    async addNamespace(ns) {
      const child = spawnIn(ns, [process.execPath, '-e', FORWARDER, String(BRIDGE_PORT), socketPath], { prefix });
      children.push(child);
      await new Promise<void>((resolve, reject) => {
        child.stdout?.setEncoding('utf8').once('data', () => resolve());
        child.once('exit', (code) => reject(new Error(`API forwarder in ${ns} exited ${code}`)));
      });
      return child;
    },
    pause() {
      paused = true;
      for (const c of open) c.destroy();
    },
    resume() {
      paused = false;
    },
    async close() {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
