/**
 * BfdPeers drives one BFD session (bfd/session.ts) per peer address over one transport, with one timer for the
 * earliest deadline of all sessions (an injected Deadlines), and reports each session's up and down to a callback.
 * It holds no socket: received packets come in through receive(), packets go out through the injected transport.
 *
 * Packets are demultiplexed by source address (RFC 5881 §3: single hop, one session per peer address); the session
 * itself then checks Your Discriminator (RFC 5880 §6.8.6). Local discriminators are random, nonzero and unique, so
 * a restarted speaker gets new ones and its peers see a new session rather than a stale one.
 */

import { decodeControl, encodeControl } from '../../bfd/codec.ts';
import type { SessionStateName } from '../../bfd/packet.ts';
import {
  type DownReason,
  deadlineOf,
  newSession,
  type Session,
  type SessionAction,
  type SessionEvent,
  step,
} from '../../bfd/session.ts';
import { DEFAULT_TIMING, type SessionConfig, validateSessionConfig } from '../../bfd/session-config.ts';
import type { Cancel, Clock } from '../../vrrp/clock.ts';
import { canonicalIp } from '../../vrrp/ip.ts';
import type { Logger } from '../log.ts';
import type { BfdTransport } from './bfd-socket.ts';

/** BfdTiming is the per-session timers: Desired Min TX, Required Min RX (µs) and Detect Mult. */
export type BfdTiming = Omit<SessionConfig, 'localDiscriminator'>;

/** BfdChange is what onChange reports: the session came Up, or an Up session went down and why. */
export type BfdChange =
  | { readonly up: true }
  | {
      readonly up: false;
      /** detect-timeout: silence for Detect Mult × interval; neighbor-down / admin-down: the peer said so. */
      readonly reason: DownReason;
      /** diag is our bfd.LocalDiag: 1 detection time expired, 3 neighbor signaled down, 7 administratively down. */
      readonly diag: number;
      /**
       * On a detect-timeout: silentMs, how long before the report the peer's last packet arrived; lateMs, how late
       * the detection timer ran after the Detection Time expired (a busy event loop).
       */
      readonly silentMs?: number;
      readonly lateMs?: number;
    };

/**
 * Deadlines keeps one deadline per key and calls back when each comes, with one timer for the earliest: what the
 * speaker runtime's DeadlineScheduler does. Injected, so src/net/ does not depend on the speaker.
 */
export interface Deadlines {
  /** set gives `key` a deadline (absolute ms on the clock), or removes it with undefined. */
  set(key: string, at: number | undefined): void;
  stop(): void;
}

/** BfdPeersDeps is everything BfdPeers uses; tests pass a fake transport and clock. */
export interface BfdPeersDeps {
  readonly transport: BfdTransport;
  readonly clock: Clock;
  /** deadlines builds the scheduler, e.g. `(onDue) => new DeadlineScheduler({ clock, onDue })`. */
  readonly deadlines: (onDue: (key: string, now: number) => void) => Deadlines;
  readonly logger: Logger;
  readonly onChange: (peer: string, change: BfdChange) => void;
  /** timing defaults to DEFAULT_TIMING: 10 ms TX and RX, Detect Mult 3. */
  readonly timing?: BfdTiming;
  /** random draws the §6.8.7 jitter and the discriminators; Math.random by default. */
  readonly random?: () => number;
}

/** BfdDropReason counts packets that reached no session or that a session refused. */
export type BfdDropReason = string;

interface Peer {
  /** sendTo is the address as given (an IPv6 link-local keeps its zone for sending). */
  readonly sendTo: string;
  session: Session;
  /** lastRxAt: when the last packet this session accepted arrived (ms on the clock). */
  lastRxAt: number | undefined;
  /** draining cancels a Detection Time expiry waiting for the packets already in the socket (see #due). */
  draining: Cancel | undefined;
}

/** round2 keeps two decimals of a duration in ms for logs. */
const round2 = (ms: number): number => Math.round(ms * 100) / 100;

/** BfdPeers is the runtime; see the file comment. */
export class BfdPeers {
  readonly #deps: BfdPeersDeps;
  readonly #timing: BfdTiming;
  readonly #random: () => number;
  // canonical peer address (no zone) -> its session
  readonly #peers = new Map<string, Peer>();
  // local discriminator -> canonical peer address
  readonly #discriminators = new Map<number, string>();
  readonly #scheduler: Deadlines;
  // drop reason -> count (codec reasons, session reasons, 'no-session')
  readonly drops = new Map<BfdDropReason, number>();
  #stopped = false;

  constructor(deps: BfdPeersDeps) {
    const timing = deps.timing ?? DEFAULT_TIMING;
    const checked = validateSessionConfig({ ...timing, localDiscriminator: 1 });
    if ('errors' in checked) throw new Error(`bfd timing: ${checked.errors.join('; ')}`);
    this.#deps = deps;
    this.#timing = timing;
    this.#random = deps.random ?? Math.random;
    this.#scheduler = deps.deadlines((key, now) => this.#due(key, now));
  }

  /** add starts a session towards `peer` (idempotent); its first packet leaves at once. */
  add(peer: string): void {
    if (this.#stopped) return;
    const key = canonicalIp(peer.split('%')[0]!);
    if (key === undefined) throw new Error(`bfd peer ${JSON.stringify(peer)} is not an IP address`);
    if (this.#peers.has(key)) return;
    const config: SessionConfig = { ...this.#timing, localDiscriminator: this.#newDiscriminator() };
    this.#discriminators.set(config.localDiscriminator, key);
    const now = this.#deps.clock.now();
    const session = newSession(config, now);
    this.#peers.set(key, { sendTo: peer, session, lastRxAt: undefined, draining: undefined });
    this.#deps.logger.info({ peer: key, discriminator: config.localDiscriminator }, 'bfd session added');
    this.#scheduler.set(key, deadlineOf(session));
  }

  /**
   * remove ends the session to `peer`: it goes AdminDown first and that packet is sent (RFC 5880 §6.8.16), so the
   * peer reports admin-down rather than a failure. No onChange for a removed session.
   */
  remove(peer: string): void {
    const key = canonicalIp(peer.split('%')[0]!);
    const p = key === undefined ? undefined : this.#peers.get(key);
    if (key === undefined || p === undefined) return;
    const r = step(p.session, { type: 'admin-down' }, this.#deps.clock.now(), this.#random);
    for (const a of r.actions) if (a.type === 'send') this.#send(p, a);
    this.#scheduler.set(key, undefined);
    p.draining?.();
    this.#peers.delete(key);
    this.#discriminators.delete(p.session.config.localDiscriminator);
  }

  /** receive hands over one Control packet (the UDP payload) that arrived from `source` with TTL 255. */
  receive(source: string, payload: Uint8Array): void {
    if (this.#stopped) return;
    const decoded = decodeControl(payload);
    if (!decoded.ok) {
      this.#count(decoded.reason);
      return;
    }
    // §6.8.6: a nonzero Your Discriminator selects the session; zero falls back to the source address.
    const your = decoded.packet.yourDiscriminator;
    const key = your !== 0 ? this.#discriminators.get(your) : canonicalIp(source);
    if (key === undefined || !this.#peers.has(key) || (your !== 0 && key !== canonicalIp(source))) {
      this.#count('no-session');
      return;
    }
    this.#event(key, { type: 'packet', packet: decoded.packet }, this.#deps.clock.now());
  }

  /** state is the session's bfd.SessionState, undefined for an unknown peer. */
  state(peer: string): SessionStateName | undefined {
    const key = canonicalIp(peer.split('%')[0]!);
    return key === undefined ? undefined : this.#peers.get(key)?.session.state;
  }

  /** session exposes one session's variables (read-only), for status output and tests. */
  session(peer: string): Session | undefined {
    const key = canonicalIp(peer.split('%')[0]!);
    return key === undefined ? undefined : this.#peers.get(key)?.session;
  }

  get size(): number {
    return this.#peers.size;
  }

  /** stop takes every session AdminDown (the packets are sent), then stops the timer. Safe to call twice. */
  stop(): void {
    if (this.#stopped) return;
    for (const key of [...this.#peers.keys()]) this.remove(key);
    this.#stopped = true;
    this.#scheduler.stop();
  }

  /**
   * due delivers a session's timer. When it would end the session (the Detection Time ran out, §6.8.4), the packets
   * already waiting in the socket are read first (clock.afterPendingIo, one event-loop round): after a stall of our
   * own loop the timer runs before the packets queued meanwhile, and the peer, alive and sending, would be declared
   * down. A packet read in that round moves the Detection Time and the timer finds nothing to do.
   */
  #due(key: string, now: number): void {
    const p = this.#peers.get(key);
    const afterIo = this.#deps.clock.afterPendingIo?.bind(this.#deps.clock);
    const s = p?.session;
    const expiring = s?.detectAt !== undefined && now >= s.detectAt && (s.state === 'up' || s.state === 'init');
    if (p === undefined || afterIo === undefined || !expiring) {
      this.#event(key, { type: 'timer' }, now);
      return;
    }
    p.draining?.();
    p.draining = afterIo(() => {
      p.draining = undefined;
      if (!this.#stopped) this.#event(key, { type: 'timer' }, this.#deps.clock.now());
    });
  }

  #event(key: string, event: SessionEvent, now: number): void {
    const p = this.#peers.get(key);
    if (p === undefined) return;
    const detectAt = p.session.detectAt;
    const r = step(p.session, event, now, this.#random);
    p.session = r.session;
    for (const a of r.actions) this.#act(key, p, a, now, detectAt);
    if (event.type === 'packet' && !r.actions.some((a) => a.type === 'drop')) p.lastRxAt = now;
    this.#scheduler.set(key, r.deadline);
  }

  #act(key: string, p: Peer, a: SessionAction, now: number, detectAt: number | undefined): void {
    switch (a.type) {
      case 'send':
        this.#send(p, a);
        return;
      case 'up':
        this.#deps.logger.info({ peer: key }, 'bfd session up');
        this.#deps.onChange(key, { up: true });
        return;
      case 'down': {
        const timeout = a.reason === 'detect-timeout';
        const silentMs = timeout && p.lastRxAt !== undefined ? round2(now - p.lastRxAt) : undefined;
        const lateMs = timeout && detectAt !== undefined ? round2(now - detectAt) : undefined;
        const timing = {
          ...(silentMs === undefined ? {} : { silentMs }),
          ...(lateMs === undefined ? {} : { lateMs }),
        };
        this.#deps.logger.warn({ peer: key, reason: a.reason, diag: a.diag, ...timing }, 'bfd session down');
        this.#deps.onChange(key, { up: false, reason: a.reason, diag: a.diag, ...timing });
        return;
      }
      case 'state':
        this.#deps.logger.debug({ peer: key, from: a.from, to: a.to, diag: a.diag }, 'bfd state');
        return;
      case 'drop':
        this.#count(a.reason);
        return;
      case 'config-rejected':
        this.#deps.logger.error({ peer: key, errors: a.errors }, 'bfd config rejected');
        return;
    }
  }

  #send(p: Peer, a: Extract<SessionAction, { type: 'send' }>): void {
    const enc = encodeControl(a.packet);
    if (!enc.ok) {
      this.#deps.logger.error({ reason: enc.reason, detail: enc.detail }, 'bfd packet not encodable');
      return;
    }
    this.#deps.transport.send(p.sendTo, enc.bytes);
  }

  #count(reason: BfdDropReason): void {
    this.drops.set(reason, (this.drops.get(reason) ?? 0) + 1);
  }

  /** #newDiscriminator is a random nonzero 32-bit value no session of ours uses (RFC 5880 §6.8.1). */
  #newDiscriminator(): number {
    for (;;) {
      const d = Math.floor(this.#random() * 0xffffffff) + 1;
      if (!this.#discriminators.has(d)) return d;
    }
  }
}
