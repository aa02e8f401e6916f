// Health-driven failover on real kernels (issue 13): three node namespaces run `metal-vrrp speaker` in Kubernetes
// mode against the real kube-apiserver (lab/kube/k8s-lab.ts, every component as its ServiceAccount); the pool asks
// for a health check of each node's real kube-proxy (nftables mode): its /healthz on the node's own address, port
// 10256, every 200 ms, fall 1, rise 2, preempt-delay 3 s. A node's kube-proxy stopped (as when it crashes) fails the
// check; started again, it passes once it has synced its rules. Checked from the client (arping) and the speakers'
// logs:
// - stopping the master's kube-proxy moves the VIP to the next-ranked node, and the client hears the new MAC within
//   Skew_Time + one check interval + a margin (the master resigns with priority 0);
// - kube-proxy back: the node waits rise × interval, then preempt-delay, before taking its VIP back;
// - a kube-proxy stopped and started again every second moves the VIP away once and never back while it flaps;
// - the master's link down (its switch port, as a pulled cable; the API stays reachable through the bridge's
//   Unix socket) moves the VIP within Master_Down_Interval; the node sees its carrier go at once and leaves the
//   election, so when the link returns it rejoins as a backup and waits preempt-delay instead of taking the VIP back
//   at its first advert.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type K8sLab, startK8sLab, waitFor as waitForIn } from '../../lab/kube/k8s-lab.ts';
import { KUBE_PROXY_HEALTHZ_PORT } from '../../lab/kube/kube-proxy.ts';
import type { Lab, LabHost } from '../../lab/netlab/netns.ts';
import { firstAnswerAfter, startArpProbe } from '../../lab/netlab/probe.ts';
import { isStateChange, type SpeakerProcess } from '../../lab/netlab/speaker.ts';
import { nodePriorities } from '../../vrrp/priority.ts';
import { masterDownIntervalMs, skewTimeMs } from '../../vrrp/timing.ts';

const SKIP = process.getuid?.() !== 0 ? 'needs root (network namespaces, raw sockets)' : false;
const PREFIX = 'hltk';
const CHECK = `http://:${KUBE_PROXY_HEALTHZ_PORT}/healthz`;
const CHECK_INTERVAL_MS = 200;
const PREEMPT_DELAY_MS = 3000;
const ADVERT_CS = 10; // the default 100 ms
const MARGIN_MS = 400; // a loaded 2-core machine: process wake-ups, the prober's 10 ms cadence

let k: K8sLab;
let lab: Lab;
let speakers: Map<string, SpeakerProcess>;

const waitFor = <T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, ms = 15_000) =>
  waitForIn(what, fn, ms);
const vip = () => k.vipOf('web');
const vrid = () => k.vridOf('web');
const hostOf = (name: string): LabHost => k.hostOf(name);

/** ranking is the rendezvous order every speaker computes for the router: best first, with priorities. */
function ranking(): { node: string; priority: number }[] {
  const r = nodePriorities(
    `ipv4/${vrid()}`,
    lab.nodes.map((n) => n.name),
  );
  assert.ok('priorities' in r);
  return [...r.priorities].map(([node, priority]) => ({ node, priority }));
}

const mastersInStore = () => k.l2Statuses().map((o) => o.status?.['node']);

/** answeringMac probes the VIP for a moment and returns the MACs that answered. */
async function answeringMacs(ms = 300): Promise<string[]> {
  const p = await startArpProbe(lab, vip(), { maxDurationMs: ms + 5000 });
  await sleep(ms);
  const r = await p.stop();
  return [...new Set(r.answers.map((a) => a.mac))];
}

/** stopCheck stops the node's kube-proxy: its /healthz refuses connections. */
async function stopCheck(node: string): Promise<void> {
  await k.stopKubeProxy(node);
}

/** startCheck starts it again and resolves once it has synced and its /healthz answers 200. */
async function startCheck(node: string): Promise<void> {
  await k.startKubeProxy(node);
}

async function settledOn(node: string): Promise<void> {
  await waitFor(`${node} master in the store`, () => {
    const m = mastersInStore();
    return m.length === 1 && m[0] === node;
  });
  await waitFor(`${node} answering ARP`, async () => {
    const macs = await answeringMacs(200);
    return macs.length === 1 && macs[0] === hostOf(node).mac;
  });
}

describe('health-driven failover', { skip: SKIP }, () => {
  before(async () => {
    k = await startK8sLab({
      ipvsAddresses: true, // as before: the VIPs local on kube-ipvs0 (IPVS mode), so ping reaches them
      prefix: PREFIX,
      nodes: 3,
      services: [{ name: 'web' }],
      vips: 1,
      logLevel: 'debug',
      poolAnnotations: {
        'metal-vrrp.io/health-check': CHECK,
        'metal-vrrp.io/health-interval': `${CHECK_INTERVAL_MS}ms`,
        'metal-vrrp.io/health-timeout': '150ms',
        'metal-vrrp.io/health-fall': '1',
        'metal-vrrp.io/health-rise': '2',
        'metal-vrrp.io/preempt-delay': `${PREEMPT_DELAY_MS / 1000}s`,
      },
    });
    lab = k.lab;
    speakers = k.speakers;
  });

  after(async () => {
    await k?.stop();
  });

  test("the master's kube-proxy stopped (its /healthz gone) moves the VIP within Skew_Time + one check interval", async () => {
    const [first, second] = ranking();
    await settledOn(first!.node);
    const probe = await startArpProbe(lab, vip());
    await sleep(300 + Math.random() * 200); // anywhere in the advert and check cycles
    const t0 = Date.now();
    await stopCheck(first!.node);
    const took = await speakers.get(second!.node)!.waitForLog((l) => l.t >= t0 && isStateChange('master')(l), 10_000);
    await sleep(300);
    const res = await probe.stop();
    const sickLog = speakers
      .get(first!.node)!
      .logs.filter((l) => l.t >= t0 - 2000 && l.t <= took.t + 500)
      .map(
        (l) =>
          `${l.t - t0} ${l['msg']} ${JSON.stringify({ op: l['op'], priority: l['priority'], status: l['status'], to: l['to'], reason: l['reason'] })}`,
      );
    assert.equal(
      took['reason'],
      'priority-zero',
      `the sick master resigned with priority 0; its log: ${sickLog.join(' | ')}`,
    );
    const heard = firstAnswerAfter(res, t0, hostOf(second!.node).mac);
    assert.ok(heard, 'the client heard the new master');
    const budget = skewTimeMs(second!.priority, ADVERT_CS) + CHECK_INTERVAL_MS + MARGIN_MS;
    const gap = heard.t - t0;
    process.stdout.write(`# health failover: client heard the new MAC ${gap.toFixed(0)} ms after the break\n`);
    assert.ok(gap <= budget, `heard after ${gap.toFixed(0)} ms, budget ${budget.toFixed(0)} ms`);
    const text = await speakers.get(first!.node)!.metrics();
    assert.match(text, /metal_vrrp_health_check_up\{[^}]*check="http:\/\/:10256\/healthz"[^}]*\} 0/);
    assert.match(text, /metal_vrrp_transitions_total\{[^}]*reason="health"[^}]*\} 1/);
    const events = await k.events('default');
    assert.ok(
      events.some((e) => e.reason === 'HealthResigned' && e.message?.includes(`node "${first!.node}" resigns`)),
      'a HealthResigned Event on the Service',
    );
  });

  test('kube-proxy back: the node takes its VIP back only after rise and preempt-delay', async () => {
    const [first, second] = ranking();
    const t0 = Date.now();
    await startCheck(first!.node);
    const back = await speakers.get(first!.node)!.waitForLog((l) => l.t >= t0 && isStateChange('master')(l), 15_000);
    const waited = back.t - t0;
    assert.equal(back['reason'], 'preempt');
    assert.ok(
      waited >= PREEMPT_DELAY_MS,
      `took the VIP back after ${waited} ms, before preempt-delay ${PREEMPT_DELAY_MS}`,
    );
    await settledOn(first!.node);
    assert.ok(second);
  });

  test('a kube-proxy stopped and started every second moves the VIP away once, never back while it flaps', async () => {
    const [first, second] = ranking();
    await settledOn(first!.node);
    const t0 = Date.now();
    for (let i = 0; i < 4; i++) {
      await stopCheck(first!.node);
      await sleep(1000);
      await startCheck(first!.node);
      await sleep(1000);
    }
    const tEnd = Date.now();
    await stopCheck(first!.node); // keep it away while we look
    const firstMasterships = speakers.get(first!.node)!;
    const backs = await firstMasterships
      .waitForLog((l) => l.t >= t0 && l.t <= tEnd && isStateChange('master')(l), 1)
      .then(
        () => 1,
        () => 0,
      );
    assert.equal(backs, 0, 'the flapping node never became master again while flapping');
    const moved = await speakers.get(second!.node)!.waitForLog((l) => l.t >= t0 && isStateChange('master')(l), 1000);
    assert.ok(moved.t <= t0 + 1000, 'the VIP moved away at the first failure');
    await startCheck(first!.node);
    await settledOn(first!.node);
  });

  test("the master's link down moves the VIP within Master_Down_Interval; back up, it waits preempt-delay", async () => {
    const [first, second] = ranking();
    await settledOn(first!.node);
    const host = hostOf(first!.node);
    const t0 = Date.now();
    await lab.setLinkDown(host);
    const took = await speakers.get(second!.node)!.waitForLog((l) => l.t >= t0 && isStateChange('master')(l), 10_000);
    const mdi = masterDownIntervalMs(second!.priority, ADVERT_CS);
    assert.ok(took.t - t0 <= mdi + MARGIN_MS, `took over after ${took.t - t0} ms, Master_Down_Interval ${mdi} ms`);
    // The node saw its carrier go and left the election, though it still reaches the API.
    const sick = speakers.get(first!.node)!;
    const since = (what: string) =>
      `${what}; log since: ${JSON.stringify(sick.logs.filter((l) => l.t >= t0).slice(0, 30))}`;
    await sick
      .waitForLog((l) => l.t >= t0 && l['msg'] === 'interface health changed' && l['up'] === false, 3000)
      .catch(() => assert.fail(since('no interface health change')));
    // It leaves at once, with priority 0 on the wire: either the health rule's restart at priority 1, or a stop when
    // the interface without carrier is no longer offered as a place for the router (local-addresses.ts).
    const left = await sick
      .waitForLog(
        (l) => l.t >= t0 && (l['msg'] === 'router stop' || (l['msg'] === 'router restart' && l['priority'] === 1)),
        3000,
      )
      .catch(() => assert.fail(since('the router neither stopped nor restarted at priority 1')));
    process.stdout.write(`# link down: the node's own router ${left['msg']}\n`);
    const t1 = Date.now();
    await lab.setLinkUp(host);
    // Without health it would still be master at its old priority and take the VIP back at its first advert.
    await sleep(PREEMPT_DELAY_MS - 700);
    assert.deepEqual(await answeringMacs(300), [hostOf(second!.node).mac], 'the VIP stays put during preempt-delay');
    const back = await sick.waitForLog((l) => l.t >= t1 && isStateChange('master')(l), 10_000);
    assert.ok(back.t - t1 >= PREEMPT_DELAY_MS - 200, `back after ${back.t - t1} ms`);
  });
});
