/**
 * The controller's configuration as one pure function, MetalLB's `config.For`: a snapshot of the custom resources in,
 * a validated, frozen config out. Unlike MetalLB, one bad object does not reject the whole configuration: it is left
 * out and reported as a problem (Event / status condition on that object), and every other pool keeps working — a typo
 * in a new pool must not stop allocation for the whole cluster.
 */
import type { CodedError, ErrorCode } from '../errors.ts';
import { codedError } from '../errors.ts';
import { rangesOverlap } from './ip-range.ts';
import { type IPAddressPoolObject, type ObjectMeta, type Pool, parsePool } from './pool.ts';
import {
  type PreferredNodeSelector,
  type PreferredNodeSelectorObject,
  parsePreferredNodeSelectors,
} from './preferred-nodes.ts';
import { type LabelSelectorObject, type Labels, matchesAny, parseSelectorList, type Selector } from './selectors.ts';

export type { IPAddressPoolObject, ObjectMeta, Pool, ServiceAllocation, VridRange } from './pool.ts';
export { FULL_VRID_RANGE, VRID_RANGE_ANNOTATION } from './pool.ts';

/** L2AdvertisementObject is an L2Advertisement custom resource as plain JSON. */
export interface L2AdvertisementObject {
  readonly metadata?: ObjectMeta;
  readonly spec?: {
    readonly ipAddressPools?: readonly string[] | null;
    readonly ipAddressPoolSelectors?: readonly LabelSelectorObject[] | null;
    readonly nodeSelectors?: readonly LabelSelectorObject[] | null;
    readonly interfaces?: readonly string[] | null;
    readonly preferredNodeSelectors?: readonly PreferredNodeSelectorObject[] | null;
  } | null;
}

/** NamespaceObject is the part of a Namespace the config keeps: its name and labels. */
export interface NamespaceObject {
  readonly name: string;
  readonly labels?: Readonly<Record<string, string>> | null;
}

/** ConfigSnapshot is everything parseConfig reads, as listed from the API (or a file) at one moment. */
export interface ConfigSnapshot {
  readonly pools: readonly IPAddressPoolObject[];
  readonly l2Advertisements: readonly L2AdvertisementObject[];
  readonly namespaces?: readonly NamespaceObject[];
}

/** L2Advertisement is a validated L2Advertisement with its pools resolved to names. */
export interface L2Advertisement {
  readonly name: string;
  /** pools are the names of the valid pools this advertisement announces, sorted. */
  readonly pools: readonly string[];
  /** nodeSelectors: empty means every node (MetalLB's default). */
  readonly nodeSelectors: readonly Selector[];
  /** interfaces: empty means every interface. */
  readonly interfaces: readonly string[];
  /** preferredNodeSelectors rank the nodes this advertisement selects (preferred-nodes.ts); empty: no preference. */
  readonly preferredNodeSelectors: readonly PreferredNodeSelector[];
}

/** Config is the validated configuration. Everything in it is frozen. */
export interface Config {
  /** pools are the valid pools, sorted by name. */
  readonly pools: readonly Pool[];
  readonly poolsByName: ReadonlyMap<string, Pool>;
  readonly l2Advertisements: readonly L2Advertisement[];
  /**
   * namespaceLabels is the snapshot's namespaces (name -> labels), so the reconciler can build allocation requests
   * from the same snapshot. The allocator matches namespaceSelectors against the request's namespace labels at
   * allocation time rather than resolving them to names here as MetalLB does: a relabelled namespace then takes
   * effect on its next Service event without re-parsing the config.
   */
  readonly namespaceLabels: ReadonlyMap<string, Labels>;
}

/** ConfigProblem is one finding about one object, for an Event or a status condition on it. */
export interface ConfigProblem {
  readonly kind: 'IPAddressPool' | 'L2Advertisement';
  readonly name: string;
  readonly code: ErrorCode;
  readonly message: string;
  /** rejected is true when the object was left out of the config; false for a warning (e.g. a defaulted field). */
  readonly rejected: boolean;
}

/** ConfigResult is what parseConfig returns: always a config (possibly with no pools), and the problems found. */
export interface ConfigResult {
  readonly config: Config;
  readonly problems: readonly ConfigProblem[];
}

/** problem turns a CodedError about an object into a ConfigProblem. */
function problem(kind: ConfigProblem['kind'], name: string, err: CodedError, rejected: boolean): ConfigProblem {
  return Object.freeze({ kind, name, code: err.code, message: err.message, rejected });
}

/**
 * byAge orders objects oldest first (creationTimestamp; a missing one counts as newest), then by name: the order in
 * which pools claim their addresses. The older of two overlapping pools is the one already serving addresses, so the
 * newcomer is the one rejected — and the choice does not depend on list order.
 */
function byAge(a: ObjectMeta | undefined, b: ObjectMeta | undefined): number {
  const ta = a?.creationTimestamp ?? '\uffff';
  const tb = b?.creationTimestamp ?? '\uffff';
  if (ta !== tb) return ta < tb ? -1 : 1;
  const na = a?.name ?? '';
  const nb = b?.name ?? '';
  return na < nb ? -1 : na > nb ? 1 : 0;
}

/**
 * parseConfig validates a snapshot. Pools are judged oldest first: an invalid pool is rejected alone; a pool whose
 * addresses overlap an already accepted (older) pool is rejected with POOL_OVERLAP naming that pool, and the older pool
 * keeps working (MetalLB rejects the whole config instead). A duplicate name keeps the older object.
 */
export function parseConfig(snapshot: ConfigSnapshot): ConfigResult {
  const problems: ConfigProblem[] = [];
  const accepted: Omit<Pool, 'l2Advertisements'>[] = [];
  const taken = new Set<string>();
  const ordered = [...(snapshot.pools ?? [])].sort((a, b) => byAge(a?.metadata, b?.metadata));
  for (const obj of ordered) {
    const name = obj?.metadata?.name ?? '';
    const parsed = parsePool(obj);
    if ('error' in parsed) {
      problems.push(problem('IPAddressPool', name, parsed.error, true));
      continue;
    }
    for (const w of parsed.warnings) problems.push(problem('IPAddressPool', name, w, false));
    const pool = parsed.pool;
    if (taken.has(pool.name)) {
      problems.push(problem('IPAddressPool', name, codedError('INVALID_POOL', `duplicate pool name ${name}`), true));
      continue;
    }
    const overlap = findOverlap(pool, accepted);
    if (overlap) {
      problems.push(problem('IPAddressPool', name, codedError('POOL_OVERLAP', overlap), true));
      continue;
    }
    taken.add(pool.name);
    accepted.push(pool);
  }

  const ads = parseL2Advertisements(snapshot.l2Advertisements ?? [], accepted, problems);
  const pools = accepted
    .map((p) =>
      Object.freeze({
        ...p,
        l2Advertisements: Object.freeze(ads.filter((a) => a.pools.includes(p.name)).map((a) => a.name)),
      }),
    )
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  const namespaceLabels = new Map<string, Labels>();
  for (const ns of snapshot.namespaces ?? []) namespaceLabels.set(ns.name, Object.freeze({ ...(ns.labels ?? {}) }));

  const config: Config = Object.freeze({
    pools: Object.freeze(pools),
    poolsByName: new Map(pools.map((p) => [p.name, p])),
    l2Advertisements: Object.freeze(ads),
    namespaceLabels,
  });
  return Object.freeze({ config, problems: Object.freeze(problems) });
}

/** findOverlap describes the first overlap of a pool with accepted pools, or undefined. */
function findOverlap(pool: Omit<Pool, 'l2Advertisements'>, accepted: readonly Omit<Pool, 'l2Advertisements'>[]) {
  for (const other of accepted) {
    for (const r of pool.ranges) {
      const clash = other.ranges.find((o) => rangesOverlap(o, r));
      if (clash) return `pool ${pool.name} address "${r.text}" overlaps "${clash.text}" of pool ${other.name}`;
    }
  }
  return undefined;
}

/**
 * parseL2Advertisements validates the advertisements and resolves the pools each announces: the named pools plus the
 * pools matched by ipAddressPoolSelectors, or every pool when both are empty (MetalLB's rule). A name that is not a
 * valid pool is reported as a warning — it may be a pool that was rejected or is not created yet — not an error.
 */
function parseL2Advertisements(
  objs: readonly L2AdvertisementObject[],
  pools: readonly Omit<Pool, 'l2Advertisements'>[],
  problems: ConfigProblem[],
): L2Advertisement[] {
  const out: L2Advertisement[] = [];
  const names = new Set<string>();
  const ordered = [...objs].sort((a, b) => byAge(a?.metadata, b?.metadata));
  for (const obj of ordered) {
    const name = obj?.metadata?.name ?? '';
    const reject = (detail: string) =>
      problems.push(
        problem('L2Advertisement', name, codedError('INVALID_L2_ADVERTISEMENT', `${name || '?'}: ${detail}`), true),
      );
    if (name === '') {
      reject('missing metadata.name');
      continue;
    }
    if (names.has(name)) {
      reject('duplicate name');
      continue;
    }
    const spec = obj.spec ?? {};
    const poolNames = spec.ipAddressPools ?? [];
    const interfaces = spec.interfaces ?? [];
    if (!Array.isArray(poolNames) || !poolNames.every((p) => typeof p === 'string')) {
      reject('ipAddressPools must be a list of names');
      continue;
    }
    if (new Set(poolNames).size !== poolNames.length) {
      reject('duplicate entry in ipAddressPools');
      continue;
    }
    if (!Array.isArray(interfaces) || !interfaces.every((i) => typeof i === 'string' && i !== '')) {
      reject('interfaces must be a list of interface names');
      continue;
    }
    const poolSel = parseSelectorList(spec.ipAddressPoolSelectors, 'ipAddressPoolSelectors');
    const nodeSel = parseSelectorList(spec.nodeSelectors, 'nodeSelectors');
    if ('error' in poolSel || 'error' in nodeSel) {
      const detail = 'error' in poolSel ? poolSel.error : 'error' in nodeSel ? nodeSel.error : '';
      problems.push(problem('L2Advertisement', name, codedError('INVALID_SELECTOR', `${name}: ${detail}`), true));
      continue;
    }
    const preferred = parsePreferredNodeSelectors(spec.preferredNodeSelectors);
    if ('error' in preferred) {
      if (!preferred.selector) reject(preferred.error);
      else {
        const err = codedError('INVALID_SELECTOR', `${name}: ${preferred.error}`);
        problems.push(problem('L2Advertisement', name, err, true));
      }
      continue;
    }
    const all = poolNames.length === 0 && poolSel.selectors.length === 0;
    const selected = new Set<string>();
    for (const p of pools) {
      if (all || poolNames.includes(p.name) || matchesAny(poolSel.selectors, p.labels)) selected.add(p.name);
    }
    for (const p of poolNames) {
      if (!selected.has(p)) {
        problems.push(problem('L2Advertisement', name, codedError('UNKNOWN_POOL', `${name} names pool ${p}`), false));
      }
    }
    names.add(name);
    out.push(
      Object.freeze({
        name,
        pools: Object.freeze([...selected].sort()),
        nodeSelectors: nodeSel.selectors,
        interfaces: Object.freeze([...interfaces]),
        preferredNodeSelectors: preferred.preferred,
      }),
    );
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
