/**
 * planRouters turns router specs (from the standalone YAML, later from Kubernetes) plus this node's source addresses
 * into validated engine configs. Pure: the caller reads the interface and passes the addresses in.
 *
 * IPv6: RFC 9568 §5.2.9 (erratum 8300) wants the first address of an IPv6 advert to be link-local, and the codec
 * refuses anything else both ways. A Kubernetes VIP is global, so every IPv6 router gets a virtual link-local first:
 * fe80::200:5eff:fe00:2XX, the EUI-64 of the router's IPv6 virtual MAC 00-00-5E-00-02-{VRID} (RFC 5798 §7.3). It is
 * deterministic, so every speaker of the router sends the same list (no §7.1 mismatch), and it is never answered for.
 */

import type { Family } from '../../vrrp/advert.ts';
import { type RouterConfig, validateRouterConfig } from '../../vrrp/router-config.ts';

/** RouterSpecInput is what planRouters needs of a router spec (standalone-config's RouterSpec fits). */
export interface RouterSpecInput {
  readonly vrid: number;
  readonly family: Family;
  readonly priority: number;
  readonly advertIntervalCs: number;
  readonly preempt: boolean;
  readonly preemptDelayMs: number;
  readonly vips: readonly string[];
}

/** PlannedRouter is one engine config with the VIPs it protects; `key` names it in maps, logs and the scheduler. */
export interface PlannedRouter {
  readonly key: RouterKey;
  readonly config: RouterConfig;
  /** vips are the addresses answered for (ARP/NDP), without the IPv6 virtual link-local. */
  readonly vips: readonly string[];
}

/** RouterKey is `ipv4/51` or `ipv6/51`: VRIDs are per family (RFC 5798 §5.2.3). */
export type RouterKey = `${Family}/${number}`;

/** routerKey names a router by family and VRID. */
export function routerKey(family: Family, vrid: number): RouterKey {
  return `${family}/${vrid}`;
}

/** Sources are this node's advert source per family: the interface's IPv4 address and its IPv6 link-local. */
export type Sources = Partial<Record<Family, string>>;

/** PlanResult is every router planned, or every problem found. */
export type PlanResult = { readonly routers: readonly PlannedRouter[] } | { readonly errors: readonly string[] };

/** virtualLinkLocal is fe80::200:5eff:fe00:2XX for `vrid` (see the file comment). */
export function virtualLinkLocal(vrid: number): string {
  return `fe80::200:5eff:fe00:2${vrid.toString(16).padStart(2, '0')}`;
}

function isLinkLocal(ip: string): boolean {
  return /^fe[89ab][0-9a-f]:/i.test(ip);
}

/** planRouters validates each spec into an engine config; a family with routers but no source is an error. */
export function planRouters(specs: readonly RouterSpecInput[], sources: Sources): PlanResult {
  const errors: string[] = [];
  const routers: PlannedRouter[] = [];
  for (const spec of specs) {
    const at = `router ${routerKey(spec.family, spec.vrid)}`;
    const source = sources[spec.family];
    if (source === undefined) {
      const what = spec.family === 'ipv4' ? 'an IPv4 address' : 'an IPv6 link-local address';
      errors.push(`${at}: the interface has no ${what} to send adverts from`);
      continue;
    }
    const first = spec.vips[0];
    const addresses =
      spec.family === 'ipv6' && first !== undefined && !isLinkLocal(first)
        ? [virtualLinkLocal(spec.vrid), ...spec.vips]
        : spec.vips;
    const checked = validateRouterConfig({
      vrid: spec.vrid,
      family: spec.family,
      priority: spec.priority,
      advertIntervalCs: spec.advertIntervalCs,
      preempt: spec.preempt,
      preemptDelayMs: spec.preemptDelayMs,
      primaryAddress: source,
      addresses,
    });
    if ('errors' in checked) {
      for (const e of checked.errors) errors.push(`${at}: ${e}`);
      continue;
    }
    const vips = checked.config.addresses.filter((a) => spec.family === 'ipv4' || !isLinkLocal(a));
    routers.push({ key: routerKey(spec.family, spec.vrid), config: checked.config, vips });
  }
  const seen = new Set<string>();
  for (const r of routers) {
    if (seen.has(r.key)) errors.push(`router ${r.key}: defined twice`);
    seen.add(r.key);
  }
  return errors.length > 0 ? { errors } : { routers };
}
