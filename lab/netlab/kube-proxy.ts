// kube-proxy.ts — emulate only what kube-proxy's IPVS mode with strictARP adds to a node's networking: every
// LoadBalancer IP becomes a local address of every node (on kube-ipvs0, so the node accepts traffic for it and
// answers ICMP echo to it), and the kernel never answers ARP/NDP for it (so only the speaker that won the election
// does, from its raw socket).
//
// There is no IPVS here (no ip_vs in this kernel, no modprobe). Where Kubernetes runs (lab/kube/k8s-lab.ts and
// `npm run lab`), the REAL kube-proxy runs on every node in nftables mode (lab/kube/kube-proxy.ts) and does the
// datapath: it DNATs the VIP's connections to the Services' endpoints in prerouting, with no local address for the VIP
// and no ARP answer from the kernel (measured; no strictARP sysctl is needed for it). This emulation is added on top
// only because the drills and tests measure gaps with ping, and nftables mode leaves ICMP echo to a VIP unanswered
// (measured: test/net/speaker-kubernetes.test.ts checks both with the emulation removed). Tests without Kubernetes
// (standalone speakers) use it alone, with a listener on the node itself (http-responder.ts) as the endpoint.
//
// Measured on this kernel (6.18), client → node over the lab bridge, no speaker running:
// IPv4, with net.ipv4.conf.{all,eth0}.arp_ignore=1 and arp_announce=2:
//   - VIP/32 on lo: `arping -I eth0 VIP` from the client gets no reply; with arp_ignore=0 the node answers it
//     (the default Linux weak-host ARP answers for any local address). Also only all=1 with eth0=0 gives no reply:
//     the kernel takes the max of `all` and the interface, as kube-proxy relies on.
//   - VIP/32 on a veth `kube-ipvs0`: no reply, whether kube-ipvs0 is down, up with its peer up, or up without
//     carrier; the local route stays in every case, so traffic for the VIP is accepted on eth0.
//   - arp_announce=2 matters too: with 0, a node answering a connection to the VIP sends its ARP request for the
//     client with the VIP as sender address (`who-has C tell VIP`), which updates the client's entry for the VIP
//     to that node's MAC behind the speaker's back.
// IPv6 (no sysctl is needed; arp_ignore has no IPv6 counterpart):
//   - the kernel answers a neighbour solicitation only for an address on the interface it arrived on (NS for a VIP
//     added to eth0 is answered; measured); a VIP/128 on lo, or on kube-ipvs0, gets no NA on eth0 (ndisc6 times out).
//   - VIP/128 on lo: traffic to it arriving on eth0 is accepted (weak host model), curl -g http://[VIP]/ works.
//   - VIP/128 on kube-ipvs0 kept DOWN works only while the link never changes: an up→down transition removes the
//     IPv6 addresses (keep_addr_on_down=0) or, with keep_addr_on_down=1, keeps them but drops their local routes,
//     and curl then times out. An address added while the link is down gets its local route. So this module creates
//     kube-ipvs0 down and never sets it up, like kube-proxy's dummy device.
//   - `nodad` on the VIP: with accept_dad=1, an address added to the down kube-ipvs0 stays `tentative` (DAD waits
//     for link up) and gets no local route (measured). The lab sets accept_dad=0; nodad keeps this true anywhere.
// With the client's neighbour entry pointed at a node's MAC (`ip neigh replace VIP lladdr MAC dev eth0`), curl to
// the VIP answers that node's name for both families and both devices (test/net/harness.test.ts proves it).
import { ipBatch, run, runOk } from './exec.ts';
import type { Lab, LabHost } from './netns.ts';

/** VipDevice: where the VIPs live on a node. 'kube-ipvs0' (default) mirrors kube-proxy's device; 'lo' is the
 * simplest variant and does not care about link state. */
export type VipDevice = 'lo' | 'kube-ipvs0';

/** KubeProxyOptions: which nodes (default all) and which VIPs (default the lab's) to configure. */
export interface KubeProxyOptions {
  readonly device?: VipDevice;
  readonly nodes?: readonly LabHost[];
  readonly vipsV4?: readonly string[];
  readonly vipsV6?: readonly string[];
}

/** KUBE_IPVS0 is the device name kube-proxy uses; its veth peer is KUBE_IPVS0_PEER, left down too. */
export const KUBE_IPVS0 = 'kube-ipvs0';
export const KUBE_IPVS0_PEER = 'kube-ipvs0p';

/** strictArpSysctls is what kube-proxy's strictARP sets (on `all`), plus the same on the uplink for clarity. */
export function strictArpSysctls(ifname: string): string[] {
  return ['all', ifname].flatMap((k) => [`net.ipv4.conf.${k}.arp_ignore=1`, `net.ipv4.conf.${k}.arp_announce=2`]);
}

/** vipAddressLines is the `ip -batch` input that adds (or, with 'del', removes) the VIPs on a device. */
export function vipAddressLines(
  verb: 'replace' | 'del',
  device: string,
  v4: readonly string[],
  v6: readonly string[],
): string[] {
  const nodad = verb === 'del' ? '' : ' nodad';
  return [
    ...v4.map((ip) => `addr ${verb} ${ip}/32 dev ${device}`),
    ...v6.map((ip) => `addr ${verb} ${ip}/128 dev ${device}${nodad}`),
  ];
}

/**
 * emulateKubeProxy makes the VIPs local to each node without the kernel answering ARP/NDP for them: strictARP
 * sysctls, then the addresses on `lo` or on a kube-ipvs0 veth created down. Idempotent (addr replace).
 */
export async function emulateKubeProxy(lab: Lab, opts: KubeProxyOptions = {}): Promise<void> {
  const device = opts.device ?? KUBE_IPVS0;
  const v4 = opts.vipsV4 ?? lab.vipsV4;
  const v6 = opts.vipsV6 ?? lab.vipsV6;
  await Promise.all(
    (opts.nodes ?? lab.nodes).map(async (node) => {
      await runOk(node.ns, ['sysctl', '-qw', ...strictArpSysctls(node.ifname)]);
      if (device === KUBE_IPVS0) await ensureKubeIpvs0(node);
      await ipBatch(node.ns, vipAddressLines('replace', device, v4, v6));
    }),
  );
}

/** removeKubeProxy removes the VIP addresses from the nodes (and kube-ipvs0 itself); the sysctls stay, as they do
 * when kube-proxy stops. */
export async function removeKubeProxy(lab: Lab, opts: KubeProxyOptions = {}): Promise<void> {
  const device = opts.device ?? KUBE_IPVS0;
  await Promise.all(
    (opts.nodes ?? lab.nodes).map(async (node) => {
      if (device === KUBE_IPVS0) {
        await run(null, ['ip', '-n', node.ns, 'link', 'del', KUBE_IPVS0]); // absent is fine
        return;
      }
      const lines = vipAddressLines('del', device, opts.vipsV4 ?? lab.vipsV4, opts.vipsV6 ?? lab.vipsV6);
      await run(null, ['ip', '-n', node.ns, '-force', '-batch', '-'], { input: `${lines.join('\n')}\n` });
    }),
  );
}

/** ensureKubeIpvs0 creates the kube-ipvs0 veth pair, both ends down, unless it exists. Never set it up: see the
 * IPv6 measurements at the top of this file. */
async function ensureKubeIpvs0(node: LabHost): Promise<void> {
  const res = await run(null, [
    'ip',
    '-n',
    node.ns,
    'link',
    'add',
    KUBE_IPVS0,
    'type',
    'veth',
    'peer',
    'name',
    KUBE_IPVS0_PEER,
  ]);
  if (res.code !== 0 && !res.stderr.includes('File exists')) {
    throw new Error(`creating ${KUBE_IPVS0} in ${node.ns}: ${res.stderr.trim()}`);
  }
}
