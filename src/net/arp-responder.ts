/**
 * ArpResponder answers ARP requests for the VIPs this node masters on one interface (RFC 826) from an AF_PACKET
 * socket — the VIP is never on an interface, so the kernel does not answer — and announces a VIP with gratuitous
 * ARP on takeover (RFC 5227 §3, RFC 5944 §4.6).
 */

import { setTimeout as delay } from 'node:timers/promises';
import { type AnnounceResult, announceRounds, type Sleep, validRounds } from './announce.ts';
import { ipv4Bytes } from './frames/address.ts';
import {
  ARP_DROP_REASONS,
  type ArpContext,
  type ArpDropReason,
  type ArpOutcome,
  answerArp,
  type GratuitousForm,
  gratuitousArp,
} from './frames/arp.ts';
import { notOutgoingFilter } from './frames/bpf.ts';
import { ETHERTYPE } from './frames/ethernet.ts';
import { type InterfaceInfo, requireInterfaceInfo } from './interface-info.ts';
import { type FrameSocket, type OpenFrameSocket, PacketSocket, type SendResult } from './packet-socket.ts';

/** ArpResult is what onFrame sees for every received frame: a drop reason, or the answer and how sending went. */
export type ArpResult =
  | Extract<ArpOutcome, { answer: false }>
  | (Extract<ArpOutcome, { answer: true }> & { sent: SendResult });

/** ArpCounter is a drop reason or the fate of an answer; stats() counts each. */
export type ArpCounter = ArpDropReason | 'answered' | 'send-failed';

/** ArpResponderDeps are the responder's collaborators; only `ifname` and `shouldAnswer` are required. */
export interface ArpResponderDeps {
  readonly ifname: string;
  /** shouldAnswer is asked for each request's target IP (dotted quad): answer only for VIPs we master here. */
  readonly shouldAnswer: (ip: string, ifname: string) => boolean;
  readonly onFrame?: (result: ArpResult) => void;
  /** onError gets socket read errors and exceptions thrown by shouldAnswer / onFrame. */
  readonly onError?: (err: Error) => void;
  /** Interface facts; read from the system (interface-info.ts) when absent. */
  readonly interfaceInfo?: InterfaceInfo;
  readonly openSocket?: OpenFrameSocket;
  readonly sleep?: Sleep;
}

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

/** GRATUITOUS_FORMS sends both forms: the RFC 5227 request updates Linux and most stacks, the reply the rest. */
export const GRATUITOUS_FORMS: readonly GratuitousForm[] = ['request', 'reply'];

export type { AnnounceResult, Sleep } from './announce.ts';

/**
 * ArpResponder owns one ARP socket and its read loop. The constructor opens the socket and starts answering;
 * it throws InterfaceError (unknown interface) or PacketSocketError (EPERM, addon not built). stop() ends it.
 */
export class ArpResponder {
  readonly ifname: string;
  readonly mac: string;
  readonly #socket: FrameSocket;
  readonly #ctx: ArpContext;
  readonly #onFrame: ((result: ArpResult) => void) | undefined;
  readonly #sleep: Sleep;
  readonly #stop = new AbortController();
  readonly #counts = new Map<ArpCounter, number>(); // counter -> frames

  constructor(deps: ArpResponderDeps) {
    const info = deps.interfaceInfo ?? requireInterfaceInfo(deps.ifname);
    this.ifname = deps.ifname;
    this.mac = info.mac;
    this.#ctx = { mac: info.mac, ifname: deps.ifname, shouldAnswer: deps.shouldAnswer };
    this.#onFrame = deps.onFrame;
    this.#sleep = deps.sleep ?? ((ms, signal) => delay(ms, undefined, { signal }));
    for (const reason of [...ARP_DROP_REASONS, 'answered', 'send-failed'] as const) this.#counts.set(reason, 0);
    const open = deps.openSocket ?? PacketSocket.open;
    this.#socket = open({
      ifindex: info.index,
      ethertype: ETHERTYPE.arp,
      filter: notOutgoingFilter(),
      onFrame: (frame, pktType) => this.#handle(frame, pktType),
      ...(deps.onError === undefined ? {} : { onError: deps.onError }),
    });
  }

  /** stats returns a copy of the counters, every reason present (zero included). */
  stats(): Readonly<Record<ArpCounter, number>> {
    return Object.fromEntries(this.#counts) as Record<ArpCounter, number>;
  }

  /**
   * announce broadcasts gratuitous ARP for `ip` with our MAC: `count` rounds (default 2) `spacingMs` apart (default
   * 2000, RFC 5227 §2.3), each sending the request and the reply form. The first round goes out at once.
   */
  async announce(ip: string, options: AnnounceOptions = {}): Promise<AnnounceResult> {
    const count = options.count ?? ANNOUNCE_DEFAULTS.count;
    const spacingMs = options.spacingMs ?? ANNOUNCE_DEFAULTS.spacingMs;
    const forms = options.forms ?? GRATUITOUS_FORMS;
    if (ipv4Bytes(ip) === undefined) return { ok: false, reason: 'bad-address', detail: ip, frames: 0 };
    if (!validRounds(count, spacingMs) || forms.length === 0) {
      return { ok: false, reason: 'bad-options', detail: JSON.stringify(options), frames: 0 };
    }
    const signal = options.signal ? AbortSignal.any([this.#stop.signal, options.signal]) : this.#stop.signal;
    const frames = forms.map((form) => gratuitousArp(this.mac, ip, form));
    return announceRounds({ count, spacingMs, signal, sleep: this.#sleep, frames, send: (f) => this.#socket.send(f) });
  }

  /** stop closes the socket and cancels announcements in progress; safe to call twice. */
  stop(): void {
    this.#stop.abort();
    this.#socket.close();
  }

  #handle(frame: Buffer, pktType: number): void {
    const outcome = answerArp(frame, pktType, this.#ctx);
    if (!outcome.answer) {
      this.#count(outcome.reason);
      this.#onFrame?.(outcome);
      return;
    }
    const sent = this.#socket.send(outcome.reply);
    this.#count(sent.ok ? 'answered' : 'send-failed');
    this.#onFrame?.({ ...outcome, sent });
  }

  #count(counter: ArpCounter): void {
    this.#counts.set(counter, (this.#counts.get(counter) ?? 0) + 1);
  }
}
