// manifests-dashboard.test.ts — the Grafana dashboard (manifests/grafana/metal-vrrp-dashboard.json) only queries what
// exists: every metric name in its PromQL appears in the exposition of the registries src/metrics.ts builds (each
// metric given a sample value, so labelled series show up), and every label it groups or filters by is a label of
// those series or a target label that the Prometheus Operator (with our ServiceMonitors) attaches. It also checks the
// dashboard is importable as is (a $datasource variable, no hard-wired data source) and that METRICS.txt lists
// exactly the metrics it queries.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Registry } from 'prom-client';
import { parse as parseYaml } from 'yaml';
import { createControllerMetrics, createSpeakerMetrics } from '../../src/metrics.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const grafana = join(root, 'manifests/grafana');

// --- PromQL: which metrics and labels an expression uses ---

const KEYWORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'offset',
  'and',
  'or',
  'unless',
]);

/** metricNames returns the metric names a PromQL expression selects (not functions, labels, keywords or durations). */
function metricNames(expr: string): string[] {
  const labelValues = /^\s*label_values\(\s*([a-zA-Z_:][\w:]*)\s*,\s*\w+\s*\)\s*$/.exec(expr);
  if (labelValues) return [labelValues[1]!];
  const s = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\$\{?\w+\}?/g, ' ');
  const out: string[] = [];
  for (const m of s.matchAll(/[a-zA-Z_:][\w:]*/g)) {
    const before = s[m.index - 1] ?? ' ';
    if (/[\d.]/.test(before)) continue; // 5m, 1e3
    if (
      s
        .slice(m.index + m[0].length)
        .trimStart()
        .startsWith('(')
    )
      continue; // function or aggregation
    if (!KEYWORDS.has(m[0])) out.push(m[0]);
  }
  return out;
}

/** labelNames returns the labels a PromQL expression groups, joins or filters by, and those label_values reads. */
function labelNames(expr: string): string[] {
  const out = new Set<string>();
  const labelValues = /^\s*label_values\(\s*[a-zA-Z_:][\w:]*\s*,\s*(\w+)\s*\)\s*$/.exec(expr);
  if (labelValues) out.add(labelValues[1]!);
  const s = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  for (const m of s.matchAll(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g)) {
    for (const l of m[1]!.split(',')) if (l.trim()) out.add(l.trim());
  }
  for (const m of s.matchAll(/\{([^}]*)\}/g)) {
    for (const matcher of m[1]!.matchAll(/([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)/g)) out.add(matcher[1]!);
  }
  return [...out];
}

test('metricNames finds metrics and skips functions, labels, keywords and durations', () => {
  const cases: [string, string[]][] = [
    ['up', ['up']],
    ['sum by (reason) (rate(a_total{node=~"$node"}[$__rate_interval]))', ['a_total']],
    ['sum(rate(a_total[5m])) by (node) / on (node) group_left b offset 1h', ['a_total', 'b']],
    ['max by (pool) (a) / max by (pool) (b) > bool 0.5e1', ['a', 'b']],
    ['label_values(metal_vrrp_vip_master, node)', ['metal_vrrp_vip_master']],
    ['c{reason="sum(x)"} == 1', ['c']],
  ];
  for (const [expr, want] of cases) assert.deepEqual(metricNames(expr), want, expr);
});

test('labelNames finds grouping, join, matcher and label_values labels', () => {
  const cases: [string, string[]][] = [
    ['up', []],
    ['sum by (reason, node) (rate(a_total{node=~"$node", x!="a=b"}[5m]))', ['reason', 'node', 'x']],
    ['a / on (pool) group_left (family) b', ['pool', 'family']],
    ['label_values(metal_vrrp_vip_master, node)', ['node']],
  ];
  for (const [expr, want] of cases) assert.deepEqual(labelNames(expr).sort(), want.sort(), expr);
});

// --- the exposition of src/metrics.ts ---

interface Series {
  readonly component: 'speaker' | 'controller';
  readonly labels: ReadonlySet<string>;
}

/** sampleEveryMetric gives every metric of the registry one sample with every label set, so each shows a series. */
function sampleEveryMetric(registry: Registry): void {
  for (const metric of registry.getMetricsAsArray()) {
    const m = metric as unknown as {
      labelNames?: string[];
      inc?: (labels: object, v: number) => void;
      set?: (labels: object, v: number) => void;
      observe?: (labels: object, v: number) => void;
    };
    const labels = Object.fromEntries((m.labelNames ?? []).map((l) => [l, 'sample']));
    if (m.set) m.set(labels, 1);
    else if (m.inc) m.inc(labels, 1);
    else if (m.observe) m.observe(labels, 1);
    else assert.fail(`metric ${String((metric as { name?: string }).name)}: no way to give it a sample`);
  }
}

/** parseExposition maps each series name in a Prometheus text exposition to its label names. */
function parseExposition(text: string): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>(); // metric name -> label names seen on its samples
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+\S+/.exec(line);
    assert.ok(m, `unparsable exposition line: ${line}`);
    const labels = out.get(m[1]!) ?? new Set<string>();
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_]\w*)="(?:[^"\\]|\\.)*"/g)) labels.add(l[1]!);
    out.set(m[1]!, labels);
  }
  return out;
}

async function exposition(): Promise<Map<string, Series>> {
  const out = new Map<string, Series>(); // series name (histogram/summary parts included) -> component and labels
  const components = [
    ['speaker', createSpeakerMetrics().registry],
    ['controller', createControllerMetrics().registry],
  ] as const;
  for (const [component, registry] of components) {
    sampleEveryMetric(registry);
    for (const [name, labels] of parseExposition(await registry.metrics())) {
      const seen = out.get(name);
      out.set(name, seen ? { component, labels: new Set([...seen.labels, ...labels]) } : { component, labels });
    }
  }
  return out;
}

test('parseExposition reads names and label names, and rejects garbage', () => {
  const got = parseExposition('# HELP a x\n# TYPE a counter\na{x="1",y="a\\"b"} 1\nb 2\n');
  assert.deepEqual(
    [...got.entries()].map(([k, v]) => [k, [...v]]),
    [
      ['a', ['x', 'y']],
      ['b', []],
    ],
  );
  assert.throws(() => parseExposition('{x="1"} 1\n'), /unparsable/);
});

// --- the dashboard ---

interface Target {
  expr?: string;
  legendFormat?: string;
  datasource?: { uid: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  targets?: Target[];
}
interface Dashboard {
  uid: string;
  title: string;
  id: unknown;
  panels: Panel[];
  templating: { list: { name: string; type: string; query?: string | { query: string } }[] };
}
// Grafana's variable syntax, not a template literal.
const DATASOURCE_UID = '$' + '{datasource}';
const dashboard = JSON.parse(readFileSync(join(grafana, 'metal-vrrp-dashboard.json'), 'utf8')) as Dashboard;

/** queries are every PromQL expression of the dashboard, with the legend labels it prints. */
const queries: { where: string; expr: string; legend: string[] }[] = [
  ...dashboard.panels.flatMap((p) =>
    (p.targets ?? []).map((t) => ({
      where: p.title,
      expr: t.expr ?? '',
      legend: [...(t.legendFormat ?? '').matchAll(/\{\{\s*(\w+)\s*\}\}/g)].map((m) => m[1]!),
    })),
  ),
  ...dashboard.templating.list.flatMap((v) =>
    v.type === 'query' && v.query
      ? [{ where: `variable ${v.name}`, expr: typeof v.query === 'string' ? v.query : v.query.query, legend: [] }]
      : [],
  ),
];

test('dashboard is importable as is: no fixed id, unique panel ids, every query on the $datasource variable', () => {
  assert.ok(dashboard.uid && dashboard.title);
  assert.equal(dashboard.id, null, 'an id would clash with the importing Grafana');
  assert.ok(dashboard.templating.list.some((v) => v.name === 'datasource' && v.type === 'datasource'));
  const ids = dashboard.panels.map((p) => p.id);
  assert.equal(new Set(ids).size, ids.length);
  for (const p of dashboard.panels) {
    assert.equal(p.datasource?.uid, DATASOURCE_UID, p.title);
    assert.ok((p.targets ?? []).length > 0, `${p.title}: no query`);
    for (const t of p.targets ?? []) assert.ok(t.expr && t.datasource?.uid === DATASOURCE_UID, p.title);
  }
});

test('dashboard shows masters over time, transitions, adverts and ARP/NDP per node, and pool usage', () => {
  const uses = (metric: string, type?: string) =>
    dashboard.panels.some(
      (p) => (type === undefined || p.type === type) && (p.targets ?? []).some((t) => t.expr?.includes(metric)),
    );
  assert.ok(uses('metal_vrrp_vip_master', 'state-timeline'), 'master of each VIP over time');
  assert.ok(uses('metal_vrrp_transitions_total'));
  for (const m of ['adverts_sent', 'adverts_received', 'arp_replies', 'ndp_replies']) {
    const q = queries.find((x) => x.expr.includes(`metal_vrrp_${m}_total`));
    assert.ok(q && labelNames(q.expr).includes('node'), `${m} per node`);
  }
  assert.ok(uses('metal_vrrp_pool_addresses_in_use') && uses('metal_vrrp_pool_addresses'), 'pool usage');
});

test('every metric the dashboard queries exists in the exposition of src/metrics.ts', async () => {
  const series = await exposition();
  const used = new Set(queries.flatMap((q) => metricNames(q.expr)));
  assert.ok(used.size >= 5, `only ${used.size} metrics found in the dashboard's queries`);
  const missing = [...used].filter((m) => !series.has(m));
  assert.deepEqual(missing, [], `queried but not exported: ${missing.join(', ')}`);
});

// Labels the Prometheus Operator puts on every target of a ServiceMonitor, plus `node` that our speaker
// ServiceMonitor adds from the pod's node (components/prometheus/servicemonitors.yaml).
const OPERATOR_TARGET_LABELS = ['namespace', 'service', 'pod', 'container', 'endpoint', 'job', 'instance'];
interface ServiceMonitorDoc {
  metadata: { name: string };
  spec: { endpoints: { honorLabels?: boolean; relabelings?: { sourceLabels?: string[]; targetLabel?: string }[] }[] };
}
const monitors = new Map(
  readFileSync(join(root, 'manifests/components/prometheus/servicemonitors.yaml'), 'utf8')
    .split(/^---$/m)
    .map((doc) => parseYaml(doc) as ServiceMonitorDoc)
    .map((m) => [m.metadata.name, m.spec.endpoints[0]!]),
);
function targetLabels(component: string): string[] {
  const endpoint = monitors.get(component);
  assert.ok(endpoint, `no ServiceMonitor ${component}`);
  return [...OPERATOR_TARGET_LABELS, ...(endpoint.relabelings ?? []).flatMap((r) => r.targetLabel ?? [])];
}

test('every label the dashboard groups, filters or prints by exists on the series it queries', async () => {
  const series = await exposition();
  for (const q of queries) {
    const metrics = metricNames(q.expr).flatMap((m) => series.get(m) ?? []);
    const available = new Set(metrics.flatMap((s) => [...s.labels, ...targetLabels(s.component)]));
    for (const l of [...labelNames(q.expr), ...q.legend]) {
      assert.ok(available.has(l), `${q.where}: label ${l} is on none of ${metricNames(q.expr).join(', ')}`);
    }
  }
});

test('a metric label the dashboard uses that is also a target label survives scraping (honorLabels)', async () => {
  // Without honorLabels Prometheus renames a scraped label that clashes with a target label to exported_<name>:
  // metal_vrrp_vip_master's `service` (the LoadBalancer Service) would read "speaker-metrics".
  const series = await exposition();
  for (const q of queries) {
    for (const m of metricNames(q.expr)) {
      const s = series.get(m);
      if (!s) continue;
      const clashes = labelNames(q.expr).filter((l) => s.labels.has(l) && targetLabels(s.component).includes(l));
      if (clashes.length > 0) {
        assert.equal(monitors.get(s.component)?.honorLabels, true, `${q.where}: ${m} {${clashes.join(',')}}`);
      }
    }
  }
});

test('METRICS.txt lists exactly the metrics the dashboard queries, one valid name per line', () => {
  const listed = readFileSync(join(grafana, 'METRICS.txt'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '');
  for (const m of listed) assert.match(m, /^[a-zA-Z_:][a-zA-Z0-9_:]*$/);
  assert.equal(new Set(listed).size, listed.length);
  assert.deepEqual([...new Set(queries.flatMap((q) => metricNames(q.expr)))].sort(), [...listed].sort());
});
