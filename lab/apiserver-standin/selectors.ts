// selectors.ts — label selectors (apimachinery labels.Parse syntax) and field selectors (fields.ParseSelector),
// parsed once per request into predicates. Parse errors are 400 BadRequest, as on the real server.

import { badRequest } from './errors.ts';
import { getPath, type KubeObject } from './object.ts';
import type { ResourceDef } from './resources.ts';

/** LabelOp is one label-requirement operator; `exists`/`absent` are `key` and `!key`. */
export type LabelOp = 'exists' | 'absent' | 'eq' | 'ne' | 'in' | 'notin' | 'gt' | 'lt';

/** LabelRequirement is one comma-separated term of a label selector. */
export interface LabelRequirement {
  readonly key: string;
  readonly op: LabelOp;
  readonly values: readonly string[];
}

/** FieldRequirement is one term of a field selector. */
export interface FieldRequirement {
  readonly path: string;
  readonly op: 'eq' | 'ne';
  readonly value: string;
}

// [prefix/]name, where prefix is a DNS subdomain and name is a qualified name (validation.IsQualifiedName).
const KEY =
  '(?:[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?';
const VALUE = '(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?)?';
const KEY_RE = new RegExp(`^${KEY}$`);
const VALUE_RE = new RegExp(`^${VALUE}$`);
const EXISTS_RE = new RegExp(`^(!?)\\s*(${KEY})$`);
const SET_RE = new RegExp(`^(${KEY})\\s+(in|notin)\\s*\\((.*)\\)$`);
const EQ_RE = new RegExp(`^(${KEY})\\s*(==|=|!=)\\s*(${VALUE})$`);
const CMP_RE = new RegExp(`^(${KEY})\\s*(>|<)\\s*(-?\\d+)$`);

/** isLabelKey reports whether s is a valid label key (also used to validate `metadata.labels`). */
export function isLabelKey(s: string): boolean {
  return s.length > 0 && KEY_RE.test(s) && (s.split('/').pop() ?? '').length <= 63;
}

/** isLabelValue reports whether s is a valid label value (at most 63 characters). */
export function isLabelValue(s: string): boolean {
  return s.length <= 63 && VALUE_RE.test(s);
}

/** splitTopLevel splits on commas that are not inside parentheses. */
function splitTopLevel(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      out.push(s.slice(start, i));
      start = i + 1;
    }
  }
  out.push(s.slice(start));
  return out;
}

function parseLabelTerm(term: string): LabelRequirement {
  let m = EXISTS_RE.exec(term);
  if (m) return { key: m[2] ?? '', op: m[1] ? 'absent' : 'exists', values: [] };
  m = SET_RE.exec(term);
  if (m) {
    const values = (m[3] ?? '').split(',').map((v) => v.trim());
    if (values.some((v) => !VALUE_RE.test(v)))
      throw badRequest(`unable to parse requirement: invalid value in "${term}"`);
    return { key: m[1] ?? '', op: m[2] === 'in' ? 'in' : 'notin', values };
  }
  m = EQ_RE.exec(term);
  if (m) return { key: m[1] ?? '', op: m[2] === '!=' ? 'ne' : 'eq', values: [m[3] ?? ''] };
  m = CMP_RE.exec(term);
  if (m) return { key: m[1] ?? '', op: m[2] === '>' ? 'gt' : 'lt', values: [m[3] ?? ''] };
  throw badRequest(`unable to parse requirement: "${term}" is not a valid label selector term`);
}

/** parseLabelSelector parses `a=b,c!=d,e in (x,y),!f,g`; the empty selector matches everything. */
export function parseLabelSelector(selector: string): LabelRequirement[] {
  if (selector.trim() === '') return [];
  return splitTopLevel(selector).map((t) => parseLabelTerm(t.trim()));
}

function labelRequirementMatches(r: LabelRequirement, labels: Readonly<Record<string, string>>): boolean {
  const has = Object.hasOwn(labels, r.key);
  const v = labels[r.key];
  switch (r.op) {
    case 'exists':
      return has;
    case 'absent':
      return !has;
    case 'eq':
      return has && v === r.values[0];
    // != and notin also match objects that lack the label, as in apimachinery.
    case 'ne':
      return !has || v !== r.values[0];
    case 'in':
      return has && r.values.includes(v ?? '');
    case 'notin':
      return !has || !r.values.includes(v ?? '');
    case 'gt':
    case 'lt': {
      const n = Number(v);
      if (!has || !Number.isInteger(n)) return false;
      return r.op === 'gt' ? n > Number(r.values[0]) : n < Number(r.values[0]);
    }
  }
}

/** matchesLabels applies every requirement (they are ANDed). */
export function matchesLabels(reqs: readonly LabelRequirement[], labels: Record<string, string> | undefined): boolean {
  const l = labels ?? {};
  return reqs.every((r) => labelRequirementMatches(r, l));
}

/** unescapeField undoes fields.EscapeValue (`\\`, `\,`, `\=`). */
function unescapeField(s: string): string {
  return s.replace(/\\([\\,=])/g, '$1');
}

/** parseFieldSelector parses `metadata.name=x,spec.type!=ClusterIP`, refusing fields the kind does not index. */
export function parseFieldSelector(selector: string, def: ResourceDef): FieldRequirement[] {
  if (selector.trim() === '') return [];
  const terms = selector.split(/(?<!\\),/);
  return terms.map((raw) => {
    const term = raw.trim();
    const m = /^([^=!]+?)\s*(==|=|!=)\s*(.*)$/.exec(term);
    if (!m) throw badRequest(`invalid selector: '${selector}'; can't understand '${term}'`);
    const path = m[1] ?? '';
    if (path !== 'metadata.name' && path !== 'metadata.namespace' && !def.fieldSelectors.includes(path)) {
      throw badRequest(`field label not supported: ${path}`);
    }
    return { path, op: m[2] === '!=' ? 'ne' : 'eq', value: unescapeField(m[3] ?? '') };
  });
}

function fieldValue(obj: KubeObject, path: string): string {
  // core Events index `source` as source.component.
  const v = path === 'source' ? getPath(obj, 'source.component') : getPath(obj, path);
  if (v === undefined || v === null) return path === 'spec.unschedulable' ? 'false' : '';
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** matchesFields applies every field requirement. */
export function matchesFields(reqs: readonly FieldRequirement[], obj: KubeObject): boolean {
  return reqs.every((r) => (fieldValue(obj, r.path) === r.value) === (r.op === 'eq'));
}

/** SelectorQuery is what a list or watch request filters on. */
export interface SelectorQuery {
  readonly labelSelector?: string | undefined;
  readonly fieldSelector?: string | undefined;
}

/** compileSelector turns the query's selectors into one predicate (throws 400 on a bad selector). */
export function compileSelector(def: ResourceDef, q: SelectorQuery): (obj: KubeObject) => boolean {
  const labels = parseLabelSelector(q.labelSelector ?? '');
  const fields = parseFieldSelector(q.fieldSelector ?? '', def);
  if (labels.length === 0 && fields.length === 0) return () => true;
  return (obj) => matchesLabels(labels, obj.metadata.labels) && matchesFields(fields, obj);
}
