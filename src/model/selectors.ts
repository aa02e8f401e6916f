/**
 * Kubernetes label selectors (`metav1.LabelSelector`) as plain data: validated once when the config is parsed, then
 * matched against label maps. Semantics follow apimachinery's LabelSelectorAsSelector: requirements are ANDed, an
 * empty selector `{}` matches everything, `NotIn` and `DoesNotExist` match a missing label.
 */

/** LabelSelectorObject is the JSON shape of a `metav1.LabelSelector` as it appears in a custom resource. */
export interface LabelSelectorObject {
  readonly matchLabels?: Readonly<Record<string, string>> | null;
  readonly matchExpressions?: readonly LabelSelectorRequirementObject[] | null;
}

/** LabelSelectorRequirementObject is one `matchExpressions` entry as written. */
export interface LabelSelectorRequirementObject {
  readonly key: string;
  readonly operator: string;
  readonly values?: readonly string[] | null;
}

/** Operator is one of the four set-based operators a LabelSelector allows. */
export type Operator = 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';

/** Requirement is one validated condition; `matchLabels: {k: v}` becomes `{key: k, operator: 'In', values: [v]}`. */
export interface Requirement {
  readonly key: string;
  readonly operator: Operator;
  readonly values: readonly string[];
}

/** Selector is a validated label selector: all requirements must hold. No requirements matches everything. */
export interface Selector {
  readonly requirements: readonly Requirement[];
}

/** Labels is a label map, as on metadata.labels. */
export type Labels = Readonly<Record<string, string>>;

/** SelectorParse is the result of parseSelector. */
export type SelectorParse = { readonly selector: Selector } | { readonly error: string };

const OPERATORS: ReadonlySet<string> = new Set<Operator>(['In', 'NotIn', 'Exists', 'DoesNotExist']);
// Qualified name part and label value: alphanumeric at both ends, '-', '_', '.' inside (k8s validation.go).
const NAME_PART = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** validKey checks a label key: an optional DNS-subdomain prefix (≤253) and `/`, then a name (≤63). */
function validKey(key: string): boolean {
  const slash = key.indexOf('/');
  const name = slash < 0 ? key : key.slice(slash + 1);
  if (slash >= 0) {
    const prefix = key.slice(0, slash);
    if (prefix.length === 0 || prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix)) return false;
  }
  return name.length <= 63 && NAME_PART.test(name);
}

/** validValue checks a label value: empty, or ≤63 characters of the name-part alphabet. */
function validValue(value: string): boolean {
  return value === '' || (value.length <= 63 && NAME_PART.test(value));
}

/** parseSelector validates a LabelSelector object and returns it as a Selector, or the first reason it is invalid. */
export function parseSelector(obj: LabelSelectorObject | null | undefined): SelectorParse {
  if (obj === null || obj === undefined || typeof obj !== 'object') return { error: 'selector must be an object' };
  const requirements: Requirement[] = [];
  for (const [key, value] of Object.entries(obj.matchLabels ?? {})) {
    if (!validKey(key)) return { error: `invalid label key "${key}" in matchLabels` };
    if (typeof value !== 'string' || !validValue(value)) {
      return { error: `invalid label value "${String(value)}" for key "${key}" in matchLabels` };
    }
    requirements.push({ key, operator: 'In', values: [value] });
  }
  for (const expr of obj.matchExpressions ?? []) {
    const key = expr?.key;
    if (typeof key !== 'string' || !validKey(key))
      return { error: `invalid label key "${String(key)}" in matchExpressions` };
    if (!OPERATORS.has(expr.operator)) {
      return {
        error: `invalid operator "${String(expr.operator)}" for key "${key}" (In, NotIn, Exists, DoesNotExist)`,
      };
    }
    const operator = expr.operator as Operator;
    const values = expr.values ?? [];
    const setBased = operator === 'In' || operator === 'NotIn';
    if (setBased && values.length === 0) return { error: `operator ${operator} for key "${key}" needs values` };
    if (!setBased && values.length > 0) return { error: `operator ${operator} for key "${key}" takes no values` };
    for (const v of values) {
      if (typeof v !== 'string' || !validValue(v)) return { error: `invalid value "${String(v)}" for key "${key}"` };
    }
    requirements.push({ key, operator, values: [...new Set(values)].sort() });
  }
  return { selector: Object.freeze({ requirements: Object.freeze(requirements) }) };
}

/** matches says whether a label map satisfies every requirement of the selector. */
export function matches(selector: Selector, labels: Labels): boolean {
  for (const r of selector.requirements) {
    const has = Object.hasOwn(labels, r.key);
    switch (r.operator) {
      case 'In':
        if (!has || !r.values.includes(labels[r.key] as string)) return false;
        break;
      case 'NotIn':
        if (has && r.values.includes(labels[r.key] as string)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
    }
  }
  return true;
}

/** matchesAny says whether at least one selector of the list matches. */
export function matchesAny(selectors: readonly Selector[], labels: Labels): boolean {
  return selectors.some((s) => matches(s, labels));
}

/**
 * selectorKey is a canonical text of a selector, equal for selectors that mean the same requirements in any order:
 * MetalLB rejects a list that holds the same selector twice, and this is how duplicates are found.
 */
export function selectorKey(selector: Selector): string {
  return selector.requirements
    .map((r) => `${r.key}\u0000${r.operator}\u0000${r.values.join('\u0001')}`)
    .sort()
    .join('\u0002');
}

/** parseSelectorList parses a list of selectors, refusing invalid entries and duplicates (as MetalLB does). */
export function parseSelectorList(
  list: readonly LabelSelectorObject[] | null | undefined,
  field: string,
): { readonly selectors: readonly Selector[] } | { readonly error: string } {
  const selectors: Selector[] = [];
  const seen = new Set<string>();
  for (const [i, obj] of (list ?? []).entries()) {
    const parsed = parseSelector(obj);
    if ('error' in parsed) return { error: `${field}[${i}]: ${parsed.error}` };
    const key = selectorKey(parsed.selector);
    if (seen.has(key)) return { error: `${field}[${i}]: duplicate selector` };
    seen.add(key);
    selectors.push(parsed.selector);
  }
  return { selectors: Object.freeze(selectors) };
}
