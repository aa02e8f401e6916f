/**
 * XdpResponder answers ARP requests (RFC 826) and Neighbor Solicitations (RFC 4861 §7.2.4) for the VIPs this node
 * masters from an XDP program on the interface (native/xdp_responder.c, build/Release/xdp_responder.node): the reply
 * leaves by XDP_TX in the softirq that received the request, with no thread to wake. JavaScript tells it which VIPs
 * to answer for (answerFor: a BPF map, changed where the native thread's table changes) and reads its per-CPU
 * counters. Requests it is not sure of (a DAD probe, NS options other than one SLLA) and all other traffic go on to
 * the stack (XDP_PASS), where the native thread answers as before. Its replies are the JS codecs' byte for byte
 * (frames/arp.ts, frames/ndp.ts; test/unit/xdp-responder.test.ts runs the program on fuzzed frames).
 *
 * Attached through a BPF link, nothing pinned: the program is detached when the link's descriptor closes — close(),
 * the process's exit, or SIGKILL (the kernel closes the descriptors of a dead process).
 */

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type AnswerFamilies, AnswerSet } from './answer-set.ts';
import { ipv4Bytes, ipv6Bytes } from './frames/address.ts';
import { macBytes } from './frames/ethernet.ts';
import type { NeighborAnswerConfig } from './native-neighbor-responder.ts';

/** XDP_ADDON_PATH is where node-gyp puts the addon, relative to the repository (or installed package) root. */
export const XDP_ADDON_PATH = join('build', 'Release', 'xdp_responder.node');

/** XdpMode is how the program runs: in the driver (`native`), or on the socket buffer after it (`generic`). */
export type XdpMode = 'native' | 'generic';
/** XdpAttachMode: a mode, or `auto` (the driver's when it has XDP, else generic). */
export type XdpAttachMode = 'auto' | XdpMode;
export const XDP_ATTACH_MODES: readonly XdpAttachMode[] = ['auto', 'native', 'generic'];

/** XDP_COUNTERS are the program's counters: answers, requests left to the stack, and replies it could not size. */
export const XDP_COUNTERS = [
  'arpAnswered',
  'ndpAnswered',
  'arpPassed',
  'ndpPassed',
  'arpResizeFailed',
  'ndpResizeFailed',
] as const;
export type XdpCounter = (typeof XDP_COUNTERS)[number];
export type XdpStats = Readonly<Record<XdpCounter, number>>;

/** XdpRun is the program's verdict on one frame (testRun) and the frame as it left the program. */
export interface XdpRun {
  readonly action: 'tx' | 'pass' | 'other';
  readonly frame: Buffer;
}

interface NativeXdp {
  update(adds: readonly Buffer[], removes: readonly Buffer[]): number;
  attach(ifindex: number, mode: number): XdpMode;
  detach(): void;
  stats(): XdpStats;
  testRun(frame: Buffer): [XdpRun['action'], Buffer];
  close(): void;
}
type NativeXdpClass = new (mac: Buffer, linkLocal: Buffer | null, answerFromTarget: boolean) => NativeXdp;

/** XdpError: the addon is missing, the kernel refused the program or the attachment (`code`: an errno name). */
export class XdpError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'XdpError';
    this.code = code;
  }
}

function findXdpAddon(from: string = dirname(fileURLToPath(import.meta.url))): string | undefined {
  for (let dir = from, i = 0; i < 8; i++, dir = dirname(dir)) {
    const candidate = join(dir, XDP_ADDON_PATH);
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) break;
  }
  return undefined;
}

function xdpClass(): { cls: NativeXdpClass } | { error: XdpError } {
  const path = findXdpAddon();
  if (path === undefined) return { error: new XdpError('NOT_BUILT', `${XDP_ADDON_PATH} not found; run npm ci`) };
  try {
    const addon = createRequire(import.meta.url)(path) as { XdpResponder?: NativeXdpClass };
    if (typeof addon.XdpResponder !== 'function') return { error: new XdpError('LOAD_FAILED', `${path}: no class`) };
    return { cls: addon.XdpResponder };
  } catch (err) {
    return { error: new XdpError('LOAD_FAILED', `${path}: ${(err as Error).message}`, { cause: err }) };
  }
}

/** xdpAvailable tells whether the addon is built (whether the kernel takes the program is known at create()). */
export function xdpAvailable(): boolean {
  return 'cls' in xdpClass();
}

function wrap<T>(what: string, f: () => T): T {
  try {
    return f();
  } catch (err) {
    const e = err as Error & { code?: string };
    throw new XdpError(e.code ?? 'ERR', `${what}: ${e.message}`, { cause: err });
  }
}

const MODE_NUMBER: Record<XdpAttachMode, number> = { auto: 0, native: 1, generic: 2 };

/** XdpResponder: see the file comment. create() loads the program (no interface yet); attach() puts it on one. */
export class XdpResponder {
  readonly #native: NativeXdp;
  readonly #set: AnswerSet;
  #closed = false;

  private constructor(native: NativeXdp, families: AnswerFamilies) {
    this.#native = native;
    this.#set = new AnswerSet(families);
  }

  /**
   * create loads the program for `config` (NDP only with IPv6 in `families` and a source for the answers), answering
   * for nothing yet. Needs CAP_BPF and CAP_NET_ADMIN (or root); throws XdpError (`EPERM`, the verifier's refusal …).
   */
  static create(config: NeighborAnswerConfig, families: AnswerFamilies): XdpResponder {
    const found = xdpClass();
    if ('error' in found) throw found.error;
    const mac = macBytes(config.mac);
    if (mac === undefined) throw new XdpError('ERR_INVALID_ARG', `not a MAC: ${config.mac}`);
    const linkLocal = !families.ipv6 || config.linkLocal === undefined ? null : (ipv6Bytes(config.linkLocal) ?? null);
    const fromTarget = families.ipv6 && config.answerFrom === 'target';
    return new XdpResponder(
      wrap('XDP program', () => new found.cls(mac, linkLocal, fromTarget)),
      families,
    );
  }

  /** attach puts the program on interface `ifindex` and says in which mode it runs. Throws XdpError (`EBUSY`: the
   * interface has another XDP program, e.g. a CNI's). */
  attach(ifindex: number, mode: XdpAttachMode): XdpMode {
    return wrap(`XDP attach to ifindex ${ifindex} (${mode})`, () => this.#native.attach(ifindex, MODE_NUMBER[mode]));
  }

  /** answerFor makes `vips` (canonical text, both families mixed) the whole set answered for, from the next frame. */
  answerFor(vips: readonly string[]): void {
    if (this.#closed) return;
    const change = this.#set.apply(vips);
    if (change.adds.length === 0 && change.removes.length === 0) return;
    const bytes = (ips: readonly string[]) =>
      ips.map((ip) => (ip.includes(':') ? ipv6Bytes(ip) : ipv4Bytes(ip))).filter((b): b is Buffer => b !== undefined);
    wrap('XDP VIP map', () => this.#native.update(bytes(change.adds), bytes(change.removes)));
  }

  /** answering says whether `vip` is in the map. */
  answering(vip: string): boolean {
    return this.#set.has(vip);
  }

  /** stats sums the per-CPU counters. */
  stats(): XdpStats {
    return this.#native.stats();
  }

  /** testRun runs the program once on `frame` without an interface (BPF_PROG_TEST_RUN), for tests. */
  testRun(frame: Buffer): XdpRun {
    const [action, out] = wrap('XDP test run', () => this.#native.testRun(frame));
    return { action, frame: out };
  }

  /** detach takes the program off the interface (the map and counters stay). */
  detach(): void {
    this.#native.detach();
  }

  /** close detaches and releases the program and its maps; safe to call twice. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#native.close();
  }
}
