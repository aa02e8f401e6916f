/**
 * planLiveness decides who watches whom with BFD: a pure function of the routers this node runs, the cluster snapshot
 * and this node's addresses, so every speaker reaches the same pairs without talking.
 *
 * - A router takes part when its pool's liveness resolves to `bfd` (pool annotation over the cluster default).
 * - This node runs one session per other candidate node of such routers, per interface and family: the nodes
 *   ranked above it are masters it backs up (with preempt off any candidate may be master); the nodes ranked below
 *   back it up and need it to answer, since a BFD session comes Up only when both ends run it (RFC 5880 §6.2). So
 *   the count grows with the nodes this node shares routers with (at most nodes − 1), never with the VIPs.
 * - A peer's address is its first InternalIP of the family inside a subnet of this node's interface: single-hop BFD
 *   (RFC 5881) needs the peer on link, and the engine matches the session's address against the source of the
 *   adverts the backup follows, which is the master's address on that link. A candidate with no such address gets
 *   no session and keeps plain VRRP detection.
 * - IPv6 routers take no part yet: their adverts come from link-local addresses (RFC 5798 §5.1.2.1) that the
 *   snapshot does not hold, so a session could not be matched to the master; they keep Master_Down_Interval.
 * - The pace of a link is the fastest any of its routers' pools asks (smallest interval, smallest Detect Mult).
 */
import { inSubnet, parseIp } from '../../../vrrp/ip.ts';
import type { ClusterSnapshot } from '../../model/cluster-snapshot.ts';
import { type LivenessSettings, resolveLiveness } from '../../model/liveness.ts';
import type { LocalNode } from '../../model/local-node.ts';
import { tuningOf } from '../../model/pool-tuning.ts';
import { type LivenessLink, type LivenessPeer, linkKey } from '../liveness-spec.ts';
import type { RouterKey, RouterSpec } from '../router-spec.ts';

interface Draft {
  readonly interface: string;
  readonly family: 'ipv4' | 'ipv6';
  readonly localAddress: string;
  intervalMs: number;
  detectMult: number;
  // node -> address
  readonly peers: Map<string, string>;
}

const ipValue = (ip: string): bigint => parseIp(ip)?.value ?? 0n;

/** planLiveness: see the file comment. Links sorted by interface and family. */
export function planLiveness(
  routers: ReadonlyMap<RouterKey, RouterSpec>,
  snapshot: Pick<ClusterSnapshot, 'nodes' | 'tunings'>,
  local: LocalNode,
  cluster: LivenessSettings,
): readonly LivenessLink[] {
  const ipsOf = new Map(snapshot.nodes.map((n) => [n.name, n.internalIps]));
  // "ifname/family" -> the link being drafted
  const drafts = new Map<string, Draft>();
  for (const spec of routers.values()) {
    const family = spec.config.family;
    if (family !== 'ipv4') continue;
    const settings = resolveLiveness(tuningOf(snapshot.tunings, spec.pools[0]).liveness, cluster);
    if (settings.mode !== 'bfd') continue;
    const subnets = local.addresses.filter((a) => a.ifname === spec.interface);
    const onLink = (ip: string) => subnets.some((a) => inSubnet(ip, a.address, a.prefixLength));
    const key = linkKey({ interface: spec.interface, family });
    let draft = drafts.get(key);
    if (!draft) {
      draft = {
        interface: spec.interface,
        family,
        localAddress: spec.config.primaryAddress,
        intervalMs: settings.intervalMs,
        detectMult: settings.detectMult,
        peers: new Map(),
      };
      drafts.set(key, draft);
    }
    draft.intervalMs = Math.min(draft.intervalMs, settings.intervalMs);
    draft.detectMult = Math.min(draft.detectMult, settings.detectMult);
    for (const { node } of spec.ranking) {
      if (node === local.name || draft.peers.has(node)) continue;
      const address = [...(ipsOf.get(node) ?? [])]
        .filter((ip) => parseIp(ip)?.family === family && onLink(ip))
        .sort((a, b) => (ipValue(a) < ipValue(b) ? -1 : ipValue(a) > ipValue(b) ? 1 : 0))[0];
      if (address !== undefined && address !== draft.localAddress) draft.peers.set(node, address);
    }
  }
  return [...drafts.keys()].sort().map((key) => {
    const d = drafts.get(key)!;
    const peers: LivenessPeer[] = [...d.peers]
      .map(([node, address]) => Object.freeze({ node, address }))
      .sort((a, b) => (ipValue(a.address) < ipValue(b.address) ? -1 : 1));
    return Object.freeze({
      interface: d.interface,
      family: d.family,
      localAddress: d.localAddress,
      intervalMs: d.intervalMs,
      detectMult: d.detectMult,
      peers: Object.freeze(peers),
    });
  });
}
