// health-drill.ts — what the drill's "health" act (and bench/health.ts) needs besides the probes: kube-proxy's health
// endpoint on every node, the pool's kube-proxy check turned on, and breaking that check on one node.
//
// Breaking is an nftables rule in the node's namespace that drops TCP to port 10256 (kube-proxy's healthz): it works
// whatever serves the port — the real kube-proxy or the lab's stand-in responder — and it is what a wedged kube-proxy
// looks like to the speaker's probe: no answer, so the probe fails on its timeout. Restoring deletes the rule's table.
// The table lives in the node's namespace, so the lab's teardown (deleting the namespaces) also removes it.
import { CustomObjectsApi, KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { runOk } from './netlab/exec.ts';
import { startHttpResponder } from './netlab/http-responder.ts';
import type { LabHost } from './netlab/netns.ts';

/** KUBE_PROXY_HEALTH_PORT is kube-proxy's --healthz-bind-address port. */
export const KUBE_PROXY_HEALTH_PORT = 10256;
/** HEALTH_CHECK_NAME is how the speaker names the check (`metal-vrrp.io/kube-proxy-health: "true"`). */
export const HEALTH_CHECK_NAME = `http://:${KUBE_PROXY_HEALTH_PORT}/healthz`;
/** BREAK_TABLE is the nftables table the break adds (one per node namespace). */
const BREAK_TABLE = 'mv-health-break';

/** breakKubeProxyHealth drops TCP to :10256 inside `ns` (the node's own probes go through its input hook via lo). */
export async function breakKubeProxyHealth(ns: string): Promise<void> {
  // nft joins its arguments into one command line.
  await runOk(ns, ['nft', `add table inet ${BREAK_TABLE}`]);
  await runOk(ns, [
    'nft',
    `add chain inet ${BREAK_TABLE} input { type filter hook input priority -10 ; policy accept ; }`,
  ]);
  await runOk(ns, ['nft', `add rule inet ${BREAK_TABLE} input tcp dport ${KUBE_PROXY_HEALTH_PORT} drop`]);
}

/** restoreKubeProxyHealth removes the drop rule (its whole table); nothing happens when there is none. */
export async function restoreKubeProxyHealth(ns: string): Promise<void> {
  await runOk(ns, ['sh', '-c', `nft delete table inet ${BREAK_TABLE} 2>/dev/null || true`]);
}

/** healthAnswers tells whether http://address:10256/healthz answers 200 within a second. */
export async function healthAnswers(address: string): Promise<boolean> {
  try {
    const res = await fetch(`http://${address}:${KUBE_PROXY_HEALTH_PORT}/healthz`, {
      signal: AbortSignal.timeout(1000),
    });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}

/**
 * ensureKubeProxyHealth makes :10256/healthz answer on every node: where nothing serves it (the lab's kube-proxy
 * emulation has no health server; the real kube-proxy has one), it starts the lab's HTTP responder on that port,
 * recorded for the teardown. Returns the nodes it started one on.
 */
export async function ensureKubeProxyHealth(hosts: readonly LabHost[]): Promise<string[]> {
  const started: string[] = [];
  await Promise.all(
    hosts.map(async (h) => {
      if (await healthAnswers(h.ipv4)) return;
      await startHttpResponder(h, { port: KUBE_PROXY_HEALTH_PORT, body: 'ok' });
      started.push(h.name);
    }),
  );
  return started.sort();
}

/** annotatePools merges `annotations` into every IPAddressPool of `namespace`, as the admin of `kubeconfig`. */
export async function annotatePools(
  kubeconfig: string,
  namespace: string,
  annotations: Readonly<Record<string, string>>,
): Promise<string[]> {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  const api = kc.makeApiClient(CustomObjectsApi);
  const base = { group: 'metallb.io', version: 'v1beta1', namespace, plural: 'ipaddresspools' };
  const list = (await api.listNamespacedCustomObject(base)) as { items?: { metadata?: { name?: string } }[] };
  const names = (list.items ?? []).flatMap((p) => (p.metadata?.name ? [p.metadata.name] : []));
  for (const name of names) {
    await api.patchNamespacedCustomObject(
      { ...base, name, body: { metadata: { annotations } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
  }
  return names;
}
