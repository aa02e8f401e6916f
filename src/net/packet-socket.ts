/**
 * Typed loader and wrapper of the AF_PACKET addon (native/packet_socket.c, built by binding.gyp into
 * build/Release/packet_socket.node). A PacketSocket is bound to one interface and one EtherType and delivers every
 * received frame with its packet type (packet(7) sll_pkttype). Linux only; needs CAP_NET_RAW.
 */

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BpfInstruction, encodeBpf } from './frames/bpf.ts';
import { macBytes } from './frames/ethernet.ts';

/** PACKET_TYPE names sll_pkttype values (linux/if_packet.h); OUTGOING is a copy of a frame this host sent. */
export const PACKET_TYPE = { host: 0, broadcast: 1, multicast: 2, otherHost: 3, outgoing: 4 } as const;

/** ADDON_PATH is where node-gyp puts the addon, relative to the repository (or installed package) root. */
export const ADDON_PATH = join('build', 'Release', 'packet_socket.node');

interface NativeSocket {
  send(frame: Buffer): number;
  sendBatch(frames: readonly Buffer[]): number;
  bufferSizes(rcv: number, snd: number): [number, number];
  membership(add: boolean, mac: Buffer | null): void;
  attachFilter(program: Buffer): void;
  repeats(slots: number): void;
  /** hush / heard: native/quiet.c; absent from an addon built before them. */
  hush?(vrid: number, frame: Buffer | null, pktType?: number, watchMs?: number): boolean;
  heard?(vrid: number): [number, number] | null;
  /** due: native/quiet.c; absent from an addon built before it. */
  due?(aheadMs: number): number[];
  close(): void;
}

/** PacketSocketAddon is the addon's export: one class. */
export interface PacketSocketAddon {
  readonly PacketSocket: new (
    ifindex: number,
    protocol: number,
    onFrames: (frames: (Buffer | undefined)[], pktTypes: number[], slots?: number[]) => void,
    onError: ((err: Error) => void) | undefined,
    batch: true,
  ) => NativeSocket;
  readonly neighbors: (family: 4 | 6, ifindex: number) => { address: Buffer; mac: Buffer; state: number }[];
}

/** AddonLoad is the addon, or why it is not there ('not-built': run npm ci / node-gyp rebuild). */
export type AddonLoad =
  | { readonly ok: true; readonly addon: PacketSocketAddon; readonly path: string }
  | { readonly ok: false; readonly reason: 'not-built' | 'load-failed'; readonly detail: string };

/**
 * findAddon walks up from `from` (default: this file's folder) to the first folder holding ADDON_PATH, so the same
 * code finds it from src/net under tsx, from dist/src/net after tsc and from dist/bundle/chunks in the image.
 */
export function findAddon(from: string = dirname(fileURLToPath(import.meta.url))): string | undefined {
  for (let dir = from, i = 0; i < 8; i++, dir = dirname(dir)) {
    const candidate = join(dir, ADDON_PATH);
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) break;
  }
  return undefined;
}

/** loadPacketSocketAddon loads the addon (Node caches it per path, so calling again is cheap). Never throws. */
export function loadPacketSocketAddon(): AddonLoad {
  const path = findAddon();
  if (path === undefined) return { ok: false, reason: 'not-built', detail: `${ADDON_PATH} not found; run npm ci` };
  try {
    const addon = createRequire(import.meta.url)(path) as PacketSocketAddon;
    if (typeof addon.PacketSocket !== 'function')
      return { ok: false, reason: 'load-failed', detail: `${path}: no class` };
    // An addon built before batch delivery would hand onFrames one frame at a time: refuse it, ask for a rebuild.
    const proto = addon.PacketSocket.prototype as Partial<NativeSocket>;
    if (
      typeof addon.neighbors !== 'function' ||
      typeof proto.sendBatch !== 'function' ||
      typeof proto.repeats !== 'function'
    )
      return { ok: false, reason: 'load-failed', detail: `${path}: built from an older packet_socket.c; run npm ci` };
    return { ok: true, addon, path };
  } catch (err) {
    return { ok: false, reason: 'load-failed', detail: `${path}: ${(err as Error).message}` };
  }
}

/** Neighbor is one entry of the kernel's neighbour table that has a link-layer address; `state` is NUD_* (rtnetlink). */
export interface Neighbor {
  readonly address: Buffer;
  readonly mac: Buffer;
  readonly state: number;
}

/** readNeighbors dumps the kernel's ARP (4) or NDP (6) neighbour table of one interface; throws PacketSocketError. */
export function readNeighbors(family: 4 | 6, ifindex: number): Neighbor[] {
  const loaded = loadPacketSocketAddon();
  if (!loaded.ok)
    throw new PacketSocketError(loaded.reason === 'not-built' ? 'NOT_BUILT' : 'LOAD_FAILED', loaded.detail);
  try {
    return loaded.addon.neighbors(family, ifindex);
  } catch (err) {
    throw wrapError(err, `neighbours of ifindex ${ifindex}`);
  }
}

/** SendResult is the byte count written, or the errno name and message (EAGAIN when the queue is full). */
export type SendResult =
  | { readonly ok: true; readonly bytes: number }
  | { readonly ok: false; readonly code: string; readonly message: string };

/** BatchResult is how many frames of a batch the kernel took; on a failure, the errno of the first one refused. */
export type BatchResult =
  | { readonly ok: true; readonly sent: number }
  | { readonly ok: false; readonly sent: number; readonly code: string; readonly message: string };

/** FrameSocket is what responders need of a link-layer socket; PacketSocket implements it and tests may fake it. */
export interface FrameSocket {
  send(frame: Buffer): SendResult;
  /** sendBatch writes frames in order with one sendmmsg(2) per 256 frames; optional (fakes may leave it out). */
  sendBatch?(frames: readonly Buffer[]): BatchResult;
  /** bufferSizes asks for receive / send buffers of these bytes (0 keeps one); returns what the kernel granted. */
  bufferSizes?(rcv: number, snd: number): readonly [number, number];
  /** addMembership receives frames for a multicast MAC (PACKET_MR_MULTICAST); it is dropped on close. */
  addMembership(mac: string): void;
  dropMembership(mac: string): void;
  /** setAllMulticast receives every multicast frame while on (PACKET_MR_ALLMULTI); optional for fakes. */
  setAllMulticast?(on: boolean): void;
  /** setFilter replaces the kernel filter (SO_ATTACH_FILTER swaps it atomically); optional for fakes. */
  setFilter?(program: readonly BpfInstruction[]): void;
  /**
   * hush leaves out of delivery every later frame byte-for-byte equal to `frame` (packet type included) whose VRRP
   * VRID (the byte after the IP header) is `vrid`, only counting it (see heard); `null` delivers that VRID's frames
   * again. One hushed frame per VRID; a new one replaces it. False when the frame cannot be hushed (too long, not
   * of that VRID, an addon without it). Optional (fakes may leave it out). See native/quiet.c.
   * `watchMs` (the router's Master_Down_Interval) lets `due` tell when this VRID needs a look.
   */
  hush?(vrid: number, frame: Buffer | null, pktType?: number, watchMs?: number): boolean;
  /**
   * due lists the hushed VRIDs whose last repeat is older than their `watchMs` less `aheadMs` (and those with no
   * repeat since hush, or hushed without `watchMs`): the only ones whose Master_Down_Timer may come within `aheadMs`.
   * Undefined when the socket cannot tell (an addon built before it, a fake): then every hushed VRID needs a look.
   */
  due?(aheadMs: number): readonly number[] | undefined;
  /**
   * heard returns the repeats of `vrid`'s hushed frame left out since the last call (their count, and how long ago
   * the last one was read, in ms of the monotonic clock under performance.now()), undefined when none came.
   */
  heard?(vrid: number): { readonly count: number; readonly ageMs: number } | undefined;
  close(): void;
}

/** PacketSocketOptions opens a socket; `onError` gets read errors (e.g. ENETDOWN) and exceptions of `onFrame`. */
export interface PacketSocketOptions {
  readonly ifindex: number;
  readonly ethertype: number;
  /**
   * onFrame gets every frame, or with `repeats` every frame not seen before: `slot` (0 or more) is where the addon
   * remembered it, -1 when it could not (too long); undefined without `repeats`.
   */
  readonly onFrame: (frame: Buffer, pktType: number, slot?: number) => void;
  readonly onError?: (err: Error) => void;
  /** A kernel filter attached right after opening: thins the stream, the JS checks stay complete. */
  readonly filter?: readonly BpfInstruction[];
  /**
   * repeats turns on the addon's repeat table of `slots` frames: a frame byte-for-byte equal (packet type included)
   * to one handed to onFrame before reaches `onRepeat(slot)` instead, with the slot onFrame was given, in the same
   * order as the other frames. A frame later stored in the same slot replaces the earlier one. For streams that
   * repeat themselves (VRRP adverts: the same frame every interval), so a repeat costs no copy and no parsing.
   */
  readonly repeats?: { readonly slots: number; readonly onRepeat: (slot: number) => void };
}

/** OpenFrameSocket is the factory responders take, so tests can hand them a fake. */
export type OpenFrameSocket = (options: PacketSocketOptions) => FrameSocket;

/**
 * PacketSocketError is thrown by PacketSocket.open when the socket cannot be set up; `code` is the errno name
 * (EPERM without CAP_NET_RAW, ENODEV for a wrong ifindex) or NOT_BUILT / LOAD_FAILED for the addon.
 */
export class PacketSocketError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PacketSocketError';
    this.code = code;
  }
}

/** PacketSocket is an open AF_PACKET socket; see the file comment. */
export class PacketSocket implements FrameSocket {
  readonly #native: NativeSocket;
  #closed = false;

  private constructor(native: NativeSocket) {
    this.#native = native;
  }

  /** open binds a socket to `ifindex` and `ethertype` and starts reading; throws PacketSocketError. */
  static open(options: PacketSocketOptions): PacketSocket {
    const loaded = loadPacketSocketAddon();
    if (!loaded.ok)
      throw new PacketSocketError(loaded.reason === 'not-built' ? 'NOT_BUILT' : 'LOAD_FAILED', loaded.detail);
    const onError = options.onError;
    // The addon hands over every frame of one readiness event in one call (batch mode): one entry into JS and one
    // microtask checkpoint per burst, not per frame. Each frame still reaches onFrame alone, in order.
    // Without onError, a throwing onFrame is an uncaught exception, as for any event listener.
    // With the repeat table on, frames[i] is a hole for a repeat and slots[i] names the slot it repeats.
    const onRepeat = options.repeats?.onRepeat;
    const deliver = (frame: Buffer | undefined, pktType: number, slot: number | undefined): void => {
      if (frame === undefined) onRepeat?.(slot ?? -1);
      else options.onFrame(frame, pktType, slot);
    };
    const onFrames = (frames: (Buffer | undefined)[], pktTypes: number[], slots?: number[]): void => {
      for (let i = 0; i < pktTypes.length; i++) {
        if (onError === undefined) {
          deliver(frames[i], pktTypes[i]!, slots?.[i]);
          continue;
        }
        try {
          deliver(frames[i], pktTypes[i]!, slots?.[i]);
        } catch (err) {
          onError(err instanceof Error ? err : new Error(String(err)));
        }
      }
    };
    let native: NativeSocket;
    try {
      native = new loaded.addon.PacketSocket(options.ifindex, options.ethertype, onFrames, onError, true);
    } catch (err) {
      throw wrapError(err, `open ifindex ${options.ifindex} ethertype 0x${options.ethertype.toString(16)}`);
    }
    const socket = new PacketSocket(native);
    if (options.repeats !== undefined) {
      try {
        native.repeats(options.repeats.slots);
      } catch (err) {
        socket.close();
        throw wrapError(err, 'repeat table');
      }
    }
    if (options.filter !== undefined) {
      try {
        native.attachFilter(encodeBpf(options.filter));
      } catch (err) {
        socket.close();
        throw wrapError(err, 'attach filter');
      }
    }
    return socket;
  }

  /** closed tells whether close() has run. */
  get closed(): boolean {
    return this.#closed;
  }

  /** send writes one full Ethernet frame (the NIC adds the FCS). Never throws. */
  send(frame: Buffer): SendResult {
    try {
      return { ok: true, bytes: this.#native.send(frame) };
    } catch (err) {
      const e = err as Error & { code?: string };
      return { ok: false, code: e.code ?? 'ERR', message: e.message };
    }
  }

  /** sendBatch writes frames in order, one system call per 256; stops at the first refused frame. Never throws. */
  sendBatch(frames: readonly Buffer[]): BatchResult {
    if (frames.length === 0) return { ok: true, sent: 0 };
    try {
      return { ok: true, sent: this.#native.sendBatch(frames) };
    } catch (err) {
      const e = err as Error & { code?: string; sent?: number };
      return { ok: false, sent: e.sent ?? 0, code: e.code ?? 'ERR', message: e.message };
    }
  }

  /** bufferSizes asks for SO_RCVBUF / SO_SNDBUF of these bytes (0 keeps one); throws PacketSocketError. */
  bufferSizes(rcv: number, snd: number): readonly [number, number] {
    try {
      return this.#native.bufferSizes(rcv, snd);
    } catch (err) {
      throw wrapError(err, 'buffer sizes');
    }
  }

  /** addMembership joins a multicast MAC, e.g. 33:33:00:00:00:12 or a solicited-node group; throws on a bad MAC. */
  addMembership(mac: string): void {
    this.#membership(true, mac);
  }

  /** dropMembership leaves a group joined with addMembership. */
  dropMembership(mac: string): void {
    this.#membership(false, mac);
  }

  /** setAllMulticast receives every multicast frame of the interface (PACKET_MR_ALLMULTI) while on. */
  setAllMulticast(on: boolean): void {
    try {
      this.#native.membership(on, null);
    } catch (err) {
      throw wrapError(err, 'all-multicast');
    }
  }

  /** setFilter replaces the kernel filter; frames already queued stay queued. Throws PacketSocketError. */
  setFilter(program: readonly BpfInstruction[]): void {
    if (this.#closed) return;
    try {
      this.#native.attachFilter(encodeBpf(program));
    } catch (err) {
      throw wrapError(err, 'attach filter');
    }
  }

  /** hush: see FrameSocket.hush. Never throws. */
  hush(vrid: number, frame: Buffer | null, pktType = 0, watchMs?: number): boolean {
    if (this.#closed || this.#native.hush === undefined) return false;
    try {
      if (frame === null) return this.#native.hush(vrid, null);
      // An addon built before `due` takes no fourth argument: the caller then learns it from due() (undefined).
      return this.#native.due === undefined || watchMs === undefined
        ? this.#native.hush(vrid, frame, pktType)
        : this.#native.hush(vrid, frame, pktType, watchMs);
    } catch {
      return false;
    }
  }

  /** due: see FrameSocket.due. */
  due(aheadMs: number): readonly number[] | undefined {
    if (this.#closed || this.#native.due === undefined) return undefined;
    return this.#native.due(aheadMs);
  }

  /** heard: see FrameSocket.heard. */
  heard(vrid: number): { readonly count: number; readonly ageMs: number } | undefined {
    if (this.#closed) return undefined;
    const r = this.#native.heard?.(vrid);
    return r == null ? undefined : { count: r[0], ageMs: r[1] };
  }

  /** close stops the read loop and closes the fd; safe to call twice. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#native.close();
  }

  #membership(add: boolean, mac: string): void {
    const bytes = macBytes(mac);
    if (bytes === undefined) throw new PacketSocketError('ERR_INVALID_ARG', `not a MAC: ${JSON.stringify(mac)}`);
    try {
      this.#native.membership(add, bytes);
    } catch (err) {
      throw wrapError(err, `${add ? 'join' : 'leave'} ${mac}`);
    }
  }
}

function wrapError(err: unknown, what: string): PacketSocketError {
  const e = err as Error & { code?: string };
  return new PacketSocketError(e.code ?? 'ERR', `${what}: ${e.message}`, { cause: err });
}
