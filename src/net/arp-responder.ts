/**
 * ArpResponder answers ARP requests for the VIPs this node masters on one interface (RFC 826) from an AF_PACKET
 * socket — the VIP is never on an interface, so the kernel does not answer — and announces a VIP with gratuitous
 * ARP on takeover (RFC 5227 §3, RFC 5944 §4.6).
 */

import type { AnnounceResult } from './announce.ts';
import {
  FrameResponder,
  type NeighborFamily,
  type NeighborResponderDeps,
  type ResponderCounter,
  responderHooks,
} from './frame-responder.ts';
import { ipv4Bytes } from './frames/address.ts';
import type { ArpPacket } from './frames/arp.ts';
import {
  ARP_CODEC,
  ARP_DROP_REASONS,
  type ArpContext,
  type ArpDropReason,
  type ArpFacts,
  type GratuitousForm,
  gratuitousArp,
} from './frames/arp.ts';
import { arpRequestFilter, notOutgoingFilter } from './frames/bpf.ts';
import { ETHERTYPE } from './frames/ethernet.ts';
import { requireInterfaceInfo } from './interface-info.ts';

/** ArpResponderDeps are the responder's collaborators; only `ifname` and `shouldAnswer` are required. */
export type ArpResponderDeps = NeighborResponderDeps<ArpDropReason, ArpFacts>;

/** AnnounceOptions: `count` rounds `spacingMs` apart, each sending every form in `forms` (default both). */
export interface AnnounceOptions {
  readonly count?: number;
  readonly spacingMs?: number;
  readonly forms?: readonly GratuitousForm[];
  /** signal cancels this announcement only (e.g. the router became backup); stop() cancels every one. */
  readonly signal?: AbortSignal;
}

/** ANNOUNCE_DEFAULTS are RFC 5227 §1.1's ANNOUNCE_NUM 2 and ANNOUNCE_INTERVAL 2 s. */
export const ANNOUNCE_DEFAULTS = { count: 2, spacingMs: 2000 } as const;

/** GRATUITOUS_CACHE_LIMIT bounds the VIPs whose gratuitous frames are kept (cleared when it is reached). */
const GRATUITOUS_CACHE_LIMIT = 4096;

/** GRATUITOUS_FORMS sends both forms: the RFC 5227 request updates Linux and most stacks, the reply the rest. */
export const GRATUITOUS_FORMS: readonly GratuitousForm[] = ['request', 'reply'];

export type { AnnounceResult, Sleep } from './announce.ts';

/** ARP_FAMILY: every ARP frame but our own outgoing ones, read and answered by ARP_CODEC. */
export const ARP_FAMILY: NeighborFamily<ArpContext, ArpPacket, ArpDropReason, ArpFacts> = {
  family: 'ipv4',
  ethertype: ETHERTYPE.arp,
  filter: notOutgoingFilter(),
  dropReasons: ARP_DROP_REASONS,
  codec: ARP_CODEC,
};

/**
 * ArpResponder is the FrameResponder for ARP plus gratuitous ARP. The constructor opens the socket and starts
 * answering; it throws InterfaceError (unknown interface) or PacketSocketError (EPERM, addon not built).
 */
export class ArpResponder {
  readonly ifname: string;
  readonly mac: string;
  readonly #responder: FrameResponder<ArpContext, ArpPacket, ArpDropReason, ArpFacts>;
  // VIP -> its gratuitous ARP frames in GRATUITOUS_FORMS (the same bytes every time: our MAC, the VIP)
  readonly #gratuitous = new Map<string, readonly (Buffer | undefined)[]>();

  constructor(deps: ArpResponderDeps) {
    const info = deps.interfaceInfo ?? requireInterfaceInfo(deps.ifname);
    this.ifname = deps.ifname;
    this.mac = info.mac;
    this.#responder = new FrameResponder<ArpContext, ArpPacket, ArpDropReason, ArpFacts>({
      info,
      family: ARP_FAMILY,
      ctx: { mac: info.mac, ifname: deps.ifname, shouldAnswer: deps.shouldAnswer },
      ...responderHooks(deps),
    });
  }

  /** stats returns a copy of the counters, every reason present (zero included). */
  stats(): Readonly<Record<ResponderCounter<ArpDropReason>, number>> {
    return this.#responder.stats();
  }

  /**
   * answerOnly narrows the socket, in the kernel, to ARP requests for `targets` (the VIPs this node masters), or
   * widens it back to every ARP frame (undefined). Under an ARP flood a speaker then reads only the requests it
   * answers, as the kernel does for its own addresses; shouldAnswer still decides each one. Requests filtered out are
   * not counted in the drop reasons.
   */
  answerOnly(targets: readonly string[] | undefined): void {
    this.#responder.setFilter(targets === undefined ? ARP_FAMILY.filter : arpRequestFilter(targets));
  }

  /**
   * announce broadcasts gratuitous ARP for `ip` with our MAC: `count` rounds (default 2) `spacingMs` apart (default
   * 2000, RFC 5227 §2.3), each sending the request and the reply form. The first round goes out at once.
   */
  async announce(ip: string, options: AnnounceOptions = {}): Promise<AnnounceResult> {
    if (ipv4Bytes(ip) === undefined) return { ok: false, reason: 'bad-address', detail: ip, frames: 0 };
    const forms = options.forms ?? GRATUITOUS_FORMS;
    return this.#responder.announce(
      forms === GRATUITOUS_FORMS ? this.#framesOf(ip) : forms.map((form) => gratuitousArp(this.mac, ip, form)),
      {
        count: options.count ?? ANNOUNCE_DEFAULTS.count,
        spacingMs: options.spacingMs ?? ANNOUNCE_DEFAULTS.spacingMs,
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      },
    );
  }

  /**
   * announceNow sends one round of gratuitous ARP (both forms) for every address in `ips` at once, with one
   * sendmmsg(2) per 256 frames: the first round of a takeover of many VIPs (speaker/runtime/takeover-batch.ts). The
   * frames are built once per VIP and kept. Stops at the first frame the kernel refuses; never throws.
   */
  announceNow(ips: readonly string[]): AnnounceResult {
    const frames: Buffer[] = [];
    for (const ip of ips) {
      for (const f of this.#framesOf(ip)) {
        if (f === undefined) return { ok: false, reason: 'bad-address', detail: ip, frames: 0 };
        frames.push(f);
      }
    }
    const socket = this.#responder.socket;
    if (socket.sendBatch !== undefined) {
      const r = socket.sendBatch(frames);
      return r.ok
        ? { ok: true, frames: r.sent }
        : { ok: false, reason: 'send-failed', detail: r.message, frames: r.sent };
    }
    for (const [i, f] of frames.entries()) {
      const r = socket.send(f);
      if (!r.ok) return { ok: false, reason: 'send-failed', detail: r.message, frames: i };
    }
    return { ok: true, frames: frames.length };
  }

  #framesOf(ip: string): readonly (Buffer | undefined)[] {
    let frames = this.#gratuitous.get(ip);
    if (frames === undefined) {
      if (this.#gratuitous.size >= GRATUITOUS_CACHE_LIMIT) this.#gratuitous.clear();
      frames = GRATUITOUS_FORMS.map((form) => gratuitousArp(this.mac, ip, form));
      this.#gratuitous.set(ip, frames);
    }
    return frames;
  }

  /** stop closes the socket and cancels announcements in progress; safe to call twice. */
  stop(): void {
    this.#responder.stop();
  }
}
