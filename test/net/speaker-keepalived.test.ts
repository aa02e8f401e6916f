// speaker-keepalived.test.ts — interop with a VRRP implementation we did not write: Debian's keepalived 2.2
// (vrrp_version 3, same VRID, interval and VIP) in n2, our speaker in n1, checked from the client with arping.
// keepalived puts the VIP on its eth0 when master, so the kernel of n2 answers ARP then. Our speaker runs with
// authentication off (no `auth:`, the default): its adverts must be plain VRRPv3 that keepalived accepts (issue 15:
// "authentication off interoperates with keepalived"). Needs root; mvsp-k-*.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { run } from '../../lab/netlab/exec.ts';
import { type KeepalivedProcess, startKeepalived } from '../../lab/netlab/keepalived.ts';
import { buildLab, type Lab, type LabHost, teardownByPrefix } from '../../lab/netlab/netns.ts';
import { isStateChange, metricValue, startSpeaker } from '../../lab/netlab/speaker.ts';
import { AUTH_ERRORS } from '../../vrrp/auth.ts';
import { masterDownIntervalMs, skewTimeMs } from '../../vrrp/timing.ts';

const PREFIX = 'mvsp-k';
const SKIP = process.getuid?.() !== 0 ? 'needs root (network namespaces)' : false;
const VRID = 51;
const INTERVAL_MS = 100;
const MASTER = /\(VI_51\) Entering MASTER STATE/;
const BACKUP = /\(VI_51\) Entering BACKUP STATE/;

after(async () => {
  await teardownByPrefix(PREFIX);
});

async function arpingMacs(lab: Lab, vip: string): Promise<string[]> {
  const c = lab.client;
  const res = await run(c.ns, ['arping', '-b', '-c', '3', '-w', '4', '-I', c.ifname, vip]);
  return [...new Set([...res.stdout.matchAll(/\[([0-9A-F:]{17})\]/gi)].map((m) => m[1]!.toLowerCase()))];
}

test('authentication off interoperates with keepalived: either priority order, failover both ways', {
  skip: SKIP,
}, async (t) => {
  const lab = await buildLab({ prefix: PREFIX, nodes: 2 });
  const [n1, n2] = lab.nodes as [LabHost, LabHost];
  const vip = lab.vipsV4[0]!;
  const ours = (priority: number) => startSpeaker(n1, { routers: [{ vrid: VRID, priority, vips: [vip] }] });
  const theirs = (priority: number) =>
    startKeepalived(n2, {
      vrid: VRID,
      priority,
      vips: [vip],
      prefixLen: lab.prefixLen4,
      advertIntervalMs: INTERVAL_MS,
    });
  /** cleanN2 emulates what a rebooted node looks like: keepalived gone, its VIP off eth0, the link up. */
  const cleanN2 = async (ka: KeepalivedProcess) => {
    await ka.kill('SIGKILL');
    await run(n2.ns, ['ip', 'addr', 'del', `${vip}/${lab.prefixLen4}`, 'dev', n2.ifname]);
    await lab.setLinkUp(n2);
  };
  try {
    await t.test(
      'keepalived lower (100) stays BACKUP under our master (200); takes over on SIGTERM and node loss',
      async () => {
        const sp = await ours(200);
        await sp.waitForLog(isStateChange('master', 'ipv4'));
        const ka = await theirs(100);
        await ka.waitForLine(BACKUP);
        await sleep(1500);
        assert.equal(
          ka.lines.some((l) => MASTER.test(l)),
          false,
          `keepalived became master:\n${ka.lines.join('\n')}`,
        );
        assert.deepEqual(await arpingMacs(lab, vip), [n1.mac]);
        const addrs = await run(n2.ns, ['ip', '-4', 'addr', 'show', 'dev', n2.ifname]);
        assert.doesNotMatch(addrs.stdout, new RegExp(`${vip.replaceAll('.', '\\.')}/`), 'keepalived holds no VIP');

        // Graceful: our SIGTERM sends priority 0; keepalived takes over after its Skew_Time.
        let from = ka.lines.length;
        let t0 = Date.now();
        await sp.kill('SIGTERM');
        await ka.waitForLine(MASTER, 3000, from);
        const graceful = Date.now() - t0;
        t.diagnostic(
          `our SIGTERM -> keepalived MASTER seen after ${graceful} ms (its Skew_Time ${skewTimeMs(100, 10)} ms)`,
        );
        assert.ok(graceful < masterDownIntervalMs(100, 10), `${graceful} ms: not the priority-0 path`);
        assert.deepEqual(await arpingMacs(lab, vip), [n2.mac]);

        // Our speaker returns and preempts keepalived.
        from = ka.lines.length;
        const back = await ours(200);
        await back.waitForLog((l) => l['to'] === 'master' && l['reason'] === 'preempt', 5000);
        await ka.waitForLine(BACKUP, 3000, from);
        await sleep(300);
        assert.deepEqual(await arpingMacs(lab, vip), [n1.mac]);

        // Node loss of ours: keepalived takes over after its Master_Down_Interval.
        from = ka.lines.length;
        t0 = Date.now();
        await Promise.all([lab.setLinkDown(n1), back.kill('SIGKILL')]);
        await ka.waitForLine(MASTER, 3000, from);
        t.diagnostic(`our node lost -> keepalived MASTER after ${Date.now() - t0} ms`);
        assert.deepEqual(await arpingMacs(lab, vip), [n2.mac]);
        await cleanN2(ka);
        await lab.setLinkUp(n1);
      },
    );

    await t.test(
      'keepalived higher (200): our speaker stays backup and takes over on SIGTERM and node loss',
      async () => {
        let ka = await theirs(200);
        await ka.waitForLine(MASTER, 5000);
        const sp = await ours(100);
        await sleep(1500);
        assert.equal(sp.logs.some(isStateChange('master')), false, 'our speaker became master');
        const m = await sp.metrics();
        assert.equal(metricValue(m, 'metal_vrrp_router_state', { family: 'ipv4' }), 1);
        assert.ok((metricValue(m, 'metal_vrrp_adverts_received_total', { vrid: String(VRID) }) ?? 0) >= 10);
        assert.equal(metricValue(m, 'metal_vrrp_invalid_packets_total', { reason: 'bad-checksum' }), 0);
        for (const reason of AUTH_ERRORS) {
          assert.equal(metricValue(m, 'metal_vrrp_invalid_packets_total', { family: 'ipv4', reason }), 0, `${reason}`);
        }
        assert.deepEqual(await arpingMacs(lab, vip), [n2.mac]);

        // keepalived's SIGTERM sends priority 0: we take over after Skew_Time.
        let t0 = Date.now();
        await ka.kill('SIGTERM');
        const took = await sp.waitForLog((l) => l.t >= t0 && l['to'] === 'master', 3000);
        assert.equal(took['reason'], 'priority-zero');
        assert.deepEqual(await arpingMacs(lab, vip), [n1.mac]);

        // keepalived returns and preempts us.
        ka = await theirs(200);
        t0 = Date.now();
        const yielded = await sp.waitForLog((l) => l.t >= t0 && l['to'] === 'backup', 5000);
        assert.equal(yielded['reason'], 'higher-priority');
        await ka.waitForLine(MASTER, 3000);
        await sleep(300);
        assert.deepEqual(await arpingMacs(lab, vip), [n2.mac]);

        // Node loss of keepalived's node: link down and keepalived SIGKILLed.
        t0 = Date.now();
        await Promise.all([lab.setLinkDown(n2), ka.kill('SIGKILL')]);
        const lost = await sp.waitForLog((l) => l.t >= t0 && l['to'] === 'master', 3000);
        assert.equal(lost['reason'], 'master-down');
        const gap = lost.t - t0;
        t.diagnostic(
          `keepalived node lost -> our speaker master after ${gap} ms (MDI ${masterDownIntervalMs(100, 10)})`,
        );
        assert.ok(gap < masterDownIntervalMs(100, 10) + 200, `${gap} ms`);
        assert.deepEqual(await arpingMacs(lab, vip), [n1.mac]);
        await sp.kill('SIGTERM');
        await cleanN2(ka);
      },
    );
  } finally {
    await lab.teardown();
  }
});
