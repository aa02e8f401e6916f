// faults.test.ts — what the client sees on a bad day (issue 15, Faults). Three node namespaces run `metal-vrrp speaker`
// in Kubernetes mode against the real kube-apiserver (lab/kube/k8s-lab.ts: every component as its ServiceAccount, the
// real kube-proxy in nftables mode on each node); the real controller allocates four Services. The client probes
// every VIP with ARP every 10 ms and tshark records the ARP on the client's wire. The tests assert outcomes: who
// answers, that no ARP request is answered by two MACs, the protocol's deadlines with margins; never how fast. An API
// outage is the API server's process stopped (etcd's data kept) and started again. Needs root; namespaces flt-*; run
// under the machine-wide lock (npm run test:net).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type K8sLab, startK8sLab, waitFor as waitForIn } from '../../lab/kube/k8s-lab.ts';
import { ARP_WIRE_FIELDS, doubleAnswers as doubleAnswersOnWire } from '../../lab/netlab/double-answers.ts';
import { runOk } from '../../lab/netlab/exec.ts';
import type { Lab, LabHost } from '../../lab/netlab/netns.ts';
import { type ArpProbe, type ArpProbeResult, startArpProbe, startTshark } from '../../lab/netlab/probe.ts';
import type { SpeakerProcess } from '../../lab/netlab/speaker.ts';
import { routerPriorities } from '../../vrrp/priority.ts';
import { masterDownIntervalMs } from '../../vrrp/timing.ts';

const PREFIX = 'flt';
const SKIP = process.getuid?.() !== 0 ? 'needs root (network namespaces)' : false;
const SERVICES = ['a', 'b', 'c', 'd'];
const INTERVAL_MS = 100; // the pool default
/** MDI_MS is the longest Master_Down_Interval of the three ranked priorities (254, 253, 252): the lowest's. */
const MDI_MS = masterDownIntervalMs(252, INTERVAL_MS / 10);
/** SCHED_MARGIN_MS absorbs process scheduling on a shared 2-core machine; a protocol deadline plus this is asserted. */
/** CARRIER_RISE_MS: a returning carrier counts as down this long (src/health, issue 13). */
const CARRIER_RISE_MS = 1000;
const SCHED_MARGIN_MS = 150;

let k: K8sLab;
let lab: Lab;
const speakers = new Map<string, SpeakerProcess>(); // node name -> running speaker

const vipOf = (name: string) => k.vipOf(name);
const vridOf = (name: string) => k.vridOf(name);
const hostOf = (name: string): LabHost => k.hostOf(name);
const nodeOfMac = (mac: string) => lab.nodes.find((n) => n.mac === mac)?.name ?? mac;

/**
 * bestOf is the node every speaker puts first for a Service's router: routerPriorities over the routers of every
 * Service in the store (vrrp/placement.ts balances them together), members = every node.
 */
function bestOf(name: string): string {
  const members = lab.nodes.map((n) => n.name);
  const names = k.mirror
    .list('services', 'default')
    .map((o) => o.metadata.name)
    .filter((s) => vridOf(s) > 0);
  const all = routerPriorities(names.map((s) => ({ key: `ipv4/${vridOf(s)}`, members })));
  const r = all.get(`ipv4/${vridOf(name)}`);
  assert.ok(r && 'priorities' in r, `no ranking for ${name}`);
  return [...r.priorities.keys()][0]!;
}

const waitFor = <T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, ms = 15_000) =>
  waitForIn(what, fn, ms);

/** answeredByBest: one arping from the client gets the best-ranked node's MAC for the Service's VIP. */
async function answeredByBest(svc: string): Promise<boolean> {
  const out = await runOk(lab.client.ns, ['arping', '-c1', '-w1', '-I', 'eth0', vipOf(svc)]).catch(() => '');
  return out.toLowerCase().includes(hostOf(bestOf(svc)).mac);
}

async function startNodeSpeaker(host: LabHost): Promise<SpeakerProcess> {
  const sp = await k.startSpeaker(host.name);
  speakers.set(host.name, sp);
  return sp;
}

/** ArpWire is tshark on the client's eth0 reading ARP, and one 10 ms prober per VIP. */
interface ArpWire {
  stop(): Promise<{ rows: string[][]; probes: ArpProbeResult[] }>;
}

async function watchArp(vips: readonly string[]): Promise<ArpWire> {
  const tshark = await startTshark(lab.client.ns, lab.client.ifname, 'arp', ARP_WIRE_FIELDS);
  const probes: ArpProbe[] = await Promise.all(vips.map((v) => startArpProbe(lab, v, { maxDurationMs: 240_000 })));
  return {
    async stop() {
      const results = await Promise.all(probes.map((p) => p.stop()));
      return { rows: await tshark.stop(), probes: results };
    },
  };
}

const doubleAnswers = (rows: readonly string[][], vips: readonly string[]) =>
  doubleAnswersOnWire(rows, lab.client.ipv4, vips, nodeOfMac);

/** longestSilence is the longest time a VIP went without an answer (reply or announcement) within [from, to]. */
function longestSilence(res: ArpProbeResult, from: number, to: number): number {
  let last = from;
  let worst = 0;
  for (const a of res.answers) {
    if (a.t < from || a.t > to) continue;
    worst = Math.max(worst, a.t - last);
    last = a.t;
  }
  return Math.max(worst, to - last);
}

/** answerersBetween lists the nodes whose MAC answered the VIP's probes within [from, to]. */
function answerersBetween(res: ArpProbeResult, from: number, to: number): string[] {
  const macs = new Set(res.answers.filter((a) => a.kind === 'reply' && a.t >= from && a.t <= to).map((a) => a.mac));
  return [...macs].map(nodeOfMac).sort();
}

/** stateChanges are the speaker's logged transitions after t (one line per VIP). */
const stateChanges = (sp: SpeakerProcess, t: number) =>
  sp.logs.filter((l) => l.t >= t && typeof l['to'] === 'string' && typeof l['vip'] === 'string');

before(async () => {
  if (SKIP) return;
  k = await startK8sLab({
    ipvsAddresses: true, // as before: the VIPs local on kube-ipvs0 (IPVS mode), so ping reaches them
    prefix: PREFIX,
    nodes: 3,
    services: SERVICES.map((name) => ({ name })),
    vips: 8,
    startSpeakers: false,
  });
  lab = k.lab;
});

after(async () => {
  if (SKIP) return;
  await k?.stop();
});

describe('faults, seen from the client', { skip: SKIP }, () => {
  test('flt-startup: three speakers start at once; never two answerers for as long as one advert interval', async (t) => {
    const vips = SERVICES.map(vipOf);
    const wire = await watchArp(vips);
    await Promise.all(lab.nodes.map((n) => startNodeSpeaker(n)));
    await waitFor(
      'every VIP answered by its best node',
      async () => (await Promise.all(SERVICES.map(answeredByBest))).every(Boolean),
      30_000,
    );
    await sleep(1000); // preemptions settle within Master_Down_Interval; watch a while longer
    const { rows, probes } = await wire.stop();
    const doubles = doubleAnswers(rows, vips);
    for (const d of doubles) t.diagnostic(`two answerers: ${JSON.stringify(d)}`);
    const answered = probes.map((p) => p.answers.filter((a) => a.kind === 'reply').length);
    t.diagnostic(`ARP replies per VIP during start-up: ${answered.join(', ')}; tshark rows ${rows.length}`);
    assert.ok(
      answered.every((n) => n > 0),
      'the probes saw answers (the check below is not vacuous)',
    );
    // Issue 15's bound: never two masters longer than one advert interval (every shorter span is printed above).
    assert.deepEqual(
      doubles.filter((d) => d.ms >= INTERVAL_MS),
      [],
      'two nodes answered for longer than one advert interval',
    );
  });

  test('flt-partition: the master loses its link; a backup takes over within Master_Down_Interval; on heal one master, the client points at it', async (t) => {
    const svc = SERVICES[0]!;
    const vip = vipOf(svc);
    const master = hostOf(bestOf(svc));
    await runOk(lab.client.ns, ['ping', '-c1', '-W1', vip]).catch(() => '');
    const wire = await watchArp([vip]);
    await sleep(300);
    const down = Date.now();
    await runOk(master.ns, ['ip', 'link', 'set', 'eth0', 'down']);
    await sleep(MDI_MS + 1000);
    const healed = Date.now();
    await runOk(master.ns, ['ip', 'link', 'set', 'eth0', 'up']);
    // The returning carrier is held as down for 1 s (health: a link's rise), then the best node preempts.
    await sleep(1500 + CARRIER_RISE_MS);
    const { rows, probes } = await wire.stop();
    const probe = probes[0]!;
    const taken = probe.answers.find((a) => a.t > down && a.mac !== master.mac);
    assert.ok(taken, 'a backup answered while the master was cut off');
    t.diagnostic(`first answer from ${nodeOfMac(taken.mac)} ${Math.round(taken.t - down)} ms after the link went down`);
    assert.ok(
      taken.t - down <= MDI_MS + INTERVAL_MS + SCHED_MARGIN_MS,
      `takeover after ${Math.round(taken.t - down)} ms; Master_Down_Interval ${MDI_MS} ms`,
    );
    // Healed: never two answerers at once for as long as an advert interval, and once the carrier's rise hold
    // has passed (plus one interval and margin) only the preempting best node answers.
    const settled = healed + CARRIER_RISE_MS + INTERVAL_MS + SCHED_MARGIN_MS + 300; // + `ip link set up` returning
    assert.deepEqual(answerersBetween(probe, settled, probe.stoppedAt), [master.name]);
    assert.deepEqual(
      doubleAnswers(rows, [vip]).filter((d) => d.at >= healed && d.ms >= INTERVAL_MS),
      [],
    );
    const neigh = await runOk(lab.client.ns, ['ip', 'neigh', 'show', vip, 'dev', lab.client.ifname]);
    assert.match(neigh, new RegExp(`lladdr ${master.mac}`), `the client's neighbour entry: ${neigh.trim()}`);
  });

  test('flt-crashloop: one speaker SIGKILLed every 4 s for a minute; other VIPs never move, none silent past Master_Down_Interval + one interval', async (t) => {
    const victim = lab.nodes[0]!;
    const vips = SERVICES.map(vipOf);
    const others = SERVICES.filter((s) => bestOf(s) !== victim.name);
    const wire = await watchArp(vips);
    const t0 = Date.now();
    const tOthers = new Map(lab.nodes.filter((n) => n !== victim).map((n) => [n.name, Date.now()]));
    let kills = 0;
    while (Date.now() - t0 < 60_000) {
      await sleep(4000);
      await speakers.get(victim.name)!.kill('SIGKILL');
      kills++;
      await sleep(500); // a DaemonSet's restart is slower; the loop is what matters
      await startNodeSpeaker(victim);
    }
    await sleep(MDI_MS + 1000);
    const t1 = Date.now();
    const { rows, probes } = await wire.stop();
    t.diagnostic(`${kills} kills; Services not mastered by ${victim.name}: ${others.join(',') || 'none'}`);
    for (const [i, svc] of SERVICES.entries()) {
      const silence = longestSilence(probes[i]!, t0, t1);
      t.diagnostic(`${svc} (master ${bestOf(svc)}): longest silence ${Math.round(silence)} ms`);
      assert.ok(
        silence <= MDI_MS + INTERVAL_MS + SCHED_MARGIN_MS,
        `${svc} unanswered for ${Math.round(silence)} ms (Master_Down_Interval ${MDI_MS} ms + one interval)`,
      );
      if (others.includes(svc)) assert.deepEqual(answerersBetween(probes[i]!, t0, t1), [bestOf(svc)], `${svc} moved`);
    }
    // Each kill is a node loss and each restart a preemption: two nodes may answer only for less than one advert
    // interval (issue 15: never two masters longer than one advert interval); every such span is printed.
    const doubles = doubleAnswers(rows, vips);
    for (const d of doubles) t.diagnostic(`two answerers: ${JSON.stringify(d)}`);
    assert.deepEqual(
      doubles.filter((d) => d.ms >= INTERVAL_MS),
      [],
      'two nodes answered for longer than one advert interval',
    );
    for (const [name, since] of tOthers) {
      const moved = stateChanges(speakers.get(name)!, since).filter((l) =>
        others.some((s) => vipOf(s) === l['vip'] && bestOf(s) === name),
      );
      assert.deepEqual(moved, [], `${name} changed state for a VIP it masters`);
    }
  });

  test('flt-api-down: the API server is stopped for 30 s; every VIP keeps answering, no transition, no crash; a change made as it returns is picked up', async (t) => {
    const vips = SERVICES.map(vipOf);
    await sleep(MDI_MS + 500);
    const before = new Map(SERVICES.map((s) => [s, bestOf(s)] as const)); // the late Service below reorders
    await waitFor('every VIP answered by its best node', async () =>
      (await Promise.all(SERVICES.map(answeredByBest))).every(Boolean),
    );
    const wire = await watchArp(vips);
    const t0 = Date.now();
    await k.stopApi(); // the process ends: nobody reaches the API, the controller neither
    await sleep(30_000);
    await k.startApi();
    const t1 = Date.now();
    // As it returns: a new Service (with the real server down nothing could be written meanwhile).
    await k.createService({ name: 'late' });
    await waitFor('the late Service allocated', () => vipOf('late') && vridOf('late') > 0, 60_000);
    const { probes } = await wire.stop();
    for (const [i, svc] of SERVICES.entries()) {
      assert.deepEqual(answerersBetween(probes[i]!, t0, t1), [before.get(svc)], `${svc} during the outage`);
      const silence = longestSilence(probes[i]!, t0, t1);
      assert.ok(silence < 1000, `${svc} unanswered for ${Math.round(silence)} ms while the API was away`);
    }
    for (const [name, sp] of speakers) {
      assert.equal(sp.child.exitCode, null, `${name} still runs`);
      assert.deepEqual(
        stateChanges(sp, t0).filter((l) => l.t <= t1),
        [],
        `${name} changed state`,
      );
    }
    // Back: the speakers resync and the late Service's VIP gets its master.
    const late = vipOf('late');
    await waitFor(`${late} answered by ${bestOf('late')}`, () => answeredByBest('late'), 60_000);
    t.diagnostic(`${late} answered ${Math.round(Date.now() - t1)} ms after the API came back`);
  });
});
