/**
 * Interface facts the sockets need: ifindex, MAC, addresses.
 *
 * Sources, and why: the ifindex and MAC come from /sys/class/net/<ifname>/{ifindex,address}, which exist for every
 * interface of the caller's network namespace (`ip netns exec` remounts /sys for it), up or down, with or without
 * addresses. Addresses come from os.networkInterfaces() (getifaddrs(3)), which lists an interface only once it has an
 * address. Both are read on each call: nothing is cached here, the caller decides when to look again.
 */

import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import type { Family } from '../../vrrp/advert.ts';
import { canonicalAddress, isLinkLocal } from '../../vrrp/ip.ts';
import type { Sources } from '../model/local-node.ts';

/** InterfaceInfo is one interface's facts; addresses are canonical text without zone or prefix. */
export interface InterfaceInfo {
  readonly name: string;
  readonly index: number;
  readonly mac: string;
  readonly ipv4: readonly string[];
  /** All IPv6 addresses, link-local included. */
  readonly ipv6: readonly string[];
  /** The first fe80::/10 address, the source of NDP answers and IPv6 adverts (RFC 5798 §5.1.2.1). */
  readonly linkLocal: string | undefined;
}

/** InterfaceInfoFailure says why an interface could not be described. */
export interface InterfaceInfoFailure {
  readonly ok: false;
  readonly reason: 'bad-name' | 'no-such-interface' | 'no-mac';
  readonly detail: string;
}

/**
 * InterfaceError is what socket constructors throw when their interface cannot be used: `code` is a reason of
 * InterfaceInfoFailure, or 'no-link-local' / 'no-ipv4' when the address a socket sends from is missing.
 */
export class InterfaceError extends Error {
  readonly code: InterfaceInfoFailure['reason'] | 'no-link-local' | 'no-ipv4';
  constructor(code: InterfaceError['code'], message: string) {
    super(message);
    this.name = 'InterfaceError';
    this.code = code;
  }
}

/** InterfaceInfoDeps lets tests replace the two sources. */
export interface InterfaceInfoDeps {
  readonly readSysFile?: (path: string) => string;
  readonly networkInterfaces?: typeof networkInterfaces;
}

// IFNAMSIZ is 16 with the NUL; '/' and whitespace are refused by the kernel, and the name becomes a path here.
const IFNAME = /^[^/\s\0]{1,15}$/;

/** readInterfaceInfo describes `ifname` in the current network namespace, or says why it cannot. Never throws. */
export function readInterfaceInfo(
  ifname: string,
  deps: InterfaceInfoDeps = {},
): ({ readonly ok: true } & InterfaceInfo) | InterfaceInfoFailure {
  if (!IFNAME.test(ifname) || ifname === '.' || ifname === '..') {
    return { ok: false, reason: 'bad-name', detail: JSON.stringify(ifname) };
  }
  const read = deps.readSysFile ?? ((path: string) => readFileSync(path, 'utf8'));
  let index: number;
  let mac: string;
  try {
    index = Number.parseInt(read(`/sys/class/net/${ifname}/ifindex`).trim(), 10);
    mac = read(`/sys/class/net/${ifname}/address`).trim().toLowerCase();
  } catch (err) {
    return { ok: false, reason: 'no-such-interface', detail: `${ifname}: ${(err as Error).message}` };
  }
  if (!Number.isInteger(index) || index <= 0) return { ok: false, reason: 'no-such-interface', detail: ifname };
  if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(mac) || mac === '00:00:00:00:00:00') {
    return { ok: false, reason: 'no-mac', detail: `${ifname} has link-layer address ${JSON.stringify(mac)}` };
  }
  const ipv4: string[] = [];
  const ipv6: string[] = [];
  for (const a of (deps.networkInterfaces ?? networkInterfaces)()[ifname] ?? []) {
    const text = canonicalAddress(a.address.split('%')[0]!, a.family === 'IPv4' ? 'ipv4' : 'ipv6');
    if (text === undefined) continue;
    if (a.family === 'IPv4') ipv4.push(text);
    else ipv6.push(text);
  }
  const linkLocal = ipv6.find(isLinkLocal);
  return { ok: true, name: ifname, index, mac, ipv4, ipv6, linkLocal };
}

/** requireInterfaceInfo is readInterfaceInfo for constructors: it throws InterfaceError instead of returning one. */
export function requireInterfaceInfo(ifname: string, deps: InterfaceInfoDeps = {}): InterfaceInfo {
  const info = readInterfaceInfo(ifname, deps);
  if (!info.ok) throw new InterfaceError(info.reason, info.detail);
  return info;
}

/** sourcesOf picks the advert sources: the first IPv4 address of the interface, and its link-local (§5.1.2.1). */
export function sourcesOf(info: Pick<InterfaceInfo, 'ipv4' | 'linkLocal'>): Sources {
  const sources: { -readonly [F in Family]?: string } = {};
  if (info.ipv4[0] !== undefined) sources.ipv4 = info.ipv4[0];
  if (info.linkLocal !== undefined) sources.ipv6 = info.linkLocal;
  return sources;
}
