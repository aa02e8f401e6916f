/**
 * One health probe over the wire: an HTTP GET (up on 2xx or 3xx, as kubelet's httpGet probe) or a TCP connect (up
 * once connected). Bounded: one timer covers connect, request and response headers; the body is never read (the
 * socket is destroyed once the status line is in), so a slow or endless endpoint cannot hold the prober. Never throws
 * and never rejects: every outcome is a CheckResult with a short reason for status and logs.
 */
import { request } from 'node:http';
import { connect } from 'node:net';
import type { Clock } from '../clock.ts';

/** CheckResult is one probe outcome (the shape src/health/check-state.ts folds in; net knows nothing of health). */
export interface CheckResult {
  readonly ok: boolean;
  readonly detail: string;
}

/** ProbeRequest is a probe to one address: `scheme`, `port` and `path` from the pool's URL, `host` this node's. */
export interface ProbeRequest {
  readonly scheme: 'http' | 'tcp';
  readonly host: string;
  readonly port: number;
  /** path of an HTTP probe, with its query. */
  readonly path: string;
  readonly timeoutMs: number;
}

function reason(err: unknown): string {
  const e = err as { code?: string; message?: string };
  return e?.code ?? e?.message ?? String(err);
}

/** probeOnce runs one probe and resolves with its result (see the file comment). */
export function probeOnce(req: ProbeRequest, clock: Clock): Promise<CheckResult> {
  return req.scheme === 'http' ? probeHttp(req, clock) : probeTcp(req, clock);
}

function probeHttp(req: ProbeRequest, clock: Clock): Promise<CheckResult> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (r: CheckResult) => {
      if (done) return;
      done = true;
      cancel();
      outgoing.destroy();
      resolve(r);
    };
    const outgoing = request({
      host: req.host,
      port: req.port,
      path: req.path,
      method: 'GET',
      headers: { 'user-agent': 'metal-vrrp-health', connection: 'close' },
      agent: false,
    });
    const cancel = clock.setTimer(
      () => finish({ ok: false, detail: `timeout after ${req.timeoutMs}ms` }),
      req.timeoutMs,
    );
    outgoing.on('response', (res) => {
      const code = res.statusCode ?? 0;
      res.destroy();
      finish({ ok: code >= 200 && code < 400, detail: `HTTP ${code}` });
    });
    outgoing.on('error', (err) => finish({ ok: false, detail: `http ${reason(err)}` }));
    outgoing.end();
  });
}

function probeTcp(req: ProbeRequest, clock: Clock): Promise<CheckResult> {
  return new Promise((resolve) => {
    let done = false;
    const socket = connect({ host: req.host, port: req.port });
    const finish = (r: CheckResult) => {
      if (done) return;
      done = true;
      cancel();
      socket.destroy();
      resolve(r);
    };
    const cancel = clock.setTimer(
      () => finish({ ok: false, detail: `timeout after ${req.timeoutMs}ms` }),
      req.timeoutMs,
    );
    socket.on('connect', () => finish({ ok: true, detail: 'connected' }));
    socket.on('error', (err) => finish({ ok: false, detail: `connect ${reason(err)}` }));
  });
}
