// speaker-failover.test.ts — three of our speakers (real processes, `metal-vrrp speaker --config`) on a lab LAN with
// the kube-proxy strictARP emulation and an HTTP responder per node, checked from the client with arping, a 10 ms
// ARP/NS prober, ping, curl, `ip -6 neigh` and tcpdump. Needs root; namespaces mvsp-f-*.
//
// Priorities n1 200, n2 150, n3 100 for one IPv4 and one IPv6 router (VRID 42), 100 ms adverts, 3 announcements
// 100 ms apart. Margins are generous (shared 2-core machine): they separate protocol paths (Skew_Time after a
// priority-0 advert vs Master_Down_Interval after silence), not speeds.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { run, runOk } from '../../lab/netlab/exec.ts';
import { startHttpResponders } from '../../lab/netlab/http-responder.ts';
import { emulateKubeProxy } from '../../lab/netlab/kube-proxy.ts';
import { buildLab, type Lab, type LabHost, teardownByPrefix } from '../../lab/netlab/netns.ts';
import {
  curlOnce,
  firstAnswerAfter,
  startArpProbe,
  startCapture,
  startPingProbe,
  startTshark,
} from '../../lab/netlab/probe.ts';
import { isStateChange, metricValue, type SpeakerProcess, startSpeaker } from '../../lab/netlab/speaker.ts';
import { masterDownIntervalMs, skewTimeMs } from '../../vrrp/timing.ts';

const PREFIX = 'mvsp-f';
const SKIP = process.getuid?.() !== 0 ? 'needs root (network namespaces)' : false;
const VRID = 42;
const PRIORITIES = [200, 150, 100];
const INTERVAL_CS = 10;
const GRATUITOUS = { count: 3, spacingMs: 100 };

after(async () => {
  await teardownByPrefix(PREFIX);
});

/** arpingMacs runs iputils arping from the client and returns the distinct MACs that answered (upper-cased). */
async function arpingMacs(lab: Lab, vip: string, count = 3): Promise<string[]> {
  const c = lab.client;
  // -b keeps broadcasting: after a first reply arping would otherwise unicast to that MAC only.
  const res = await run(c.ns, ['arping', '-b', '-c', String(count), '-w', String(count + 1), '-I', c.ifname, vip]);
  return [...new Set([...res.stdout.matchAll(/\[([0-9A-F:]{17})\]/gi)].map((m) => m[1]!.toLowerCase()))];
}

async function neighMac(lab: Lab, vip: string): Promise<string | undefined> {
  await run(lab.client.ns, ['ping', '-c', '1', '-W', '1', vip]);
  const out = await runOk(lab.client.ns, ['ip', '-6', 'neigh', 'show', vip, 'dev', lab.client.ifname]);
  return /lladdr ([0-9a-f:]{17})/.exec(out)?.[1];
}

function config(vip4: string, vip6: string, priority: number) {
  return {
    gratuitous: GRATUITOUS,
    routers: [
      { vrid: VRID, priority, vips: [vip4] },
      { vrid: VRID, priority, vips: [vip6] },
    ],
  };
}

test('three speakers: one master answers, node loss, preemption, graceful hand-over, IPv6', {
  skip: SKIP,
}, async (t) => {
  const lab = await buildLab({ prefix: PREFIX, nodes: 3 });
  const speakers = new Map<LabHost, SpeakerProcess>();
  try {
    await emulateKubeProxy(lab);
    await startHttpResponders(lab);
    const [n1, n2, n3] = lab.nodes as [LabHost, LabHost, LabHost];
    const vip4 = lab.vipsV4[0]!;
    const vip6 = lab.vipsV6[0]!;
    const start = async (host: LabHost) => {
      const i = lab.nodes.indexOf(host);
      const sp = await startSpeaker(host, config(vip4, vip6, PRIORITIES[i]!));
      speakers.set(host, sp);
      return sp;
    };
    await Promise.all(lab.nodes.map(start));
    const s1 = speakers.get(n1)!;
    await s1.waitForLog(isStateChange('master', 'ipv4'));
    await s1.waitForLog(isStateChange('master', 'ipv6'));

    await t.test('converged: arping sees exactly one MAC, the master; curl answers the master node', async () => {
      assert.deepEqual(await arpingMacs(lab, vip4), [n1.mac]);
      assert.equal(await curlOnce(lab, vip4), 'n1');
      const probe = await startArpProbe(lab, vip4, { intervalMs: 10 });
      await sleep(1000);
      const res = await probe.stop();
      const macs = new Set(res.answers.map((a) => a.mac));
      assert.deepEqual([...macs], [n1.mac], 'every answer in 1 s of probing came from the master');
      assert.ok(res.answers.length >= res.sent * 0.9, `${res.answers.length} answers to ${res.sent} probes`);
    });

    await t.test(
      'backups never answer: their ARP/NDP reply counters stay 0, the master counts its replies',
      async () => {
        for (const host of [n2, n3]) {
          const m = await speakers.get(host)!.metrics();
          assert.equal(metricValue(m, 'metal_vrrp_arp_replies_total'), undefined, `${host.name} answered ARP`);
          assert.equal(metricValue(m, 'metal_vrrp_ndp_replies_total'), undefined, `${host.name} answered NDP`);
          assert.equal(metricValue(m, 'metal_vrrp_router_state', { family: 'ipv4' }), 1);
          assert.equal(metricValue(m, 'metal_vrrp_vip_master', { vip: vip4 }), 0);
        }
        const m1 = await s1.metrics();
        assert.ok((metricValue(m1, 'metal_vrrp_arp_replies_total') ?? 0) > 0);
        assert.equal(metricValue(m1, 'metal_vrrp_vip_master', { vip: vip4 }), 1);
        assert.equal(metricValue(m1, 'metal_vrrp_vip_master', { vip: vip6 }), 1);
      },
    );

    await t.test('IPv6: ping reaches the VIP and the client neighbour entry holds the master MAC', async () => {
      assert.equal(await neighMac(lab, vip6), n1.mac);
      assert.equal(await curlOnce(lab, vip6), 'n1');
    });

    await t.test('node loss (link down + SIGKILL): n2 takes over within Master_Down_Interval + 100 ms', async () => {
      const mdi = masterDownIntervalMs(PRIORITIES[1]!, INTERVAL_CS);
      const capture = await startCapture(lab.client.ns, lab.client.ifname, 'arp or (icmp6 and ip6[40] == 136)');
      const probe = await startArpProbe(lab, vip4, { intervalMs: 10 });
      await sleep(300 + Math.random() * 100); // a random point of the advert cycle
      const t0 = Date.now();
      await Promise.all([lab.setLinkDown(n1), s1.kill('SIGKILL')]);
      await speakers.get(n2)!.waitForLog((l) => l['to'] === 'master' && l['reason'] === 'master-down', 3000);
      await sleep(600); // let the announcements finish
      const res = await probe.stop();
      const lines = await capture.stop();
      const first = firstAnswerAfter(res, t0, n2.mac);
      assert.ok(first, 'the client heard n2');
      const gap = first.t - t0;
      t.diagnostic(
        `node loss: first answer from n2 ${gap.toFixed(1)} ms after the kill (Master_Down_Interval ${mdi} ms)`,
      );
      assert.ok(gap < mdi + 100, `gap ${gap.toFixed(1)} ms >= Master_Down_Interval ${mdi} + 100 ms`);
      assert.ok(gap > 3 * INTERVAL_CS * 10 - 100, `gap ${gap.toFixed(1)} ms: taken over before the master was silent`);
      assert.equal(
        res.answers.some((a) => a.mac === n3.mac),
        false,
        'n3 (lowest priority) never answered',
      );
      const after = res.answers.filter((a) => a.t > first.t);
      assert.deepEqual([...new Set(after.map((a) => a.mac))], [n2.mac], 'only n2 answers after the takeover');
      // Gratuitous ARP: `count` rounds of the request and the reply form, broadcast from n2; unsolicited NAs: `count`
      // to ff02::1 (tcpdump -e lines read "TIME SRC > DST, ethertype …").
      const from = (mac: string, dst: string) =>
        lines.filter((l) => l.split(' ')[1] === mac && l.includes(`> ${dst},`));
      const garp = from(n2.mac, 'ff:ff:ff:ff:ff:ff').filter((l) => l.includes('ARP') && l.includes(vip4));
      assert.equal(garp.length, GRATUITOUS.count * 2, `gratuitous ARP frames seen:\n${garp.join('\n')}`);
      const na = from(n2.mac, '33:33:00:00:00:01').filter((l) => /neighbor advertisement/.test(l) && l.includes(vip6));
      assert.equal(na.length, GRATUITOUS.count, `unsolicited NAs seen:\n${na.join('\n')}`);
      assert.deepEqual(await arpingMacs(lab, vip4), [n2.mac]);
      assert.equal(await curlOnce(lab, vip4), 'n2');
      assert.equal(await neighMac(lab, vip6), n2.mac, 'the unsolicited NA moved the IPv6 neighbour entry');
      assert.equal(await curlOnce(lab, vip6), 'n2');
    });

    await t.test('the best node returns (preempt): it takes the VIP back, never two answering at once', async () => {
      await lab.setLinkUp(n1);
      const capture = await startTshark(lab.client.ns, lab.client.ifname, 'arp', [
        'frame.time_epoch',
        'arp.opcode',
        'arp.src.hw_mac',
        'arp.src.proto_ipv4',
      ]);
      const probe = await startArpProbe(lab, vip4, { intervalMs: 10 });
      const back = await start(n1);
      await back.waitForLog((l) => l['to'] === 'master' && l['family'] === 'ipv4' && l['reason'] === 'preempt', 5000);
      await speakers
        .get(n2)!
        .waitForLog((l) => l['to'] === 'backup' && l['family'] === 'ipv4' && l['reason'] === 'higher-priority', 3000);
      await sleep(1000);
      const res = await probe.stop();
      const firstN1 = res.answers.find((a) => a.mac === n1.mac);
      assert.ok(firstN1, 'n1 answers again');
      // After the first answer from n1 (plus one probe interval for replies already in flight) n2 is silent.
      const lateN2 = res.answers.filter((a) => a.mac === n2.mac && a.t > firstN1.t + 10);
      assert.deepEqual(lateN2, [], 'n2 answered after n1 took over');
      // The same from tshark's decoding of the client's wire: ARP replies (opcode 2) for the VIP, by sender MAC.
      const replies = (await capture.stop())
        .filter(([, op, , ip]) => op === '2' && ip === vip4)
        .map(([t, , mac]) => ({ t: Number(t) * 1000, mac }));
      const n1First = replies.find((r) => r.mac === n1.mac);
      assert.ok(n1First, `tshark saw n1 reply: ${JSON.stringify(replies.slice(-5))}`);
      assert.ok(
        replies.some((r) => r.mac === n2.mac),
        'tshark saw n2 reply before the preemption',
      );
      assert.deepEqual(
        replies.filter((r) => r.mac === n2.mac && r.t > n1First.t + 10),
        [],
        'tshark: two nodes answered ARP for the VIP after n1 took over',
      );
      assert.deepEqual(await arpingMacs(lab, vip4), [n1.mac]);
    });

    await t.test(
      'SIGTERM of the master: priority 0, n2 takes over within Skew_Time + 100 ms, ≤ 2 lost pings',
      async () => {
        const s1b = speakers.get(n1)!;
        await sleep(500);
        const ping = await startPingProbe(lab, vip4, { intervalMs: 10 });
        const probe = await startArpProbe(lab, vip4, { intervalMs: 10 });
        await sleep(300 + Math.random() * 100);
        const t0 = Date.now();
        const exit = await s1b.kill('SIGTERM');
        assert.equal(exit.code, 0, 'the speaker exits 0 after resigning');
        const took = await speakers
          .get(n2)!
          .waitForLog((l) => l.t >= t0 && l['to'] === 'master' && l['family'] === 'ipv4', 3000);
        assert.equal(took['reason'], 'priority-zero');
        await sleep(500);
        const res = await probe.stop();
        const pings = await ping.stop();
        const first = firstAnswerAfter(res, t0, n2.mac);
        assert.ok(first, 'the client heard n2');
        const gap = first.t - t0;
        const skew = skewTimeMs(PRIORITIES[1]!, INTERVAL_CS);
        t.diagnostic(
          `graceful: n2 heard ${gap.toFixed(1)} ms after SIGTERM (Skew_Time ${skew} ms); pings lost ${pings.lost.length}, longest gap ${pings.longestGap?.ms.toFixed(1)} ms`,
        );
        assert.ok(gap < skew + 100, `gap ${gap.toFixed(1)} ms >= Skew_Time ${skew} + 100 ms`);
        assert.ok(pings.maxConsecutiveLost <= 2, `lost ${pings.maxConsecutiveLost} pings in a row`);
        assert.equal(
          res.answers.some((a) => a.mac === n1.mac && a.t > t0 + 10),
          false,
          'n1 stopped answering on SIGTERM',
        );
      },
    );
  } finally {
    const report = await lab.teardown();
    t.diagnostic(`teardown ${report.ms.toFixed(0)} ms, killed ${report.killed.length}`);
  }
});
