/**
 * L2Advertisement `preferredNodeSelectors` (MetalLB main, design "Preferred Node Selection for L2 Mode"): soft node
 * preferences, shaped like Kubernetes' PreferredSchedulingTerm — `{ weight: 1..100, preference: LabelSelector }`.
 * They never make a node eligible or ineligible (`nodeSelectors` does that); they rank the eligible ones.
 *
 * Scores, as MetalLB computes them: within one advertisement, a node scores the sum of the weights of the preferred
 * selectors it matches, but only if the advertisement's own nodeSelectors select it (an advertisement never lifts a
 * node it does not announce from); a VIP's score for a node is the sum over the advertisements of the VIP's pool.
 * Nodes that match nothing score 0. Higher scores rank first; the hash orders nodes of equal score.
 */
import {
  type LabelSelectorObject,
  type Labels,
  matches,
  matchesAny,
  parseSelector,
  type Selector,
} from './selectors.ts';

/** PREFERRED_WEIGHT_MIN and PREFERRED_WEIGHT_MAX bound a weight, as MetalLB's CRD (kubebuilder Minimum/Maximum). */
export const PREFERRED_WEIGHT_MIN = 1;
export const PREFERRED_WEIGHT_MAX = 100;

/** PreferredNodeSelectorObject is one `preferredNodeSelectors` entry as written. */
export interface PreferredNodeSelectorObject {
  readonly weight?: unknown;
  readonly preference?: LabelSelectorObject | null;
}

/** PreferredNodeSelector is a validated entry. */
export interface PreferredNodeSelector {
  readonly weight: number;
  readonly preference: Selector;
}

/**
 * parsePreferredNodeSelectors validates the list: each weight an integer in 1..100 and each preference a valid
 * label selector (both required, as in MetalLB's CRD). The first problem rejects the advertisement, like a bad
 * nodeSelector does; `selector` tells a bad selector (INVALID_SELECTOR) from a bad entry (INVALID_L2_ADVERTISEMENT).
 */
export function parsePreferredNodeSelectors(
  list: readonly PreferredNodeSelectorObject[] | null | undefined,
): { readonly preferred: readonly PreferredNodeSelector[] } | { readonly error: string; readonly selector: boolean } {
  if (list === null || list === undefined) return { preferred: Object.freeze([]) };
  if (!Array.isArray(list)) return { error: 'preferredNodeSelectors must be a list', selector: false };
  const out: PreferredNodeSelector[] = [];
  for (const [i, entry] of list.entries()) {
    const at = `preferredNodeSelectors[${i}]`;
    if (entry === null || typeof entry !== 'object') return { error: `${at}: must be an object`, selector: false };
    const w = entry.weight;
    if (typeof w !== 'number' || !Number.isInteger(w) || w < PREFERRED_WEIGHT_MIN || w > PREFERRED_WEIGHT_MAX) {
      return {
        error: `${at}.weight: ${String(w)} is not an integer in ${PREFERRED_WEIGHT_MIN}..${PREFERRED_WEIGHT_MAX}`,
        selector: false,
      };
    }
    if (entry.preference === undefined || entry.preference === null)
      return { error: `${at}.preference: required`, selector: false };
    const parsed = parseSelector(entry.preference);
    if ('error' in parsed) return { error: `${at}.preference: ${parsed.error}`, selector: true };
    out.push(Object.freeze({ weight: w, preference: parsed.selector }));
  }
  return { preferred: Object.freeze(out) };
}

/** PreferringAdvertisement is the part of a validated L2Advertisement scoring reads. */
export interface PreferringAdvertisement {
  readonly nodeSelectors: readonly Selector[];
  readonly preferredNodeSelectors: readonly PreferredNodeSelector[];
}

/** advertisementScore is one advertisement's score for a node: 0 when its nodeSelectors do not select the node. */
export function advertisementScore(ad: PreferringAdvertisement, labels: Labels): number {
  if (ad.preferredNodeSelectors.length === 0) return 0;
  if (ad.nodeSelectors.length > 0 && !matchesAny(ad.nodeSelectors, labels)) return 0;
  return ad.preferredNodeSelectors.reduce((sum, p) => sum + (matches(p.preference, labels) ? p.weight : 0), 0);
}

/**
 * preferenceScores: node -> score summed over `ads` (the advertisements of the pools concerned), only nodes scoring
 * above 0. Empty when no advertisement has preferences, so the orders are those of plain hashing.
 */
export function preferenceScores(
  ads: readonly PreferringAdvertisement[],
  nodes: readonly { readonly name: string; readonly labels: Labels }[],
): Map<string, number> {
  const out = new Map<string, number>();
  if (!ads.some((a) => a.preferredNodeSelectors.length > 0)) return out;
  const seen = new Set<string>();
  for (const node of nodes) {
    // A name listed twice counts once, first entry wins (as in eligibleNodes).
    if (seen.has(node.name)) continue;
    seen.add(node.name);
    const score = ads.reduce((sum, a) => sum + advertisementScore(a, node.labels), 0);
    if (score > 0) out.set(node.name, score);
  }
  return out;
}
