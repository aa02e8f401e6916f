// health-probe.test.ts — the probe edge against servers on loopback (status codes, refused, silent, endless body),
// and ProbeLoop on a fake clock (interval, one probe in flight, rise/fall, stop).
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { type AddressInfo, createServer as createTcpServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { realClock } from '../../src/clock.ts';
import type { CheckResult, CheckState } from '../../src/health/check-state.ts';
import type { ProbeSpec } from '../../src/health/health-adjust.ts';
import { ProbeLoop } from '../../src/health/probe-loop.ts';
import { parseProbeTarget } from '../../src/model/health-checks.ts';
import { probeOnce } from '../../src/net/health-probe.ts';
import { FakeTimers, settle } from '../support/fake-timers.ts';

describe('probeOnce over loopback', () => {
  let http: Server;
  let port = 0;
  let refusedPort = 0;
  before(async () => {
    http = createServer((req, res) => {
      const path = req.url ?? '/';
      if (path === '/silent') return; // never answers
      if (path === '/endless') {
        res.writeHead(200);
        const t = setInterval(() => res.write('x'.repeat(1024)), 5);
        res.on('close', () => clearInterval(t));
        return;
      }
      const code = Number(path.slice(1)) || 200;
      res.writeHead(code, code === 302 ? { location: '/' } : {});
      res.end('body');
    });
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    port = (http.address() as AddressInfo).port;
    // A port that was just free: nothing listens there.
    const tmp = createTcpServer();
    await new Promise<void>((r) => tmp.listen(0, '127.0.0.1', r));
    refusedPort = (tmp.address() as AddressInfo).port;
    await new Promise<void>((r) => tmp.close(() => r()));
  });
  after(() => {
    http.closeAllConnections();
    http.close();
  });

  const probe = (scheme: 'http' | 'tcp', path: string, p = port, timeoutMs = 300) =>
    probeOnce({ scheme, host: '127.0.0.1', port: p, path, timeoutMs }, realClock);

  // [scheme, path, ok, detail]
  const cases: readonly ['http' | 'tcp', string, boolean, string | RegExp][] = [
    ['http', '/200', true, 'HTTP 200'],
    ['http', '/204', true, 'HTTP 204'],
    ['http', '/302', true, 'HTTP 302'],
    ['http', '/404', false, 'HTTP 404'],
    ['http', '/503', false, 'HTTP 503'],
    ['http', '/silent', false, 'timeout after 300ms'],
    ['http', '/endless', true, 'HTTP 200'],
    ['tcp', '', true, 'connected'],
  ];
  for (const [scheme, path, ok, detail] of cases) {
    test(`${scheme} ${path || port}`, async () => {
      const r = await probe(scheme, path);
      assert.equal(r.ok, ok);
      if (typeof detail === 'string') assert.equal(r.detail, detail);
    });
  }

  test('refused: http and tcp fail with the socket error', async () => {
    assert.deepEqual(await probe('http', '/', refusedPort), { ok: false, detail: 'http ECONNREFUSED' });
    assert.deepEqual(await probe('tcp', '', refusedPort), { ok: false, detail: 'connect ECONNREFUSED' });
  });

  test('no connection is left open after a timed-out or endless probe', async () => {
    await probe('http', '/silent');
    await probe('http', '/endless');
    await new Promise((r) => setTimeout(r, 50));
    const open = await new Promise<number>((r) => http.getConnections((_e, n) => r(n)));
    assert.equal(open, 0);
  });
});

describe('ProbeLoop', () => {
  const target = parseProbeTarget('http://:8080/healthz');
  if ('error' in target) throw new Error(target.error);
  const spec: ProbeSpec = {
    key: 'k',
    kind: 'probe',
    target: target.value,
    intervalMs: 1000,
    timeoutMs: 500,
    rise: 2,
    fall: 2,
  };

  test('probes at start and every interval; reports status changes after rise/fall', async () => {
    const timers = new FakeTimers();
    const script = [true, false, false, true, true, false];
    const asked: [number, string][] = [];
    const changes: [number, CheckState['status']][] = [];
    const loop = new ProbeLoop({
      spec,
      host: '10.0.0.1',
      clock: timers,
      probe: async (s, host): Promise<CheckResult> => {
        asked.push([timers.now(), `${host}:${s.target.port}`]);
        return { ok: script.shift() ?? true, detail: '' };
      },
      onChange: (_s, st) => changes.push([timers.now(), st.status]),
    });
    loop.start();
    await timers.advance(5500);
    assert.deepEqual(
      asked.map((a) => a[0]),
      [0, 1000, 2000, 3000, 4000, 5000],
    );
    assert.equal(asked[0]![1], '10.0.0.1:8080');
    // up at once; fall 2 → down at the 2nd failure (2000); rise 2 → up at the 2nd success (4000); one failure forgiven.
    assert.deepEqual(changes, [
      [0, 'up'],
      [2000, 'down'],
      [4000, 'up'],
    ]);
    loop.stop();
    await timers.advance(5000);
    assert.equal(asked.length, 6);
    assert.equal(timers.pending, 0);
  });

  test('one probe in flight: a slow probe delays the next, never overlaps it', async () => {
    const timers = new FakeTimers();
    let inFlight = 0;
    let most = 0;
    const starts: number[] = [];
    const loop = new ProbeLoop({
      spec,
      host: '10.0.0.1',
      clock: timers,
      probe: () => {
        starts.push(timers.now());
        inFlight++;
        most = Math.max(most, inFlight);
        return new Promise((resolve) =>
          timers.setTimer(() => {
            inFlight--;
            resolve({ ok: true, detail: '' });
          }, 1500),
        );
      },
      onChange: () => {},
    });
    loop.start();
    await timers.advance(6000);
    loop.stop();
    await settle();
    assert.equal(most, 1);
    assert.deepEqual(starts, [0, 1500, 3000, 4500, 6000]);
  });
});
