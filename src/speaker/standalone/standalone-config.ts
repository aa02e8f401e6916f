import { parse as parseYaml } from 'yaml';
import type { Family } from '../../../vrrp/advert.ts';
import { canonicalIp } from '../../../vrrp/ip.ts';
import { type AuthKeys, parseAuthSecret } from '../../model/auth-secret.ts';
import { advertIntervalCs, parseDuration } from '../../model/duration.ts';
import {
  DEFAULT_POOL_TUNING,
  GRATUITOUS_REFRESH_MAX_MS,
  GRATUITOUS_REFRESH_MIN_MS,
  type GratuitousTuning,
} from '../../model/pool-tuning.ts';
import type { RouterSpecInput } from '../router-spec.ts';
import { parseXdpAnswers, type XdpAnswers } from '../xdp-answers-setting.ts';

/**
 * Standalone mode: a speaker driven by a static YAML file instead of Kubernetes — the keepalived-replacement use case.
 *
 *   interface: eth0
 *   advertInterval: 100ms        # default 100ms; 10ms..40.95s in 10 ms steps
 *   preempt: true                # default true
 *   preemptDelay: 0s
 *   gratuitous: { count: 3, spacing: 100ms }
 *   unicastPeers: [10.0.0.2]     # optional; absent = multicast 224.0.0.18 / ff02::12
 *   auth: { key: <base64>, previousKey: <base64> }   # optional: authenticated adverts (README), every router
 *   metrics: { address: 0.0.0.0, port: 7472 }   # /metrics, /healthz, /readyz; port 0 turns the server off
 *   xdpAnswers: off              # off | auto | native | generic: ARP/NDP answers from XDP (README); --xdp-answers
 *   routers:
 *     - { vrid: 51, priority: 200, vips: [10.0.0.100] }
 *     - { vrid: 51, priority: 200, vips: ["fd00::100"], advertInterval: 20ms }
 *
 * A router's family comes from its VIPs (all of one family). IPv4 and IPv6 routers may reuse a VRID (RFC 5798 §5.2.3).
 */

/** StandaloneRouter is one `routers:` entry: the engine fields; standalone.ts plans it into a RouterSpec. */
export type StandaloneRouter = Pick<
  RouterSpecInput,
  'vrid' | 'family' | 'priority' | 'advertIntervalCs' | 'preempt' | 'preemptDelayMs' | 'vips'
>;

/** GratuitousSpec is how takeovers are announced, as a pool's annotations say it (GratuitousTuning). */
export type GratuitousSpec = GratuitousTuning;

/** MetricsSpec is where the speaker serves /metrics, /healthz and /readyz; port 0 serves nothing. */
export interface MetricsSpec {
  readonly address: string;
  readonly port: number;
}

export interface StandaloneConfig {
  readonly interface: string;
  readonly metrics: MetricsSpec;
  readonly routers: readonly StandaloneRouter[];
  readonly gratuitous: GratuitousSpec;
  readonly unicastPeers: readonly string[];
  /** auth: keys of authenticated adverts for every router (src/model/auth-secret.ts); absent: plain VRRPv3. */
  readonly auth?: AuthKeys;
  /** xdpAnswers: ARP/NDP answered by an XDP program on the interface, and how; parse sets it (absent: `off`). */
  readonly xdpAnswers?: XdpAnswers;
}

export type ParseResult = { readonly config: StandaloneConfig } | { readonly errors: readonly string[] };

// The router defaults are a pool's (DEFAULT_POOL_TUNING), so both modes behave alike unless told otherwise.
const DEFAULTS = {
  advertIntervalMs: DEFAULT_POOL_TUNING.advertIntervalCs * 10,
  preempt: DEFAULT_POOL_TUNING.preempt,
  preemptDelayMs: DEFAULT_POOL_TUNING.preemptDelayMs,
  gratuitousCount: DEFAULT_POOL_TUNING.gratuitous.count,
  spacingMs: DEFAULT_POOL_TUNING.gratuitous.spacingMs,
  metricsAddress: '0.0.0.0',
  metricsPort: 7472, // MetalLB's speaker port
};

/** parseStandaloneConfig validates the YAML text; every problem is named, none is replaced by a default. */
export function parseStandaloneConfig(text: string): ParseResult {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    return { errors: [`config is not valid YAML: ${(err as Error).message}`] };
  }
  if (!isRecord(doc)) return { errors: ['config must be a YAML mapping'] };
  const errors: string[] = [];
  const ifname = doc['interface'];
  if (typeof ifname !== 'string' || ifname === '') errors.push('interface: required, the name of a network interface');

  const base = {
    intervalMs: duration(doc['advertInterval'], DEFAULTS.advertIntervalMs, 'advertInterval', errors),
    preempt: bool(doc['preempt'], DEFAULTS.preempt, 'preempt', errors),
    preemptDelayMs: duration(doc['preemptDelay'], DEFAULTS.preemptDelayMs, 'preemptDelay', errors),
  };

  const grat = doc['gratuitous'] ?? {};
  let gratuitous: GratuitousSpec = {
    count: DEFAULTS.gratuitousCount,
    spacingMs: DEFAULTS.spacingMs,
    refreshMs: DEFAULT_POOL_TUNING.gratuitous.refreshMs,
  };
  if (!isRecord(grat)) errors.push('gratuitous: must be a mapping with count, spacing and refresh');
  else {
    const count = grat['count'] ?? DEFAULTS.gratuitousCount;
    if (!Number.isInteger(count) || (count as number) < 0 || (count as number) > 100) {
      errors.push(`gratuitous.count: ${JSON.stringify(count)} is not a whole number 0..100`);
    }
    const spacingMs = duration(grat['spacing'], DEFAULTS.spacingMs, 'gratuitous.spacing', errors);
    // refresh: 0 turns the master's periodic round off; else 1s..1h as the pool annotation.
    const refresh = grat['refresh'];
    const refreshMs =
      refresh === 0 || refresh === '0' || refresh === 'off'
        ? 0
        : duration(refresh, DEFAULT_POOL_TUNING.gratuitous.refreshMs, 'gratuitous.refresh', errors);
    if (refreshMs !== 0 && (refreshMs < GRATUITOUS_REFRESH_MIN_MS || refreshMs > GRATUITOUS_REFRESH_MAX_MS)) {
      errors.push(`gratuitous.refresh: ${JSON.stringify(refresh)} is not 0 (off) or between 1s and 1h`);
    }
    gratuitous = { count: Number(count), spacingMs, refreshMs };
  }

  const peersRaw = doc['unicastPeers'] ?? [];
  const unicastPeers: string[] = [];
  if (!Array.isArray(peersRaw)) errors.push('unicastPeers: must be a list of addresses');
  else {
    for (const p of peersRaw) {
      const ip = canonicalIp(p);
      if (ip === undefined) errors.push(`unicastPeers: ${JSON.stringify(p)} is not an IP address`);
      else unicastPeers.push(ip);
    }
  }

  let auth: AuthKeys | undefined;
  const authRaw = doc['auth'];
  if (authRaw !== undefined) {
    if (!isRecord(authRaw)) errors.push('auth: must be a mapping with key and optionally previousKey (base64)');
    else {
      const data = Object.fromEntries(Object.entries(authRaw).filter(([, v]) => typeof v === 'string')) as Record<
        string,
        string
      >;
      const unknown = Object.keys(authRaw).filter((k) => k !== 'key' && k !== 'previousKey');
      if (unknown.length > 0) errors.push(`auth: unknown fields ${unknown.join(', ')}`);
      const parsed = parseAuthSecret({ metadata: { name: 'auth' }, data });
      if ('error' in parsed) errors.push(`auth: ${parsed.error.replace(/^Secret auth: data\./, '')}`);
      else auth = parsed.keys;
    }
  }

  const metricsRaw = doc['metrics'] ?? {};
  const metrics = { address: DEFAULTS.metricsAddress, port: DEFAULTS.metricsPort };
  if (!isRecord(metricsRaw)) errors.push('metrics: must be a mapping with address and port');
  else {
    const port = metricsRaw['port'] ?? DEFAULTS.metricsPort;
    if (!Number.isInteger(port) || (port as number) < 0 || (port as number) > 65535) {
      errors.push(`metrics.port: ${JSON.stringify(port)} is not a port number 0..65535`);
    } else metrics.port = port as number;
    const address = metricsRaw['address'] ?? DEFAULTS.metricsAddress;
    const ip = canonicalIp(address);
    if (ip === undefined) errors.push(`metrics.address: ${JSON.stringify(address)} is not an IP address`);
    else metrics.address = ip;
  }

  const routersRaw = doc['routers'];
  const routers: StandaloneRouter[] = [];
  if (!Array.isArray(routersRaw) || routersRaw.length === 0) errors.push('routers: required, a non-empty list');
  else {
    routersRaw.forEach((r, i) => {
      const spec = parseRouter(r, `routers[${i}]`, base, errors);
      if (spec) routers.push(spec);
    });
    const seen = new Set<string>();
    for (const r of routers) {
      const key = `${r.family}/${r.vrid}`;
      if (seen.has(key)) errors.push(`routers: VRID ${r.vrid} is used twice for ${r.family}`);
      seen.add(key);
    }
    const vipOwner = new Map<string, number>();
    for (const r of routers) {
      for (const vip of r.vips) {
        const other = vipOwner.get(vip);
        if (other !== undefined) errors.push(`routers: VIP ${vip} is in VRID ${other} and VRID ${r.vrid}`);
        vipOwner.set(vip, r.vrid);
      }
    }
  }
  const xdp = parseXdpAnswers(doc['xdpAnswers'] ?? 'off');
  if ('error' in xdp) errors.push(`xdpAnswers: ${xdp.error}`);
  if (errors.length > 0 || 'error' in xdp) return { errors };
  return {
    config: {
      interface: ifname as string,
      metrics,
      routers,
      gratuitous,
      unicastPeers,
      ...(auth ? { auth } : {}),
      xdpAnswers: xdp.value,
    },
  };
}

function parseRouter(
  raw: unknown,
  at: string,
  base: { intervalMs: number; preempt: boolean; preemptDelayMs: number },
  errors: string[],
): StandaloneRouter | undefined {
  if (!isRecord(raw)) {
    errors.push(`${at}: must be a mapping`);
    return undefined;
  }
  const before = errors.length;
  const vrid = raw['vrid'];
  if (!Number.isInteger(vrid) || (vrid as number) < 1 || (vrid as number) > 255) {
    errors.push(`${at}.vrid: ${JSON.stringify(vrid)} is not 1..255`);
  }
  const priority = raw['priority'] ?? 100;
  // 255 belongs to the address owner (RFC 5798 §5.2.4); a speaker never owns its VIPs, so 1..254.
  if (!Number.isInteger(priority) || (priority as number) < 1 || (priority as number) > 254) {
    errors.push(`${at}.priority: ${JSON.stringify(priority)} is not 1..254`);
  }
  const intervalMs = duration(raw['advertInterval'], base.intervalMs, `${at}.advertInterval`, errors);
  const cs = advertIntervalCs(intervalMs);
  if ('error' in cs) errors.push(`${at}.advertInterval: ${cs.error}`);
  const preempt = bool(raw['preempt'], base.preempt, `${at}.preempt`, errors);
  const preemptDelayMs = duration(raw['preemptDelay'], base.preemptDelayMs, `${at}.preemptDelay`, errors);
  const vipsRaw = raw['vips'];
  const vips: string[] = [];
  const families = new Set<Family>();
  if (!Array.isArray(vipsRaw) || vipsRaw.length === 0) errors.push(`${at}.vips: required, a non-empty list`);
  else {
    for (const v of vipsRaw) {
      const ip = canonicalIp(v);
      if (ip === undefined) errors.push(`${at}.vips: ${JSON.stringify(v)} is not an IP address`);
      else {
        vips.push(ip);
        families.add(ip.includes(':') ? 'ipv6' : 'ipv4');
      }
    }
    if (families.size > 1) errors.push(`${at}.vips: mixes IPv4 and IPv6; VRRPv3 runs one router per family`);
  }
  if (errors.length > before) return undefined;
  return {
    vrid: vrid as number,
    family: [...families][0]!,
    priority: priority as number,
    advertIntervalCs: (cs as { cs: number }).cs,
    preempt,
    preemptDelayMs,
    vips,
  };
}

function duration(value: unknown, fallback: number, at: string, errors: string[]): number {
  if (value === undefined) return fallback;
  const ms = parseDuration(value);
  if (ms === undefined) {
    errors.push(`${at}: ${JSON.stringify(value)} is not a duration (e.g. 100ms, 1s)`);
    return fallback;
  }
  return ms;
}

function bool(value: unknown, fallback: boolean, at: string, errors: string[]): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') {
    errors.push(`${at}: ${JSON.stringify(value)} is not true or false`);
    return fallback;
  }
  return value;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
