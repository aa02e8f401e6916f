// The speaker in Kubernetes mode on real kernels: three node namespaces run `metal-vrrp speaker` against the real
// kube-apiserver (lab/kube/k8s-lab.ts: reached through a loopback + Unix-socket bridge, every component as its
// ServiceAccount), the real controller allocates the seed-style pool, and the real kube-proxy (nftables) forwards the
// client's connections to HTTP responders standing for pods. We check who answers ARP for the VIP (arping from the
// client), the datapath (`curl` goes through the master), what the cluster is told (ServiceL2Status, nodeAssigned
// Events, `metal-vrrp status`), that an excluded node resigns at once (priority 0, the next-ranked node takes over),
// that a pool's tuning annotation applies live without a failover, and that SIGTERM hands over.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { type K8sLab, startK8sLab, waitFor as waitForIn } from '../../lab/kube/k8s-lab.ts';
import { runOk } from '../../lab/netlab/exec.ts';
import { viaOf } from '../../lab/netlab/http-responder.ts';
import { emulateKubeProxy, removeKubeProxy } from '../../lab/netlab/kube-proxy.ts';
import type { Lab, LabHost } from '../../lab/netlab/netns.ts';
import { arpProbe, curlOnce, startPingProbe } from '../../lab/netlab/probe.ts';
import { isStateChange, metricValue, REPO } from '../../lab/netlab/speaker.ts';
import { routerPriorities } from '../../vrrp/priority.ts';

const PREFIX = 'mvk8';
const run = promisify(execFile);

let k: K8sLab;
let lab: Lab;
const SERVICES = Array.from({ length: 10 }, (_, i) => `web${i}`);
const LOCAL = 'web9'; // externalTrafficPolicy: Local, with ready endpoints on two nodes
let eligible: string[] = []; // nodes not excluded and still running a speaker
let localEndpoints: string[] = []; // nodes with a ready endpoint of LOCAL

const waitFor = <T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, ms = 15_000) =>
  waitForIn(what, fn, ms);
const hostOf = (name: string): LabHost => k.hostOf(name);
const mastersOf = (svc: string) => k.mastersOf(svc);
const vipOf = (name: string) => k.vipOf(name);
const vridOf = (name: string) => k.vridOf(name);
const speakers = () => k.speakers;

/**
 * orderOf is a Service router's node order as every speaker computes it: routerPriorities over the routers of all
 * Services (vrrp/placement.ts balances them together), members = every node, ready, drained (exclude label) or not,
 * and for LOCAL those with a ready endpoint. A stopped speaker's or an excluded node stays a member: its VIPs go to
 * their next node, and the other VIPs stay where they are.
 */
function orderOf(name: string): string[] {
  const members = lab.nodes.map((n) => n.name);
  const names = k.mirror
    .list('services', 'default')
    .map((o) => o.metadata.name)
    .filter((s) => vipOf(s) !== '' && vridOf(s) > 0);
  const all = routerPriorities(
    names.map((s) => ({
      key: `ipv4/${vridOf(s)}`,
      members: s === LOCAL ? localEndpoints.filter((n) => members.includes(n)) : members,
    })),
  );
  const r = all.get(`ipv4/${vridOf(name)}`);
  assert.ok(r && 'priorities' in r, `no ranking for ${name}`);
  return [...r.priorities.keys()];
}

/** rankingOf is the order of `candidates` for a Service's router: what every speaker computes. */
function rankingOf(name: string, candidates: readonly string[] = lab.nodes.map((n) => n.name)): string[] {
  return orderOf(name).filter((n) => candidates.includes(n));
}

/** expectedMaster is the best-ranked eligible node (for LOCAL: among the nodes with a ready endpoint). */
function expectedMaster(name: string): string {
  return rankingOf(name, name === LOCAL ? localEndpoints.filter((n) => eligible.includes(n)) : eligible)[0]!;
}

async function waitMastersSettled(): Promise<void> {
  await waitFor(
    'every Service mastered by its best node',
    () => SERVICES.every((s) => vipOf(s) && mastersOf(s).length === 1 && mastersOf(s)[0] === expectedMaster(s)),
    30_000,
  );
}

async function ipsAnswering(vip: string): Promise<string[]> {
  const res = await arpProbe(lab, vip, { durationMs: 200 });
  return [...new Set(res.answers.map((a) => a.mac))];
}

before(async () => {
  localEndpoints = ['n2', 'n3'];
  k = await startK8sLab({
    ipvsAddresses: true, // as before: the VIPs local on kube-ipvs0 (IPVS mode), so ping reaches them
    prefix: PREFIX,
    nodes: 3,
    services: SERVICES.map((name) =>
      name === LOCAL ? { name, externalTrafficPolicy: 'Local' as const, endpointNodes: localEndpoints } : { name },
    ),
    vips: 12,
    logLevel: 'debug',
  });
  lab = k.lab;
  eligible = lab.nodes.map((n) => n.name);
});

after(async () => {
  await k?.stop();
});

describe('speaker in Kubernetes mode', () => {
  test('ten Services: each VIP mastered by its best-ranked node, spread over the nodes, with nodeAssigned Events', async () => {
    await waitMastersSettled();
    const masters = SERVICES.map(expectedMaster);
    assert.equal(new Set(masters).size, 3, `masters ${masters.join(',')} use every node`);
    const events = await k.events('default');
    for (const name of SERVICES) {
      const ok = events.some(
        (e) =>
          e.reason === 'nodeAssigned' &&
          e.involvedObject === name &&
          e.message?.includes(`announcing from node "${expectedMaster(name)}"`),
      );
      assert.ok(ok, `nodeAssigned Event for ${name}`);
    }
  });

  test('metal-vrrp status names, for every VIP, the node whose MAC answers the client ARP', async () => {
    const { stdout } = await run(process.execPath, [
      `${REPO}bin/metal-vrrp.js`,
      'status',
      '--kubeconfig',
      k.adminKubeconfig,
      '-o',
      'json',
    ]);
    const items = JSON.parse(stdout).items as {
      service: { name: string };
      vip: string;
      master: string;
      backups: { node: string }[];
    }[];
    assert.equal(items.length, SERVICES.length);
    for (const item of items) {
      assert.deepEqual(await ipsAnswering(item.vip), [hostOf(item.master).mac], `${item.service.name} ${item.vip}`);
      if (item.service.name !== LOCAL) {
        assert.deepEqual([item.master, ...item.backups.map((b) => b.node)], rankingOf(item.service.name));
      }
    }
    assert.equal(viaOf(await curlOnce(lab, vipOf('web0'))), expectedMaster('web0'));
    const text = await speakers().get(expectedMaster('web0'))!.metrics();
    assert.equal(metricValue(text, 'metal_vrrp_vip_master', { vip: vipOf('web0'), service: 'default/web0' }), 1);
  });

  test("kube-proxy's datapath: without the IPVS-mode addresses curl reaches every node's responder through the master; nothing answers ping", async () => {
    const name = 'web1';
    const master = expectedMaster(name);
    await removeKubeProxy(lab); // kube-ipvs0 and its addresses gone: what nftables mode alone leaves on a node
    try {
      const answers: string[] = [];
      for (let i = 0; i < 12; i++) answers.push((await curlOnce(lab, vipOf(name))) ?? '(no answer)');
      assert.deepEqual([...new Set(answers.map(viaOf))], [master], answers.join(', '));
      const backends = new Set(answers.map((a) => a.split(' ')[0]));
      assert.ok(
        backends.size > 1,
        `DNAT to endpoints on other nodes too (masqueraded, forwarded): ${answers.join(', ')}`,
      );
      const local = (await curlOnce(lab, vipOf(LOCAL))) ?? '';
      assert.equal(local, `${expectedMaster(LOCAL)} via ${expectedMaster(LOCAL)}`, "Local: the master's own endpoint");
      assert.deepEqual(await ipsAnswering(vipOf(name)), [hostOf(master).mac]);
      const ping = await runOk(lab.client.ns, ['ping', '-c', '2', '-W', '1', vipOf(name)]).then(
        () => 'answered',
        () => 'no answer',
      );
      assert.equal(ping, 'no answer', 'nftables mode makes no local address: nothing answers ICMP echo for the VIP');
    } finally {
      await emulateKubeProxy(lab);
    }
  });

  test("a Local Service's VIP moves at once when its master loses the ready endpoint", async () => {
    const before = expectedMaster(LOCAL);
    const other = localEndpoints.find((n) => n !== before)!;
    const t0 = Date.now();
    localEndpoints = [other];
    await k.setEndpoints(LOCAL, localEndpoints);
    const took = await speakers()
      .get(other)!
      .waitForLog((l) => l.t >= t0 && isStateChange('master')(l), 15_000);
    assert.equal(took['reason'], 'priority-zero', 'the old master resigned; no waiting for Master_Down_Interval');
    await waitFor('ServiceL2Status follows', () => mastersOf(LOCAL).length === 1 && mastersOf(LOCAL)[0] === other);
    assert.deepEqual(await ipsAnswering(vipOf(LOCAL)), [hostOf(other).mac]);
  });

  test('an advert-interval annotation shows in the next adverts (tshark) and causes no failover', async () => {
    const vrid = vridOf('web0');
    const capture = async (seconds: number) => {
      const { stdout } = await run('ip', [
        'netns',
        'exec',
        lab.client.ns,
        'tshark',
        '-q',
        '-i',
        lab.client.ifname,
        '-f',
        'ip proto 112',
        '-a',
        `duration:${seconds}`,
        '-T',
        'fields',
        '-e',
        'vrrp.virt_rtr_id',
        '-e',
        'vrrp.short_adver_int',
      ]);
      return stdout
        .trim()
        .split('\n')
        .map((l) => l.split('\t'))
        .filter((f) => Number(f[0]) === vrid)
        .map((f) => Number(f[1]));
    };
    const before = await capture(1);
    assert.ok(before.length > 0 && before.every((i) => i === 10), `before: ${before.join(',')}`);
    const t0 = Date.now();
    await k.annotatePool({ 'metal-vrrp.io/advert-interval': '50ms' });
    await speakers()
      .get(expectedMaster('web0'))!
      .waitForLog((l) => l.t >= t0 && l['msg'] === 'router reconfigure', 5000);
    const after = await capture(1);
    assert.ok(after.length >= 12 && after.every((i) => i === 5), `after: ${after.length} adverts: ${after.join(',')}`);
    for (const sp of speakers().values()) {
      assert.ok(!sp.logs.some((l) => l.t >= t0 && isStateChange('master')(l)), `${sp.host.name} took over`);
    }
    const { stdout } = await run(process.execPath, [
      `${REPO}bin/metal-vrrp.js`,
      'status',
      '--kubeconfig',
      k.adminKubeconfig,
    ]);
    assert.match(stdout, /50ms/);
  });

  // The nodes lose the API (the bridge refuses their connections: a partition between the nodes and the control
  // plane, which stopping the server process cannot give, since the Service below must still be created).
  test('through an API outage the VIPs stay served; afterwards a Service created meanwhile is served too', async () => {
    k.bridge.pause();
    await sleep(1500);
    for (const name of ['web0', 'web1']) {
      assert.deepEqual(await ipsAnswering(vipOf(name)), [hostOf(expectedMaster(name)).mac]);
    }
    await k.createService({ name: 'late' });
    await waitFor('late IP', () => vipOf('late') && vridOf('late') > 0);
    assert.equal(mastersOf('late').length, 0);
    k.bridge.resume();
    await waitFor(
      'late mastered',
      () => mastersOf('late').length === 1 && mastersOf('late')[0] === rankingOf('late', eligible)[0],
      30_000,
    );
    const errors = metricValue(
      await speakers().get(lab.nodes[0]!.name)!.metrics(),
      'metal_vrrp_api_watch_errors_total',
    );
    assert.ok((errors ?? 0) > 0, 'watch errors were counted');
    await k.deleteService('late');
    await waitFor('late status removed', () => mastersOf('late').length === 0);
  });

  test('the peers annotation switches a pool to unicast adverts to the other nodes, without a failover', async () => {
    const vrid = vridOf('web0');
    const master = expectedMaster('web0');
    const backup = lab.nodes.find((n) => n.name !== master)!;
    const t0 = Date.now();
    await k.annotatePool({ 'metal-vrrp.io/peers': 'unicast' });
    await speakers()
      .get(master)!
      .waitForLog((l) => l.t >= t0 && l['msg'] === 'router reconfigure', 5000);
    const { stdout } = await run('ip', [
      'netns',
      'exec',
      backup.ns,
      'tshark',
      '-q',
      '-i',
      backup.ifname,
      '-f',
      'ip proto 112',
      '-a',
      'duration:1',
      '-T',
      'fields',
      '-e',
      'vrrp.virt_rtr_id',
      '-e',
      'ip.dst',
      '-e',
      'ip.ttl',
    ]);
    const adverts = stdout
      .trim()
      .split('\n')
      .map((l) => l.split('\t'))
      .filter((f) => Number(f[0]) === vrid);
    assert.ok(adverts.length >= 10, `${adverts.length} adverts for VRID ${vrid} reached ${backup.name}`);
    assert.deepEqual([...new Set(adverts.map((f) => `${f[1]} ttl ${f[2]}`))], [`${backup.ipv4} ttl 255`]);
    for (const sp of speakers().values()) {
      const took = sp.logs.filter((l) => l.t >= t0 && isStateChange('master')(l));
      assert.deepEqual(took, [], `${sp.host.name} took over`);
    }
  });

  test('a node labelled exclude-from-external-load-balancers resigns; the next-ranked node takes over at once', async () => {
    const best = expectedMaster('web0');
    eligible = eligible.filter((n) => n !== best);
    const second = expectedMaster('web0');
    const t0 = Date.now();
    await k.mergePatch('nodes', '', best, {
      metadata: { labels: { 'node.kubernetes.io/exclude-from-external-load-balancers': 'true' } },
    });
    // The excluded node resigns as soon as the Node change reaches it (a watch, possibly reconnecting after the
    // outage above), and its priority-0 advert makes the second take over after Skew_Time, not after
    // Master_Down_Interval: the takeover's reason says which.
    await speakers()
      .get(best)!
      .waitForLog((l) => l.t >= t0 && l['msg'] === 'router stop', 15_000);
    const took = await speakers()
      .get(second)!
      .waitForLog((l) => l.t >= t0 && isStateChange('master')(l), 15_000);
    assert.equal(took['reason'], 'priority-zero');
    await waitFor('ServiceL2Status moves', () => mastersOf('web0').length === 1 && mastersOf('web0')[0] === second);
    assert.deepEqual(await ipsAnswering(vipOf('web0')), [hostOf(second).mac]);
    await waitMastersSettled();
  });

  test('SIGTERM on a master hands over losing at most one ping at 10 ms; /metrics passes promtool', async () => {
    const name = 'web0';
    const master = expectedMaster(name);
    const next = rankingOf(
      name,
      eligible.filter((n) => n !== master),
    )[0]!;
    const text = await speakers().get(next)!.metrics();
    const check = await new Promise<{ code: number; out: string }>((resolve) => {
      const p = execFile('promtool', ['check', 'metrics'], (err, stdout, stderr) =>
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
      );
      p.stdin?.end(text);
    });
    assert.equal(check.code, 0, check.out);
    const ping = await startPingProbe(lab, vipOf(name), { intervalMs: 10 });
    await sleep(500);
    const exit = await speakers().get(master)!.kill('SIGTERM');
    assert.equal(exit.code, 0);
    await sleep(1000);
    const res = await ping.stop();
    assert.ok(res.replies.length > 50, `ping ran (${res.replies.length} replies)`);
    assert.ok(res.maxConsecutiveLost <= 1, `lost ${res.lost.join(',')} (longest gap ${res.longestGap?.ms} ms)`);
    eligible = eligible.filter((n) => n !== master);
    await waitFor('ServiceL2Status follows', () => mastersOf(name).length === 1 && mastersOf(name)[0] === next);
    assert.equal(viaOf(await curlOnce(lab, vipOf(name))), next);
  });
});
