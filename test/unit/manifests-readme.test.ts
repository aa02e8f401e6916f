// manifests-readme.test.ts — the operator's README says what the code does: its tuning-annotation table lists exactly
// the annotations src/speaker/pool-tuning.ts reads, with the code's defaults, and its metrics table lists exactly the
// metrics src/metrics.ts exports, with their types and labels; its `metal-vrrp status` example is what the status
// table code renders.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { createControllerMetrics, createSpeakerMetrics } from '../../src/metrics.ts';
import { DEFAULT_POOL_TUNING, TUNING_ANNOTATIONS } from '../../src/model/pool-tuning.ts';
import { routerKey } from '../../src/speaker/router-spec.ts';
import { renderStatusTable } from '../../src/status/table.ts';
import { nodePriorities } from '../../vrrp/priority.ts';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

/** section returns the README text under the `## title` heading, up to the next heading of level 1 or 2. */
function section(title: string): string {
  const start = readme.indexOf(`\n## ${title}\n`);
  assert.ok(start >= 0, `README has no section "${title}"`);
  const rest = readme.slice(start + title.length + 5);
  const end = rest.search(/\n#{1,2} /);
  return end < 0 ? rest : rest.slice(0, end);
}

/** tableRows returns the cells of each body row of the first Markdown table in text, code ticks removed. */
function tableRows(text: string): string[][] {
  const lines = text.split('\n').filter((l) => l.startsWith('|'));
  assert.ok(lines.length >= 3, 'no table');
  return lines.slice(2).map((l) =>
    l
      .slice(1, -1)
      .split('|')
      .map((c) => c.trim().replaceAll('`', '')),
  );
}

test('README tuning table: exactly the annotations pool-tuning.ts reads, with its defaults', () => {
  const rows = tableRows(section('Tuning annotations'));
  const d = DEFAULT_POOL_TUNING;
  const A = TUNING_ANNOTATIONS;
  const defaults: Record<string, string> = {
    [A.advertInterval]: `${d.advertIntervalCs * 10}ms`,
    [A.preempt]: String(d.preempt),
    [A.preemptDelay]: `${d.preemptDelayMs / 1000}s`,
    [A.gratuitousCount]: String(d.gratuitous.count),
    [A.gratuitousSpacing]: `${d.gratuitous.spacingMs}ms`,
    [A.gratuitousRefresh]: `${d.gratuitous.refreshMs / 1000}s`,
    [A.vridRange]: `${d.vridRange.lo}-${d.vridRange.hi}`,
    [A.priorities]: d.pinnedPriorities.size === 0 ? '(none)' : 'pinned',
    [A.peers]: d.peers,
    [A.authSecret]: d.authSecret ?? '(none)',
    [A.placement]: d.placement,
    // unset in a pool: the speaker's --liveness* flags decide (model/liveness.ts)
    [A.liveness]: '(cluster)',
    [A.livenessInterval]: '(cluster)',
    [A.livenessMultiplier]: '(cluster)',
  };
  assert.deepEqual(rows.map((r) => r[0]).sort(), Object.values(A).sort());
  for (const [name, dflt] of rows) assert.equal(dflt, defaults[name!], `${name} default`);
});

test('README metrics table: exactly the metal_vrrp_* metrics of src/metrics.ts, with type, component and labels', () => {
  const code = new Map<string, { type: string; from: string[]; labels: string }>();
  const components = [
    ['speaker', createSpeakerMetrics({ processMetrics: false })],
    ['controller', createControllerMetrics({ processMetrics: false })],
  ] as const;
  for (const [component, m] of components) {
    for (const metric of m.registry.getMetricsAsArray()) {
      const x = metric as unknown as { name: string; labelNames?: string[]; constructor: { name: string } };
      const seen = code.get(x.name);
      if (seen) seen.from.push(component);
      else
        code.set(x.name, {
          type: x.constructor.name.toLowerCase(),
          from: [component],
          labels: (x.labelNames ?? []).join(', '),
        });
    }
  }
  const rows = tableRows(section('Metrics'));
  assert.deepEqual(rows.map((r) => r[0]).sort(), [...code.keys()].sort());
  for (const [name, type, from, labels] of rows) {
    const c = code.get(name!)!;
    assert.deepEqual([type, from, labels], [c.type, c.from.join(', '), c.labels], name);
  }
});

test('README operator sections are all there', () => {
  for (const title of [
    'Install',
    'Walk-through: the seed example',
    '`metal-vrrp status`',
    'Migrating from MetalLB',
    'Tuning annotations',
    'Metrics',
    'Troubleshooting',
    'Measured figures',
  ]) {
    section(title);
  }
  assert.match(section('Install'), /kubectl apply -k manifests/);
  const trouble = section('Troubleshooting');
  for (const topic of [/strictARP/, /unicast/, /VRID collisions/, /255/]) assert.match(trouble, topic);
  for (const bench of ['bench/failover.ts', 'bench/controller.ts', 'bench/spread.ts']) {
    assert.ok(section('Measured figures').includes(bench), bench);
  }
});

test('README status example is what src/status/table.ts renders for the seed on nodes node-a, node-b, node-c', () => {
  // The seed's allocation (192.11.182.222, VRID 1, see the walk-through) on three nodes; the ranking is the real one.
  const ranked = nodePriorities(routerKey('ipv4', 1), ['node-a', 'node-b', 'node-c']);
  assert.ok('priorities' in ranked);
  const ranking = [...ranked.priorities].map(([node, priority]) => ({ node, priority }));
  const table = renderStatusTable(
    [
      {
        namespace: 'default',
        name: 'demo-svc',
        vip: '192.11.182.222',
        family: 'ipv4',
        pool: 'ip-pool',
        vrid: 1,
        master: ranking[0]!.node,
        backups: ranking.slice(1),
        preferred: [],
        advertIntervalMs: DEFAULT_POOL_TUNING.advertIntervalCs * 10,
        lastTransitionTime: '2026-01-01T00:00:00Z',
      },
    ],
    Date.parse('2026-01-01T00:00:42Z'),
  );
  assert.ok(section('`metal-vrrp status`').includes(`\`\`\`text\n${table}\`\`\``), `README should show:\n${table}`);
});
