/**
 * Health benchmark (issue 13): the gap a client sees when the master fails its kube-proxy health check, next to a
 * node loss and a graceful stop measured in the same run, on the same cluster. Prints figures, asserts nothing.
 * Needs root (network namespaces); the npm script holds the machine-wide network lock (/tmp/metal-vrrp-net.lock).
 *
 *   npm run bench:health -- [--trials 10] [--nodes 3] [--advert-interval 100ms] [--health-interval 1s]
 *                            [--health-timeout 500ms] [--kinds health,loss,graceful]
 *
 * Kubernetes mode (real kube-apiserver, real controller, one `metal-vrrp speaker` per node; lab/kube/k8s-lab.ts), one
 * Service. Every node runs the real kube-proxy, whose /healthz serves :10256, and the pool turns on
 * `metal-vrrp.io/kube-proxy-health`. A trial starts with the Service on its best node; the client sends an ARP
 * request for the VIP every 10 ms (kernel receive timestamps, lab/netlab/probe.ts); at a random point of the check
 * (health) or advert (loss, graceful) cycle the event hits the master, and the figure is event → the client's first
 * ARP answer from the next node's MAC:
 * - health: an nftables rule in the master's namespace drops TCP to :10256 (lab/health-drill.ts); the probe times
 *   out, the node resigns with priority 0, the next node takes over after Skew_Time. Expected: up to one check
 *   interval + the timeout + Skew_Time. Then the rule goes, the node passes `rise` probes and preempts back.
 * - loss: the master's switch port goes down and its speaker is SIGKILLed (Master_Down_Interval); then both return.
 * - graceful: SIGTERM (priority 0, Skew_Time); then the speaker restarts.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { breakKubeProxyHealth, restoreKubeProxyHealth } from '../lab/health-drill.ts';
import { type K8sLab, startK8sLab } from '../lab/kube/k8s-lab.ts';
import { firstAnswerAfter, startArpProbe } from '../lab/netlab/probe.ts';
import { masterDownIntervalMs, skewTimeMs } from '../vrrp/timing.ts';

const { values } = parseArgs({
  options: {
    trials: { type: 'string', default: '10' },
    nodes: { type: 'string', default: '3' },
    'advert-interval': { type: 'string', default: '100ms' },
    'health-interval': { type: 'string', default: '1s' },
    'health-timeout': { type: 'string', default: '500ms' },
    kinds: { type: 'string', default: 'health,loss,graceful' },
  },
});
type Kind = 'health' | 'loss' | 'graceful';
const TRIALS = Number(values.trials);
const KINDS = values.kinds.split(',') as Kind[];
const ms = (d: string) => Number.parseFloat(d) * (d.endsWith('ms') ? 1 : 1000);
const ADVERT_MS = ms(values['advert-interval']);
const CHECK_MS = ms(values['health-interval']);
const TIMEOUT_MS = ms(values['health-timeout']);
const SVC = 'svc0';

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

function summary(label: string, xs: readonly number[], failed: number): string {
  const s = [...xs].sort((a, b) => a - b);
  const f = (v: number) => v.toFixed(1).padStart(7);
  return (
    `${label.padEnd(10)} n=${String(s.length).padStart(3)}  median ${f(quantile(s, 0.5))}  p99 ${f(quantile(s, 0.99))}` +
    `  max ${f(s.at(-1) ?? Number.NaN)}  min ${f(s[0] ?? Number.NaN)} ms${failed ? `  (${failed} trials without a takeover)` : ''}`
  );
}

/** trial: the Service on its best node, then `kind` hits that node; returns event → first answer from the next. */
async function trial(k: K8sLab, kind: Kind): Promise<number | null> {
  const [best, next] = k.rankingOf(SVC);
  if (!best || !next) throw new Error('the bench needs at least 2 nodes');
  await k.waitFor(`${SVC} on ${best.node}`, () => k.masterOf(SVC) === best.node, 60_000);
  const vip = k.vipOf(SVC);
  const host = k.hostOf(best.node);
  const probe = await startArpProbe(k.lab, vip, { intervalMs: 10, maxDurationMs: 30_000 });
  // A random point of the cycle the event races against: the probe's for health, the adverts' otherwise.
  await sleep(200 + Math.random() * (kind === 'health' ? CHECK_MS : ADVERT_MS));
  const t0 = Date.now();
  if (kind === 'health') await breakKubeProxyHealth(host.ns);
  else if (kind === 'loss') {
    await Promise.all([k.lab.setLinkDown(host), k.speakers.get(best.node)!.kill('SIGKILL')]);
  } else await k.speakers.get(best.node)!.kill('SIGTERM');
  const deadline = kind === 'health' ? CHECK_MS + TIMEOUT_MS + 3000 : 3000;
  await k.waitFor(`${next.node} takes over`, () => k.masterOf(SVC) === next.node, deadline).catch(() => undefined);
  await sleep(200); // the ARP answers already seen are kernel-stamped: this only lets the probe read them
  const res = await probe.stop();
  const first = firstAnswerAfter(res, t0, k.hostOf(next.node).mac);
  // Back to the start: the old master returns and preempts.
  if (kind === 'health') await restoreKubeProxyHealth(host.ns);
  else {
    if (kind === 'loss') await k.lab.setLinkUp(host);
    await k.startSpeaker(best.node);
  }
  return first ? first.t - t0 : null;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('bench/health needs root (network namespaces)');
  const nodes = Number(values.nodes);
  console.log(
    `health: ${TRIALS} trials each of ${KINDS.join(', ')}; ${nodes} nodes, adverts every ${ADVERT_MS} ms, ` +
      `kube-proxy check every ${CHECK_MS} ms (timeout ${TIMEOUT_MS} ms, fall 1, rise 3)`,
  );
  console.log('starting the cluster (real kube-apiserver and kube-proxy, controller, speakers)…');
  const k = await startK8sLab({
    prefix: 'hlb',
    nodes,
    services: 1,
    poolAnnotations: { 'metal-vrrp.io/advert-interval': values['advert-interval'] },
  });
  const rows: string[] = [];
  try {
    console.log(`kube-proxy health endpoint: the real kube-proxy's /healthz on :10256 of every node`);
    await k.annotatePool({
      'metal-vrrp.io/kube-proxy-health': 'true',
      'metal-vrrp.io/health-interval': values['health-interval'],
      'metal-vrrp.io/health-timeout': values['health-timeout'],
    });
    await sleep(2 * CHECK_MS + 1000);
    const ranking = k.rankingOf(SVC);
    console.log(`${SVC} at ${k.vipOf(SVC)}: ranking ${ranking.map((r) => `${r.node}:${r.priority}`).join(', ')}`);
    const results = new Map<Kind, { gaps: number[]; failed: number }>();
    // Interleaved (health, loss, graceful, health, …), so the machine's load weighs on every kind alike.
    for (let i = 0; i < TRIALS; i++) {
      for (const kind of KINDS) {
        const r = results.get(kind) ?? { gaps: [], failed: 0 };
        results.set(kind, r);
        const gap = await trial(k, kind);
        if (gap === null) r.failed++;
        else r.gaps.push(gap);
        console.log(
          `  trial ${i + 1}/${TRIALS} ${kind.padEnd(8)}: ${gap === null ? 'no answer from the next node' : `${gap.toFixed(1)} ms`}`,
        );
      }
    }
    const next = ranking[1]!;
    const skew = skewTimeMs(next.priority, ADVERT_MS / 10);
    const mdi = masterDownIntervalMs(next.priority, ADVERT_MS / 10);
    rows.push(
      `event → first ARP answer from the next node (${next.node}, priority ${next.priority}: Skew_Time ${skew.toFixed(1)} ms, ` +
        `Master_Down_Interval ${mdi.toFixed(1)} ms; check interval ${CHECK_MS} ms + timeout ${TIMEOUT_MS} ms)`,
    );
    for (const kind of KINDS) {
      const r = results.get(kind)!;
      rows.push(`  ${summary(kind, r.gaps, r.failed)}`);
    }
  } finally {
    await k.stop();
  }
  console.log(`\n${rows.join('\n')}`);
}

await main();
