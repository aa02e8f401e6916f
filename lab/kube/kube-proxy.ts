// kube-proxy.ts — the REAL kube-proxy (.cache/bin/kube-proxy, built from k8s.io/kubernetes/cmd/kube-proxy by
// scripts/build-kube.sh) in a lab node's namespace, in nftables mode, against the real API server (lab/kube/), with
// the credentials kubeadm gives it: the ServiceAccount kube-system/kube-proxy bound to the ClusterRole
// system:node-proxier. The kernel here has no IPVS, so nftables is the mode an operator of this lab's kind would run.
//
// Flags, and why (measured on this kernel, 6.18, in a network namespace):
// - --hostname-override=<node>: the Node object it reads its addresses from ("Successfully retrieved NodeIPs");
// - --healthz-bind-address=<node address>:10256: its /healthz, the real one the speaker's health check can watch;
//   --metrics-bind-address=127.0.0.1:10249 (the namespace's own loopback);
// - --conntrack-max-per-core=0, --conntrack-tcp-timeout-established=0, --conntrack-tcp-timeout-close-wait=0: leave
//   the conntrack sysctls as they are (nf_conntrack_max is not writable from a namespace);
// - no --cluster-cidr: no pod network here, so every LoadBalancer connection counts as external and is masqueraded
//   when it is forwarded to an endpoint on another node (the reply then comes back through the node that took it);
// - --nodeport-addresses is left to nftables mode's default `primary` (the node's InternalIP).
// What the node needs besides (measured, see lab/netlab/kube-proxy.ts for the IPVS-mode emulation): net.ipv4.ip_forward=1, or
// connections DNATed to an endpoint on another node time out (curl exit 28); no local address for the VIP at all:
// kube-proxy DNATs in prerouting before the routing decision, and without the address the kernel never answers ARP
// for the VIP, so no strictARP sysctl is needed in nftables mode. It does not answer ICMP echo for the VIP either.
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { killPids, run, runOk, spawnIn } from '../netlab/exec.ts';
import type { LabHost } from '../netlab/netns.ts';
import { type KubeServer, kubeBinary } from './server.ts';

/** HEALTHZ_PORT is kube-proxy's /healthz port (its default, on the node's address). */
export const KUBE_PROXY_HEALTHZ_PORT = 10256;

/** KubeProxyProcess is one running kube-proxy; stop() ends it by exact pid (its nftables tables stay, as they do
 * when a real kube-proxy dies: the datapath keeps forwarding with the last rules). */
export interface KubeProxyProcess {
  readonly host: LabHost;
  readonly child: ChildProcess;
  /** logs are its last 200 log lines (klog text), for a failing test's message. */
  readonly logs: string[];
  readonly healthzURL: string;
  stop(): Promise<void>;
}

/** grantKubeProxy creates kube-proxy's ServiceAccount and binds it to system:node-proxier (as kubeadm does), and
 * returns a kubeconfig with a TokenRequest token for it, pointing at `serverURL` (as seen from the nodes). */
export async function grantKubeProxy(server: KubeServer, serverURL: string): Promise<string> {
  const objects = `apiVersion: v1
kind: ServiceAccount
metadata: {name: kube-proxy, namespace: kube-system}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "lab:node-proxier"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:node-proxier"}
subjects: [{kind: ServiceAccount, name: kube-proxy, namespace: kube-system}]
`;
  const res = await server.kubectl(['apply', '-f', '-'], { input: objects });
  if (res.code !== 0) throw new Error(`kube-proxy's ServiceAccount and binding: ${res.stderr.trim()}`);
  return server.serviceAccountKubeconfig('kube-system', 'kube-proxy', { server: serverURL });
}

/** KubeProxyStartOptions: `ipv6` also turns on IPv6 forwarding (dual-stack Services). */
export interface KubeProxyStartOptions {
  /** nodeName is the Node object's name (default the lab host's name, n1…). */
  readonly nodeName?: string;
  readonly ipv6?: boolean;
  readonly timeoutMs?: number;
  /** log: write its output to this file instead of keeping it in memory (a process that outlives ours: the lab's
   * --keep). */
  readonly log?: string;
}

/** startKubeProxy turns forwarding on in the node, starts kube-proxy and resolves once its first IPv4 sync is done
 * (its rules for every Service are in place) and /healthz answers 200. */
export async function startKubeProxy(
  host: LabHost,
  kubeconfig: string,
  opts: KubeProxyStartOptions = {},
): Promise<KubeProxyProcess> {
  await runOk(host.ns, [
    'sysctl',
    '-qw',
    'net.ipv4.ip_forward=1',
    ...(opts.ipv6 ? ['net.ipv6.conf.all.forwarding=1'] : []),
  ]);
  const fd = opts.log === undefined ? undefined : openSync(opts.log, 'a');
  const child = spawnIn(
    host.ns,
    [
      kubeBinary('kube-proxy'),
      `--kubeconfig=${kubeconfig}`,
      '--proxy-mode=nftables',
      `--hostname-override=${opts.nodeName ?? host.name}`,
      `--healthz-bind-address=${host.ipv4}:${KUBE_PROXY_HEALTHZ_PORT}`,
      '--metrics-bind-address=127.0.0.1:10249',
      '--conntrack-max-per-core=0',
      '--conntrack-tcp-timeout-established=0',
      '--conntrack-tcp-timeout-close-wait=0',
      '--v=2',
    ],
    fd === undefined ? {} : { stdio: ['ignore', fd, fd] },
  );
  if (fd !== undefined) closeSync(fd);
  const logs: string[] = [];
  let synced = false;
  let partial = '';
  const onData = (d: string) => {
    const lines = (partial + d).split('\n');
    partial = lines.pop() ?? '';
    for (const l of lines) {
      if (l.includes('"SyncProxyRules complete"') && l.includes('ipFamily="IPv4"')) synced = true;
      logs.push(l);
      if (logs.length > 200) logs.shift();
    }
  };
  child.stderr?.setEncoding('utf8').on('data', onData);
  child.stdout?.setEncoding('utf8').on('data', onData);
  const healthzURL = `http://${host.ipv4}:${KUBE_PROXY_HEALTHZ_PORT}/healthz`;
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    if (child.pid !== undefined) await killPids([child.pid]);
    await exited;
  };
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`kube-proxy in ${host.ns} exited (${child.exitCode ?? child.signalCode}):\n${logs.join('\n')}`);
    }
    if (opts.log !== undefined && !synced) {
      logs.splice(0, logs.length);
      onData(`${readFileSync(opts.log, 'utf8')}\n`);
    }
    if (synced) {
      const res = await run(host.ns, ['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '-m', '1', healthzURL]);
      if (res.stdout === '200') break;
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`kube-proxy in ${host.ns} not synced and healthy in time:\n${logs.slice(-30).join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { host, child, logs, healthzURL, stop };
}
