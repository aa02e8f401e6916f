/**
 * VrrpSocket sends and receives VRRPv3 adverts (RFC 5798 §5.1) on one interface for one family, as whole Ethernet
 * frames over the AF_PACKET addon, for both families: we write every header (TTL / hop limit 255, the source the
 * checksum's pseudo-header covers, the IPv6 link-local source of §5.1.2.1) and read every header back (TTL,
 * destination, interface), which a raw IP socket hides or forbids for IPv6.
 * Receive: EtherType 0x0800 / 0x86dd filtered in the kernel to protocol / next header 112, the group MAC
 * 01:00:5e:00:00:12 / 33:33:00:00:00:12 joined.
 * Send is synchronous: the frame is built (cached per advert and destination, so a router's steady adverts cost a
 * map lookup) and queued; every frame queued during one turn of the event loop (a scheduler tick that fires many
 * routers) leaves in one sendmmsg(2) at the end of that turn (a microtask). No Promise, no poll wake-up per advert.
 * Unicast: the destination MAC is the peer's own, from the kernel's neighbour table (neighbor-cache.ts); until it is
 * resolved, the advert goes to the VRRP group instead and the resolution runs.
 *
 * Every received packet ends as onAdvert(received) or onDrop(drop), except the repeats of a hushed advert (hush):
 * those are only counted, and heardAgain says how many came and how long ago the last did. Nothing here keeps VRRP state.
 */

import { type Advert, type Family, VRRP_MULTICAST, VRRP_PROTOCOL } from '../../vrrp/advert.ts';
import type { AuthKey } from '../../vrrp/auth.ts';
import type { EncodeError } from '../../vrrp/codec.ts';
import { canonicalAddress } from '../../vrrp/ip.ts';
import { type Clock, realClock } from '../clock.ts';
import { ipv4Filter, ipv6Filter } from './frames/bpf.ts';
import { ETHERTYPE, formatMac } from './frames/ethernet.ts';
import {
  type BuildResult,
  type ReceiveContext,
  type ReceivedAdvert,
  receiveIpv4Frame,
  receiveIpv6Frame,
  type Seal,
  VRRP_IPV4_MAC,
  VRRP_IPV6_MAC,
  type VrrpDrop,
  type VrrpReceive,
  vrrpIpv4Frame,
  vrrpIpv6Frame,
} from './frames/vrrp.ts';
import { InterfaceError, type InterfaceInfo, requireInterfaceInfo } from './interface-info.ts';
import { NeighborCache } from './neighbor-cache.ts';
import { type FrameSocket, type OpenFrameSocket, PacketSocket } from './packet-socket.ts';

/**
 * SOCKET_BUFFER_BYTES sizes both buffers of the VRRP socket: every router of an interval is due in the same tick, so
 * adverts leave and arrive in bursts (510 routers: 510 frames, ~1 KiB of buffer each); the default ~200 KiB drops
 * most of such a burst at the receiver, and the backups would take over.
 */
const SOCKET_BUFFER_BYTES = 4 * 1024 * 1024;

/** ENCODED_CACHE_LIMIT bounds the encoded-advert cache: more than one entry per router and destination in practice. */
const ENCODED_CACHE_LIMIT = 4096;

/**
 * REPEAT_SLOTS sizes the addon's table of frames already decoded: at least twice the adverts of different content a
 * node hears on one family (one per router and master), so the table seldom fills and clears.
 */
const REPEAT_SLOTS = 4096;

/**
 * Heard is what one received frame decoded to, and its source MAC (a unicast peer is recognised by it); `peer` and
 * `fromPeer` keep the advert last delivered with a peer's name, so a repeat hands on the same object.
 */
interface Heard {
  readonly frame: Buffer;
  readonly pktType: number;
  readonly r: VrrpReceive;
  readonly mac: string;
  peer?: string;
  fromPeer?: ReceivedAdvert;
}

/** SENT_MEMO_LIMIT bounds the frames remembered per advert object: one per destination in practice. */
const SENT_MEMO_LIMIT = 8;

/** SentFrame is a frame built for an advert, to a unicast peer (`to`) or the group, with the MAC it was sent to. */
interface SentFrame {
  readonly to: string | undefined;
  readonly dstMac: string | undefined;
  readonly frame: Buffer;
}

/** HeardAgain: repeats of a hushed advert left out since the last ask, and how long ago the last one was read (ms). */
export interface HeardAgain {
  readonly count: number;
  readonly ageMs: number;
}

/** VrrpPeer is a unicast destination; `mac` skips the neighbour lookup (tests, or a MAC known otherwise). */
export interface VrrpPeer {
  readonly address: string;
  readonly mac?: string;
}

/**
 * VrrpSendResult: the advert was queued for the kernel (its bytes), or why nothing was sent. A failure of the kernel
 * to take a queued batch goes to onError (and onSendFailed), since send() has returned by then.
 */
export type VrrpSendResult =
  | { readonly ok: true; readonly bytes: number }
  | {
      readonly ok: false;
      readonly reason: EncodeError | 'bad-address' | 'no-peer-mac' | 'send-failed' | 'stopped';
      readonly detail: string;
    };

/** VrrpSocketDeps are the socket's collaborators; family, interface and the two receive hooks are required. */
export interface VrrpSocketDeps {
  readonly family: Family;
  readonly ifname: string;
  readonly onAdvert: (received: ReceivedAdvert) => void;
  readonly onDrop: (drop: VrrpDrop) => void;
  /** onError gets socket errors after open, exceptions thrown by the hooks, and batches the kernel refused. */
  readonly onError?: (err: Error) => void;
  /** onSendFailed counts frames of a flushed batch the kernel did not take. */
  readonly onSendFailed?: (frames: number) => void;
  readonly interfaceInfo?: InterfaceInfo;
  /** Source of sent adverts; default the interface's first IPv4 address, or its link-local for IPv6. */
  readonly source?: string;
  /** authKeys: the keys of routers that require authenticated adverts (frames/vrrp.ts ReceiveContext). */
  readonly authKeys?: (family: Family, vrid: number) => readonly AuthKey[] | undefined;
  /** Opens the packet socket; tests may pass a fake. */
  readonly openPacketSocket?: OpenFrameSocket;
  /** Resolves unicast peers' MACs; default a NeighborCache over the kernel's table. */
  readonly neighbors?: Pick<NeighborCache, 'lookup' | 'known' | 'watch' | 'peerOf' | 'size' | 'close'>;
  /** clock, for the neighbour cache's refresh; default the process clock. */
  readonly clock?: Clock;
}

/** VrrpSocketError is kept for callers that catch it; sockets now fail with PacketSocketError or InterfaceError. */
export class VrrpSocketError extends Error {
  readonly code = 'VRRP_SOCKET_OPEN';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'VrrpSocketError';
  }
}

/**
 * VrrpSocket owns one packet socket and its read loop; see the file comment. The constructor opens it and throws
 * InterfaceError (unknown interface, no source address) or PacketSocketError.
 */
export class VrrpSocket {
  readonly family: Family;
  readonly ifname: string;
  readonly source: string;
  readonly #mac: string;
  readonly #own: ReadonlySet<string>; // this interface's addresses of the family, canonical
  readonly #socket: FrameSocket;
  readonly #neighbors: Pick<NeighborCache, 'lookup' | 'known' | 'watch' | 'peerOf' | 'size' | 'close'>;
  readonly #onError: (err: Error) => void;
  readonly #onSendFailed: (frames: number) => void;
  // advert and destination -> the frame sent: a router sends the same advert every interval, and encoding (address
  // parsing, checksum) is most of the cost of a send. Bounded: cleared when it grows past ENCODED_CACHE_LIMIT.
  readonly #encoded = new Map<string, Buffer>();
  // advert object -> the frames built for it, per destination (see send); dies with the advert.
  readonly #sent = new WeakMap<Advert, SentFrame[]>();
  // slot of the addon's repeat table -> what the frame stored there decoded to; see onFrame.
  readonly #heard: (Heard | undefined)[] = [];
  // advert handed to onAdvert -> the frame it came in, so the speaker can hush it (see hush)
  readonly #frameOf = new WeakMap<ReceivedAdvert, Heard>();
  readonly #authKeys: VrrpSocketDeps['authKeys'];
  readonly #onAdvert: (received: ReceivedAdvert) => void;
  readonly #onDrop: (drop: VrrpDrop) => void;
  #queue: Buffer[] = [];
  #flushScheduled = false;
  #stopped = false;

  constructor(deps: VrrpSocketDeps) {
    const info = deps.interfaceInfo ?? requireInterfaceInfo(deps.ifname);
    this.family = deps.family;
    this.ifname = deps.ifname;
    this.#mac = info.mac;
    const source = deps.source ?? (deps.family === 'ipv4' ? info.ipv4[0] : info.linkLocal);
    const canonical = source === undefined ? undefined : canonicalAddress(source, deps.family);
    if (canonical === undefined) {
      throw new InterfaceError(deps.family === 'ipv4' ? 'no-ipv4' : 'no-link-local', `${deps.ifname}: no source`);
    }
    this.source = canonical;
    const own = new Set([...(deps.family === 'ipv4' ? info.ipv4 : info.ipv6), canonical]);
    this.#own = own;
    const ctx: ReceiveContext = {
      ownAddresses: own,
      mac: info.mac,
      decoded: new Map(),
      ...(deps.authKeys ? { authKeys: deps.authKeys } : {}),
    };
    const receive = deps.family === 'ipv4' ? receiveIpv4Frame : receiveIpv6Frame;
    const clock = deps.clock ?? realClock;
    this.#authKeys = deps.authKeys;
    const now = () => clock.now();
    this.#neighbors =
      deps.neighbors ?? new NeighborCache({ family: deps.family, ifname: info.name, ifindex: info.index, now });
    this.#onError = deps.onError ?? (() => {});
    this.#onAdvert = deps.onAdvert;
    this.#onDrop = deps.onDrop;
    this.#onSendFailed = deps.onSendFailed ?? (() => {});
    this.#socket = (deps.openPacketSocket ?? PacketSocket.open)({
      ifindex: info.index,
      ethertype: deps.family === 'ipv4' ? ETHERTYPE.ipv4 : ETHERTYPE.ipv6,
      filter: deps.family === 'ipv4' ? ipv4Filter(VRRP_PROTOCOL) : ipv6Filter(VRRP_PROTOCOL),
      // A master sends the same frame every interval: the addon remembers every frame handed over (repeats below)
      // and reports a byte-for-byte repeat by its slot, so a repeat of a plain advert costs one array read here: no
      // Buffer, no Ethernet / IP parsing, no address formatting. Only accepted plain adverts are reused (a pure
      // function of the bytes and the packet type, both part of the addon's match). Anything else is checked afresh
      // from the kept bytes: drops, and authenticated adverts (each carries its own counter, so a repeat could only be
      // a replay, and the keys they were verified with may have rotated since; replay-checked by the speaker).
      onFrame: (frame, pktType, slot) => {
        if (slot !== undefined && slot >= 0) this.#heard[slot] = undefined; // until decoded: a throw leaves no stale slot
        const heard: Heard = { frame, pktType, r: receive(frame, pktType, ctx), mac: formatMac(frame, 6) };
        if (slot !== undefined && slot >= 0) this.#heard[slot] = heard;
        this.#deliver(heard);
      },
      repeats: {
        slots: REPEAT_SLOTS,
        onRepeat: (slot) => {
          const heard = this.#heard[slot];
          if (heard === undefined) return;
          const r = heard.r;
          // A plain advert kept before its router turned authentication on must now be refused: checked afresh.
          const reuse = r.ok && r.auth === undefined && deps.authKeys?.(r.family, r.advert.vrid) === undefined;
          this.#deliver(reuse ? heard : { ...heard, r: receive(heard.frame, heard.pktType, ctx) });
        },
      },
      onError: this.#onError,
    });
    try {
      this.#socket.bufferSizes?.(SOCKET_BUFFER_BYTES, SOCKET_BUFFER_BYTES);
      this.#socket.addMembership(deps.family === 'ipv4' ? VRRP_IPV4_MAC : VRRP_IPV6_MAC);
    } catch (err) {
      this.#socket.close();
      this.#neighbors.close();
      throw err;
    }
  }

  #deliver(heard: Heard): void {
    const r = heard.r;
    if (!r.ok) this.#onDrop(r);
    else if (this.#neighbors.size === 0) this.#advert(r, heard);
    else {
      const peer = this.#neighbors.peerOf(heard.mac);
      if (peer === undefined || peer === r.from) this.#advert(r, heard);
      else {
        if (heard.peer !== peer || heard.fromPeer === undefined) {
          heard.peer = peer;
          heard.fromPeer = { ...r, fromPeer: peer };
        }
        this.#advert(heard.fromPeer, heard);
      }
    }
  }

  #advert(r: ReceivedAdvert, heard: Heard): void {
    this.#frameOf.set(r, heard);
    this.#onAdvert(r);
  }

  /**
   * hush asks the packet socket to leave out every later frame byte-for-byte equal to the one `received` came in
   * (same sender, priority, addresses, packet type), counting them instead (heardAgain): a backup that has followed
   * that advert needs from its repeats only the time of the last one (speaker.ts). One hushed advert per VRID; a new
   * one replaces it. Refused (false) for an advert this socket did not hand over, one whose decision depended on the
   * neighbour table (a unicast peer's MAC: it may change while the bytes do not), and authenticated adverts (a
   * repeat would be a replay, which must be counted as one). Never throws.
   */
  hush(received: ReceivedAdvert, watchMs?: number): boolean {
    const heard = this.#frameOf.get(received);
    const vrid = received.advert.vrid;
    if (heard === undefined || this.#stopped || received.fromPeer !== undefined || received.auth !== undefined)
      return false;
    if (this.#authKeys?.(received.family, vrid) !== undefined) return false;
    return this.#socket.hush?.(vrid, heard.frame, heard.pktType, watchMs) ?? false;
  }

  /**
   * due: the hushed VRIDs whose last repeat is older than the `watchMs` they were hushed with, less `aheadMs`;
   * undefined when the addon cannot tell (every hushed VRID then needs a look). See native/quiet.c.
   */
  due(aheadMs: number): readonly number[] | undefined {
    if (this.#stopped) return undefined;
    return this.#socket.due?.(aheadMs);
  }

  /** unhush delivers every advert of `vrid` again. */
  unhush(vrid: number): void {
    if (!this.#stopped) this.#socket.hush?.(vrid, null);
  }

  /** heardAgain: the repeats of `vrid`'s hushed advert left out since the last call; undefined when none came. */
  heardAgain(vrid: number): HeardAgain | undefined {
    if (this.#stopped) return undefined;
    return this.#socket.heard?.(vrid);
  }

  /**
   * send builds `advert` for the VRRP group, or for the unicast peer `to` (TTL / hop limit 255 either way), signed
   * under `seal` when given, and queues it for this turn's batch. A sealed frame is built every time, never cached:
   * every signed advert carries its own counter (vrrp/replay.ts). Never throws.
   */
  send(advert: Advert, to?: VrrpPeer, seal?: Seal): VrrpSendResult {
    if (this.#stopped) return { ok: false, reason: 'stopped', detail: 'socket stopped' };
    let destination = to?.address ?? VRRP_MULTICAST[this.family];
    let dstMac: string | undefined;
    if (to !== undefined) {
      dstMac = to.mac ?? this.#neighbors.lookup(to.address);
      // Until the kernel has resolved the peer (a switch to unicast, a cold table), the advert goes to the VRRP
      // group, which every VRRPv3 router hears: a master must not fall silent for the time of address resolution.
      if (dstMac === undefined) destination = VRRP_MULTICAST[this.family];
    }
    if (seal !== undefined) {
      const built = this.#build(advert, destination, dstMac, seal);
      if (!built.ok) return built;
      return this.#queueFrame(built.bytes);
    }
    // The speaker hands the same Advert object for a router's steady adverts: its frames are found by identity.
    let sent = this.#sent.get(advert);
    for (const m of sent ?? []) {
      if (m.to === to?.address && m.dstMac === dstMac) return this.#queueFrame(m.frame);
    }
    const key = `${advert.vrid}/${advert.priority}/${advert.maxAdvertIntervalCs}/${advert.addresses.join(',')}>${destination}/${dstMac ?? ''}`;
    let frame = this.#encoded.get(key);
    if (frame === undefined) {
      const built = this.#build(advert, destination, dstMac);
      if (!built.ok) return built;
      frame = built.bytes;
      if (this.#encoded.size >= ENCODED_CACHE_LIMIT) this.#encoded.clear();
      this.#encoded.set(key, frame);
    }
    if (sent === undefined) {
      sent = [];
      this.#sent.set(advert, sent);
    }
    if (sent.length >= SENT_MEMO_LIMIT) sent.shift();
    sent.push({ to: to?.address, dstMac, frame });
    return this.#queueFrame(frame);
  }

  #queueFrame(frame: Buffer): VrrpSendResult {
    this.#queue.push(frame);
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      queueMicrotask(() => this.flush());
    }
    return { ok: true, bytes: frame.length };
  }

  /** watchPeers resolves unicast peers ahead of sending, so their adverts are recognised (see fromPeer). */
  watchPeers(addresses: readonly string[]): void {
    if (!this.#stopped) this.#neighbors.watch(addresses.filter((a) => !this.#own.has(a)));
  }

  /** knowsPeer says whether an advert from `address` can be recognised: ours, or a peer whose MAC is resolved. */
  knowsPeer(address: string): boolean {
    return this.#own.has(address) || this.#neighbors.known(address);
  }

  /** flush hands the queued frames to the kernel now (a microtask does it after every turn that queued some). */
  flush(): void {
    this.#flushScheduled = false;
    const frames = this.#queue;
    if (frames.length === 0) return;
    this.#queue = [];
    if (this.#socket.sendBatch !== undefined) {
      const r = this.#socket.sendBatch(frames);
      if (!r.ok) this.#failed(frames.length - r.sent, r.message);
      return;
    }
    for (const [i, frame] of frames.entries()) {
      const r = this.#socket.send(frame);
      if (!r.ok) {
        this.#failed(frames.length - i, r.message);
        return;
      }
    }
  }

  #failed(frames: number, message: string): void {
    this.#onSendFailed(frames);
    this.#onError(new Error(`VRRP ${this.family} on ${this.ifname}: ${frames} advert(s) not sent: ${message}`));
  }

  #build(advert: Advert, destination: string, dstMac: string | undefined, seal?: Seal): BuildResult {
    const ends = { srcMac: this.#mac, src: this.source, dst: destination, ...(dstMac === undefined ? {} : { dstMac }) };
    return this.family === 'ipv4' ? vrrpIpv4Frame(advert, ends, seal) : vrrpIpv6Frame(advert, ends, seal);
  }

  /** stop sends what is queued (a shutdown's priority-0 adverts), then closes the socket. Safe to call twice. */
  stop(): void {
    if (this.#stopped) return;
    this.flush();
    this.#stopped = true;
    this.#socket.close();
    this.#neighbors.close();
  }
}
