// netns.ts — build and tear down a LAN of network namespaces: one switch (a Linux bridge), N Kubernetes nodes and
// one client, each host with eth0 on a veth to the bridge. Used by the network tests, the benchmarks and the lab.
//
// Why these choices (measured on this machine, kernel 6.18; see ../shared/NETLAB-NOTES.md):
// - dummy/vlan/ipvlan devices do not exist here; veth + bridge do. The bridge runs with mcast_snooping 0, or it
//   would stop forwarding VRRP multicast (224.0.0.18, ff02::12) to ports that sent no IGMP/MLD report.
// - accept_dad=0 (set as `default` before eth0 enters the namespace) plus `nodad` on the global address: otherwise
//   the link-local address stays tentative ~1 s and NDP from it (and keepalived's IPv6 VIPs) is delayed.
// - The switch namespace has IPv6 disabled, so the bridge and its ports add no RS/MLD frames to captures.
// - Every set-up step is one `ip -batch` per namespace, hosts in parallel: ~2N+5 process spawns in all.
import { readdirSync, rmSync } from 'node:fs';
import ipaddr from 'ipaddr.js';
import { ipBatch, killPids, killTracked, PIDS_DIR, pidsInNetns, run, runOk } from './exec.ts';

/** LabOptions: `prefix` names every namespace (`${prefix}-sw`, `-n1..N`, `-c`); subnets default to ones derived
 * from a hash of the prefix (they exist only inside the namespaces); VIPs default to .100 and ::100. */
export interface LabOptions {
  readonly prefix: string;
  readonly nodes: number;
  readonly ipv4Subnet?: string;
  readonly ipv6Subnet?: string;
  readonly vips?: { readonly ipv4: readonly string[]; readonly ipv6: readonly string[] };
}

/** LabHost is a node or the client: its namespace, its eth0 and the switch port its veth is plugged into. */
export interface LabHost {
  readonly name: string; // 'n1'…'nN' or 'c'
  readonly ns: string;
  readonly ifname: 'eth0';
  readonly mac: string;
  readonly ipv4: string;
  readonly ipv6: string;
  readonly linkLocal: string;
  readonly switchPort: string; // the veth end in the switch namespace, enslaved to br0
}

/** LabPlan is everything about a lab that follows from its options, computed without touching the system. */
export interface LabPlan {
  readonly prefix: string;
  readonly switchNs: string;
  readonly bridge: 'br0';
  readonly ipv4Subnet: string;
  readonly ipv6Subnet: string;
  readonly prefixLen4: number;
  readonly prefixLen6: number;
  readonly nodes: readonly LabHost[];
  readonly client: LabHost;
  readonly vipsV4: readonly string[];
  readonly vipsV6: readonly string[];
}

/** TeardownReport says what teardownByPrefix removed. */
export interface TeardownReport {
  readonly namespaces: readonly string[];
  readonly killed: readonly number[];
  readonly ms: number;
}

/**
 * Lab is a built LAN. setLinkDown emulates node loss by setting the node's port on the switch down (its veth end in
 * the switch namespace): like a pulled cable, no frame passes either way, the node's eth0 loses carrier but keeps
 * its addresses (setting eth0 itself down would flush its IPv6 addresses, keep_addr_on_down=0), and setLinkUp
 * restores the port at once (forward_delay 0, no STP).
 */
export interface Lab extends LabPlan {
  readonly buildMs: number;
  teardown(): Promise<TeardownReport>;
  setLinkDown(host: LabHost): Promise<void>;
  setLinkUp(host: LabHost): Promise<void>;
}

const PREFIX_RE = /^[a-z0-9][a-z0-9-]{0,30}$/;
export const MAX_NODES = 99; // node K is .K; the default VIP is .100

/** fnv1a hashes the prefix so concurrent labs get different MACs and default subnets (easier to read captures). */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** hostAddress adds `offset` to the network address of a CIDR (both families) and returns the address text. */
export function hostAddress(cidr: string, offset: number): string {
  const [net, len] = ipaddr.parseCIDR(cidr);
  const bytes = net.toByteArray();
  const hostBits = bytes.length * 8 - len;
  if (offset < 1 || (hostBits < 31 && offset >= 2 ** hostBits - 1)) throw new Error(`${offset} is outside ${cidr}`);
  let carry = offset;
  for (let i = bytes.length - 1; i >= 0 && carry > 0; i--) {
    const sum = bytes[i]! + (carry & 0xff);
    bytes[i] = sum & 0xff;
    carry = (carry >>> 8) + (sum >> 8);
  }
  return ipaddr.fromByteArray(bytes).toString();
}

/** linkLocalOf is the EUI-64 link-local address the kernel derives from a MAC (RFC 4291 appendix A). */
export function linkLocalOf(mac: string): string {
  const m = mac.split(':').map((h) => Number.parseInt(h, 16));
  const eui = [m[0]! ^ 0x02, m[1]!, m[2]!, 0xff, 0xfe, m[3]!, m[4]!, m[5]!];
  return ipaddr.fromByteArray([0xfe, 0x80, 0, 0, 0, 0, 0, 0, ...eui]).toString();
}

/** planLab validates the options and derives names, MACs and addresses; it throws on bad options rather than
 * guessing, because a lab that silently differs from what the test asked for measures the wrong thing. */
export function planLab(opts: LabOptions): LabPlan {
  const { prefix, nodes } = opts;
  if (!PREFIX_RE.test(prefix)) throw new Error(`prefix ${JSON.stringify(prefix)} must match ${PREFIX_RE}`);
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > MAX_NODES) throw new Error(`nodes must be 1..${MAX_NODES}`);
  const h = fnv1a(prefix) & 0xff;
  const ipv4Subnet = opts.ipv4Subnet ?? `10.77.${h}.0/24`;
  const ipv6Subnet = opts.ipv6Subnet ?? `fd00:77:${h.toString(16)}::/64`;
  const [net4, prefixLen4] = parseSubnet(ipv4Subnet, 'ipv4', 24);
  const [net6, prefixLen6] = parseSubnet(ipv6Subnet, 'ipv6', 112);
  const cidr4 = `${net4}/${prefixLen4}`;
  const cidr6 = `${net6}/${prefixLen6}`;
  const host = (name: string, index: number): LabHost => {
    const mac = `02:00:00:${hex2(h)}:00:${hex2(index)}`;
    return {
      name,
      ns: `${prefix}-${name}`,
      ifname: 'eth0',
      mac,
      ipv4: hostAddress(cidr4, index),
      ipv6: hostAddress(cidr6, index),
      linkLocal: linkLocalOf(mac),
      switchPort: `p-${name}`,
    };
  };
  const nodeHosts = Array.from({ length: nodes }, (_, i) => host(`n${i + 1}`, i + 1));
  return {
    prefix,
    switchNs: `${prefix}-sw`,
    bridge: 'br0',
    ipv4Subnet: cidr4,
    ipv6Subnet: cidr6,
    prefixLen4,
    prefixLen6,
    nodes: nodeHosts,
    client: host('c', 0xfe),
    vipsV4: opts.vips?.ipv4 ?? [hostAddress(cidr4, 100)],
    vipsV6: opts.vips?.ipv6 ?? [hostAddress(cidr6, 0x100)],
  };
}

/**
 * buildLab builds the LAN described by planLab(opts), first removing what a crashed run with the same prefix
 * left. Steps: namespaces; sysctls (before eth0 exists, so it inherits `default`); bridge and veths in the switch;
 * addresses per host. On failure it tears down what it made and rethrows.
 */
export async function buildLab(opts: LabOptions): Promise<Lab> {
  const plan = planLab(opts);
  const t0 = performance.now();
  await teardownByPrefix(plan.prefix);
  const hosts = [...plan.nodes, plan.client];
  try {
    await ipBatch(
      null,
      [plan.switchNs, ...hosts.map((x) => x.ns)].map((ns) => `netns add ${ns}`),
    );
    const v6 = (k: string, v: number) => [`net.ipv6.conf.all.${k}=${v}`, `net.ipv6.conf.default.${k}=${v}`];
    await Promise.all([
      runOk(plan.switchNs, ['sysctl', '-qw', ...v6('disable_ipv6', 1)]),
      ...hosts.map((x) => runOk(x.ns, ['sysctl', '-qw', ...v6('accept_dad', 0)])),
    ]);
    await ipBatch(plan.switchNs, [
      'link set lo up',
      `link add ${plan.bridge} type bridge mcast_snooping 0 stp_state 0 forward_delay 0`,
      `link set ${plan.bridge} up`,
      ...hosts.flatMap((x) => [
        `link add ${x.switchPort} type veth peer name ${x.ifname} address ${x.mac} netns ${x.ns}`,
        `link set ${x.switchPort} master ${plan.bridge} up`,
      ]),
    ]);
    await Promise.all(
      hosts.map((x) =>
        ipBatch(x.ns, [
          'link set lo up',
          `addr add ${x.ipv4}/${plan.prefixLen4} dev ${x.ifname}`,
          `addr add ${x.ipv6}/${plan.prefixLen6} dev ${x.ifname} nodad`,
          `link set ${x.ifname} up`,
        ]),
      ),
    );
  } catch (err) {
    await teardownByPrefix(plan.prefix);
    throw err;
  }
  const setPort = async (host: LabHost, state: 'up' | 'down') => {
    await runOk(null, ['ip', '-n', plan.switchNs, 'link', 'set', host.switchPort, state]);
  };
  return {
    ...plan,
    buildMs: performance.now() - t0,
    teardown: () => teardownByPrefix(plan.prefix),
    setLinkDown: (host) => setPort(host, 'down'),
    setLinkUp: (host) => setPort(host, 'up'),
  };
}

/** labNamespaces keeps, from a list of namespace names, exactly `${prefix}-sw`, `${prefix}-c` and
 * `${prefix}-n<digits>`: never another prefix that merely starts the same way (`mvh-t` must not take `mvh-t-x-sw`). */
export function labNamespaces(prefix: string, names: readonly string[]): string[] {
  return names.filter((n) => {
    if (!n.startsWith(`${prefix}-`)) return false;
    const rest = n.slice(prefix.length + 1);
    return rest === 'sw' || rest === 'c' || /^n\d+$/.test(rest);
  });
}

/** listNetns reads the named namespaces from /run/netns (what `ip netns list` shows) without spawning. */
export function listNetns(): string[] {
  try {
    return readdirSync('/run/netns');
  } catch {
    return [];
  }
}

/**
 * teardownByPrefix removes a lab, also one a crashed run left: stops the processes recorded in the prefix's pid
 * file (exact pid and start time), then any process still inside the lab's namespaces (exact pid; a live process
 * keeps its namespace, its veths and its sockets alive after `netns del`), then deletes the namespaces, which
 * removes the veths and the bridge. Safe to call when nothing exists.
 */
export async function teardownByPrefix(prefix: string): Promise<TeardownReport> {
  if (!PREFIX_RE.test(prefix)) throw new Error(`prefix ${JSON.stringify(prefix)} must match ${PREFIX_RE}`);
  const t0 = performance.now();
  const namespaces = labNamespaces(prefix, listNetns());
  const killed = await killTracked(prefix);
  const proc = readdirSync('/proc');
  const stragglers = namespaces.flatMap((ns) => pidsInNetns(ns, proc)).filter((pid) => pid !== process.pid);
  await killPids(stragglers);
  if (namespaces.length > 0) {
    // -force: keep going past a namespace a concurrent teardown already removed.
    const res = await run(null, ['ip', '-force', '-batch', '-'], {
      input: `${namespaces.map((ns) => `netns del ${ns}`).join('\n')}\n`,
    });
    const left = labNamespaces(prefix, listNetns());
    if (left.length > 0) throw new Error(`teardown left ${left.join(', ')}: ${res.stderr.trim()}`);
  }
  // Per-host files (speaker and keepalived configs, pid files: lab/netlab/speaker.ts, keepalived.ts).
  for (const ns of namespaces) rmSync(`${PIDS_DIR}/${ns}`, { recursive: true, force: true });
  return { namespaces, killed: [...killed, ...stragglers], ms: performance.now() - t0 };
}

/** parseSubnet checks family and prefix length, and returns the network address (host bits cleared). */
function parseSubnet(cidr: string, family: 'ipv4' | 'ipv6', maxLen: number): [string, number] {
  let parsed: [ipaddr.IPv4 | ipaddr.IPv6, number];
  try {
    parsed = ipaddr.parseCIDR(cidr);
  } catch {
    throw new Error(`${cidr} is not a CIDR`);
  }
  const [addr, len] = parsed;
  if (addr.kind() !== family) throw new Error(`${cidr} is not an ${family} subnet`);
  if (len > maxLen) throw new Error(`${cidr}: prefix length must be at most ${maxLen}`);
  const net = family === 'ipv4' ? ipaddr.IPv4.networkAddressFromCIDR(cidr) : ipaddr.IPv6.networkAddressFromCIDR(cidr);
  return [net.toString(), len];
}

/** hex2 formats a byte as two hex digits. */
function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}
