/**
 * Configuration of one virtual router, validated once (RFC 5798 §6.1 parameters), and the address order the election
 * uses to break ties (RFC 9568 §6.4.3).
 */

import type { Family } from './advert.ts';
import { formatIpBytes, ipBytes } from './ip.ts';

/** PRIORITY_SHUTDOWN is the priority a master sends when it stops, asking backups to take over at once (§5.2.4). */
export const PRIORITY_SHUTDOWN = 0;
/** PRIORITY_MIN and PRIORITY_MAX bound a backup router's priority (§5.2.4); metal-vrrp never owns the VIP. */
export const PRIORITY_MIN = 1;
export const PRIORITY_MAX = 254;
/** PRIORITY_OWNER belongs to the router that owns the addresses (§5.2.4); a speaker never does, so config rejects it. */
export const PRIORITY_OWNER = 255;
/** MAX_INTERVAL_CS is the largest Max Advertise Interval the 12-bit field carries (§5.2.7). */
export const MAX_INTERVAL_CS = 4095;
/** MAX_PREEMPT_DELAY_MS caps preemptDelayMs at keepalived's limit for `preempt_delay` (1000 s). */
export const MAX_PREEMPT_DELAY_MS = 1_000_000;
/** MAX_ROUTER_ADDRESSES is the most addresses one advert carries (8-bit count, §5.2.5). */
export const MAX_ROUTER_ADDRESSES = 255;

/** RouterConfig is one virtual router as this node runs it (RFC 5798 §6.1 parameters). */
export interface RouterConfig {
  /** vrid is the Virtual Router Identifier, 1..255 (§5.2.3); IPv4 and IPv6 routers are separate even with one VRID. */
  readonly vrid: number;
  readonly family: Family;
  /** priority is this node's Priority, 1..254 (§5.2.4). */
  readonly priority: number;
  /** advertIntervalCs is Advertisement_Interval in centiseconds, 1..4095 (§5.2.7). */
  readonly advertIntervalCs: number;
  /** preempt is Preempt_Mode (§6.1): take over from a lower-priority master. */
  readonly preempt: boolean;
  /** preemptDelayMs holds preemption off for this long, keepalived's `preempt_delay` (see router.ts). */
  readonly preemptDelayMs: number;
  /** primaryAddress is this node's address on the link: the advert source and the tie-breaker (§6.4.3, §7.2). */
  readonly primaryAddress: string;
  /** addresses are the virtual addresses, canonical text (dotted quad, RFC 5952), sent in every advert (§5.2.9). */
  readonly addresses: readonly string[];
}

/** RouterConfigChanges are the fields a running router may change; VRID, family and address need a new router. */
export type RouterConfigChanges = Partial<
  Pick<RouterConfig, 'priority' | 'advertIntervalCs' | 'preempt' | 'preemptDelayMs' | 'addresses'>
>;

/** RouterConfigResult is a validated, frozen config with addresses in canonical form, or every problem found. */
export type RouterConfigResult = { readonly config: RouterConfig } | { readonly errors: readonly string[] };

function isIntIn(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

/**
 * validateRouterConfig checks every field and returns the config frozen with canonical addresses, or all problems.
 * Nothing is replaced by a default: a wrong value is reported.
 */
export function validateRouterConfig(input: RouterConfig): RouterConfigResult {
  const errors: string[] = [];
  const family = input.family;
  const familyOk = family === 'ipv4' || family === 'ipv6';
  if (!familyOk) errors.push(`family ${String(family)} is not ipv4 or ipv6`);
  if (!isIntIn(input.vrid, 1, 255)) errors.push(`vrid ${input.vrid} is not an integer in 1..255`);
  if (!isIntIn(input.priority, PRIORITY_MIN, PRIORITY_MAX)) {
    errors.push(
      `priority ${input.priority} is not an integer in ${PRIORITY_MIN}..${PRIORITY_MAX} (255 is the owner's)`,
    );
  }
  if (!isIntIn(input.advertIntervalCs, 1, MAX_INTERVAL_CS)) {
    errors.push(`advertIntervalCs ${input.advertIntervalCs} is not an integer in 1..${MAX_INTERVAL_CS}`);
  }
  if (typeof input.preempt !== 'boolean') errors.push('preempt is not a boolean');
  const delay = input.preemptDelayMs;
  if (typeof delay !== 'number' || !Number.isFinite(delay) || delay < 0 || delay > MAX_PREEMPT_DELAY_MS) {
    errors.push(`preemptDelayMs ${delay} is not in 0..${MAX_PREEMPT_DELAY_MS}`);
  }
  // Addresses cannot be judged without a family.
  if (!familyOk) return { errors };

  const primary = ipBytes(input.primaryAddress, family);
  if (!primary) errors.push(`primaryAddress ${String(input.primaryAddress)} is not an ${family} address`);
  const list = Array.isArray(input.addresses) ? input.addresses : [];
  if (list.length < 1 || list.length > MAX_ROUTER_ADDRESSES) {
    errors.push(`${list.length} addresses, want 1..${MAX_ROUTER_ADDRESSES}`);
  }
  const addresses: string[] = [];
  for (const text of list) {
    const addr = ipBytes(text, family);
    if (!addr) {
      errors.push(`address ${String(text)} is not an ${family} address`);
      continue;
    }
    const c = formatIpBytes(addr, 0, family);
    if (addresses.includes(c)) errors.push(`address ${c} is listed twice`);
    else addresses.push(c);
  }
  if (errors.length > 0 || !primary) return { errors };
  return {
    config: Object.freeze({
      vrid: input.vrid,
      family,
      priority: input.priority,
      advertIntervalCs: input.advertIntervalCs,
      preempt: input.preempt,
      preemptDelayMs: delay,
      primaryAddress: formatIpBytes(primary, 0, family),
      addresses: Object.freeze(addresses),
    }),
  };
}

/** PARSED_LIMIT bounds the parsed-address memo: far more than the masters and own addresses a speaker sees. */
const PARSED_LIMIT = 1024;
const parsed = new Map<string, Uint8Array | null>();

/**
 * parsedAddress memoizes ipBytes: every received advert compares its source with the router's primary address, and
 * the same few masters send every interval, so parsing them each time was most of the comparison's cost. A pure
 * function of its key; cleared when full, so a flood of distinct sources costs a parse each, never memory.
 */
function parsedAddress(text: string, family: Family): Uint8Array | undefined {
  const key = family === 'ipv4' ? text : `6/${text}`;
  const hit = parsed.get(key);
  if (hit !== undefined) return hit ?? undefined;
  const bytes = ipBytes(text, family);
  if (parsed.size >= PARSED_LIMIT) parsed.clear();
  parsed.set(key, bytes ?? null);
  return bytes;
}

/**
 * compareAddresses orders two addresses of `family` as unsigned integers in network byte order, the comparison
 * RFC 9568 §6.4.3 prescribes for the tie-break: negative, 0 or positive as a < b, a = b, a > b; undefined when either
 * does not parse.
 */
export function compareAddresses(a: string, b: string, family: Family): number | undefined {
  const xb = parsedAddress(a, family);
  const yb = parsedAddress(b, family);
  if (!xb || !yb) return undefined;
  for (let i = 0; i < xb.length; i++) {
    const d = (xb[i] ?? 0) - (yb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** sameAddressSet says whether two canonical address lists hold the same addresses, in any order (§7.1 check). */
export function sameAddressSet(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const set = new Set(a);
  return b.every((x) => set.has(x));
}
