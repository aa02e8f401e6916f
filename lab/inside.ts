// inside.ts — the lab's inner process, started by run.ts inside the client namespace (the control-plane host and
// the operator's workstation of the lab): the real kube-apiserver + etcd, the real kube-proxy (nftables mode) and an
// HTTP responder on every node, the controller, the speakers, the status table, the failover drill and the result. It never tears down: run.ts does, whatever
// happens here (also when this process is killed).

import { writeFileSync } from 'node:fs';
import {
  type Allocation,
  applyAll,
  createNodes,
  extraObjects,
  readL2Statuses,
  seedObjects,
  serviceEvents,
  startCluster,
  waitForAllocations,
  waitHttpOk,
} from './cluster.ts';
import { describeDouble, doubleAnswers, type Masters, PROBE_INTERVAL_MS, runDrill, waitMasters } from './drill.ts';
import { startKubeProxy } from './kube/kube-proxy.ts';
import { runOk } from './netlab/exec.ts';
import { startHttpResponder, viaOf } from './netlab/http-responder.ts';
import { emulateKubeProxy } from './netlab/kube-proxy.ts';
import type { Lab, LabPlan } from './netlab/netns.ts';
import { curlOnce, startArpProbe } from './netlab/probe.ts';
import { type LabConfig, parseLabArgs } from './options.ts';
import { METRICS_PORT, planRun, RESPONDER_PORT, type RunPlan } from './plan.ts';
import { controllerSpec, type ManagedProcess, speakerSpec, startProcess } from './processes.ts';
import { formatSamples, healthFacts, type LabResult, Progress, renderTable, scrape, statusCommand } from './report.ts';
import { writeDrillTimeline } from './timeline.ts';

/** labOf rebuilds the harness's Lab handle from the plan (the namespaces were built by the outer process). */
function labOf(net: LabPlan): Lab {
  const port = (state: 'up' | 'down') => async (host: { switchPort: string }) => {
    await runOk(null, ['ip', '-n', net.switchNs, 'link', 'set', host.switchPort, state]);
  };
  return {
    ...net,
    buildMs: 0,
    teardown: () => Promise.reject(new Error('the outer lab process tears down')),
    setLinkDown: port('down'),
    setLinkUp: port('up'),
  };
}

/** Running holds the processes started so far, for an orderly stop (speakers first, so they hand over). */
interface Running {
  api?: { stop(): Promise<void> };
  controller?: ManagedProcess;
  readonly speakers: ManagedProcess[];
}

/** stopAll stops speakers (SIGTERM: priority 0), then the controller, then the API server. */
async function stopAll(r: Running): Promise<void> {
  await Promise.all(r.speakers.map((s) => s.stop()));
  await r.controller?.stop();
  await r.api?.stop();
}

async function main(cfg: LabConfig, running: Running): Promise<LabResult> {
  const plan = planRun(cfg);
  const lab = labOf(plan.net);
  const p = new Progress(cfg.json);
  const speakers = running.speakers;

  p.step(`real kube-apiserver + etcd on ${plan.apiURL} (in ${plan.net.client.ns}), metal-vrrp's CRDs and RBAC`);
  const cluster = await startCluster(plan, cfg);
  running.api = { stop: () => cluster.server.down() };
  await createNodes(cluster, plan, cfg);

  p.step(
    `real kube-proxy (nftables mode, as ServiceAccount kube-system/kube-proxy) and an HTTP responder on :${RESPONDER_PORT} on ${plan.nodes.length} nodes`,
  );
  // nftables mode DNATs the VIPs without making them local; what IPVS mode would add (strictARP, the VIPs on
  // kube-ipvs0) stays emulated so that the nodes answer the drill's pings to the VIPs (lab/netlab/kube-proxy.ts).
  await emulateKubeProxy(lab, { vipsV4: [], vipsV6: [] });
  const peers = Object.fromEntries(
    plan.nodes.flatMap((n) => [
      [n.host.ipv4, n.nodeName],
      [n.host.ipv6, n.nodeName],
    ]),
  );
  await Promise.all(
    plan.nodes.map(async (n, i) => {
      await startKubeProxy(n.host, cluster.kubeProxyKubeconfig, {
        nodeName: n.nodeName,
        ipv6: cfg.ipv6,
        log: `${plan.dir}/kube-proxy-node-${i + 1}.log`,
      });
      await startHttpResponder(n.host, { body: n.nodeName, port: RESPONDER_PORT, peers });
    }),
  );
  const objects = [...seedObjects(plan, cfg), ...extraObjects(plan)];
  await applyAll(cluster, objects);
  p.step(
    `applied the seed (pool ip-pool → ${plan.poolAddresses.join(', ')}, l2adver, demo-svc) and ${cfg.services} more Services, with EndpointSlices of the responders`,
  );

  p.step('starting metal-vrrp controller');
  const controller = startProcess(controllerSpec(plan));
  running.controller = controller;
  const allocations = await waitForAllocations(cluster, plan, 30_000, () =>
    controller.running() ? null : `controller exited (${controller.exitText()}):\n${controller.logTail()}`,
  );
  for (const a of allocations) p.say(`        ${a.namespace}/${a.service} → ${a.ips.join(', ')}`);
  const vips = allocations.flatMap((a) => a.ips);
  const vipsV4 = vips.filter((v) => !v.includes(':'));
  const vipsV6 = vips.filter((v) => v.includes(':'));
  await emulateKubeProxy(lab, { vipsV4, vipsV6 });
  p.step(
    `IPVS-mode addition: ${vips.length} VIPs local on every node's kube-ipvs0, ARP/NDP for them left to the speakers`,
  );

  p.step(`starting ${plan.nodes.length} speakers (metal-vrrp speaker --kubeconfig … --node-name …)`);
  // The client probes every VIP every 10 ms from before the speakers start until each VIP has one master: every
  // moment in which two nodes answered at start-up is reported.
  const startupProbes = await Promise.all(
    vips.map((v) => startArpProbe(lab, v, { intervalMs: PROBE_INTERVAL_MS, maxDurationMs: 120_000 })),
  );
  plan.nodes.forEach((_, i) => {
    speakers[i] = startProcess(speakerSpec(plan, i));
  });
  const waitSpeakerReady = (i: number) =>
    waitHttpOk(`http://${plan.nodes[i]!.host.ipv4}:${METRICS_PORT}/readyz`, speakers[i]!, 30_000).catch((err) => {
      const msg = (err as Error).message;
      // Until the speaker's Kubernetes mode exists, the CLI only knows `speaker --config` (standalone).
      const hint = /Unknown arguments?: .*kubeconfig|Missing required argument: config/.test(msg)
        ? '\nThis metal-vrrp has no Kubernetes mode for the speaker yet (metal-vrrp speaker --kubeconfig … --node-name …).'
        : '';
      throw new Error(`speaker on ${plan.nodes[i]!.nodeName} is not ready: ${msg}${hint}`);
    });
  await Promise.all(plan.nodes.map((_, i) => waitSpeakerReady(i)));

  p.step('waiting until each VIP is answered by exactly one node');
  const first = await waitMasters(lab, vips, 15_000);
  const macName = macToNode(plan);
  const startupDoubles = (await Promise.all(startupProbes.map((pr) => pr.stop())))
    .flatMap((r) => doubleAnswers(r))
    .map((d) => ({ ...d, macs: d.macs.map((m) => macName.get(m) ?? m) }));
  p.say(
    startupDoubles.length === 0
      ? 'start-up: no moment in which two nodes answered for one VIP (ARP probes every 10 ms)'
      : `start-up: TWO NODES ANSWERED: ${startupDoubles.map(describeDouble).join('; ')}`,
  );
  if (!first.ok) throw new Error(`VIPs without exactly one master: ${describeMasters(plan, first.masters)}`);
  const nodeOf = macToNode(plan);
  const masterOf = (v: string) => nodeOf.get(first.masters.get(v)?.[0] ?? '') ?? null;

  // Tables: the real `metal-vrrp status`, then the client's view next to ServiceL2Status.
  const status = await statusCommand(plan);
  if (status.text !== null) p.say(`\n$ metal-vrrp status\n${status.text}\n`);
  else p.say(`\n(metal-vrrp status failed: ${status.error})\n`);
  const l2 = await readL2Statuses(cluster).catch(() => []);
  // MetalLB keeps one ServiceL2Status per announcing node, so a dual-stack Service may have two.
  const l2Nodes = (a: Allocation) =>
    l2.filter((s) => s.service === a.service && s.namespace === a.namespace).map((s) => s.node);
  const l2Of = (a: Allocation) => l2Nodes(a).join(',') || '-';
  const answers = new Map(await Promise.all(vips.map(async (v) => [v, await curlOnce(lab, v)] as const)));
  // curls: the node whose kube-proxy took the connection ("<responder's node> via <that node>").
  const curls = new Map([...answers].map(([v, a]) => [v, viaOf(a)] as const));
  const rows = allocations.flatMap((a) =>
    a.ips.map((ip) => [`${a.namespace}/${a.service}`, ip, masterOf(ip) ?? '?', answers.get(ip) ?? '-', l2Of(a)]),
  );
  p.say(
    "The client's view (who answers ARP/NDP; `curl http://VIP/`: which node's responder answered, via whose kube-proxy) and ServiceL2Status:",
  );
  p.say(renderTable(['service', 'vip', 'arp/ndp answer', 'curl', 'servicel2status'], rows));
  const spread = Object.fromEntries(
    plan.nodes.map((n) => [n.nodeName, vips.filter((v) => masterOf(v) === n.nodeName).length]),
  );
  p.say(
    `\nspread: ${Object.entries(spread)
      .map(([n, c]) => `${n}=${c}`)
      .join(' ')}\n`,
  );
  // The status agrees when each VIP's master (as the client sees it) is among the Service's ServiceL2Status nodes.
  const statusAgrees =
    l2.length === 0 ? null : allocations.every((a) => a.ips.every((ip) => l2Nodes(a).includes(masterOf(ip) ?? '')));

  let drill: LabResult['drill'] = null;
  if (cfg.drill && plan.nodes.length >= 3) {
    p.step('failover drill: the client ARP-probes every VIP every 10 ms and pings the drilled one every 5 ms');
    let drillEvents = 0;
    const detail = await runDrill(
      {
        lab,
        plan,
        advertIntervalMs: cfg.advertIntervalMs,
        speakers,
        vips,
        say: (l) => p.say(`        ${l}`),
        waitSpeakerReady,
        onProbes: (node, at, probes) => {
          // runDrill's acts, in order: the hard loss, the graceful stop, the failing kube-proxy health check.
          const what = ['hard loss', 'graceful stop', 'health check failure'][drillEvents++] ?? 'event';
          const path = writeDrillTimeline(plan, what, node, at, probes, PROBE_INTERVAL_MS);
          p.say(`        timeline (SVG): ${path}`);
        },
      },
      first.masters as Masters,
    );
    const maxTakeover = (xs: readonly { takeoverMs: number | null }[]) =>
      xs.length === 0 || xs.some((x) => x.takeoverMs === null)
        ? null
        : Math.max(...xs.map((x) => x.takeoverMs as number));
    drill = {
      hardNode: detail.hard.node,
      hardGapMs: detail.hard.ping?.gapMs ?? null,
      hardTakeoverMs: maxTakeover(detail.hard.vips),
      gracefulNode: detail.graceful.node,
      gracefulGapMs: detail.graceful.ping?.gapMs ?? null,
      gracefulTakeoverMs: maxTakeover(detail.graceful.vips),
      gracefulArpSilenceMs:
        detail.graceful.vips.length === 0 || detail.graceful.vips.some((v) => v.arpSilenceMs === null)
          ? null
          : Math.max(...detail.graceful.vips.map((v) => v.arpSilenceMs as number)),
      doubleAnswers: [...detail.hard.doubleAnswers, ...detail.graceful.doubleAnswers],
      othersMoved: [...detail.hard.othersMoved, ...detail.graceful.othersMoved],
      preemptBackOk: detail.preemptBackOk,
      preemptBackMs: detail.preemptBackMs,
      health: healthFacts(detail.health),
      detail,
    };
    const drilled = allocations.find((a) => a.ips.includes(detail.hard.vips[0]?.vip ?? ''));
    if (drilled) {
      p.step(`Events on ${drilled.namespace}/${drilled.service}:`);
      for (const line of await serviceEvents(cluster, drilled)) p.say(`        ${line}`);
    }
    p.step('Prometheus metrics (non-zero samples):');
    for (const [i, n] of plan.nodes.entries()) {
      const s = await scrape(n.host.ipv4);
      for (const line of s
        ? formatSamples(n.nodeName, s)
        : [`  ${n.nodeName}: no metrics (${speakers[i]?.exitText()})`])
        p.say(line);
    }
    const c = await scrape(plan.net.client.ipv4);
    for (const line of c ? formatSamples('controller', c) : ['  controller: no metrics']) p.say(line);
    p.say(summaryText(spread, drill));
  } else if (cfg.drill) {
    p.step(`failover drill skipped: it needs at least 3 nodes (--nodes ${plan.nodes.length})`);
  }

  return {
    ok: true,
    error: null,
    prefix: cfg.prefix,
    nodes: plan.nodes.map((n) => ({ name: n.nodeName, namespace: n.host.ns, mac: n.host.mac, ipv4: n.host.ipv4 })),
    advertIntervalMs: cfg.advertIntervalMs,
    services: allocations.map((a) => ({
      name: a.service,
      namespace: a.namespace,
      vips: a.ips,
      masters: a.ips.map(masterOf),
      curl: a.ips.map((ip) => curls.get(ip) ?? null),
    })),
    spread,
    statusAgrees,
    statusCommand: status.text,
    startup: { doubleAnswers: startupDoubles },
    drill,
    logs: plan.dir,
  };
}

/** summaryText is the drill's result in a few lines. */
function summaryText(spread: Readonly<Record<string, number>>, d: NonNullable<LabResult['drill']>): string {
  const ms = (x: number | null) => (x === null ? 'not measured' : `${x.toFixed(1)} ms`);
  const rows: [string, string][] = [
    [
      'VIPs per node',
      Object.entries(spread)
        .map(([n, c]) => `${n}=${c}`)
        .join(' '),
    ],
    [`hard loss (${d.hardNode})`, `client gap ${ms(d.hardGapMs)}, new master after ${ms(d.hardTakeoverMs)}`],
    [
      `graceful stop (${d.gracefulNode})`,
      `client gap ${ms(d.gracefulGapMs)}, nobody answered ARP/NDP for ${ms(d.gracefulArpSilenceMs)}, ` +
        `new master after ${ms(d.gracefulTakeoverMs)}`,
    ],
    [
      `failed health check (${d.health?.node ?? '-'})`,
      d.health === null
        ? 'not run'
        : `new master after ${ms(d.health.takeoverMs)}, client gap ${ms(d.health.gapMs)}, ` +
          `status ${d.health.statusShowsHealth ? 'named the node and check' : 'did NOT name the node'}, ` +
          (d.health.backOk ? 'VIPs back after recovery' : 'VIPs NOT back after recovery'),
    ],
    [
      'two nodes answering',
      d.doubleAnswers.length === 0 ? 'never, around either event' : d.doubleAnswers.map(describeDouble).join('; '),
    ],
    [
      'after restart',
      d.preemptBackOk ? 'every VIP back on its first master (preempt)' : 'VIPs NOT back on their first masters',
    ],
  ];
  const w = Math.max(...rows.map(([k]) => k.length)) + 2;
  return ['', 'Summary', ...rows.map(([k, v]) => `  ${`${k}:`.padEnd(w)}${v}`)].join('\n');
}

function macToNode(plan: RunPlan): Map<string, string> {
  return new Map(plan.nodes.map((n) => [n.host.mac, n.nodeName] as const));
}

function describeMasters(plan: RunPlan, m: Masters): string {
  const nodeOf = macToNode(plan);
  return [...m].map(([vip, macs]) => `${vip}: [${macs.map((x) => nodeOf.get(x) ?? x).join(', ')}]`).join('; ');
}

/** keepText is what --keep prints: how to look around and how to clean up. */
function keepText(cfg: LabConfig, plan: RunPlan, vip: string | undefined): string {
  const c = plan.net.client.ns;
  const v = vip ?? '<VIP>';
  return [
    '',
    `The lab keeps running (prefix ${cfg.prefix}). Try:`,
    `  ip netns exec ${c} arping -c 3 -I eth0 ${v}           # which MAC answers for the VIP`,
    `  ip netns exec ${c} curl -s http://${v}/                # which node's datapath took it`,
    `  ip netns exec ${c} node bin/metal-vrrp.js status --kubeconfig ${plan.adminKubeconfig}`,
    `  ip netns exec ${c} curl -s http://${plan.nodes[0]?.host.ipv4}:${METRICS_PORT}/metrics | grep ^metal_vrrp`,
    `  ip -n ${plan.net.switchNs} link set ${plan.nodes[0]?.host.switchPort} down    # pull ${plan.nodes[0]?.nodeName}'s cable`,
    `  tail -f ${plan.dir}/*.log`,
    `Tear it down with: npm run lab -- --down${cfg.prefix === 'mvlab' ? '' : ` --prefix ${cfg.prefix}`}`,
  ].join('\n');
}

const cfg = parseLabArgs(process.argv.slice(2));
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(sig, () => process.exit(130));
const running: Running = { speakers: [] };
try {
  const result = await main(cfg, running);
  if (!cfg.keep) await stopAll(running);
  if (cfg.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  if (cfg.jsonFile) writeFileSync(cfg.jsonFile, `${JSON.stringify(result, null, 2)}\n`);
  const plan = planRun(cfg);
  if (cfg.keep)
    (cfg.json ? process.stderr : process.stdout).write(`${keepText(cfg, plan, result.services[0]?.vips[0])}\n`);
  process.exit(0);
} catch (err) {
  const msg = err instanceof Error ? err.message : String(err);
  process.stderr.write(`\nlab failed: ${msg}\nlogs: ${planRun(cfg).dir}\n`);
  const failed = `${JSON.stringify({ ok: false, error: msg, prefix: cfg.prefix, logs: planRun(cfg).dir })}\n`;
  if (cfg.json) process.stdout.write(failed);
  if (cfg.jsonFile) writeFileSync(cfg.jsonFile, failed);
  process.exit(1);
}
