// L2Advertisement preferredNodeSelectors on real kernels (issue 14): three node namespaces run `metal-vrrp speaker`
// in Kubernetes mode against the API stand-in, the real controller allocates one VIP. First the node that wins by
// hash answers ARP; then one of the others is labelled and an L2Advertisement prefers that label: the preferred node
// takes the VIP (preemption) although it ranks last by hash, `metal-vrrp status` names it under `preferred`, and when
// its speaker stops, the hash winner takes the VIP back (preferences never remove a node from failover).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { type ApiServer, startApiServer, writeKubeconfigFile } from '../../lab/apiserver-standin/index.ts';
import { type ApiBridge, startApiBridge } from '../../lab/netlab/api-bridge.ts';
import { killTracked } from '../../lab/netlab/exec.ts';
import { buildLab, hostAddress, type Lab, type LabHost, planLab, teardownByPrefix } from '../../lab/netlab/netns.ts';
import { arpProbe } from '../../lab/netlab/probe.ts';
import { REPO, type SpeakerProcess, startSpeakerProcess } from '../../lab/netlab/speaker.ts';
import { type RunningController, startController } from '../../src/cli/controller.ts';
import { createLogger } from '../../src/log.ts';
import { rankNodes } from '../../vrrp/rendezvous.ts';

const PREFIX = 'pns';
const NS = 'metallb-system';
const LABEL = 'example.com/l2-preferred';
const run = promisify(execFile);

let lab: Lab;
let server: ApiServer;
let bridge: ApiBridge;
let controller: RunningController;
let adminKubeconfig: string;
const speakers = new Map<string, SpeakerProcess>(); // node name -> speaker

async function waitFor<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, ms = 20_000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

const hostOf = (name: string): LabHost => lab.nodes.find((n) => n.name === name)!;
type Svc = {
  metadata: { annotations?: Record<string, string> };
  status?: { loadBalancer?: { ingress?: { ip: string }[] } };
};
const svc = () => server.store.get('services', 'default', 'web') as Svc | undefined;
const vip = () => svc()?.status?.loadBalancer?.ingress?.[0]?.ip ?? '';
const vrid = () => Number(svc()?.metadata.annotations?.['metal-vrrp.io/vrids']?.split('=')[1]);
const masters = () =>
  (
    server.store.list('servicel2statuses.metallb.io', { namespace: NS }).items as {
      status?: { node?: string; serviceName?: string };
    }[]
  )
    .filter((o) => o.status?.serviceName === 'web')
    .map((o) => o.status?.node);

/** byHash is the router's node order without preferences: rendezvous over every node (the pool's default). */
const byHash = () =>
  rankNodes(
    `ipv4/${vrid()}`,
    lab.nodes.map((n) => n.name),
  );

async function macsAnswering(address: string): Promise<string[]> {
  const res = await arpProbe(lab, address, { durationMs: 200 });
  return [...new Set(res.answers.map((a) => a.mac))];
}

/** answeredBy waits until exactly `node`'s MAC answers ARP for the VIP and the ServiceL2Status names it. */
async function answeredBy(node: string): Promise<void> {
  await waitFor(`${node} masters the VIP`, async () => {
    if (masters().length !== 1 || masters()[0] !== node) return false;
    const macs = await macsAnswering(vip());
    return macs.length === 1 && macs[0] === hostOf(node).mac;
  });
}

before(async () => {
  await teardownByPrefix(PREFIX);
  const plan = planLab({ prefix: PREFIX, nodes: 3 });
  lab = await buildLab({
    prefix: PREFIX,
    nodes: 3,
    vips: { ipv4: [hostAddress(plan.ipv4Subnet, 100)], ipv6: [hostAddress(plan.ipv6Subnet, 0x100)] },
  });
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
        addresses: [{ type: 'InternalIP', address: n.ipv4 }],
        conditions: [{ type: 'Ready', status: 'True' }],
      },
    });
  }
  s.create('ipaddresspools.metallb.io', {
    apiVersion: 'metallb.io/v1beta1',
    kind: 'IPAddressPool',
    metadata: { name: 'lab', namespace: NS },
    spec: { addresses: [`${lab.vipsV4[0]}/32`] },
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
  await waitFor('the VIP and its VRID', () => vip() !== '' && vrid() > 0);
  for (const n of lab.nodes) await bridge.addNamespace(n.ns);
  await Promise.all(
    lab.nodes.map(async (host) => {
      const args = ['--kubeconfig', kubeconfig, '--node-name', host.name, '--namespace', NS, '--log-level', 'debug'];
      speakers.set(host.name, await startSpeakerProcess(host, args, 7472, 'speaker synced with the cluster', 30_000));
    }),
  );
});

after(async () => {
  for (const sp of speakers.values()) await sp.kill('SIGKILL').catch(() => {});
  await controller?.stop();
  await bridge?.close();
  await server?.close();
  await killTracked(PREFIX);
  await lab?.teardown();
});

describe('preferredNodeSelectors', () => {
  test('without preferences, the hash winner answers ARP for the VIP', async () => {
    await answeredBy(byHash()[0]!);
  });

  test('a preferred node takes the VIP although it ranks last by hash; status shows it preferred', async () => {
    const [winner, , last] = byHash();
    const node = server.store.get('nodes', undefined, last!) as { metadata: { labels?: Record<string, string> } };
    server.store.update('nodes', {
      ...node,
      metadata: { ...node.metadata, labels: { ...node.metadata.labels, [LABEL]: 'true' } },
    });
    const ad = server.store.get('l2advertisements.metallb.io', NS, 'lab') as unknown as { spec: object };
    server.store.update('l2advertisements.metallb.io', {
      ...ad,
      spec: { ...ad.spec, preferredNodeSelectors: [{ weight: 100, preference: { matchLabels: { [LABEL]: 'true' } } }] },
    });
    await answeredBy(last!);
    const { stdout } = await run(process.execPath, [
      `${REPO}bin/metal-vrrp.js`,
      'status',
      '--kubeconfig',
      adminKubeconfig,
      '-o',
      'json',
    ]);
    const [item] = JSON.parse(stdout).items as {
      master: string;
      backups: { node: string }[];
      preferred: { node: string; score: number }[];
    }[];
    assert.equal(item!.master, last);
    assert.deepEqual(item!.preferred, [{ node: last, score: 100 }]);
    assert.equal(item!.backups[0]!.node, winner, 'the hash order ranks the nodes that are not preferred');
  });

  test('when the preferred node stops, the hash winner takes over (preferences keep every node for failover)', async () => {
    const [winner, , last] = byHash();
    await speakers.get(last!)!.kill('SIGTERM');
    speakers.delete(last!);
    await answeredBy(winner!);
  });
});
