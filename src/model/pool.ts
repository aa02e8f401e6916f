/**
 * One IPAddressPool custom resource (plain JSON, `metallb.io/v1beta1` shape) to one validated, frozen Pool. Overlap
 * between pools is a cross-object rule and lives in config.ts; everything that can be judged from the object alone
 * lives here.
 */
import { type CodedError, codedError } from '../errors.ts';
import { type IpRange, parseRange, rangesOverlap } from './ip-range.ts';
import { type LabelSelectorObject, type Labels, parseSelectorList, type Selector } from './selectors.ts';
import type { VridRange } from './vrid.ts';

export type { VridRange } from './vrid.ts';

/** ObjectMeta is the part of `metadata` the config reads. */
export interface ObjectMeta {
  readonly name?: string;
  readonly namespace?: string;
  readonly labels?: Readonly<Record<string, string>> | null;
  readonly annotations?: Readonly<Record<string, string>> | null;
  /** creationTimestamp is RFC 3339 text as the API server writes it; it orders pools when two overlap. */
  readonly creationTimestamp?: string | null;
}

/** ServiceAllocationObject is `spec.serviceAllocation` as written (Go field AllocateTo). */
export interface ServiceAllocationObject {
  readonly priority?: number | null;
  readonly namespaces?: readonly string[] | null;
  readonly namespaceSelectors?: readonly LabelSelectorObject[] | null;
  readonly serviceSelectors?: readonly LabelSelectorObject[] | null;
}

/** IPAddressPoolObject is an IPAddressPool custom resource as plain JSON. */
export interface IPAddressPoolObject {
  readonly metadata?: ObjectMeta;
  readonly spec?: {
    readonly addresses?: readonly string[] | null;
    readonly autoAssign?: boolean | null;
    readonly avoidBuggyIPs?: boolean | null;
    readonly serviceAllocation?: ServiceAllocationObject | null;
  } | null;
}

/** ServiceAllocation restricts which Services may take addresses from a pool, and orders pools. */
export interface ServiceAllocation {
  /** priority orders eligible pools: lower first; null (absent or 0, as in MetalLB) sorts after every set priority. */
  readonly priority: number | null;
  /** namespaces and namespaceSelectors together: when either is non-empty, the Service's namespace must match one. */
  readonly namespaces: readonly string[];
  readonly namespaceSelectors: readonly Selector[];
  /** serviceSelectors: when non-empty, the Service's labels must match at least one. */
  readonly serviceSelectors: readonly Selector[];
}

/** Pool is a validated address pool. Ranges keep the order of `spec.addresses`: allocation takes the first free. */
export interface Pool {
  readonly name: string;
  readonly labels: Labels;
  readonly ranges: readonly IpRange[];
  readonly autoAssign: boolean;
  readonly avoidBuggyIPs: boolean;
  readonly serviceAllocation: ServiceAllocation | null;
  readonly vridRange: VridRange;
  /** l2Advertisements names the valid L2Advertisements that announce this pool (empty: allocated, not announced). */
  readonly l2Advertisements: readonly string[];
}

/** VRID_RANGE_ANNOTATION narrows the virtual router ids of a pool's addresses, e.g. `"50-99"` or `"7"`. */
export const VRID_RANGE_ANNOTATION = 'metal-vrrp.io/vrid-range';

/** FULL_VRID_RANGE is every VRID RFC 5798 §5.2.3 allows. */
export const FULL_VRID_RANGE: VridRange = Object.freeze({ lo: 1, hi: 255 });

/** PoolParse is a pool without its L2 advertisements (they are joined later), plus non-fatal findings. */
export type PoolParse =
  | { readonly pool: Omit<Pool, 'l2Advertisements'>; readonly warnings: readonly CodedError[] }
  | { readonly error: CodedError };

/** parseVridRange reads the vrid-range annotation: `lo-hi` or a single id, within 1..255, lo ≤ hi. */
export function parseVridRange(text: string): VridRange | undefined {
  const m = /^\s*(\d{1,3})\s*(?:-\s*(\d{1,3})\s*)?$/.exec(text);
  if (!m) return undefined;
  const lo = Number(m[1]);
  const hi = m[2] === undefined ? lo : Number(m[2]);
  if (lo < 1 || hi > 255 || lo > hi) return undefined;
  return Object.freeze({ lo, hi });
}

/** isStringList says whether a value is an array of strings (JSON input is not to be trusted for shape). */
function isStringList(v: unknown): v is readonly string[] {
  return Array.isArray(v) && v.every((s) => typeof s === 'string');
}

/** parseAllocation validates `spec.serviceAllocation`; null when absent. */
function parseAllocation(obj: ServiceAllocationObject): { allocation: ServiceAllocation } | { error: string } {
  const priority = obj.priority ?? 0;
  if (!Number.isSafeInteger(priority)) return { error: `serviceAllocation.priority must be an integer` };
  const namespaces = obj.namespaces ?? [];
  if (!isStringList(namespaces)) return { error: 'serviceAllocation.namespaces must be a list of names' };
  if (new Set(namespaces).size !== namespaces.length)
    return { error: 'duplicate entry in serviceAllocation.namespaces' };
  const nsSel = parseSelectorList(obj.namespaceSelectors, 'serviceAllocation.namespaceSelectors');
  if ('error' in nsSel) return nsSel;
  const svcSel = parseSelectorList(obj.serviceSelectors, 'serviceAllocation.serviceSelectors');
  if ('error' in svcSel) return svcSel;
  return {
    allocation: Object.freeze({
      priority: priority === 0 ? null : priority,
      namespaces: Object.freeze([...namespaces]),
      namespaceSelectors: nsSel.selectors,
      serviceSelectors: svcSel.selectors,
    }),
  };
}

/**
 * parsePool validates one IPAddressPool object. Anything wrong with the addresses, flags or serviceAllocation rejects
 * the pool (INVALID_POOL / INVALID_SELECTOR); a bad vrid-range annotation only produces a warning and the full range,
 * because the pool is still usable and dropping it would take addresses away from running Services.
 */
export function parsePool(obj: IPAddressPoolObject): PoolParse {
  const name = obj?.metadata?.name;
  if (typeof name !== 'string' || name === '') return { error: codedError('INVALID_POOL', 'missing metadata.name') };
  const fail = (detail: string) => ({ error: codedError('INVALID_POOL', `pool ${name}: ${detail}`) });
  const spec = obj.spec ?? {};
  const addresses = spec.addresses ?? [];
  if (!isStringList(addresses) || addresses.length === 0) return fail('spec.addresses must list at least one range');
  const ranges: IpRange[] = [];
  for (const text of addresses) {
    const parsed = parseRange(text);
    if ('error' in parsed) return fail(parsed.error);
    const clash = ranges.find((r) => rangesOverlap(r, parsed.range));
    if (clash) return fail(`addresses "${clash.text}" and "${text}" overlap`);
    ranges.push(Object.freeze(parsed.range));
  }
  const autoAssign = spec.autoAssign ?? true;
  const avoidBuggyIPs = spec.avoidBuggyIPs ?? false;
  if (typeof autoAssign !== 'boolean') return fail('spec.autoAssign must be a boolean');
  if (typeof avoidBuggyIPs !== 'boolean') return fail('spec.avoidBuggyIPs must be a boolean');
  let serviceAllocation: ServiceAllocation | null = null;
  if (spec.serviceAllocation) {
    const parsed = parseAllocation(spec.serviceAllocation);
    if ('error' in parsed) {
      const code = parsed.error.includes('Selectors') ? 'INVALID_SELECTOR' : 'INVALID_POOL';
      return { error: codedError(code, `pool ${name}: ${parsed.error}`) };
    }
    serviceAllocation = parsed.allocation;
  }
  const warnings: CodedError[] = [];
  let vridRange = FULL_VRID_RANGE;
  const vridText = obj.metadata?.annotations?.[VRID_RANGE_ANNOTATION];
  if (vridText !== undefined) {
    const parsed = parseVridRange(vridText);
    if (parsed) vridRange = parsed;
    else warnings.push(codedError('INVALID_VRID_RANGE', `pool ${name}: "${vridText}" (want "lo-hi" within 1-255)`));
  }
  const pool = {
    name,
    labels: Object.freeze({ ...(obj.metadata?.labels ?? {}) }),
    ranges: Object.freeze(ranges),
    autoAssign,
    avoidBuggyIPs,
    serviceAllocation,
    vridRange,
  };
  return { pool, warnings };
}
