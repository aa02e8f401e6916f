/**
 * BfdSocket sends and receives RFC 5881 single-hop BFD Control packets for one local address on one interface.
 *
 * Send: a UDP socket (node:dgram) bound to the local address and one source port from 49152–65535 (RFC 5881 §4:
 * "the same UDP source port MUST be used for all BFD Control packets associated with a particular session"; one port
 * for all our sessions satisfies that), TTL / hop limit 255 with setTTL (§5).
 *
 * Receive: RFC 5881 §5 requires TTL / hop limit 255 on receipt, and node:dgram delivers no IP header (no
 * IP_RECVTTL cmsg, no setsockopt for IP_MINTTL — which Linux enforces for TCP only anyway). The packets are read
 * through the AF_PACKET addon instead (src/net/packet-socket.ts), one socket per EtherType on the interface with a
 * kernel filter for UDP to port 3784, so the IP header is there and the same code serves IPv4 and IPv6. The
 * `raw-socket` package would show the IPv4 header too but not the IPv6 hop limit, so it would cover half the job.
 * A second dgram socket is bound to port 3784 only so the kernel has a listener: without one it answers every
 * packet with an ICMP port unreachable. What it reads is dropped (the packet socket already has it).
 *
 * Every received frame ends as onPacket(frame) or onDrop(reason); nothing here keeps BFD state.
 */

import dgram from 'node:dgram';
import type { Clock } from '../../vrrp/clock.ts';
import { canonicalIp } from '../../vrrp/ip.ts';
import { realClock } from '../clock.ts';
import type { Logger } from '../log.ts';
import {
  BFD_CONTROL_PORT,
  BFD_SOURCE_PORTS,
  BFD_TTL,
  type BfdFrame,
  bfdFilter,
  type FrameDrop,
  readBfdFrame,
} from './frames/bfd-udp.ts';
import { ETHERTYPE } from './frames/ethernet.ts';
import { requireInterfaceInfo } from './interface-info.ts';
import { type FrameSocket, type OpenFrameSocket, PacketSocket } from './packet-socket.ts';

/** BfdSocketDrop is a frame refused by readBfdFrame, or addressed to another local address than ours. */
export type BfdSocketDrop = FrameDrop | 'not-our-address';

/** BfdTransport is what the session runtime needs to send; BfdSocket implements it and tests may fake it. */
export interface BfdTransport {
  /** send writes one Control packet to `peer` (port 3784). Errors go to the socket's onError; never throws. */
  send(peer: string, bytes: Buffer): void;
}

/** BfdSocketOptions opens a socket for one family, local address and interface. */
export interface BfdSocketOptions {
  readonly family: 'ipv4' | 'ipv6';
  /** localAddress is the address we send from and the one received packets must be addressed to. */
  readonly localAddress: string;
  readonly ifname: string;
  readonly onPacket: (frame: BfdFrame) => void;
  readonly onDrop?: (reason: BfdSocketDrop, detail: string) => void;
  /** onError gets send and receive errors (EHOSTUNREACH, ENETDOWN …): the sockets stay open. */
  readonly onError?: (err: Error) => void;
  readonly logger?: Logger;
  /** sourcePort pins the source port (tests); by default a free one in 49152–65535 is chosen. */
  readonly sourcePort?: number;
}

/** BfdSocketDeps replaces the packet socket and the random port choice in tests. */
export interface BfdSocketDeps {
  readonly openFrameSocket?: OpenFrameSocket;
  readonly random?: () => number;
  /** clock arms close()'s flush deadline; the process clock by default. */
  readonly clock?: Clock;
}

/** bindDgram binds a UDP socket, resolving once bound or rejecting with the bind error. */
function bindDgram(socket: dgram.Socket, address: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    socket.once('error', onError);
    socket.bind({ address, port, exclusive: true }, () => {
      socket.off('error', onError);
      resolve();
    });
  });
}

/** BfdSocket is an open send/receive pair; see the file comment. */
export class BfdSocket implements BfdTransport {
  readonly family: 'ipv4' | 'ipv6';
  readonly localAddress: string;
  readonly sourcePort: number;
  readonly #tx: dgram.Socket;
  readonly #holder: dgram.Socket;
  readonly #rx: FrameSocket;
  readonly #onError: (err: Error) => void;
  readonly #clock: Clock;
  #closed = false;
  #pending = 0; // sends handed to dgram whose callback has not run
  #flushed: (() => void) | undefined;
  #done: Promise<void> | undefined;

  private constructor(
    options: BfdSocketOptions,
    tx: dgram.Socket,
    holder: dgram.Socket,
    rx: FrameSocket,
    sourcePort: number,
    clock: Clock,
  ) {
    this.#clock = clock;
    this.family = options.family;
    this.localAddress = options.localAddress;
    this.sourcePort = sourcePort;
    this.#tx = tx;
    this.#holder = holder;
    this.#rx = rx;
    this.#onError = options.onError ?? ((err) => options.logger?.warn({ err }, 'bfd socket error'));
  }

  /** open binds both UDP sockets and the packet socket; throws on a bad address or interface, or a bind error. */
  static async open(options: BfdSocketOptions, deps: BfdSocketDeps = {}): Promise<BfdSocket> {
    const local = canonicalIp(options.localAddress.split('%')[0]!);
    const wantV6 = options.family === 'ipv6';
    if (local === undefined || local.includes(':') !== wantV6) {
      throw new Error(`${options.localAddress} is not an ${options.family} address`);
    }
    const info = requireInterfaceInfo(options.ifname);
    const type = wantV6 ? 'udp6' : 'udp4';
    // A link-local source needs its zone to bind.
    const bindAddress = wantV6 && local.startsWith('fe80:') ? `${local}%${options.ifname}` : local;
    const onError = options.onError ?? ((err: Error) => options.logger?.warn({ err }, 'bfd socket error'));

    const holder = dgram.createSocket({ type, reuseAddr: false });
    holder.on('error', onError);
    holder.on('message', () => {}); // the packet socket has the same packet with its TTL
    let tx: dgram.Socket | undefined;
    try {
      await bindDgram(holder, bindAddress, BFD_CONTROL_PORT);
      const bound = await bindSourcePort(type, bindAddress, options.sourcePort, deps.random ?? Math.random);
      tx = bound.socket;
      const port = bound.port;
      tx.on('error', onError);
      tx.setTTL(BFD_TTL);
      const open = deps.openFrameSocket ?? ((o) => PacketSocket.open(o));
      const onDrop = options.onDrop ?? (() => {});
      const rx = open({
        ifindex: info.index,
        ethertype: wantV6 ? ETHERTYPE.ipv6 : ETHERTYPE.ipv4,
        filter: bfdFilter(options.family),
        onError,
        onFrame: (frame, pktType) => {
          const r = readBfdFrame(frame, pktType);
          if (!r.ok) onDrop(r.reason, r.detail);
          else if (r.destination !== local) onDrop('not-our-address', `to ${r.destination}, we are ${local}`);
          else options.onPacket(r);
        },
      });
      return new BfdSocket({ ...options, localAddress: local }, tx, holder, rx, port, deps.clock ?? realClock);
    } catch (err) {
      holder.close();
      tx?.close();
      throw err;
    }
  }

  /** send writes `bytes` to peer:3784 from our source port with TTL 255 (RFC 5881 §4, §5). Never throws. */
  send(peer: string, bytes: Buffer): void {
    if (this.#closed) return;
    this.#pending++;
    try {
      this.#tx.send(bytes, BFD_CONTROL_PORT, peer, (err) => {
        if (err) this.#onError(err);
        this.#sent();
      });
    } catch (err) {
      this.#onError(err as Error);
      this.#sent();
    }
  }

  /**
   * close stops reading at once and closes the sending socket once the packets already handed to send() have left
   * (at most `flushMs` later): the AdminDown packets of BfdPeers.stop() must reach the peers (RFC 5880 §6.8.16).
   * Safe to call twice; resolves when everything is closed.
   */
  close(flushMs = 200): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#rx.close();
      this.#holder.close();
      this.#done = new Promise<void>((resolve) => {
        const finish = () => {
          if (this.#flushed !== finish) return; // once: by the last callback or by the timer
          this.#flushed = undefined;
          cancel();
          this.#tx.close();
          resolve();
        };
        const cancel = this.#clock.setTimer(finish, flushMs);
        this.#flushed = finish;
        if (this.#pending === 0) finish();
      });
    }
    return this.#done ?? Promise.resolve();
  }

  #sent(): void {
    this.#pending--;
    if (this.#pending === 0) this.#flushed?.();
  }
}

/**
 * bindSourcePort binds a new UDP socket to `wanted`, or to a random free port of 49152–65535 (RFC 5881 §4); a
 * socket whose bind failed is closed and a fresh one tries the next port.
 */
async function bindSourcePort(
  type: 'udp4' | 'udp6',
  address: string,
  wanted: number | undefined,
  random: () => number,
): Promise<{ socket: dgram.Socket; port: number }> {
  if (
    wanted !== undefined &&
    (!Number.isInteger(wanted) || wanted < BFD_SOURCE_PORTS.min || wanted > BFD_SOURCE_PORTS.max)
  ) {
    throw new Error(`source port ${wanted} is outside ${BFD_SOURCE_PORTS.min}–${BFD_SOURCE_PORTS.max}`);
  }
  const span = BFD_SOURCE_PORTS.max - BFD_SOURCE_PORTS.min + 1;
  const start = Math.floor(random() * span);
  for (let i = 0; i < (wanted === undefined ? 64 : 1); i++) {
    const port = wanted ?? BFD_SOURCE_PORTS.min + ((start + i * 7919) % span);
    const socket = dgram.createSocket({ type, reuseAddr: false });
    try {
      await bindDgram(socket, address, port);
      return { socket, port };
    } catch (err) {
      socket.close();
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || wanted !== undefined) throw err;
    }
  }
  throw new Error(`no free source port in ${BFD_SOURCE_PORTS.min}–${BFD_SOURCE_PORTS.max}`);
}
