/**
 * FrameResponder is the one neighbour responder: it owns an AF_PACKET socket on one interface and its read loop,
 * answers each request for which the injected `shouldAnswer` says yes, and gives every other frame a drop reason
 * that is counted (stats(), and the `drops` counter that reaches /metrics as
 * metal_vrrp_neighbor_requests_dropped_total). What differs between ARP (RFC 826) and NDP (RFC 4861 §7.2.4) is the
 * family: the socket's ethertype and kernel filter, the drop reasons, and the codec that reads a request and builds
 * its reply (frames/neighbor.ts). ArpResponder and NdpResponder add their announcements on top.
 */

import { type Clock, realClock, sleep } from '../clock.ts';
import { type AnnounceResult, announceRounds, type Sleep, validRounds } from './announce.ts';
import { type BpfInstruction, rejectAllFilter } from './frames/bpf.ts';
import {
  answerNeighbor,
  type Drop,
  type NeighborCodec,
  type NeighborContext,
  type NeighborDropReason,
  type NeighborOutcome,
} from './frames/neighbor.ts';
import type { InterfaceInfo } from './interface-info.ts';
import { type FrameSocket, type OpenFrameSocket, PacketSocket, type SendResult } from './packet-socket.ts';

/** NeighborFamily is what one address family brings to the responder. */
export interface NeighborFamily<C extends NeighborContext, Q, R extends string, A> {
  /** family labels the drop counter: 'ipv4' (ARP) or 'ipv6' (NDP). */
  readonly family: 'ipv4' | 'ipv6';
  readonly ethertype: number;
  /** filter thins the stream in the kernel; the codec's checks stay complete. */
  readonly filter: readonly BpfInstruction[];
  /** dropReasons lists every reason the codec and the shared checks can give, for zero-valued series. */
  readonly dropReasons: readonly (R | NeighborDropReason)[];
  readonly codec: NeighborCodec<C, Q, R, A>;
}

/** ResponderResult is what onFrame sees for every received frame: a drop, or the answer and how sending went. */
export type ResponderResult<R extends string, A> =
  | Drop<R | NeighborDropReason>
  | (Extract<NeighborOutcome<R, A>, { answer: true }> & { sent: SendResult });

/** ResponderCounter is a drop reason or the fate of an answer; stats() counts each. */
export type ResponderCounter<R extends string> = R | NeighborDropReason | 'answered' | 'send-failed';

/** DropCounter is the metric the drops go to (a prom-client Counter fits). */
export interface DropCounter {
  inc(labels: { family: string; interface: string; reason: string }, value?: number): void;
}

/** FrameResponderDeps: the interface, the family, the decision context, and where results go. */
export interface FrameResponderDeps<C extends NeighborContext, Q, R extends string, A> {
  readonly info: InterfaceInfo;
  readonly family: NeighborFamily<C, Q, R, A>;
  /** ctx is the codec's context; its shouldAnswer is asked for each request's target. */
  readonly ctx: C;
  readonly onFrame?: (result: ResponderResult<R, A>) => void;
  /** onError gets socket read errors and exceptions thrown by shouldAnswer / onFrame. */
  readonly onError?: (err: Error) => void;
  readonly drops?: DropCounter;
  /** sendOnly: the kernel filter drops every frame (the native responder answers); only announcements go out. */
  readonly sendOnly?: boolean;
  readonly openSocket?: OpenFrameSocket;
  /** clock spaces announcement rounds (default the process clock); `sleep` overrides it in tests. */
  readonly clock?: Clock;
  readonly sleep?: Sleep;
}

/** NeighborResponderDeps are what the ARP and NDP responders take: only `ifname` and `shouldAnswer` are required. */
export interface NeighborResponderDeps<R extends string, A> {
  readonly ifname: string;
  /** shouldAnswer is asked for each request's target IP (canonical text): answer only for VIPs we master here. */
  readonly shouldAnswer: (ip: string, ifname: string) => boolean;
  readonly onFrame?: (result: ResponderResult<R, A>) => void;
  /** onError gets socket read errors and exceptions thrown by shouldAnswer / onFrame. */
  readonly onError?: (err: Error) => void;
  /** drops counts frames not answered, by reason (metal_vrrp_neighbor_requests_dropped_total). */
  readonly drops?: DropCounter;
  /** Interface facts; read from the system (interface-info.ts) when absent. */
  readonly interfaceInfo?: InterfaceInfo;
  /** sendOnly: receive nothing (the native responder answers requests); announce still sends. */
  readonly sendOnly?: boolean;
  readonly openSocket?: OpenFrameSocket;
  readonly clock?: Clock;
  readonly sleep?: Sleep;
}

const HOOK_KEYS = ['onFrame', 'onError', 'drops', 'sendOnly', 'openSocket', 'clock', 'sleep'] as const;
type HookKey = (typeof HOOK_KEYS)[number];

/** responderHooks copies the optional collaborators a responder passes on to its FrameResponder, the defined ones. */
export function responderHooks<R extends string, A>(
  deps: NeighborResponderDeps<R, A>,
): Pick<NeighborResponderDeps<R, A>, HookKey> {
  const out: { -readonly [K in HookKey]?: unknown } = {};
  for (const key of HOOK_KEYS) {
    if (deps[key] !== undefined) out[key] = deps[key];
  }
  return out as Pick<NeighborResponderDeps<R, A>, HookKey>;
}

/** Rounds: `count` rounds `spacingMs` apart; `signal` cancels this announcement only, stop() cancels every one. */
export interface Rounds {
  readonly count: number;
  readonly spacingMs: number;
  readonly signal?: AbortSignal;
}

/**
 * FrameResponder: see the file comment. The constructor opens the socket and starts answering; it throws
 * PacketSocketError (EPERM, addon not built). stop() ends it.
 */
export class FrameResponder<C extends NeighborContext, Q, R extends string, A> {
  readonly socket: FrameSocket;
  readonly #d: FrameResponderDeps<C, Q, R, A>;
  readonly #sleep: Sleep;
  readonly #stop = new AbortController();
  readonly #counts = new Map<ResponderCounter<R>, number>(); // counter -> frames

  constructor(deps: FrameResponderDeps<C, Q, R, A>) {
    this.#d = deps;
    const clock = deps.clock ?? realClock;
    this.#sleep = deps.sleep ?? ((ms, signal) => sleep(clock, ms, signal));
    const { family } = deps;
    for (const reason of family.dropReasons) {
      this.#counts.set(reason, 0);
      deps.drops?.inc({ family: family.family, interface: deps.ctx.ifname, reason }, 0);
    }
    this.#counts.set('answered', 0);
    this.#counts.set('send-failed', 0);
    const open = deps.openSocket ?? PacketSocket.open;
    this.socket = open({
      ifindex: deps.info.index,
      ethertype: family.ethertype,
      filter: deps.sendOnly ? rejectAllFilter() : family.filter,
      onFrame: (frame, pktType) => this.handle(frame, pktType),
      ...(deps.onError === undefined ? {} : { onError: deps.onError }),
    });
  }

  /** stats returns a copy of the counters, every reason present (zero included). */
  stats(): Readonly<Record<ResponderCounter<R>, number>> {
    return Object.fromEntries(this.#counts) as Record<ResponderCounter<R>, number>;
  }

  /** handle decides one received frame (the socket calls it; tests may too) and returns what onFrame saw. */
  handle(frame: Buffer, pktType: number): ResponderResult<R, A> {
    const d = this.#d;
    const outcome = answerNeighbor(d.family.codec, frame, pktType, d.ctx);
    if (!outcome.answer) {
      this.#count(outcome.reason);
      d.drops?.inc({ family: d.family.family, interface: d.ctx.ifname, reason: outcome.reason });
      d.onFrame?.(outcome);
      return outcome;
    }
    const sent = this.socket.send(outcome.reply);
    this.#count(sent.ok ? 'answered' : 'send-failed');
    const result = { ...outcome, sent } as ResponderResult<R, A>;
    d.onFrame?.(result);
    return result;
  }

  /**
   * announce sends `frames` (undefined: a frame that could not be built) in `count` rounds `spacingMs` apart, the
   * first at once, until done, the signal aborts, stop() is called, or a frame cannot be sent.
   */
  announce(frames: readonly (Buffer | undefined)[], rounds: Rounds): Promise<AnnounceResult> {
    const { count, spacingMs } = rounds;
    if (!validRounds(count, spacingMs) || frames.length === 0) {
      return Promise.resolve({ ok: false, reason: 'bad-options', detail: JSON.stringify(rounds), frames: 0 });
    }
    const signal = rounds.signal ? AbortSignal.any([this.#stop.signal, rounds.signal]) : this.#stop.signal;
    return announceRounds({ count, spacingMs, signal, sleep: this.#sleep, frames, send: (f) => this.socket.send(f) });
  }

  /**
   * setFilter replaces the socket's kernel filter (family.filter at open): frames it drops are never read, so they
   * are not counted as drops either. Errors go to onError; the previous filter then stays.
   */
  setFilter(program: readonly BpfInstruction[]): void {
    try {
      this.socket.setFilter?.(program);
    } catch (err) {
      this.#d.onError?.(err instanceof Error ? err : new Error(String(err)));
    }
  }

  /** stop closes the socket and cancels announcements in progress; safe to call twice. */
  stop(): void {
    this.#stop.abort();
    this.socket.close();
  }

  #count(counter: ResponderCounter<R>): void {
    this.#counts.set(counter, (this.#counts.get(counter) ?? 0) + 1);
  }
}
