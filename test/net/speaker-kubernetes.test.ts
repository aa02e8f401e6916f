// The speaker in Kubernetes mode on real kernels: three node namespaces run `metal-vrrp speaker` against the API
// stand-in (reached through a loopback + Unix-socket bridge), the real controller allocates the seed-style pool, and
// we check who answers ARP for the VIP (arping from the client), what the cluster is told (ServiceL2Status,
// nodeAssigned Events, `metal-vrrp status`), that an excluded node resigns at once (priority 0, the next-ranked node
// takes over), that a pool's tuning annotation applies live without a failover, and that SIGTERM hands over.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { type RunningController, startController } from '../../src/cli/controller.ts';
import { createLogger } from '../../src/log.ts';
import { nodePriorities } from '../../vrrp/priority.ts';
import { type ApiServer, startApiServer, writeKubeconfigFile } from '../apiserver/index.ts';
import { type ApiBridge, startApiBridge } from '../harness/api-bridge.ts';
import { killTracked } from '../harness/exec.ts';
import { startHttpResponders } from '../harness/http-responder.ts';
import { emulateKubeProxy } from '../harness/kube-proxy.ts';
import { buildLab, type Lab, type LabHost, teardownByPrefix } from '../harness/netns.ts';
import { arpProbe, curlOnce } from '../harness/probe.ts';
import { isStateChange, metricValue, REPO, type SpeakerProcess, startSpeakerProcess } from '../harness/speaker.ts';

const PREFIX = 'mvk8';
const NS = 'metallb-system';
const run = promisify(execFile);

let lab: Lab;
let server: ApiServer;
let bridge: ApiBridge;
let controller: RunningController;
const speakers = new Map<string, SpeakerProcess>(); // node name -> speaker
let vip: string;
let ranking: string[]; // node names, best first
let adminKubeconfig: string;

async function waitFor<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, ms = 15_000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

const hostOf = (name: string): LabHost => lab.nodes.find((n) => n.name === name)!;
const l2Statuses = () =>
  server.store.list('servicel2statuses.metallb.io', { namespace: NS }).items as {
    metadata: { name: string; labels?: Record<string, string> };
    status?: { node?: string; serviceName?: string };
  }[];
const mastersOfWeb = () =>
  l2Statuses()
    .filter((o) => o.status?.serviceName === 'web')
    .map((o) => o.status?.node);

async function startNodeSpeaker(host: LabHost, kubeconfig: string): Promise<SpeakerProcess> {
  const args = ['--kubeconfig', kubeconfig, '--node-name', host.name, '--namespace', NS, '--log-level', 'debug'];
  const sp = await startSpeakerProcess(host, args, 7472, 'speaker synced with the cluster', 30_000);
  speakers.set(host.name, sp);
  return sp;
}

before(async () => {
  await teardownByPrefix(PREFIX);
  lab = await buildLab({ prefix: PREFIX, nodes: 3 });
  await emulateKubeProxy(lab);
  await startHttpResponders(lab);
  server = await startApiServer({ bookmarkIntervalMs: 500 });
  bridge = await startApiBridge(PREFIX, server.port);
  const kubeconfig = `${bridge.socketPath}.kubeconfig`;
  await writeKubeconfigFile(kubeconfig, bridge.serverURL);
  adminKubeconfig = `${bridge.socketPath}.admin-kubeconfig`;
  await writeKubeconfigFile(adminKubeconfig, server.url);
  const s = server.store;
  for (const n of lab.nodes) {
    s.create('nodes', {
      metadata: { name: n.name, labels: { 'kubernetes.io/hostname': n.name } },
      status: {
        addresses: [
          { type: 'InternalIP', address: n.ipv4 },
          { type: 'InternalIP', address: n.ipv6 },
        ],
        conditions: [{ type: 'Ready', status: 'True' }],
      },
    });
  }
  vip = lab.vipsV4[0]!;
  s.create('ipaddresspools.metallb.io', {
    apiVersion: 'metallb.io/v1beta1',
    kind: 'IPAddressPool',
    metadata: { name: 'lab', namespace: NS },
    spec: { addresses: [`${vip}/32`] },
  });
  s.create('l2advertisements.metallb.io', {
    apiVersion: 'metallb.io/v1beta1',
    kind: 'L2Advertisement',
    metadata: { name: 'lab', namespace: NS },
    spec: { ipAddressPools: ['lab'] },
  });
  controller = startController({
    kubeConfig: server.makeKubeConfig(),
    namespace: NS,
    logger: createLogger({ level: 'warn', destination: { write: () => {} } }),
  });
  s.create('services', {
    metadata: { name: 'web', namespace: 'default' },
    spec: { type: 'LoadBalancer', ports: [{ port: 80, protocol: 'TCP' }] },
  });
  const annotation = await waitFor('VRID annotation', () => {
    const svc = s.get('services', 'default', 'web') as { metadata: { annotations?: Record<string, string> } };
    return svc?.metadata.annotations?.['metal-vrrp.io/vrids'];
  });
  const vrid = Number(annotation.split('=')[1]);
  const r = nodePriorities(
    `ipv4/${vrid}`,
    lab.nodes.map((n) => n.name),
  );
  assert.ok('priorities' in r);
  ranking = [...r.priorities.keys()];
  for (const n of lab.nodes) await bridge.addNamespace(n.ns);
  await Promise.all(lab.nodes.map((n) => startNodeSpeaker(n, kubeconfig)));
});

after(async () => {
  for (const sp of speakers.values()) await sp.kill('SIGKILL').catch(() => {});
  await controller?.stop();
  await bridge?.close();
  await server?.close();
  await killTracked(PREFIX);
  await lab?.teardown();
});

describe('speaker in Kubernetes mode', () => {
  test('the best-ranked node is master: ServiceL2Status, nodeAssigned Event, ARP and HTTP all agree', async () => {
    const best = ranking[0]!;
    await waitFor('ServiceL2Status of the best node', () => mastersOfWeb().length === 1 && mastersOfWeb()[0] === best);
    const l2 = l2Statuses().find((o) => o.status?.serviceName === 'web')!;
    assert.equal(l2.metadata.labels?.['metallb.io/node'], best);
    assert.equal(l2.metadata.labels?.['metallb.io/service-namespace'], 'default');
    const res = await arpProbe(lab, vip, { durationMs: 400 });
    const macs = new Set(res.answers.map((a) => a.mac));
    assert.deepEqual([...macs], [hostOf(best).mac], 'only the master answers ARP for the VIP');
    assert.equal(await curlOnce(lab, vip), best);
    const events = server.store.list('events', { namespace: 'default' }).items as {
      reason?: string;
      message?: string;
      involvedObject?: { name?: string };
    }[];
    const assigned = events.filter((e) => e.reason === 'nodeAssigned' && e.involvedObject?.name === 'web');
    assert.ok(
      assigned.some((e) => e.message?.includes(`announcing from node "${best}"`)),
      JSON.stringify(assigned),
    );
  });

  test('metal-vrrp status shows the master and the backups in rendezvous order', async () => {
    const { stdout } = await run(process.execPath, [
      `${REPO}bin/metal-vrrp.js`,
      'status',
      '--kubeconfig',
      adminKubeconfig,
      '-o',
      'json',
    ]);
    const item = JSON.parse(stdout).items[0];
    assert.equal(item.vip, vip);
    assert.equal(item.master, ranking[0]);
    assert.deepEqual(
      item.backups.map((b: { node: string }) => b.node),
      ranking.slice(1),
    );
  });

  test('a node labelled exclude-from-external-load-balancers resigns; the next-ranked node takes over at once', async () => {
    const [best, second] = ranking as [string, string];
    const t0 = Date.now();
    server.store.patch('nodes', undefined, best, 'merge', {
      metadata: { labels: { 'node.kubernetes.io/exclude-from-external-load-balancers': 'true' } },
    });
    const took = await speakers.get(second)!.waitForLog((l) => l.t >= t0 && isStateChange('master')(l), 5000);
    // Priority 0 from the old master: the second waits Skew_Time (< 1 ms at priority 253), not Master_Down_Interval;
    // the margin covers the watch, a reconcile and a shared machine, and is still below 3 advert intervals + skew.
    assert.ok(took.t - t0 < 1500, `takeover ${took.t - t0} ms after the label`);
    const resigned = speakers.get(best)!.logs.find((l) => l.t >= t0 && l['msg'] === 'router stop');
    assert.ok(resigned, 'the excluded node stopped its router');
    await waitFor('ServiceL2Status moves', () => mastersOfWeb().length === 1 && mastersOfWeb()[0] === second);
    const res = await arpProbe(lab, vip, { durationMs: 400 });
    assert.deepEqual([...new Set(res.answers.map((a) => a.mac))], [hostOf(second).mac]);
  });

  test('a pool tuning annotation applies live: new interval on the wire, no failover', async () => {
    const second = ranking[1]!;
    const sp = speakers.get(second)!;
    const before = metricValue(await sp.metrics(), 'metal_vrrp_transitions_total', { to: 'master' });
    const t0 = Date.now();
    server.store.patch('ipaddresspools.metallb.io', NS, 'lab', 'merge', {
      metadata: { annotations: { 'metal-vrrp.io/advert-interval': '50ms' } },
    });
    await sp.waitForLog((l) => l.t >= t0 && l['msg'] === 'router reconfigure', 5000);
    await sleep(1000);
    const text = await sp.metrics();
    assert.equal(metricValue(text, 'metal_vrrp_transitions_total', { to: 'master' }), before, 'no new transition');
    for (const other of speakers.values()) {
      assert.ok(!other.logs.some((l) => l.t >= t0 && isStateChange('master')(l)), `${other.host.name} took over`);
    }
    const { stdout } = await run(process.execPath, [
      `${REPO}bin/metal-vrrp.js`,
      'status',
      '--kubeconfig',
      adminKubeconfig,
    ]);
    assert.match(stdout, /50ms/);
  });

  test('SIGTERM on the master hands over to the remaining node, and /metrics passes promtool', async () => {
    const [, second, third] = ranking as [string, string, string];
    const text = await speakers.get(third)!.metrics();
    const check = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const p = execFile('promtool', ['check', 'metrics'], (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
      );
      p.stdin?.end(text);
    });
    assert.equal(check.code, 0, check.out);
    const t0 = Date.now();
    const exit = await speakers.get(second)!.kill('SIGTERM');
    assert.equal(exit.code, 0);
    const took = await speakers.get(third)!.waitForLog((l) => l.t >= t0 && isStateChange('master')(l), 5000);
    assert.ok(took.t - t0 < 1500, `takeover ${took.t - t0} ms after SIGTERM`);
    await waitFor('ServiceL2Status follows', () => mastersOfWeb().length === 1 && mastersOfWeb()[0] === third);
    assert.equal(await curlOnce(lab, vip), third);
  });
});
