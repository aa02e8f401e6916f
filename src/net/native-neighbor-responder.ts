/**
 * NativeNeighborResponder answers ARP requests (RFC 826) and Neighbor Solicitations (RFC 4861 §7.2.4) for the VIPs
 * this node masters on one interface from a thread of the AF_PACKET addon (native/neighbor_responder.c), with its own
 * packet sockets: an answer never waits for the event loop, and an ARP flood never reaches it. JavaScript only tells
 * it which VIPs to answer for (answerFor, where the speaker decides mastership) and reads its counters (stats).
 * The decision is the JS codecs' (frames/arp.ts, frames/ndp.ts), reason for reason; test/unit checks both agree.
 */

import { type AnswerFamilies, AnswerSet } from './answer-set.ts';
import { ipv4Bytes, ipv6Bytes, solicitedNodeMulticast } from './frames/address.ts';
import { ARP_DROP_REASONS, type ArpDropReason } from './frames/arp.ts';
import { ipv6MulticastMac, macBytes } from './frames/ethernet.ts';
import { NDP_DROP_REASONS, type NdpDropReason } from './frames/ndp.ts';
import { loadPacketSocketAddon, PacketSocketError } from './packet-socket.ts';

/** NativeReason is every counter of the native responder: a drop reason of either family, or an answer's fate. */
export type NativeReason = ArpDropReason | NdpDropReason | 'answered' | 'send-failed';

interface NativeResponder {
  update(adds: readonly Buffer[], removes: readonly Buffer[]): number;
  decide(family: 4 | 6, frame: Buffer, pktType: number): [NativeReason, Buffer?];
  start(ifindex: number, families: number, rtPriority: number): { realtime: boolean; error: string | null };
  membership(add: boolean, mac: Buffer): void;
  stats(): Record<'ipv4' | 'ipv6', Record<NativeReason, number>>;
  close(): void;
}

type NativeResponderClass = new (mac: Buffer, linkLocal: Buffer | null, answerFromTarget: boolean) => NativeResponder;

/** NeighborAnswerConfig: our MAC, and the source of NAs (our link-local, or the VIP itself as Linux does). */
export interface NeighborAnswerConfig {
  readonly mac: string;
  readonly linkLocal?: string;
  readonly answerFrom?: 'link-local' | 'target';
}

/** Decision is what the native code does with one frame: answer with `reply`, or drop it for `reason`. */
export type Decision = { readonly reason: 'answered'; readonly reply: Buffer } | { readonly reason: NativeReason };

/** RealtimeOutcome: whether the thread got SCHED_FIFO, and the errno name when it asked and was refused. */
export interface RealtimeOutcome {
  readonly realtime: boolean;
  readonly error: string | null;
}

/** NativeStats are the counters of each family; `reasons` lists the ones the family's metric labels know. */
export type NativeStats = Readonly<Record<'ipv4' | 'ipv6', Readonly<Record<NativeReason, number>>>>;

/** FAMILY_REASONS are the drop reasons each family reports (the JS responders' lists, so metric labels stay). */
export const FAMILY_REASONS = { ipv4: ARP_DROP_REASONS, ipv6: NDP_DROP_REASONS } as const;

/** nativeResponderClass is the addon's class, or undefined with why (not built, or built before it existed). */
function nativeResponderClass(): { cls: NativeResponderClass } | { error: PacketSocketError } {
  const loaded = loadPacketSocketAddon();
  if (!loaded.ok)
    return {
      error: new PacketSocketError(loaded.reason === 'not-built' ? 'NOT_BUILT' : 'LOAD_FAILED', loaded.detail),
    };
  const cls = (loaded.addon as unknown as { NeighborResponder?: NativeResponderClass }).NeighborResponder;
  if (typeof cls !== 'function')
    return { error: new PacketSocketError('LOAD_FAILED', `${loaded.path}: no NeighborResponder; run npm ci`) };
  return { cls };
}

/** nativeResponderAvailable tells whether the addon has the native responder (else the JS responders answer). */
export function nativeResponderAvailable(): boolean {
  return 'cls' in nativeResponderClass();
}

function addressBytes(ip: string): Buffer | undefined {
  return ip.includes(':') ? ipv6Bytes(ip) : ipv4Bytes(ip);
}

/**
 * NativeNeighborResponder: see the file comment. create() builds the decision and its table only (no socket, no
 * thread: tests call decide); start() opens the sockets and the thread. Throws PacketSocketError.
 */
export class NativeNeighborResponder {
  readonly #native: NativeResponder;
  readonly #set: AnswerSet;
  #closed = false;

  private constructor(native: NativeResponder, families: AnswerFamilies) {
    this.#native = native;
    this.#set = new AnswerSet(families);
  }

  /** create makes a responder for `config`, answering for nothing yet; `families` picks what answerFor keeps. */
  static create(config: NeighborAnswerConfig, families: AnswerFamilies): NativeNeighborResponder {
    const found = nativeResponderClass();
    if ('error' in found) throw found.error;
    const mac = macBytes(config.mac);
    if (mac === undefined) throw new PacketSocketError('ERR_INVALID_ARG', `not a MAC: ${config.mac}`);
    const linkLocal = config.linkLocal === undefined ? null : (ipv6Bytes(config.linkLocal) ?? null);
    return new NativeNeighborResponder(new found.cls(mac, linkLocal, config.answerFrom === 'target'), families);
  }

  /**
   * start opens the sockets of the families given to create on interface `ifindex` and starts the answering thread,
   * SCHED_FIFO at `rtPriority` when the kernel permits it (0: never ask). Returns whether it got it.
   */
  start(ifindex: number, families: AnswerFamilies, rtPriority: number): RealtimeOutcome {
    const bits = (families.ipv4 ? 1 : 0) | (families.ipv6 ? 2 : 0);
    try {
      return this.#native.start(ifindex, bits, rtPriority);
    } catch (err) {
      const e = err as Error & { code?: string };
      throw new PacketSocketError(e.code ?? 'ERR', `neighbor responder on ifindex ${ifindex}: ${e.message}`, {
        cause: err,
      });
    }
  }

  /**
   * answerFor makes `vips` (canonical text, both families mixed; the other family's are ignored) the whole set
   * answered for, from the next frame on. The thread sees each change whole. Addresses that do not parse are skipped.
   */
  answerFor(vips: readonly string[]): void {
    if (this.#closed) return;
    const change = this.#set.apply(vips);
    if (change.adds.length === 0 && change.removes.length === 0) return;
    const bytes = (ips: readonly string[]) => ips.map(addressBytes).filter((b): b is Buffer => b !== undefined);
    this.#native.update(bytes(change.adds), bytes(change.removes));
  }

  /** answering says whether `vip` is in the table. */
  answering(vip: string): boolean {
    return this.#set.has(vip);
  }

  /** listenFor joins (or leaves) the solicited-node group of IPv6 `ip` on the IPv6 socket; false for a bad address. */
  listenFor(ip: string, on = true): boolean {
    const bytes = ipv6Bytes(ip);
    if (bytes === undefined || this.#closed) return false;
    this.#native.membership(on, macBytes(ipv6MulticastMac(solicitedNodeMulticast(bytes)))!);
    return true;
  }

  /** decide is the thread's decision for one frame, without sending or counting (for tests and tools). */
  decide(family: 'ipv4' | 'ipv6', frame: Buffer, pktType: number): Decision {
    const [reason, reply] = this.#native.decide(family === 'ipv4' ? 4 : 6, frame, pktType);
    return reason === 'answered' && reply !== undefined ? { reason, reply } : { reason };
  }

  /** stats reads the thread's counters: every reason of both families, zero included. */
  stats(): NativeStats {
    return this.#native.stats();
  }

  /** close stops the thread and closes the sockets; safe to call twice. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#native.close();
  }
}
