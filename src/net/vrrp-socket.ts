/**
 * VrrpSocket sends and receives VRRPv3 adverts (RFC 5798 §5.1) on one interface for one family.
 *
 * IPv4: a raw socket for protocol 112 (the `raw-socket` package) bound to the interface (SO_BINDTODEVICE), joined to
 * 224.0.0.18 there (IP_ADD_MEMBERSHIP with an ip_mreqn naming the ifindex), multicast loop off, and IP_HDRINCL so we
 * write the header: TTL 255 and a source we chose, the one the checksum's pseudo-header covers. Receiving includes
 * the IP header, so TTL, protocol, source and destination are checked here.
 * IPv6: a raw IPv6 socket hides hop limit, destination and interface and cannot pick its source, so adverts travel
 * over the AF_PACKET addon instead: EtherType 0x86dd filtered in the kernel to next header 112, the group MAC
 * 33:33:00:00:00:12 joined, frames built whole (source = the interface's link-local, RFC 5798 §5.1.2.1).
 * Unicast to an IPv6 peer needs the peer's MAC (no neighbour lookup here): send() refuses without one.
 *
 * Every received packet ends as onAdvert(received) or onDrop(drop); nothing here keeps VRRP state.
 */

import raw from 'raw-socket';
import { type Advert, type Family, VRRP_MULTICAST, VRRP_PROTOCOL, VRRP_TTL } from '../../vrrp/advert.ts';
import type { AuthKey } from '../../vrrp/auth.ts';
import type { EncodeError } from '../../vrrp/codec.ts';
import { canonicalAddress } from '../../vrrp/ip.ts';
import { ipv4Bytes, ipv6Bytes, isIpv6Multicast } from './frames/address.ts';
import { ipv6Filter } from './frames/bpf.ts';
import { ETHERTYPE, ipv6MulticastMac } from './frames/ethernet.ts';
import {
  type BuildResult,
  type ReceiveContext,
  type ReceivedAdvert,
  receiveIpv4,
  receiveIpv6Frame,
  type Seal,
  VRRP_IPV6_MAC,
  type VrrpDrop,
  vrrpIpv4Packet,
  vrrpIpv6Frame,
} from './frames/vrrp.ts';
import { InterfaceError, type InterfaceInfo, requireInterfaceInfo } from './interface-info.ts';
import { type OpenFrameSocket, PacketSocket } from './packet-socket.ts';

// Socket option numbers (Linux ip(7), socket(7)); raw-socket exports only a few of them.
const SOL_SOCKET = 1;
const SO_BINDTODEVICE = 25;
const IPPROTO_IP = 0;
const IP_HDRINCL = 3;
const IP_MULTICAST_IF = 32;
const IP_MULTICAST_TTL = 33;
const IP_MULTICAST_LOOP = 34;
const IP_ADD_MEMBERSHIP = 35;

/** ENCODED_CACHE_LIMIT bounds the encoded-advert cache: more than one entry per router and destination in practice. */
const ENCODED_CACHE_LIMIT = 4096;

/** VrrpPeer is a unicast destination; `mac` is required for IPv6 (and ignored for IPv4, the kernel resolves it). */
export interface VrrpPeer {
  readonly address: string;
  readonly mac?: string;
}

/** VrrpSendResult is the bytes handed to the kernel, or why nothing was sent. */
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
  /** onError gets socket errors after open and exceptions thrown by the hooks. */
  readonly onError?: (err: Error) => void;
  readonly interfaceInfo?: InterfaceInfo;
  /** Source of sent adverts; default the interface's first IPv4 address, or its link-local for IPv6. */
  readonly source?: string;
  /** authKeys: the keys of routers that require authenticated adverts (frames/vrrp.ts ReceiveContext). */
  readonly authKeys?: (family: Family, vrid: number) => readonly AuthKey[] | undefined;
  /** Opens the IPv6 packet socket; tests may pass a fake. */
  readonly openPacketSocket?: OpenFrameSocket;
}

/** VrrpSocketError is thrown by the constructor when the IPv4 raw socket cannot be set up; `cause` has the errno. */
export class VrrpSocketError extends Error {
  readonly code = 'VRRP_SOCKET_OPEN';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'VrrpSocketError';
  }
}

interface Transport {
  send(bytes: Buffer, destination: string): Promise<VrrpSendResult>;
  close(): void;
}

/** ipMreqn is struct ip_mreqn: group, local address (any), ifindex in host byte order (ip(7)). */
function ipMreqn(group: Buffer, ifindex: number): Buffer {
  const buf = Buffer.alloc(12);
  group.copy(buf, 0);
  buf.writeInt32LE(ifindex, 8); // host order; every Linux target Node runs on here is little-endian
  return buf;
}

/**
 * VrrpSocket owns one socket and its read loop; see the file comment. The constructor opens it and throws
 * InterfaceError (unknown interface, no source address) or VrrpSocketError / PacketSocketError.
 */
export class VrrpSocket {
  readonly family: Family;
  readonly ifname: string;
  readonly source: string;
  readonly #mac: string;
  readonly #transport: Transport;
  // advert and destination -> the bytes sent: a router sends the same advert every interval, and encoding (address
  // parsing, checksum) is most of the cost of a send. Bounded: cleared when it grows past ENCODED_CACHE_LIMIT.
  readonly #encoded = new Map<string, Buffer>();
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
    const ctx: ReceiveContext = {
      ownAddresses: own,
      mac: info.mac,
      decoded: new Map(),
      ...(deps.authKeys ? { authKeys: deps.authKeys } : {}),
    };
    const deliver = (r: ReturnType<typeof receiveIpv4>) => (r.ok ? deps.onAdvert(r) : deps.onDrop(r));
    const onError = deps.onError ?? (() => {});
    this.#transport =
      deps.family === 'ipv4'
        ? openIpv4(info, (packet) => deliver(receiveIpv4(packet, ctx)), onError)
        : openIpv6(info, deps, (frame, pktType) => deliver(receiveIpv6Frame(frame, pktType, ctx)), onError);
  }

  /**
   * send encodes `advert` and sends it to the VRRP group, or to the unicast peer `to` with TTL /
   * hop limit 255; signed under `seal` when given (never cached: every signed advert has its own counter).
   * Resolves with the outcome; never rejects.
   */
  async send(advert: Advert, to?: VrrpPeer, seal?: Seal): Promise<VrrpSendResult> {
    if (this.#stopped) return { ok: false, reason: 'stopped', detail: 'socket stopped' };
    const destination = to?.address ?? VRRP_MULTICAST[this.family];
    if (seal !== undefined) {
      const built = this.#build(advert, destination, to, seal);
      return built.ok ? this.#transport.send(built.bytes, destination) : built;
    }
    const key = `${advert.vrid}/${advert.priority}/${advert.maxAdvertIntervalCs}/${advert.addresses.join(',')}>${destination}/${to?.mac ?? ''}`;
    const cached = this.#encoded.get(key);
    if (cached !== undefined) return this.#transport.send(cached, destination);
    const built = this.#build(advert, destination, to);
    if (!built.ok) return built;
    if (this.#encoded.size >= ENCODED_CACHE_LIMIT) this.#encoded.clear();
    this.#encoded.set(key, built.bytes);
    return this.#transport.send(built.bytes, destination);
  }

  #build(
    advert: Advert,
    destination: string,
    to: VrrpPeer | undefined,
    seal?: Seal,
  ): BuildResult | Extract<VrrpSendResult, { ok: false }> {
    if (this.family === 'ipv4') {
      return vrrpIpv4Packet(advert, this.source, destination, seal);
    }
    const dstBytes = ipv6Bytes(destination);
    if (dstBytes === undefined) return { ok: false, reason: 'bad-address', detail: destination };
    const dstMac = isIpv6Multicast(dstBytes) ? ipv6MulticastMac(dstBytes) : to?.mac;
    if (dstMac === undefined)
      return { ok: false, reason: 'no-peer-mac', detail: `unicast to ${destination} needs its MAC` };
    return vrrpIpv6Frame(advert, { srcMac: this.#mac, src: this.source, dst: destination, dstMac }, seal);
  }

  /** stop closes the socket; later sends resolve 'stopped'. Safe to call twice. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#transport.close();
  }
}

function openIpv4(info: InterfaceInfo, onPacket: (packet: Buffer) => void, onError: (err: Error) => void): Transport {
  let sock: raw.Socket;
  try {
    sock = raw.createSocket({ protocol: VRRP_PROTOCOL, addressFamily: raw.AddressFamily.IPv4, bufferSize: 65535 });
  } catch (err) {
    throw new VrrpSocketError(`raw socket for protocol ${VRRP_PROTOCOL}: ${(err as Error).message}`, { cause: err });
  }
  const group = ipv4Bytes(VRRP_MULTICAST.ipv4)!;
  const name = Buffer.from(`${info.name}\0`, 'latin1');
  const options: Array<[string, () => void]> = [
    ['SO_BINDTODEVICE', () => sock.setOption(SOL_SOCKET, SO_BINDTODEVICE, name, name.length)],
    ['IP_HDRINCL', () => sock.setOption(IPPROTO_IP, IP_HDRINCL, 1)],
    ['IP_MULTICAST_IF', () => sock.setOption(IPPROTO_IP, IP_MULTICAST_IF, ipMreqn(Buffer.alloc(4), info.index), 12)],
    ['IP_MULTICAST_TTL', () => sock.setOption(IPPROTO_IP, IP_MULTICAST_TTL, VRRP_TTL)],
    ['IP_MULTICAST_LOOP', () => sock.setOption(IPPROTO_IP, IP_MULTICAST_LOOP, 0)],
    ['IP_ADD_MEMBERSHIP', () => sock.setOption(IPPROTO_IP, IP_ADD_MEMBERSHIP, ipMreqn(group, info.index), 12)],
  ];
  for (const [option, set] of options) {
    try {
      set();
    } catch (err) {
      sock.close();
      throw new VrrpSocketError(`${option} on ${info.name}: ${(err as Error).message}`, { cause: err });
    }
  }
  sock.on('message', (packet) => onPacket(packet));
  sock.on('error', onError); // raw-socket emits hook exceptions and read errors here; without a listener they'd crash
  let closed = false;
  return {
    send: (bytes, destination) =>
      new Promise((resolve) => {
        if (closed) return resolve({ ok: false, reason: 'stopped', detail: 'socket stopped' });
        sock.send(bytes, 0, bytes.length, destination, (error, sent) =>
          resolve(error ? { ok: false, reason: 'send-failed', detail: error.message } : { ok: true, bytes: sent }),
        );
      }),
    close: () => {
      closed = true; // raw-socket re-creates its fd on a later send(), so never call it once closed
      sock.close();
    },
  };
}

function openIpv6(
  info: InterfaceInfo,
  deps: VrrpSocketDeps,
  onFrame: (frame: Buffer, pktType: number) => void,
  onError: (err: Error) => void,
): Transport {
  const socket = (deps.openPacketSocket ?? PacketSocket.open)({
    ifindex: info.index,
    ethertype: ETHERTYPE.ipv6,
    filter: ipv6Filter(VRRP_PROTOCOL),
    onFrame,
    onError,
  });
  try {
    socket.addMembership(VRRP_IPV6_MAC);
  } catch (err) {
    socket.close();
    throw err;
  }
  return {
    send: async (bytes) => {
      const sent = socket.send(bytes);
      return sent.ok ? { ok: true, bytes: sent.bytes } : { ok: false, reason: 'send-failed', detail: sent.message };
    },
    close: () => socket.close(),
  };
}
