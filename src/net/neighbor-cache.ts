/**
 * NeighborCache gives the MAC of a unicast VRRP peer for adverts sent as whole Ethernet frames. The RFC-correct
 * link-layer destination of a unicast IP packet is the neighbour's own MAC, found by address resolution (ARP,
 * RFC 826, for IPv4; Neighbor Discovery, RFC 4861 §7.2, for IPv6): multicasting a unicast IP packet to the all-nodes
 * or solicited-node group would reach hosts that must not see it and is dropped by receivers that check
 * (Linux `drop_unicast_in_l2_multicast`). The kernel already runs address resolution, so we read its table
 * (rtnetlink RTM_GETNEIGH, through the addon) rather than run a second resolver:
 * - lookup() answers from a cache, synchronously (the advert path stays free of I/O);
 * - a miss, or an entry older than `refreshMs`, re-reads the table (a few microseconds, synchronous);
 * - an address the table does not have is nudged: one empty UDP datagram to its discard port (9) makes the kernel
 *   resolve it (ARP request / NS), at most once per `nudgeMs`; the next lookup after the answer finds it.
 * A MAC once known is kept while the table lacks the address (a STALE entry may be garbage-collected while the peer
 * is fine); a different MAC in the table replaces it at the next refresh.
 * peerOf(mac) answers the reverse: which looked-up peer owns a MAC. An IPv6 advert comes from the peer's link-local
 * address (RFC 5798 §5.1.2.1), not from the global address a unicast peer is configured by; its Ethernet source
 * ties it to the peer.
 */

import { createSocket, type Socket } from 'node:dgram';
import type { Family } from '../../vrrp/advert.ts';
import { canonicalAddress, isLinkLocal } from '../../vrrp/ip.ts';
import { formatIpv4, formatIpv6 } from './frames/address.ts';
import { formatMac } from './frames/ethernet.ts';
import { type Neighbor, readNeighbors } from './packet-socket.ts';

/** DISCARD_PORT is the UDP discard service (RFC 863): a datagram there is the least a nudge can ask of the peer. */
const DISCARD_PORT = 9;
const NUD_INCOMPLETE = 0x01;
const NUD_FAILED = 0x20;

export interface NeighborCacheDeps {
  readonly family: Family;
  readonly ifname: string;
  readonly ifindex: number;
  readonly now: () => number;
  /** Re-read the table for a known address after this long (default 10 s). */
  readonly refreshMs?: number;
  /** At most one nudge per address this often (default 1 s). */
  readonly nudgeMs?: number;
  /** Tests replace the table and the nudge. */
  readonly read?: (family: 4 | 6, ifindex: number) => Neighbor[];
  readonly nudge?: (address: string) => void;
}

interface Entry {
  mac: string | undefined;
  readAt: number;
  nudgedAt: number;
}

export class NeighborCache {
  readonly #deps: NeighborCacheDeps;
  readonly #entries = new Map<string, Entry>();
  readonly #refreshMs: number;
  readonly #nudgeMs: number;
  readonly #byMac = new Map<string, string>();
  #rescanAt = Number.NEGATIVE_INFINITY;
  #udp: Socket | undefined;

  constructor(deps: NeighborCacheDeps) {
    this.#deps = deps;
    this.#refreshMs = deps.refreshMs ?? 10_000;
    this.#nudgeMs = deps.nudgeMs ?? 1_000;
  }

  /** lookup returns the peer's MAC, or undefined while the kernel has not resolved it (a resolution is started). */
  lookup(address: string): string | undefined {
    const now = this.#deps.now();
    let entry = this.#entries.get(address);
    if (entry === undefined) {
      entry = { mac: undefined, readAt: Number.NEGATIVE_INFINITY, nudgedAt: Number.NEGATIVE_INFINITY };
      this.#entries.set(address, entry);
    }
    if (entry.mac !== undefined && now - entry.readAt < this.#refreshMs) return entry.mac;
    const fresh = this.#read(address);
    entry.readAt = now;
    if (fresh !== undefined) {
      if (entry.mac !== undefined && entry.mac !== fresh.mac) this.#byMac.delete(entry.mac);
      entry.mac = fresh.mac;
      this.#byMac.set(fresh.mac, address);
    }
    if (fresh === undefined || !fresh.usable) {
      if (now - entry.nudgedAt >= this.#nudgeMs) {
        entry.nudgedAt = now;
        this.#nudge(address);
      }
      if (entry.mac === undefined) entry.readAt = Number.NEGATIVE_INFINITY; // ask the table again next time
    }
    return entry.mac;
  }

  /** watch looks up peers before the first advert is sent to them: a backup sends none, yet must know their MACs. */
  watch(addresses: readonly string[]): void {
    for (const address of addresses) this.lookup(address);
  }

  /**
   * peerOf returns the watched peer whose MAC is `mac` (lower-case, colon-separated), if any. An unknown MAC re-reads
   * the table for every unresolved or stale peer, at most once per `nudgeMs` (a peer resolved late, or a new NIC).
   */
  peerOf(mac: string): string | undefined {
    const known = this.#byMac.get(mac);
    if (known !== undefined) return known;
    const now = this.#deps.now();
    if (now - this.#rescanAt < this.#nudgeMs) return undefined;
    this.#rescanAt = now;
    for (const [address, entry] of this.#entries) {
      if (entry.mac === undefined || now - entry.readAt >= this.#refreshMs) this.lookup(address);
    }
    return this.#byMac.get(mac);
  }

  /**
   * known says whether `address` has a MAC in the cache, without reading the table (a receive path may ask it per
   * packet; peerOf's rescans and lookup keep the cache current).
   */
  known(address: string): boolean {
    return this.#entries.get(address)?.mac !== undefined;
  }

  /** size is how many peers were looked up; 0 in multicast mode, where the receive path skips peerOf. */
  get size(): number {
    return this.#entries.size;
  }

  /** close releases the nudge socket. */
  close(): void {
    this.#udp?.close();
    this.#udp = undefined;
  }

  #read(address: string): { mac: string; usable: boolean } | undefined {
    const fam = this.#deps.family === 'ipv4' ? 4 : 6;
    let table: Neighbor[];
    try {
      table = (this.#deps.read ?? readNeighbors)(fam, this.#deps.ifindex);
    } catch {
      return undefined; // no table: treated as unresolved, so the caller reports no-peer-mac
    }
    for (const n of table) {
      const text = fam === 4 ? formatIpv4(n.address) : formatIpv6(n.address);
      if (canonicalAddress(text, this.#deps.family) !== address) continue;
      return { mac: formatMac(n.mac), usable: (n.state & (NUD_INCOMPLETE | NUD_FAILED)) === 0 };
    }
    return undefined;
  }

  #nudge(address: string): void {
    if (this.#deps.nudge !== undefined) {
      this.#deps.nudge(address);
      return;
    }
    if (this.#udp === undefined) {
      this.#udp = createSocket(this.#deps.family === 'ipv4' ? 'udp4' : 'udp6');
      this.#udp.on('error', () => {}); // a nudge is best effort: the next lookup nudges again
      this.#udp.unref();
    }
    const target = this.#deps.family === 'ipv6' && isLinkLocal(address) ? `${address}%${this.#deps.ifname}` : address;
    this.#udp.send(Buffer.alloc(0), DISCARD_PORT, target, () => {});
  }
}
