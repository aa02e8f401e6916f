// L2Advertisement preferredNodeSelectors on real kernels (issue 14): three node namespaces run `metal-vrrp speaker`
// in Kubernetes mode against the real kube-apiserver (lab/kube/k8s-lab.ts, every component as its ServiceAccount),
// the real controller allocates one VIP. First the node that wins by hash answers ARP; then one of the others is
// labelled and an L2Advertisement prefers that label: the preferred node takes the VIP (preemption) although it ranks
// last by hash, `metal-vrrp status` names it under `preferred`, and when its speaker stops, the hash winner takes the
// VIP back (preferences never remove a node from failover).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { type K8sLab, startK8sLab, waitFor } from '../../lab/kube/k8s-lab.ts';
import { arpProbe } from '../../lab/netlab/probe.ts';
import { REPO } from '../../lab/netlab/speaker.ts';
import { rankNodes } from '../../vrrp/rendezvous.ts';

const PREFIX = 'pns';
const NS = 'metallb-system';
const LABEL = 'example.com/l2-preferred';
const run = promisify(execFile);

let k: K8sLab;
const vip = () => k.vipOf('web');
const vrid = () => k.vridOf('web');
const masters = () => k.mastersOf('web');

/** byHash is the router's node order without preferences: rendezvous over every node (the pool's default). */
const byHash = () =>
  rankNodes(
    `ipv4/${vrid()}`,
    k.lab.nodes.map((n) => n.name),
  );

async function macsAnswering(address: string): Promise<string[]> {
  const res = await arpProbe(k.lab, address, { durationMs: 200 });
  return [...new Set(res.answers.map((a) => a.mac))];
}

/** answeredBy waits until exactly `node`'s MAC answers ARP for the VIP and the ServiceL2Status names it. */
async function answeredBy(node: string): Promise<void> {
  await waitFor(
    `${node} masters the VIP`,
    async () => {
      if (masters().length !== 1 || masters()[0] !== node) return false;
      const macs = await macsAnswering(vip());
      return macs.length === 1 && macs[0] === k.hostOf(node).mac;
    },
    20_000,
  );
}

before(async () => {
  k = await startK8sLab({ prefix: PREFIX, nodes: 3, services: [{ name: 'web' }], vips: 1, logLevel: 'debug' });
});

after(async () => {
  await k?.stop();
});

describe('preferredNodeSelectors', () => {
  test('without preferences, the hash winner answers ARP for the VIP', async () => {
    await answeredBy(byHash()[0]!);
  });

  test('a preferred node takes the VIP although it ranks last by hash; status shows it preferred', async () => {
    const [winner, , last] = byHash();
    await k.mergePatch('nodes', '', last!, { metadata: { labels: { [LABEL]: 'true' } } });
    await k.mergePatch('l2advertisements', NS, 'lab', {
      spec: { preferredNodeSelectors: [{ weight: 100, preference: { matchLabels: { [LABEL]: 'true' } } }] },
    });
    await answeredBy(last!);
    const { stdout } = await run(process.execPath, [
      `${REPO}bin/metal-vrrp.js`,
      'status',
      '--kubeconfig',
      k.adminKubeconfig,
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
    await k.speakers.get(last!)!.kill('SIGTERM');
    k.speakers.delete(last!);
    await answeredBy(winner!);
  });
});
