/**
 * LivenessHost runs the BFD sessions the liveness plan asks for (speaker/cluster/liveness-plan.ts): one BfdSocket
 * and one BfdPeers per interface and family, sessions added and removed as the plan changes, and a new BfdPeers
 * when the pace changes (a session's timers are fixed at creation here). A session that times out
 * (`detect-timeout`, RFC 5880 §6.8.4) is reported through onPeerDown; a peer that says AdminDown (its speaker
 * stopped or dropped the session, §6.8.16) or that reports us down is not a dead node, and is only logged.
 */
import { SESSION_STATES, type SessionStateName } from '../../../bfd/packet.ts';
import type { Family } from '../../../vrrp/advert.ts';
import type { Clock } from '../../clock.ts';
import type { Logger } from '../../log.ts';
import type { SpeakerMetrics } from '../../metrics.ts';
import { type BfdChange, BfdPeers } from '../../net/bfd-peers.ts';
import { BfdSocket, type BfdSocketOptions, type BfdTransport } from '../../net/bfd-socket.ts';
import { type LivenessLink, linkKey } from '../liveness-spec.ts';
import { DeadlineScheduler } from './scheduler.ts';

/** LivenessSocket is what LivenessHost needs of a BfdSocket; tests pass a fake. */
export interface LivenessSocket extends BfdTransport {
  close(): Promise<void>;
}

/** LivenessHostDeps: the clock, logs, metrics, where to report a dead peer, and (tests) a socket opener. */
export interface LivenessHostDeps {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: SpeakerMetrics;
  /** onPeerDown: the session to `address` on `ifname` timed out; `link` is the link as planned (nodes, pace). */
  readonly onPeerDown: (ifname: string, family: Family, address: string, link: LivenessLink) => void;
  readonly openSocket?: (options: BfdSocketOptions) => Promise<LivenessSocket>;
  readonly random?: () => number;
}

interface Entry {
  link: LivenessLink;
  socket: LivenessSocket | undefined;
  peers: BfdPeers | undefined;
  /** pace is `interval/mult` of `peers`. */
  pace: string;
  /** known: the peer addresses last handed to `peers`. */
  known?: Set<string>;
  closed: boolean;
  readonly log: Logger;
}

const paceOf = (l: LivenessLink) => `${l.intervalMs}/${l.detectMult}`;

/** LivenessHost: see the file comment. */
export class LivenessHost {
  readonly #deps: LivenessHostDeps;
  readonly #entries = new Map<string, Entry>(); // "ifname/family" -> its socket and sessions
  #stopped = false;

  constructor(deps: LivenessHostDeps) {
    this.#deps = deps;
    this.#count();
  }

  /** apply brings the sessions to `links`. Sockets open asynchronously; sessions start once their socket is open. */
  apply(links: readonly LivenessLink[]): void {
    if (this.#stopped) return;
    const wanted = new Map(links.map((l) => [linkKey(l), l]));
    for (const [key, entry] of [...this.#entries]) {
      const want = wanted.get(key);
      if (!want || want.localAddress !== entry.link.localAddress) this.#close(key, entry);
    }
    for (const [key, link] of wanted) {
      const entry = this.#entries.get(key);
      if (!entry) this.#open(key, link);
      else {
        entry.link = link;
        this.#sync(entry);
      }
    }
    this.#count();
  }

  /** sessions lists every session's peer address and state (status output, tests). */
  sessions(): { interface: string; family: Family; node: string; address: string; state: SessionStateName }[] {
    const out = [];
    for (const e of this.#entries.values()) {
      for (const p of e.link.peers) {
        const state = e.peers?.state(p.address) ?? 'down';
        out.push({ interface: e.link.interface, family: e.link.family, node: p.node, address: p.address, state });
      }
    }
    return out;
  }

  /** stop takes every session AdminDown (the packets leave before the sockets close). */
  async stop(): Promise<void> {
    this.#stopped = true;
    const closing = [...this.#entries].map(([key, e]) => this.#close(key, e));
    await Promise.all(closing);
    this.#count();
  }

  #open(key: string, link: LivenessLink): void {
    const d = this.#deps;
    const log = d.logger.child({ component: 'liveness', interface: link.interface, family: link.family });
    const entry: Entry = { link, socket: undefined, peers: undefined, pace: '', closed: false, log };
    this.#entries.set(key, entry);
    const open = d.openSocket ?? ((o: BfdSocketOptions) => BfdSocket.open(o, { clock: d.clock }));
    open({
      family: link.family,
      localAddress: link.localAddress,
      ifname: link.interface,
      onPacket: (f) => entry.peers?.receive(f.source, f.payload),
      logger: log,
    }).then(
      (socket) => {
        if (entry.closed) {
          void socket.close();
          return;
        }
        entry.socket = socket;
        log.info({ local: link.localAddress }, 'liveness socket open');
        this.#sync(entry);
        this.#count();
      },
      (err: Error) => {
        log.error({ err: err.message }, 'liveness socket cannot open; routers keep VRRP detection');
        if (this.#entries.get(key) === entry) this.#entries.delete(key);
      },
    );
  }

  /** sync makes the sessions of an open entry match its link: new pace → new BfdPeers, then add and remove. */
  #sync(entry: Entry): void {
    const socket = entry.socket;
    if (!socket || entry.closed) return;
    const link = entry.link;
    if (entry.peers && entry.pace !== paceOf(link)) {
      entry.peers.stop();
      entry.peers = undefined;
      entry.known = undefined;
    }
    if (!entry.peers) entry.peers = this.#peers(entry, socket);
    entry.pace = paceOf(link);
    const peers = entry.peers;
    const want = new Set(link.peers.map((p) => p.address));
    for (const s of this.#known(entry)) if (!want.has(s)) peers.remove(s);
    for (const address of want) peers.add(address);
    entry.known = want;
  }

  #known(entry: Entry): Set<string> {
    return entry.known ?? new Set();
  }

  #peers(entry: Entry, socket: LivenessSocket): BfdPeers {
    const d = this.#deps;
    const link = entry.link;
    const us = link.intervalMs * 1000;
    return new BfdPeers({
      transport: socket,
      clock: d.clock,
      logger: entry.log,
      deadlines: (onDue) => new DeadlineScheduler<string>({ clock: d.clock, onDue }),
      timing: { desiredMinTxUs: us, requiredMinRxUs: us, detectMult: link.detectMult },
      ...(d.random ? { random: d.random } : {}),
      onChange: (peer, change) => this.#changed(entry, peer, change),
    });
  }

  #changed(entry: Entry, peer: string, change: BfdChange): void {
    this.#count();
    if (change.up || entry.closed) return;
    if (change.reason !== 'detect-timeout') return; // the peer is alive and said so
    this.#deps.onPeerDown(entry.link.interface, entry.link.family, peer, entry.link);
  }

  async #close(key: string, entry: Entry): Promise<void> {
    if (this.#entries.get(key) === entry) this.#entries.delete(key);
    if (entry.closed) return;
    entry.closed = true;
    entry.peers?.stop();
    await entry.socket?.close();
  }

  /** count sets metal_vrrp_liveness_sessions from every session's state. */
  #count(): void {
    const counts = new Map<SessionStateName, number>(SESSION_STATES.map((s) => [s, 0]));
    if (!this.#stopped) for (const s of this.sessions()) counts.set(s.state, (counts.get(s.state) ?? 0) + 1);
    for (const [state, n] of counts) this.#deps.metrics.livenessSessions.set({ state }, n);
  }
}
