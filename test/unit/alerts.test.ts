// alerts.test.ts — the PrometheusRule of the prometheus component (manifests/components/prometheus/prometheusrule.yaml)
// under `promtool test rules`: its spec is written as a plain rule file and the scenarios in
// alerts/metal-vrrp.rules.test.yaml run against it (for every alert, series that fire and series that must not).
// A rule that is broken on purpose must make promtool fail, so the run above can fail.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, stringify } from 'yaml';

const root = fileURLToPath(new URL('../../', import.meta.url));
const RULE = join(root, 'manifests/components/prometheus/prometheusrule.yaml');
const TESTS = join(root, 'test/unit/alerts/metal-vrrp.rules.test.yaml');
const dir = mkdtempSync(join(tmpdir(), 'metal-vrrp-alerts-'));
after(() => rmSync(dir, { recursive: true, force: true }));

interface Rule {
  alert?: string;
  expr: string;
}
interface PrometheusRule {
  kind: string;
  spec: { groups: { name: string; rules: Rule[] }[] };
}

const rule = parseYaml(readFileSync(RULE, 'utf8')) as PrometheusRule;

/** promtoolTest writes `groups` as a rule file and runs the scenarios against it. */
function promtoolTest(groups: PrometheusRule['spec']['groups']): { code: number | null; out: string } {
  const rules = join(dir, `rules-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(rules, stringify({ groups }));
  const tests = parseYaml(readFileSync(TESTS, 'utf8')) as Record<string, unknown>;
  const file = `${rules}.test.yaml`;
  writeFileSync(file, stringify({ ...tests, rule_files: [rules] }));
  const res = spawnSync('promtool', ['test', 'rules', file], { encoding: 'utf8' });
  if (res.error) throw new Error(`promtool not runnable (apt-get install prometheus): ${res.error.message}`);
  return { code: res.status, out: res.stdout + res.stderr };
}

test('the PrometheusRule ships the five alerts', () => {
  assert.equal(rule.kind, 'PrometheusRule');
  const names = rule.spec.groups.flatMap((g) => g.rules.map((r) => r.alert));
  assert.deepEqual(names.sort(), [
    'MetalVrrpHealthDrivenMove',
    'MetalVrrpInvalidPacketsRising',
    'MetalVrrpNoMaster',
    'MetalVrrpPoolNearlyFull',
    'MetalVrrpTwoMasters',
  ]);
});

test('promtool test rules: every alert fires on its series and stays quiet on the others', () => {
  const r = promtoolTest(rule.spec.groups);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /SUCCESS/);
});

// Each alert's expression made wrong in a plausible way (threshold off by one, label dropped): promtool must fail.
const breakages: [string, (expr: string) => string][] = [
  ['MetalVrrpTwoMasters', (e) => e.replaceAll('> 1', '> 2')],
  ['MetalVrrpNoMaster', (e) => e.replace('== 0', '<= 1')],
  ['MetalVrrpPoolNearlyFull', (e) => e.replace('> 0.9', '> 0.4')],
  ['MetalVrrpInvalidPacketsRising', (e) => e.replace('> 10', '> 0')],
  ['MetalVrrpHealthDrivenMove', (e) => e.replace('reason="health"', 'reason=~".+"')],
];
for (const [alert, breakIt] of breakages) {
  test(`a broken ${alert} fails the promtool scenarios`, () => {
    const groups = structuredClone(rule.spec.groups);
    const target = groups.flatMap((g) => g.rules).find((r) => r.alert === alert);
    assert.ok(target, alert);
    const broken = breakIt(target.expr);
    assert.notEqual(broken, target.expr, 'the breakage changed nothing');
    target.expr = broken;
    const r = promtoolTest(groups);
    assert.notEqual(r.code, 0, `promtool accepted a broken ${alert}:\n${r.out}`);
  });
}
