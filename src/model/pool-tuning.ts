/**
 * Per-pool failover tuning: annotations on an IPAddressPool, under the project's own prefix `metal-vrrp.io/` (the
 * prefix the controller already reads `metal-vrrp.io/vrid-range` under), parsed into one frozen PoolTuning.
 *
 * | annotation                         | default   | accepted                                                     |
 * | ---------------------------------- | --------- | ------------------------------------------------------------ |
 * | metal-vrrp.io/advert-interval      | 100ms     | 10ms .. 40.95s in 10 ms steps (RFC 5798 §5.2.7 centiseconds) |
 * | metal-vrrp.io/preempt              | true      | true, false                                                  |
 * | metal-vrrp.io/preempt-delay        | 0s        | 0s .. 1000s (keepalived's preempt_delay limit)               |
 * | metal-vrrp.io/gratuitous-count     | 3         | whole number 0 .. 100 (gratuitous ARP / unsolicited NA)      |
 * | metal-vrrp.io/gratuitous-spacing   | 100ms     | 0ms .. 10s                                                   |
 * | metal-vrrp.io/gratuitous-refresh   | 60s       | 0 (off), or 1s .. 1h: the master repeats one round this often |
 * | metal-vrrp.io/vrid-range           | 1-255     | "lo-hi" or "n" within 1..255 (the controller allocates)      |
 * | metal-vrrp.io/priorities           | (none)    | "node-a=250,node-b=200": node names, distinct 1..254         |
 * | metal-vrrp.io/peers                | multicast | multicast, unicast (adverts to the other eligible nodes)     |
 * | metal-vrrp.io/placement            | rendezvous| rendezvous, balanced (vrrp/placement.ts)                     |
 * | metal-vrrp.io/liveness             | (cluster) | bfd, off: BFD sessions between the routers' nodes (liveness.ts) |
 * | metal-vrrp.io/liveness-interval    | (cluster) | 10ms .. 10s, whole ms: BFD transmit and receive interval     |
 * | metal-vrrp.io/liveness-multiplier  | (cluster) | 2 .. 255: BFD Detect Mult                                    |
 * | metal-vrrp.io/auth-secret          | (off)     | a Secret name (speaker namespace): HMAC adverts (vrrp/auth.ts) |
 *
 * The health annotations (`metal-vrrp.io/health-*`, `kube-proxy-health`, `track-interface`, `resign-when-cordoned`)
 * are read by health-checks.ts into `health`.
 *
 * Durations take a unit ("100ms", "1.5s", "2m"); a bare number is refused, since keepalived users would read "1" as
 * seconds. An invalid value is reported as a problem and the default is used for that field alone (the pool keeps
 * serving); an unknown annotation under the prefix (a typo such as `advert-intervall`) is reported and ignored.
 */

import type { Placement } from '../../vrrp/priority.ts';
import {
  MAX_PREEMPT_DELAY_MS,
  PRIORITY_MAX,
  PRIORITY_MIN,
  type RouterConfigChanges,
} from '../../vrrp/router-config.ts';
import { DEFAULT_ADVERT_INTERVAL_CS } from '../../vrrp/timing.ts';
import { codedError } from '../errors.ts';
import {
  annotationReader,
  boundedDuration,
  durationMs,
  type Parsed,
  parseBoolean,
  type TuningProblem,
} from './annotation-values.ts';
import { advertIntervalCs } from './duration.ts';
import {
  DEFAULT_HEALTH_TUNING,
  HEALTH_ANNOTATIONS,
  type HealthTuning,
  parseHealthTuning,
  sameHealthTuning,
} from './health-checks.ts';
import {
  type LivenessTuning,
  NO_LIVENESS_TUNING,
  parseLivenessInterval,
  parseLivenessMode,
  parseLivenessMultiplier,
  sameLivenessTuning,
} from './liveness.ts';
import { FULL_VRID_RANGE, type IPAddressPoolObject, parseVridRange, VRID_RANGE_ANNOTATION } from './pool.ts';
import type { VridRange } from './vrid.ts';

/** TUNING_PREFIX is the annotation prefix of every metal-vrrp pool setting. */
export const TUNING_PREFIX = 'metal-vrrp.io/';

/** TUNING_ANNOTATIONS names each setting's annotation (see the table in the file comment). */
export const TUNING_ANNOTATIONS = Object.freeze({
  advertInterval: `${TUNING_PREFIX}advert-interval`,
  preempt: `${TUNING_PREFIX}preempt`,
  preemptDelay: `${TUNING_PREFIX}preempt-delay`,
  gratuitousCount: `${TUNING_PREFIX}gratuitous-count`,
  gratuitousSpacing: `${TUNING_PREFIX}gratuitous-spacing`,
  gratuitousRefresh: `${TUNING_PREFIX}gratuitous-refresh`,
  placement: `${TUNING_PREFIX}placement`,
  vridRange: VRID_RANGE_ANNOTATION,
  priorities: `${TUNING_PREFIX}priorities`,
  peers: `${TUNING_PREFIX}peers`,
  authSecret: `${TUNING_PREFIX}auth-secret`,
  liveness: `${TUNING_PREFIX}liveness`,
  livenessInterval: `${TUNING_PREFIX}liveness-interval`,
  livenessMultiplier: `${TUNING_PREFIX}liveness-multiplier`,
} as const);

/** GRATUITOUS_COUNT_MAX and GRATUITOUS_SPACING_MAX_MS bound the takeover announcement (keeps a burst finite). */
export const GRATUITOUS_COUNT_MAX = 100;
export const GRATUITOUS_SPACING_MAX_MS = 10_000;

/** PeerMode is how adverts travel: to the VRRP multicast group (RFC 5798 §5.1.1.2) or to each peer's InternalIP. */
export type PeerMode = 'multicast' | 'unicast';

/**
 * GratuitousTuning is how a takeover is announced: `count` frames per VIP, `spacingMs` apart; and, while master, one
 * more round every `refreshMs` (0: never), so switches whose MAC tables age out keep forwarding to the master
 * (keepalived's garp_master_refresh, MetalLB PR #3125).
 */
export interface GratuitousTuning {
  readonly count: number;
  readonly spacingMs: number;
  readonly refreshMs: number;
}

/** GRATUITOUS_REFRESH_MIN_MS and _MAX_MS bound the refresh (a refresh faster than a second is a flood). */
export const GRATUITOUS_REFRESH_MIN_MS = 1000;
export const GRATUITOUS_REFRESH_MAX_MS = 3_600_000;

/** PoolTuning is the failover tuning of one pool's virtual routers. Frozen. */
export interface PoolTuning {
  readonly advertIntervalCs: number;
  readonly preempt: boolean;
  readonly preemptDelayMs: number;
  readonly gratuitous: GratuitousTuning;
  readonly vridRange: VridRange;
  /** pinnedPriorities: node -> priority, for nodePriorities; empty when none are pinned. */
  readonly pinnedPriorities: ReadonlyMap<string, number>;
  readonly peers: PeerMode;
  /** authSecret names the Secret (speaker namespace) whose key authenticates adverts (vrrp/auth.ts); undefined: off. */
  readonly authSecret: string | undefined;
  /**
   * placement: how masters are spread. 'rendezvous' (default): each VIP's order of nodes is its own, so creating or
   * deleting a Service never moves another VIP, at the cost of spread (max/mean 1.22 on 10 nodes, 2 on 50).
   * 'balanced': bounded loads over the pool's routers (max/mean ≤ 1.1 where integers allow); a node loss still moves
   * only its own VIPs, but adding or removing Services can hand a few other VIPs over (a priority change, so a
   * graceful preemption, not a Master_Down wait).
   */
  readonly placement: Placement;
  /** health: the checks that lower this node's priority in the pool's routers (health-checks.ts). */
  readonly health: HealthTuning;
  /** liveness: the pool's BFD settings; unset fields take the speaker's cluster default (model/liveness.ts). */
  readonly liveness: LivenessTuning;
}

/** TuningField is one setting of PoolTuning. */
export type TuningField = keyof PoolTuning;

/** DEFAULT_POOL_TUNING is what a pool without annotations gets. */
export const DEFAULT_POOL_TUNING: PoolTuning = Object.freeze({
  advertIntervalCs: DEFAULT_ADVERT_INTERVAL_CS,
  preempt: true,
  preemptDelayMs: 0,
  // 60 s: well inside the 300 s a switch keeps a MAC by default (IEEE 802.1D aging time), one frame per VIP a minute.
  gratuitous: Object.freeze({ count: 3, spacingMs: 100, refreshMs: 60_000 }),
  vridRange: FULL_VRID_RANGE,
  pinnedPriorities: new Map<string, number>(),
  peers: 'multicast' as PeerMode,
  authSecret: undefined,
  placement: 'rendezvous' as Placement,
  health: DEFAULT_HEALTH_TUNING,
  liveness: NO_LIVENESS_TUNING,
});

export type { TuningProblem } from './annotation-values.ts';

/** TuningResult is always a usable tuning, plus every problem found (each problem field fell back to its default). */
export interface TuningResult {
  readonly tuning: PoolTuning;
  readonly problems: readonly TuningProblem[];
}

// A DNS-1123 subdomain: what a Node name must be.
const NODE_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function parseInterval(text: string): Parsed<number> {
  const ms = durationMs(text);
  if ('error' in ms) return ms;
  const cs = advertIntervalCs(ms.value);
  return 'error' in cs ? cs : { value: cs.cs };
}

function parseCount(text: string): Parsed<number> {
  if (!/^\s*\d{1,3}\s*$/.test(text) || Number(text) > GRATUITOUS_COUNT_MAX) {
    return { error: `"${text}" is not a whole number 0..${GRATUITOUS_COUNT_MAX}` };
  }
  return { value: Number(text) };
}

function parseRefresh(text: string): Parsed<number> {
  if (/^\s*(0|off)\s*$/i.test(text)) return { value: 0 };
  const ms = durationMs(text);
  if ('error' in ms) return ms;
  if (ms.value < GRATUITOUS_REFRESH_MIN_MS || ms.value > GRATUITOUS_REFRESH_MAX_MS) {
    return { error: `"${text}" is not 0 (off) or between 1s and 1h` };
  }
  return ms;
}

function parsePlacement(text: string): Parsed<Placement> {
  const t = text.trim().toLowerCase();
  if (t === 'rendezvous' || t === 'balanced') return { value: t };
  return { error: `"${text}" is not rendezvous or balanced` };
}

function parseRange(text: string): Parsed<VridRange> {
  const range = parseVridRange(text);
  return range ? { value: range } : { error: `"${text}" is not "lo-hi" within 1-255` };
}

function parsePeers(text: string): Parsed<PeerMode> {
  const t = text.trim().toLowerCase();
  if (t === 'multicast' || t === 'unicast') return { value: t };
  return { error: `"${text}" is not multicast or unicast` };
}

/** parseSecretName accepts a Secret name (a DNS-1123 subdomain, at most 253 characters). */
function parseSecretName(text: string): Parsed<string | undefined> {
  const t = text.trim();
  if (t.length > 253 || !NODE_NAME.test(t)) return { error: `"${text}" is not a Secret name` };
  return { value: t };
}

/**
 * parsePinned reads "node-a=250, node-b=200". One bad entry rejects the whole annotation: applying half of a pin list
 * would put nodes in an order nobody wrote. An empty value pins nothing.
 */
export function parsePinned(text: string): Parsed<ReadonlyMap<string, number>> {
  const pins = new Map<string, number>();
  const byPriority = new Map<number, string>();
  if (text.trim() === '') return { value: pins };
  for (const part of text.split(',')) {
    const m = /^\s*([^=\s]+)\s*=\s*(\d{1,3})\s*$/.exec(part);
    if (!m) return { error: `"${part.trim()}" is not node=priority` };
    const node = m[1]!;
    const priority = Number(m[2]);
    if (node.length > 253 || !NODE_NAME.test(node)) return { error: `"${node}" is not a node name` };
    if (priority < PRIORITY_MIN || priority > PRIORITY_MAX) {
      return { error: `${node}=${priority}: priority must be ${PRIORITY_MIN}..${PRIORITY_MAX}` };
    }
    if (pins.has(node)) return { error: `node ${node} is pinned twice` };
    const other = byPriority.get(priority);
    if (other !== undefined) return { error: `nodes ${other} and ${node} are both pinned to ${priority}` };
    pins.set(node, priority);
    byPriority.set(priority, node);
  }
  return { value: pins };
}

type Reader = <T>(annotation: string, parse: (text: string) => Parsed<T>, fallback: T) => T;

/** livenessOf reads the three liveness annotations; an absent or invalid one stays unset (the cluster default). */
function livenessOf(read: Reader): LivenessTuning {
  const A = TUNING_ANNOTATIONS;
  const mode = read(A.liveness, parseLivenessMode, undefined);
  const intervalMs = read(A.livenessInterval, parseLivenessInterval, undefined);
  const detectMult = read(A.livenessMultiplier, parseLivenessMultiplier, undefined);
  return Object.freeze({
    ...(mode === undefined ? {} : { mode }),
    ...(intervalMs === undefined ? {} : { intervalMs }),
    ...(detectMult === undefined ? {} : { detectMult }),
  });
}

/**
 * parsePoolTuning reads a pool's annotations. `pool` names the pool in problems. Never fails: a bad value is a
 * problem and that field's default.
 */
export function parsePoolTuning(
  pool: string,
  annotations: Readonly<Record<string, string>> | null | undefined,
): TuningResult {
  const ann = annotations ?? {};
  const problems: TuningProblem[] = [];
  const read = annotationReader(pool, ann, problems);
  const d = DEFAULT_POOL_TUNING;
  const A = TUNING_ANNOTATIONS;
  const tuning: PoolTuning = Object.freeze({
    advertIntervalCs: read(A.advertInterval, parseInterval, d.advertIntervalCs),
    preempt: read(A.preempt, parseBoolean, d.preempt),
    preemptDelayMs: read(A.preemptDelay, boundedDuration(MAX_PREEMPT_DELAY_MS, '1000s'), d.preemptDelayMs),
    gratuitous: Object.freeze({
      count: read(A.gratuitousCount, parseCount, d.gratuitous.count),
      spacingMs: read(A.gratuitousSpacing, boundedDuration(GRATUITOUS_SPACING_MAX_MS, '10s'), d.gratuitous.spacingMs),
      refreshMs: read(A.gratuitousRefresh, parseRefresh, d.gratuitous.refreshMs),
    }),
    vridRange: read(A.vridRange, parseRange, d.vridRange),
    pinnedPriorities: read(A.priorities, parsePinned, d.pinnedPriorities),
    peers: read(A.peers, parsePeers, d.peers),
    authSecret: read<string | undefined>(A.authSecret, parseSecretName, d.authSecret),
    placement: read(A.placement, parsePlacement, d.placement),
    health: parseHealthTuning(pool, ann, read, problems),
    liveness: livenessOf(read),
  });
  const known = new Set<string>([...Object.values(A), ...Object.values(HEALTH_ANNOTATIONS)]);
  for (const [annotation, value] of Object.entries(ann)) {
    if (annotation.startsWith(TUNING_PREFIX) && !known.has(annotation)) {
      problems.push({
        pool,
        annotation,
        value,
        error: codedError('UNKNOWN_TUNING_ANNOTATION', `pool ${pool}: ${annotation} (known: ${[...known].join(', ')})`),
      });
    }
  }
  return Object.freeze({ tuning, problems: Object.freeze(problems) });
}

/**
 * TuningChange says what a running speaker must do when a pool's tuning changes. No tuning change needs a router to
 * be stopped and started: interval, preempt and preempt delay go to the engine's `configure` event (a master sends
 * its next advert on the old schedule carrying the new interval, so backups learn it before their timers could
 * expire); pins change priorities, also through `configure`; gratuitous settings apply from the next takeover; the
 * peer mode only re-points where adverts go. A changed VRID range acts through the controller, which may renumber
 * VIPs; renumbered VIPs show up as other router keys in desired-routers (stop + start there).
 */
export interface TuningChange {
  /** effect: 'none'; 'live' (applied without any master change); 'failover' (applied live, but by design it may
   * hand mastership to another node: preempt turned on, pins changed, or VRIDs renumbered). */
  readonly effect: 'none' | 'live' | 'failover';
  readonly changed: readonly TuningField[];
  /** configure holds the engine fields for a `configure` event to every router of the pool (empty: none). */
  readonly configure: RouterConfigChanges;
  /** priorities: pins changed; recompute priorities (desired-routers) and send them with `configure`. */
  readonly priorities: boolean;
  /** gratuitous: the takeover announcement changed; used from the next takeover. */
  readonly gratuitous: boolean;
  /** transport: multicast ↔ unicast; the speaker re-points its adverts, router state is kept. */
  readonly transport: boolean;
  /** vridRange: the controller may renumber the pool's VIPs. */
  readonly vridRange: boolean;
}

function samePins(a: ReadonlyMap<string, number>, b: ReadonlyMap<string, number>): boolean {
  if (a.size !== b.size) return false;
  for (const [node, p] of a) if (b.get(node) !== p) return false;
  return true;
}

/** classifyTuningChange compares two tunings of one pool (see TuningChange). */
export function classifyTuningChange(before: PoolTuning, after: PoolTuning): TuningChange {
  const changed: TuningField[] = [];
  const configure: { -readonly [K in keyof RouterConfigChanges]: RouterConfigChanges[K] } = {};
  if (before.advertIntervalCs !== after.advertIntervalCs) {
    changed.push('advertIntervalCs');
    configure.advertIntervalCs = after.advertIntervalCs;
  }
  if (before.preempt !== after.preempt) {
    changed.push('preempt');
    configure.preempt = after.preempt;
  }
  if (before.preemptDelayMs !== after.preemptDelayMs) {
    changed.push('preemptDelayMs');
    configure.preemptDelayMs = after.preemptDelayMs;
  }
  const gratuitous = !sameGratuitous(before.gratuitous, after.gratuitous);
  if (gratuitous) changed.push('gratuitous');
  const vridRange = before.vridRange.lo !== after.vridRange.lo || before.vridRange.hi !== after.vridRange.hi;
  if (vridRange) changed.push('vridRange');
  const placement = before.placement !== after.placement;
  if (placement) changed.push('placement');
  const priorities = !samePins(before.pinnedPriorities, after.pinnedPriorities) || placement;
  if (!samePins(before.pinnedPriorities, after.pinnedPriorities)) changed.push('pinnedPriorities');
  const transport = before.peers !== after.peers;
  if (transport) changed.push('peers');
  // Speakers see a new auth-secret at slightly different times and refuse each other's adverts meanwhile.
  const auth = before.authSecret !== after.authSecret;
  if (auth) changed.push('authSecret');
  // Health settings act through the health monitor (new checks, new weights), never through the engine directly.
  if (!sameHealthTuning(before.health, after.health)) changed.push('health');
  if (!sameLivenessTuning(before.liveness, after.liveness)) changed.push('liveness');
  const moves = priorities || vridRange || auth || (!before.preempt && after.preempt);
  const effect = changed.length === 0 ? 'none' : moves ? 'failover' : 'live';
  return { effect, changed, configure, priorities, gratuitous, transport, vridRange };
}

/** PoolTunings is every pool's tuning (pool name -> tuning) and all problems found. */
export interface PoolTunings {
  readonly tunings: ReadonlyMap<string, PoolTuning>;
  readonly problems: readonly TuningProblem[];
}

/**
 * parsePoolTunings reads the tuning of every pool object as listed from the API (the validated Pool keeps no
 * annotations, so the raw objects are read). Objects without a name are skipped: parseConfig already reports them.
 */
export function parsePoolTunings(pools: readonly IPAddressPoolObject[]): PoolTunings {
  const tunings = new Map<string, PoolTuning>();
  const problems: TuningProblem[] = [];
  for (const obj of pools) {
    const name = obj?.metadata?.name;
    if (typeof name !== 'string' || name === '') continue;
    const parsed = parsePoolTuning(name, obj.metadata?.annotations);
    tunings.set(name, parsed.tuning);
    problems.push(...parsed.problems);
  }
  return { tunings, problems };
}

/** tuningOf is a pool's tuning, or the defaults for a pool with none recorded. */
export function tuningOf(tunings: ReadonlyMap<string, PoolTuning>, pool: string | undefined): PoolTuning {
  return (pool === undefined ? undefined : tunings.get(pool)) ?? DEFAULT_POOL_TUNING;
}

/** sameGratuitous compares every announcement setting. */
export function sameGratuitous(a: GratuitousTuning, b: GratuitousTuning): boolean {
  return a.count === b.count && a.spacingMs === b.spacingMs && a.refreshMs === b.refreshMs;
}
