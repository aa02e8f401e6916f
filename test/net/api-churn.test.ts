// API churn while the speakers run at 20 ms adverts (issue 15, "a bad day"): three speakers in Kubernetes mode (real
// kube-apiserver, controller and kube-proxy; lab/kube/k8s-lab.ts; the image's node flags, --realtime-priority 10) and
// 30 Services; for 75 s the API server takes
// 3,000 Service updates a minute (an annotation no component reads, lab/kube/api-churn.ts), each seen by every
// speaker's informers. Nothing fails, so every transition of the churned routers would be spurious: there must be
// none. Real changes made during the churn must still take effect: a Service created in the middle of it is announced
// by its best-ranked node (ServiceL2Status and the client's ARP), and a Service deleted later stops being answered.
// Prints each speaker's event-loop delay p99 (per 10 s window) and how long the changes took; asserts no speed.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startServiceChurn } from '../../lab/kube/api-churn.ts';
import { type K8sLab, startK8sLab } from '../../lab/kube/k8s-lab.ts';
import { arpProbe } from '../../lab/netlab/probe.ts';
import { metricValue } from '../../lab/netlab/speaker.ts';

const PREFIX = 'mvchurn';
const SERVICES = 30;
const CHURN_PER_MINUTE = 3000;
const CHURN_MS = 75_000;
const WINDOW_MS = 10_000;
const CREATE_AT_MS = 20_000;
const DELETE_AT_MS = 45_000;
const LATE = 'late';
let k: K8sLab;

before(async () => {
  k = await startK8sLab({
    prefix: PREFIX,
    nodes: 3,
    services: SERVICES,
    vips: SERVICES + 4,
    logLevel: 'info',
    // As a node running 20 ms adverts should (README, "Real-time priority"): the event loop ahead of the node's normal
    // tasks, so what is measured is the churn's cost, not the other processes of this machine (the API server, etcd,
    // kube-proxy and this test share its two cores).
    speakerArgs: ['--realtime-priority', '10'],
    poolAnnotations: { 'metal-vrrp.io/advert-interval': '20ms' },
  });
});

after(async () => {
  await k?.stop();
});

/** transitionsByVrid sums metal_vrrp_transitions_total per VRID (every target state and reason). */
function transitionsByVrid(text: string): Map<string, number> {
  const out = new Map<string, number>(); // vrid -> transitions
  for (const line of text.split('\n')) {
    if (!line.startsWith('metal_vrrp_transitions_total{')) continue;
    const vrid = /vrid="(\d+)"/.exec(line)?.[1] ?? '?';
    out.set(vrid, (out.get(vrid) ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return out;
}

async function scrape(): Promise<Map<string, string>> {
  const out = new Map<string, string>(); // node -> metrics text
  await Promise.all([...k.speakers].map(async ([n, sp]) => out.set(n, await sp.metrics())));
  return out;
}

/** announcedBy waits until `svc` has an address and a VRID, its ServiceL2Status names its best node, and the client's
 * ARP for the VIP is answered by that node's MAC alone; returns the node. */
async function announced(svc: string, ms: number): Promise<string> {
  return k.waitFor(
    `${svc} announced by its best node`,
    async () => {
      if (!k.vipOf(svc) || !(k.vridOf(svc) > 0)) return false;
      const best = k.rankingOf(svc)[0]!.node;
      if (k.masterOf(svc) !== best) return false;
      const res = await arpProbe(k.lab, k.vipOf(svc), { durationMs: 150 });
      const macs = [...new Set(res.answers.map((a) => a.mac))];
      return macs.length === 1 && macs[0] === k.hostOf(best).mac ? best : false;
    },
    ms,
  );
}

describe('API churn at 20 ms adverts', () => {
  test('3,000 Service updates a minute for 75 s: no transition; a Service created and one deleted meanwhile take effect', async () => {
    await k.waitFor(
      'every Service mastered by its best node',
      () => k.services.every((s) => k.masterOf(s) === k.rankingOf(s)[0]!.node),
      60_000,
    );
    await sleep(2000); // start-up announcements over
    const deleted = k.services[SERVICES - 1]!;
    const deletedVip = k.vipOf(deleted);
    const deletedVrid = String(k.vridOf(deleted));
    const churned = k.services.slice(0, SERVICES - 1); // the deleted one is left alone: a patch could recreate nothing
    const first = await scrape();
    const logFrom = Date.now();

    const start = Date.now();
    const churn = startServiceChurn(k, () => churned, { perMinute: CHURN_PER_MINUTE });
    const lagP99 = new Map<string, number[]>([...k.speakers.keys()].map((n) => [n, []])); // node -> p99 per window
    const lagMax = new Map<string, number>();
    const windows = (async () => {
      while (Date.now() - start < CHURN_MS) {
        await sleep(WINDOW_MS);
        for (const [n, text] of await scrape()) {
          lagP99.get(n)!.push((metricValue(text, 'nodejs_eventloop_lag_p99_seconds') ?? Number.NaN) * 1000);
          lagMax.set(
            n,
            Math.max(lagMax.get(n) ?? 0, (metricValue(text, 'nodejs_eventloop_lag_max_seconds') ?? 0) * 1000),
          );
        }
      }
    })();
    let lateVrid = '';
    let lateMs = Number.NaN;
    let deleteMs = Number.NaN;
    try {
      await sleep(CREATE_AT_MS);
      const created = Date.now();
      await k.createService({ name: LATE });
      const node = await announced(LATE, 30_000);
      lateMs = Date.now() - created;
      lateVrid = String(k.vridOf(LATE));
      console.log(`# ${LATE} (${k.vipOf(LATE)}) created during the churn: announced by ${node} after ${lateMs} ms`);

      await sleep(Math.max(0, start + DELETE_AT_MS - Date.now()));
      const deleting = Date.now();
      await k.deleteService(deleted);
      await k.waitFor(
        `${deleted} (${deletedVip}) no longer answered nor in a ServiceL2Status`,
        async () =>
          k.mastersOf(deleted).length === 0 &&
          (await arpProbe(k.lab, deletedVip, { durationMs: 150 })).answers.length === 0,
        30_000,
      );
      deleteMs = Date.now() - deleting;
      console.log(`# ${deleted} (${deletedVip}) deleted during the churn: silent after ${deleteMs} ms`);
      await sleep(Math.max(0, start + CHURN_MS - Date.now()));
    } finally {
      await churn.stop();
      await windows;
    }
    const seconds = (Date.now() - start) / 1000;
    const last = await scrape();

    const perMinute = churn.made() / (seconds / 60);
    console.log(
      `# churn: ${churn.made()} Service updates in ${seconds.toFixed(0)} s (${perMinute.toFixed(0)}/min; ${churn.skipped()} skipped while 32 waited for the server, ${churn.failed()} refused)`,
    );
    for (const [n, xs] of lagP99) {
      const sorted = [...xs].sort((a, b) => a - b);
      console.log(
        `# ${n} event-loop delay p99 per ${WINDOW_MS / 1000} s window: median ${sorted[Math.floor(sorted.length / 2)]?.toFixed(1)} ms, max ${sorted.at(-1)?.toFixed(1)} ms (n = ${sorted.length} windows); worst single delay ${lagMax.get(n)?.toFixed(1)} ms`,
      );
    }
    // Every router that existed throughout: its transitions before and after must match. The created and the
    // deleted Service's routers start and stop, which is not spurious.
    const spurious: string[] = [];
    for (const [n, text] of last) {
      const was = transitionsByVrid(first.get(n)!);
      for (const [vrid, count] of transitionsByVrid(text)) {
        if (vrid === lateVrid || vrid === deletedVrid) continue;
        const d = count - (was.get(vrid) ?? 0);
        if (d > 0) spurious.push(`${n} VRID ${vrid}: ${d}`);
      }
    }
    assert.ok(churn.made() >= 1000, `the churn made only ${churn.made()} updates: the test did not load the speakers`);
    // What the speakers logged of each transition (reason, peer) and of BFD, for a failure's message.
    const seen = [...k.speakers].flatMap(([n, sp]) =>
      sp.logs
        .filter((l) => l.t >= logFrom && l['to'] !== undefined && l['vip'] !== k.vipOf(LATE) && l['vip'] !== deletedVip)
        .map(
          (l) =>
            `${n} ${String(l['time'])} ${String(l['vip'])} ${String(l['from'])}->${String(l['to'])} (${String(l['reason'])})`,
        ),
    );
    assert.deepEqual(
      spurious,
      [],
      `transitions during the churn (nothing failed, so each is spurious):\n${seen.slice(0, 40).join('\n')}`,
    );
    for (const s of k.services.filter((s) => s !== deleted)) {
      assert.equal(k.masterOf(s), k.rankingOf(s)[0]!.node, `${s} still mastered by its best node`);
    }
  });
});
