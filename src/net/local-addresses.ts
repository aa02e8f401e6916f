/**
 * readLocalNode reads this host's interface addresses (os.networkInterfaces) and the interface of the default route
 * per family (/proc/net/route, /proc/net/ipv6_route), which the speaker uses to pick the interface for a VIP when no
 * L2Advertisement names one. Left out: loopback and link-local addresses, and host addresses (/32, /128) — kube-proxy
 * in IPVS mode puts every LoadBalancer IP on kube-ipvs0 as a /32, and that "subnet" holds the VIP but is no link.
 */
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import type { Family } from '../../vrrp/advert.ts';
import { canonicalAddress, isLinkLocal } from '../../vrrp/ip.ts';
import type { LocalAddress, LocalNode, Sources } from '../model/local-node.ts';
import { sourcesOf } from './interface-info.ts';

/** defaultRouteInterfaces parses the kernel's route tables; a family without a default route is absent. */
export function defaultRouteInterfaces(
  route4: string | undefined,
  route6: string | undefined,
): Partial<Record<Family, string>> {
  const out: { -readonly [F in Family]?: string } = {};
  // /proc/net/route: Iface Destination Gateway Flags ... Mask ...; destination and mask 00000000 = default.
  for (const line of (route4 ?? '').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length >= 8 && f[1] === '00000000' && f[7] === '00000000') {
      out.ipv4 = f[0];
      break;
    }
  }
  // /proc/net/ipv6_route: dest(32 hex) destlen src srclen nexthop metric refcnt use flags iface; ::/0 = default.
  for (const line of (route6 ?? '').split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length >= 10 && /^0{32}$/.test(f[0] ?? '') && f[1] === '00' && f[9] !== 'lo') {
      out.ipv6 = f[9];
      break;
    }
  }
  return out;
}

function readOptional(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** readLocalNode: see the file comment. */
export function readLocalNode(name: string): LocalNode {
  const addresses: LocalAddress[] = [];
  const sources = new Map<string, Sources>(); // ifname -> advert sources
  for (const [ifname, list] of Object.entries(networkInterfaces())) {
    const ipv4: string[] = [];
    let linkLocal: string | undefined;
    for (const a of list ?? []) {
      if (a.internal) continue;
      const text = canonicalAddress(a.address.split('%')[0]!, a.family === 'IPv4' ? 'ipv4' : 'ipv6');
      if (text !== undefined && a.family === 'IPv4') ipv4.push(text);
      if (text !== undefined && a.family === 'IPv6' && isLinkLocal(text)) linkLocal ??= text;

      if (a.family === 'IPv6' && isLinkLocal(a.address)) continue;
      const full = a.family === 'IPv4' ? 32 : 128;
      const prefixLength = Number((a.cidr ?? '').split('/')[1] ?? full);
      if (prefixLength >= full) continue;
      addresses.push({ ifname, address: a.address, prefixLength });
    }
    const own = sourcesOf({ ipv4, linkLocal });
    if (own.ipv4 !== undefined || own.ipv6 !== undefined) sources.set(ifname, own);
  }
  return {
    name,
    addresses,
    defaultInterface: defaultRouteInterfaces(readOptional('/proc/net/route'), readOptional('/proc/net/ipv6_route')),
    sources,
  };
}
