// The liveness signal on real kernels: three speakers in Kubernetes mode (real kube-apiserver and kube-proxy, real
// controller; lab/kube/k8s-lab.ts) with a pool whose adverts go every second and whose liveness is BFD at 100 ms × 3. A
// node that masters several VIPs is lost (switch port down + SIGKILL): every one of its VIPs is taken over by the
// next-ranked node with reason `liveness`, long before Master_Down_Interval (≈ 3.x s at 1 s adverts). With
// `metal-vrrp.io/liveness: off` on the pool the same loss falls back to Master_Down_Interval (reason master-down).
// Times are protocol deadlines with margins.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type K8sLab, startK8sLab } from '../../lab/kube/k8s-lab.ts';
import { isStateChange, metricValue } from '../../lab/netlab/speaker.ts';
import { masterDownIntervalMs, skewTimeMs } from '../../vrrp/timing.ts';

const PREFIX = 'lvt';
const INTERVAL_CS = 100; // adverts every 1 s
const BFD_MS = 100;
const BFD_MULT = 3;
let k: K8sLab;
let alive: string[] = [];

before(async () => {
  k = await startK8sLab({
    prefix: PREFIX,
    nodes: 3,
    services: 9,
    poolAnnotations: {
      'metal-vrrp.io/advert-interval': '1s',
      'metal-vrrp.io/liveness': 'bfd',
      'metal-vrrp.io/liveness-interval': `${BFD_MS}ms`,
      'metal-vrrp.io/liveness-multiplier': String(BFD_MULT),
    },
  });
  alive = k.lab.nodes.map((n) => n.name);
});

after(async () => {
  await k?.stop();
});

const expected = (svc: string) => k.rankingOf(svc, alive)[0]!.node;

async function settled(): Promise<void> {
  try {
    await k.waitFor('every Service mastered by its best live node', () =>
      k.services.every((s) => k.masterOf(s) === expected(s)),
    );
  } catch (err) {
    const rows = k.services.map((s) => `${s} ${k.vipOf(s)}: status ${k.masterOf(s)}, expected ${expected(s)}`);
    const logs = [...k.speakers].flatMap(([n, sp]) =>
      sp.logs.filter((l) => Number(l['level']) >= 40 || l['to'] !== undefined).map((l) => `${n} ${JSON.stringify(l)}`),
    );
    throw new Error(`${(err as Error).message}\n${rows.join('\n')}\n${logs.slice(-60).join('\n')}`);
  }
}

async function sessionsUp(node: string): Promise<number> {
  return metricValue(await k.speakers.get(node)!.metrics(), 'metal_vrrp_liveness_sessions', { state: 'up' }) ?? 0;
}

/** loseNode takes the node that masters the most VIPs off the LAN and returns what the next nodes logged. */
async function loseNode(): Promise<{
  victim: string;
  takeovers: { svc: string; next: string; reason: string; ms: number; bound: number }[];
  claims: string[];
}> {
  await settled();
  const count = (n: string) => k.services.filter((s) => expected(s) === n).length;
  const victim = [...alive].sort((a, b) => count(b) - count(a))[0]!;
  const lost = k.services.filter((s) => expected(s) === victim);
  assert.ok(lost.length >= 2, `${victim} masters ${lost.length} VIPs`);
  await sleep(200 + Math.random() * 800); // a random point of the advert cycle
  const t0 = Date.now();
  await Promise.all([k.lab.setLinkDown(k.hostOf(victim)), k.speakers.get(victim)!.kill('SIGKILL')]);
  alive = alive.filter((n) => n !== victim);
  const takeovers = await Promise.all(
    lost.map(async (svc) => {
      const next = k.rankingOf(svc, alive)[0]!;
      const vip = k.vipOf(svc);
      const line = await k.speakers
        .get(next.node)!
        .waitForLog((l) => l.t >= t0 && isStateChange('master')(l) && l['vip'] === vip, 10_000);
      // The backup's Master_Down_Interval and Skew_Time, from its priority and the pool's interval (§6.1).
      const bound = masterDownIntervalMs(next.priority, INTERVAL_CS);
      return { svc, next: next.node, reason: String(line['reason']), ms: line.t - t0, bound };
    }),
  );
  // No other survivor claimed any of them: every lower rank's hold and timer have run out by now.
  await sleep(1500);
  const vips = new Map(lost.map((s) => [k.vipOf(s), s]));
  const claims: string[] = [];
  for (const node of alive) {
    for (const l of k.speakers.get(node)!.logs) {
      const svc = vips.get(String(l['vip']));
      if (svc === undefined || l.t < t0 || !isStateChange('master')(l)) continue;
      if (node !== k.rankingOf(svc, alive)[0]!.node) claims.push(`${node} claimed ${svc} (${String(l['reason'])})`);
    }
  }
  return { victim, takeovers, claims };
}

async function bringBack(victim: string): Promise<void> {
  await k.lab.setLinkUp(k.hostOf(victim));
  await k.startSpeaker(victim);
  alive = k.lab.nodes.map((n) => n.name);
  await settled();
}

describe('liveness signal (BFD) in Kubernetes mode', () => {
  test('every speaker runs one session per other node, not per VIP, and they come Up', async () => {
    await settled();
    for (const n of alive) await k.waitFor(`${n}: 2 sessions up`, async () => (await sessionsUp(n)) === 2, 15_000);
  });

  // Each backup's session detects the loss on its own schedule, up to one BFD interval apart, more than the
  // Skew_Time gap between ranks; the rank-ordered hold (speaker/liveness-hold.ts) keeps a lower rank from claiming
  // before the next node, so the next node takes every VIP with reason liveness and nobody else claims.
  test('node loss: each VIP of the dead node is taken over with reason liveness, well before Master_Down_Interval', async (t) => {
    const { victim, takeovers, claims } = await loseNode();
    assert.deepEqual(claims, [], 'a VIP had a second claimant');
    for (const o of takeovers) {
      t.diagnostic(`${o.svc}: ${victim} lost, ${o.next} master after ${o.ms} ms (${o.reason}); MDI ${o.bound} ms`);
      assert.equal(o.reason, 'liveness', `${o.svc}: taken over by ${o.next} for ${o.reason}`);
      // Detection (Detect Mult × interval) + Skew_Time, with a generous margin for a loaded machine, and in any case
      // below 3 advert intervals, which no advert-based takeover can beat.
      const skew = skewTimeMs(k.rankingOf(o.svc, alive)[0]!.priority, INTERVAL_CS);
      assert.ok(o.ms < Math.min(BFD_MS * BFD_MULT + skew + 1500, 3 * INTERVAL_CS * 10), `${o.svc}: ${o.ms} ms`);
      assert.ok(o.ms < o.bound - 500, `${o.svc}: ${o.ms} ms is not well before Master_Down_Interval ${o.bound} ms`);
    }
    const next = takeovers[0]!.next;
    const transitions = await k.speakers.get(next)!.metrics();
    assert.ok(/metal_vrrp_transitions_total\{[^}]*reason="liveness"[^}]*\} [1-9]/.test(transitions), transitions);
    await bringBack(victim);
  });

  test('with metal-vrrp.io/liveness: off the same loss waits for Master_Down_Interval (reason master-down)', async (t) => {
    await k.annotatePool({ 'metal-vrrp.io/liveness': 'off' });
    for (const n of alive) await k.waitFor(`${n}: no session up`, async () => (await sessionsUp(n)) === 0, 15_000);
    const { victim, takeovers, claims } = await loseNode();
    assert.deepEqual(claims, [], 'a VIP had a second claimant');
    for (const o of takeovers) {
      t.diagnostic(`${o.svc}: ${victim} lost, ${o.next} master after ${o.ms} ms (${o.reason}); MDI ${o.bound} ms`);
      assert.equal(o.reason, 'master-down', `${o.svc}: taken over by ${o.next} for ${o.reason}`);
      // Silence of 3 intervals at least (the last advert may have left up to one interval before the kill).
      assert.ok(o.ms > 2 * INTERVAL_CS * 10, `${o.svc}: ${o.ms} ms is before the master could be missed`);
    }
  });
});
