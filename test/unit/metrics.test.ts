import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { serveEndpoints } from '../../src/http-endpoints.ts';
import { createControllerMetrics, createSpeakerMetrics } from '../../src/metrics.ts';

function promtoolCheck(exposition: string): { code: number | null; out: string } {
  const res = spawnSync('promtool', ['check', 'metrics'], { input: exposition, encoding: 'utf8' });
  if (res.error) throw new Error(`promtool not runnable (apt-get install prometheus): ${res.error.message}`);
  return { code: res.status, out: res.stdout + res.stderr };
}

test('speaker and controller expositions pass promtool check metrics', async () => {
  const s = createSpeakerMetrics();
  s.vipMaster.set({ vip: '10.0.0.1', vrid: '7', family: 'ipv4', node: 'n1', service: 'default/demo' }, 1);
  s.routerState.set({ vrid: '7', family: 'ipv4', interface: 'eth0' }, 2);
  s.transitions.inc({ vrid: '7', family: 'ipv4', to: 'master', reason: 'master-down' });
  s.advertsSent.inc({ vrid: '7', family: 'ipv4' });
  s.advertsReceived.inc({ vrid: '7', family: 'ipv4' });
  s.invalidPackets.inc({ family: 'ipv4', reason: 'bad-checksum' });
  s.legacyChecksum.inc({ vrid: '7' });
  s.arpReplies.inc({ interface: 'eth0' });
  s.ndpReplies.inc({ interface: 'eth0' });
  s.gratuitousSent.inc({ family: 'ipv6', interface: 'eth0' });
  s.apiWatchErrors.inc({ resource: 'services' });
  s.configErrors.inc({ kind: 'IPAddressPool', code: 'INVALID_ANNOTATION' });
  const c = createControllerMetrics();
  c.poolAddresses.set({ pool: 'ip-pool', family: 'ipv4' }, 5);
  c.poolInUse.set({ pool: 'ip-pool', family: 'ipv4' }, 1);
  c.allocationErrors.inc({ reason: 'POOL_EXHAUSTED' });
  c.allocations.inc({ pool: 'ip-pool' });
  for (const registry of [s.registry, c.registry]) {
    const text = await registry.metrics();
    const { code, out } = promtoolCheck(text);
    assert.equal(code, 0, out);
  }
});

test('promtool rejects a broken exposition (the check can fail)', () => {
  const { code } = promtoolCheck('# TYPE x counter\nx{a="1"} notanumber\n');
  assert.notEqual(code, 0);
});

test('registries are independent per process component', async () => {
  const a = createSpeakerMetrics({ processMetrics: false });
  const b = createSpeakerMetrics({ processMetrics: false });
  a.advertsSent.inc({ vrid: '1', family: 'ipv4' }, 3);
  assert.match(
    await a.registry.metrics(),
    /metal_vrrp_adverts_sent_total\{vrid="1",family="ipv4",component="speaker"\} 3/,
  );
  assert.doesNotMatch(await b.registry.metrics(), /adverts_sent_total\{/);
});

test('endpoints serve /metrics, /healthz, /readyz with probe reasons', async () => {
  const m = createSpeakerMetrics({ processMetrics: false });
  let ready = false;
  const server = await serveEndpoints(
    {
      registry: m.registry,
      healthz: () => ({ ok: true }),
      readyz: () => (ready ? { ok: true } : { ok: false, reason: 'waiting for first sync' }),
    },
    '127.0.0.1',
    0,
  );
  try {
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    const notReady = await fetch(`${base}/readyz`);
    assert.equal(notReady.status, 503);
    assert.match(await notReady.text(), /waiting for first sync/);
    ready = true;
    assert.equal((await fetch(`${base}/readyz`)).status, 200);
    const metrics = await fetch(`${base}/metrics`);
    assert.equal(metrics.status, 200);
    assert.match(await metrics.text(), /metal_vrrp_transitions_total/);
    assert.equal((await fetch(`${base}/nope`)).status, 404);
  } finally {
    server.close();
  }
});
