// health-checks.test.ts — the pool's health annotations: valid values, invalid ones reported with the default kept,
// the timeout/interval rule, and the README table listing exactly these annotations with the code's defaults.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import {
  DEFAULT_HEALTH_TUNING,
  HEALTH_ANNOTATIONS as H,
  type HealthTuning,
  parseProbeTarget,
} from '../../src/model/health-checks.ts';
import { classifyTuningChange, DEFAULT_POOL_TUNING, parsePoolTuning } from '../../src/model/pool-tuning.ts';

/** field reads one setting of a health tuning for table comparisons (probe targets as their URL). */
function field(h: HealthTuning, name: keyof HealthTuning): unknown {
  const v = h[name];
  return typeof v === 'object' && v !== null ? v.url : v;
}

describe('health annotations: valid values', () => {
  // [annotation, value, field, expected]
  const cases: readonly [string, string, keyof HealthTuning, unknown][] = [
    [H.check, 'http://:8080/healthz', 'check', 'http://:8080/healthz'],
    [H.check, 'HTTP://:8080', 'check', 'http://:8080/'],
    [H.check, 'http://:8080/ready?verbose=1', 'check', 'http://:8080/ready?verbose=1'],
    [H.check, 'tcp://:443', 'check', 'tcp://:443'],
    [H.check, ' tcp://:443/ ', 'check', 'tcp://:443'],
    [H.kubeProxy, 'true', 'kubeProxy', 'http://:10256/healthz'],
    [H.kubeProxy, 'False', 'kubeProxy', undefined],
    [H.kubeProxy, 'http://:10257/livez', 'kubeProxy', 'http://:10257/livez'],
    [H.interval, '100ms', 'intervalMs', 100],
    [H.interval, '300s', 'intervalMs', 300_000],
    [H.timeout, '10ms', 'timeoutMs', 10],
    [H.timeout, '1s', 'timeoutMs', 1000],
    [H.rise, '1', 'rise', 1],
    [H.rise, '100', 'rise', 100],
    [H.fall, '5', 'fall', 5],
    [H.weight, '0', 'weight', 0],
    [H.weight, '253', 'weight', 253],
    [H.trackInterface, 'false', 'trackInterface', false],
    [H.resignWhenCordoned, 'TRUE', 'resignWhenCordoned', true],
  ];
  for (const [annotation, value, name, want] of cases) {
    test(`${annotation}="${value}"`, () => {
      const r = parsePoolTuning('gold', { [annotation]: value });
      assert.deepEqual(r.problems, []);
      assert.deepEqual(field(r.tuning.health, name), want);
    });
  }
});

describe('health annotations: invalid values are reported and the default is used', () => {
  // [annotation, value, field, fragment of the message]
  const cases: readonly [string, string, keyof HealthTuning, string][] = [
    [H.check, 'http://10.0.0.1:8080/healthz', 'check', 'names a host'],
    [H.check, 'http://:8080healthz', 'check', 'not http://:PORT/PATH'],
    [H.check, 'https://:8443/healthz', 'check', 'not http://:PORT/PATH'],
    [H.check, 'http:///healthz', 'check', 'has no port'],
    [H.check, 'tcp://:0', 'check', 'not 1..65535'],
    [H.check, 'tcp://:70000', 'check', 'not 1..65535'],
    [H.check, 'tcp://:443/x', 'check', 'has no path'],
    [H.check, '8080', 'check', 'not http://:PORT/PATH'],
    [H.kubeProxy, 'yes', 'kubeProxy', 'not true, false'],
    [H.interval, '50ms', 'intervalMs', 'shorter than 100ms'],
    [H.interval, '301s', 'intervalMs', 'longer than 300s'],
    [H.interval, '2', 'intervalMs', 'no unit'],
    [H.timeout, '5ms', 'timeoutMs', 'shorter than 10ms'],
    [H.timeout, '2s', 'timeoutMs', 'longer than the interval'],
    [H.rise, '0', 'rise', '1..100'],
    [H.fall, '101', 'fall', '1..100'],
    [H.fall, '1.5', 'fall', '1..100'],
    [H.weight, '254', 'weight', '0..253'],
    [H.weight, '-1', 'weight', '0..253'],
    [H.trackInterface, 'on', 'trackInterface', 'not true or false'],
    [H.resignWhenCordoned, '1', 'resignWhenCordoned', 'not true or false'],
  ];
  for (const [annotation, value, name, fragment] of cases) {
    test(`${annotation}="${value}"`, () => {
      const r = parsePoolTuning('gold', { [annotation]: value });
      assert.equal(r.problems.length, 1);
      const p = r.problems[0]!;
      assert.deepEqual([p.pool, p.annotation, p.value, p.error.code], ['gold', annotation, value, 'INVALID_TUNING']);
      assert.ok(p.error.message.includes(fragment), p.error.message);
      // A timeout longer than the interval is cut to the interval (one probe in flight at a time).
      const want = annotation === H.timeout && value === '2s' ? 1000 : field(DEFAULT_HEALTH_TUNING, name);
      assert.deepEqual(field(r.tuning.health, name), want);
    });
  }

  test('an interval shorter than the default timeout cuts the timeout without a problem', () => {
    const r = parsePoolTuning('gold', { [H.interval]: '200ms' });
    assert.deepEqual(r.problems, []);
    assert.deepEqual([r.tuning.health.intervalMs, r.tuning.health.timeoutMs], [200, 200]);
  });

  test('health annotations are known: no UNKNOWN_TUNING_ANNOTATION; a typo is one', () => {
    const ann = Object.fromEntries(Object.values(H).map((a) => [a, 'x']));
    const r = parsePoolTuning('gold', { ...ann, 'metal-vrrp.io/health-intervall': '1s' });
    assert.deepEqual(
      r.problems.filter((p) => p.error.code === 'UNKNOWN_TUNING_ANNOTATION').map((p) => p.annotation),
      ['metal-vrrp.io/health-intervall'],
    );
  });
});

describe('defaults, change classification and the README', () => {
  test('no annotations: only the interface is tracked; kube-proxy off; resign on failure', () => {
    const r = parsePoolTuning('p', {});
    assert.deepEqual(r.tuning.health, DEFAULT_HEALTH_TUNING);
    assert.equal(DEFAULT_POOL_TUNING.health, DEFAULT_HEALTH_TUNING);
    assert.deepEqual(
      { ...DEFAULT_HEALTH_TUNING },
      {
        check: undefined,
        kubeProxy: undefined,
        intervalMs: 1000,
        timeoutMs: 500,
        rise: 3,
        fall: 1,
        weight: 0,
        trackInterface: true,
        resignWhenCordoned: false,
      },
    );
    assert.ok(Object.isFrozen(r.tuning.health));
  });

  test('a health change is classified as a live change of field health', () => {
    const a = parsePoolTuning('p', {}).tuning;
    const b = parsePoolTuning('p', { [H.check]: 'tcp://:80' }).tuning;
    const c = classifyTuningChange(a, b);
    assert.deepEqual([c.effect, c.changed, c.configure], ['live', ['health'], {}]);
    assert.equal(classifyTuningChange(b, parsePoolTuning('p', { [H.check]: 'tcp://:80/' }).tuning).effect, 'none');
  });

  test('parseProbeTarget fields', () => {
    assert.deepEqual(parseProbeTarget('http://:10256/healthz'), {
      value: { scheme: 'http', port: 10256, path: '/healthz', url: 'http://:10256/healthz' },
    });
    assert.deepEqual(parseProbeTarget('tcp://:22'), { value: { scheme: 'tcp', port: 22, path: '', url: 'tcp://:22' } });
  });

  test('README health table: exactly these annotations, with the code defaults', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const start = readme.indexOf('\n## Health checks\n');
    assert.ok(start >= 0, 'README has no "## Health checks" section');
    const rest = readme.slice(start + 1);
    const body = rest.slice(0, rest.slice(4).search(/\n#{1,3} /) + 4);
    const rows = body
      .split('\n')
      .filter((l) => l.startsWith('|'))
      .slice(2)
      .map((l) =>
        l
          .slice(1, -1)
          .split('|')
          .map((c) => c.trim().replaceAll('`', '')),
      );
    const d = DEFAULT_HEALTH_TUNING;
    const defaults: Record<string, string> = {
      [H.check]: d.check?.url ?? '(none)',
      [H.kubeProxy]: d.kubeProxy?.url ?? 'false',
      [H.interval]: `${d.intervalMs / 1000}s`,
      [H.timeout]: `${d.timeoutMs}ms`,
      [H.rise]: String(d.rise),
      [H.fall]: String(d.fall),
      [H.weight]: String(d.weight),
      [H.trackInterface]: String(d.trackInterface),
      [H.resignWhenCordoned]: String(d.resignWhenCordoned),
    };
    assert.deepEqual(rows.map((r) => r[0]).sort(), Object.values(H).sort());
    for (const [name, dflt] of rows) assert.equal(dflt, defaults[name!], `${name} default`);
  });
});
