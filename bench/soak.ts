/**
 * Soak benchmark: do speakers at a short advert interval, with the BFD liveness signal on, ever take over without a
 * failure while the client floods them with ARP requests and the API churns? Kubernetes mode (real kube-apiserver and
 * kube-proxy, real controller, one `metal-vrrp speaker` per node), adverts every `--interval` (default 20ms), liveness
 * BFD at `--liveness-interval` × 3 (default 20ms). After convergence nothing fails for `--minutes` (default 10), while:
 * - an ARP flood from the client (`--flood-rate` requests/s, default 20000) asks round robin for every VIP, every
 *   node's own address and as many unassigned addresses of the subnet (lab/netlab/arp-flood.ts);
 * - API churn: `--churn` Service updates per minute (default 3000), an annotation rewritten on one Service after
 *   another, each seen by every speaker's informers;
 * - a latency prober asks in turns for one VIP (our answer) and for that VIP's master's own address (its kernel's
 *   answer), one request every 5 ms, latency from kernel receive timestamps.
 * Counted: takeovers (transitions to master) and liveness peer-downs during the soak — every one is false, nothing
 * failed; ARP answers/s (metal_vrrp_arp_replies_total over all speakers); answer latency ours and the kernel's with n;
 * each speaker's event-loop delay p99 per 10 s window (nodejs_eventloop_lag_p99_seconds). Prints figures, asserts
 * nothing. Needs root; the npm script holds the machine-wide network lock.
 *
 *   npm run bench:soak -- [--minutes 10] [--interval 20ms] [--nodes 3] [--services 30] [--flood-rate 20000]
 *                         [--churn 3000] [--liveness bfd|off] [--liveness-interval 20ms] [--realtime-priority 0]
 */
import { loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { startServiceChurn } from '../lab/kube/api-churn.ts';
import { type K8sLab, startK8sLab } from '../lab/kube/k8s-lab.ts';
import { startArpFlood, startArpLatencyProbe } from '../lab/netlab/arp-flood.ts';
import { hostAddress } from '../lab/netlab/netns.ts';
import { isStateChange } from '../lab/netlab/speaker.ts';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    interval: { type: 'string', default: '20ms' },
    nodes: { type: 'string', default: '3' },
    services: { type: 'string', default: '30' },
    'flood-rate': { type: 'string', default: '20000' },
    churn: { type: 'string', default: '3000' },
    liveness: { type: 'string', default: 'bfd' },
    'liveness-interval': { type: 'string', default: '20ms' },
    'realtime-priority': { type: 'string', default: '0' },
  },
});
const MINUTES = Number(values.minutes);
/** CHURN_IN_FLIGHT bounds the Service writes waiting for the API server at once (see the churn below). */
const CHURN_IN_FLIGHT = 32;
const WINDOW_MS = 10_000;
const T0 = Date.now();
const progress = (msg: string) => console.log(`[${((Date.now() - T0) / 1000).toFixed(0).padStart(4)} s] ${msg}`);
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

/** sum adds every sample of `name` whose labels include `labels`. */
function sum(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) {
      total += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return total;
}

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

function summary(label: string, xs: readonly number[], unit = 'ms', digits = 2): string {
  const s = [...xs].sort((a, b) => a - b);
  const f = (v: number) => (Number.isFinite(v) ? v.toFixed(digits) : '-').padStart(8);
  return `${label.padEnd(34)} n=${String(s.length).padStart(6)}  p50 ${f(quantile(s, 0.5))}  p99 ${f(quantile(s, 0.99))}  max ${f(s.at(-1) ?? Number.NaN)} ${unit}`;
}

async function scrapeAll(k: K8sLab): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const [node, sp] of k.speakers) out.set(node, await sp.metrics());
  return out;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('bench/soak needs root (network namespaces)');
  const nodes = Number(values.nodes);
  const services = Number(values.services);
  progress(
    `soak: ${nodes} speakers (Kubernetes mode), ${services} Services, adverts ${values.interval}, liveness ${values.liveness} ${values['liveness-interval']} × 3, real-time priority ${values['realtime-priority']} (0: normal), ${MINUTES} min, ARP flood ${values['flood-rate']}/s, ${values.churn} Service updates/min; load average ${load()} (2 shared cores)`,
  );
  const k = await startK8sLab({
    prefix: 'mvsoak',
    nodes,
    services,
    logLevel: 'info',
    speakerArgs: ['--realtime-priority', values['realtime-priority']],
    poolAnnotations: {
      'metal-vrrp.io/advert-interval': values.interval,
      'metal-vrrp.io/liveness': values.liveness,
      'metal-vrrp.io/liveness-interval': values['liveness-interval'],
    },
  });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      progress(`${sig}: removing the lab…`);
      void k.stop().finally(() => process.exit(130));
    });
  }
  const cleanups: (() => Promise<void>)[] = [];
  try {
    await k.waitFor(
      'every Service mastered by its best node',
      () => k.services.every((s) => k.masterOf(s) === k.rankingOf(s)[0]!.node),
      120_000,
    );
    await sleep(3000); // BFD sessions up, start-up transitions over
    progress('converged; starting the ARP flood, the API churn and the latency prober');
    const vips = k.services.map((s) => k.vipOf(s));
    const nodeIps = k.lab.nodes.map((n) => n.ipv4);
    const unassigned = Array.from({ length: vips.length }, (_, i) => hostAddress(k.lab.ipv4Subnet, 200 + (i % 50)));
    const rate = Number(values['flood-rate']);
    const flood =
      rate > 0
        ? await startArpFlood(k.lab, [...vips, ...nodeIps, ...unassigned], rate)
        : { rates: [], errors: () => 0, stop: async () => {} };
    cleanups.push(() => flood.stop());
    const vip = vips[0]!;
    const master = k.hostOf(k.rankingOf(k.services[0]!)[0]!.node);
    const prober = await startArpLatencyProbe(k.lab, { ours: vip, kernel: master.ipv4 }, 5);
    cleanups.push(() => prober.stop());
    // API churn (lab/kube/api-churn.ts): at most CHURN_IN_FLIGHT writes wait for the server at once.
    const churn = startServiceChurn(k, () => k.services, {
      perMinute: Number(values.churn),
      inFlight: CHURN_IN_FLIGHT,
    });
    cleanups.push(() => churn.stop());

    const start = Date.now();
    const logFrom = start;
    const first = await scrapeAll(k);
    const lagP99 = new Map<string, number[]>([...k.speakers.keys()].map((n) => [n, []]));
    const lagMax = new Map<string, number>();
    let last = first;
    for (let w = 1; Date.now() - start < MINUTES * 60_000; w++) {
      await sleep(WINDOW_MS);
      last = await scrapeAll(k);
      for (const [n, text] of last) {
        lagP99.get(n)!.push(sum(text, 'nodejs_eventloop_lag_p99_seconds') * 1000);
        lagMax.set(n, Math.max(lagMax.get(n) ?? 0, sum(text, 'nodejs_eventloop_lag_max_seconds') * 1000));
      }
      if ((w * WINDOW_MS) % 60_000 === 0 || Date.now() - start >= MINUTES * 60_000) {
        const takeovers = [...last].reduce(
          (a, [n, t]) =>
            a +
            sum(t, 'metal_vrrp_transitions_total', { to: 'master' }) -
            sum(first.get(n)!, 'metal_vrrp_transitions_total', { to: 'master' }),
          0,
        );
        progress(
          `${((Date.now() - start) / 60_000).toFixed(1)} min: false takeovers ${takeovers}, flood ${flood.rates.at(-1) ?? 0}/s, churned ${churn.made()} (skipped ${churn.skipped()}: server behind), load ${load()}`,
        );
      }
    }
    const seconds = (Date.now() - start) / 1000;
    await churn.stop();
    await prober.stop();
    await flood.stop();

    // Takeovers and liveness peer-downs during the soak, from the logs (each is false: nothing failed).
    const takeovers: string[] = [];
    let peerDowns = 0;
    // Each false BFD detection: how long the peer had been silent, and how late our detection timer ran (our stall).
    const silent: number[] = [];
    const late: number[] = [];
    for (const [node, sp] of k.speakers) {
      for (const l of sp.logs) {
        if (l.t < logFrom) continue;
        if (l['msg'] === 'liveness: peer down') peerDowns++;
        if (l['msg'] === 'bfd session down' && l['reason'] === 'detect-timeout') {
          if (typeof l['silentMs'] === 'number') silent.push(l['silentMs']);
          if (typeof l['lateMs'] === 'number') late.push(l['lateMs']);
        }
        if (isStateChange('master')(l)) takeovers.push(`${node} ${String(l['vip'])} (${String(l['reason'])})`);
      }
    }
    const replies = [...last].reduce(
      (a, [n, t]) => a + sum(t, 'metal_vrrp_arp_replies_total') - sum(first.get(n)!, 'metal_vrrp_arp_replies_total'),
      0,
    );
    const adverts = [...last].reduce(
      (a, [n, t]) => a + sum(t, 'metal_vrrp_adverts_sent_total') - sum(first.get(n)!, 'metal_vrrp_adverts_sent_total'),
      0,
    );
    const floodRates = flood.rates.slice(1);
    const cpu = [...last].map(
      ([n, t]) =>
        `${n} ${(((sum(t, 'process_cpu_seconds_total') - sum(first.get(n)!, 'process_cpu_seconds_total')) / seconds) * 100).toFixed(0)} %`,
    );
    const ours = prober.samples.filter((s) => s.target === 'ours').map((s) => s.ms);
    const kernel = prober.samples.filter((s) => s.target === 'kernel').map((s) => s.ms);
    const ratio = (q: number) => {
      const a = quantile(
        [...ours].sort((x, y) => x - y),
        q,
      );
      const b = quantile(
        [...kernel].sort((x, y) => x - y),
        q,
      );
      return (a / b).toFixed(2);
    };
    console.log('');
    console.log(`result after ${(seconds / 60).toFixed(1)} min under load (load average at the end ${load()}):`);
    console.log(
      `  false takeovers: ${takeovers.length}${takeovers.length ? ` (${takeovers.slice(0, 10).join('; ')}${takeovers.length > 10 ? '; …' : ''})` : ''}; liveness peer-downs: ${peerDowns}`,
    );
    // reason -> count: `liveness` came from a BFD session timing out, `master-down` from missed adverts.
    const byReason = new Map<string, number>();
    for (const t of takeovers) {
      const reason = t.slice(t.lastIndexOf('(') + 1, -1);
      byReason.set(reason, (byReason.get(reason) ?? 0) + 1);
    }
    console.log(`  false takeovers by reason: ${[...byReason].map(([r, c]) => `${r} ${c}`).join(', ') || 'none'}`);
    if (silent.length > 0) {
      console.log(`  ${summary('BFD false detection: peer silent', silent)}`);
      console.log(`  ${summary('BFD false detection: timer late', late)}`);
    }
    console.log(
      `  ARP flood sent: ${summary('requests/s (per 1 s)', floodRates, '/s', 0).trim()}; send errors ${flood.errors()}`,
    );
    console.log(`  speaker CPU (share of one core): ${cpu.join(', ')}`);
    console.log(`  ARP answers by the speakers: ${(replies / seconds).toFixed(0)}/s (metal_vrrp_arp_replies_total)`);
    console.log(
      `  adverts sent by the speakers: ${(adverts / seconds).toFixed(0)}/s; Service updates: ${churn.made()} (${(churn.made() / (seconds / 60)).toFixed(0)}/min; ${churn.skipped()} skipped while ${CHURN_IN_FLIGHT} were waiting for the server, ${churn.failed()} refused)`,
    );
    console.log(`  ${summary('ARP answer latency, ours (VIP)', ours)}  lost ${prober.lost.get('ours') ?? 0}`);
    console.log(`  ${summary('ARP answer latency, kernel (node IP)', kernel)}  lost ${prober.lost.get('kernel') ?? 0}`);
    console.log(`  ratio ours/kernel: p50 ${ratio(0.5)}, p99 ${ratio(0.99)}`);
    for (const [n, xs] of lagP99) {
      console.log(
        `  ${summary(`event-loop delay p99, ${n} (per 10 s)`, xs)}  worst single delay ${(lagMax.get(n) ?? 0).toFixed(1)} ms`,
      );
    }
  } finally {
    for (const c of cleanups) await c().catch(() => {});
    await k.stop();
  }
}

await main();
