// `metal-vrrp speaker` as a process: help, and the exit code and JSON log line for a config the operator must fix.
// No root needed: every case stops before opening a socket.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseStandaloneConfig } from '../../src/speaker/standalone/standalone-config.ts';

const BIN = fileURLToPath(new URL('../../bin/metal-vrrp.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'mv-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function cli(...args: string[]) {
  return spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 30_000 });
}

test('speaker --help lists the options and exits 0', () => {
  const res = cli('speaker', '--help');
  assert.equal(res.status, 0, res.stderr);
  for (const opt of ['--config', '--metrics-port', '--node-name', '--log-level'])
    assert.match(res.stdout, new RegExp(opt));
});

test('no command: usage on stderr and a non-zero exit', () => {
  const res = cli();
  assert.notEqual(res.status, 0);
  assert.match(res.stderr, /speaker/);
});

const cases: [string, string, RegExp][] = [
  ['an invalid file', 'interface: eth0\nrouters: [{ vrid: 0, vips: [10.0.0.1] }]\n', /vrid: 0 is not 1..255/],
  ['an interface that does not exist', 'interface: mv-none0\nrouters: [{ vrid: 1, vips: [10.0.0.1] }]\n', /mv-none0/],
];
for (const [name, yaml, want] of cases) {
  test(`speaker with ${name}: exit 2 and a JSON error naming the problem`, () => {
    const file = join(dir, 'c.yaml');
    writeFileSync(file, yaml);
    const res = cli('speaker', '--config', file, '--metrics-port', '0');
    assert.equal(res.status, 2, `${res.stdout}${res.stderr}`);
    const line = JSON.parse(res.stdout.trim().split('\n').at(-1)!) as { level: string; problems: string[] };
    assert.equal(line.level, 'error');
    assert.match(line.problems.join('\n'), want);
  });
}

test('standalone config: metrics address and port, defaults and errors', () => {
  const ok = parseStandaloneConfig('interface: e\nmetrics: { port: 9100 }\nrouters: [{ vrid: 1, vips: [10.0.0.1] }]');
  assert.ok('config' in ok);
  assert.deepEqual(ok.config.metrics, { address: '0.0.0.0', port: 9100 });
  const def = parseStandaloneConfig('interface: e\nrouters: [{ vrid: 1, vips: [10.0.0.1] }]');
  assert.ok('config' in def);
  assert.deepEqual(def.config.metrics, { address: '0.0.0.0', port: 7472 });
  const bad = parseStandaloneConfig(
    'interface: e\nmetrics: { port: 70000, address: x }\nrouters: [{ vrid: 1, vips: [10.0.0.1] }]',
  );
  assert.ok('errors' in bad);
  assert.match(bad.errors.join('\n'), /metrics.port: 70000/);
  assert.match(bad.errors.join('\n'), /metrics.address: "x"/);
});

test('speaker --xdp-answers with a value it does not know: exit 2, nothing defaulted', () => {
  const file = join(dir, 'x.yaml');
  writeFileSync(file, 'interface: eth0\nrouters: [{ vrid: 1, vips: [10.0.0.1] }]\n');
  const res = cli('speaker', '--config', file, '--metrics-port', '0', '--xdp-answers', 'yes');
  assert.equal(res.status, 2, `${res.stdout}${res.stderr}`);
  const line = JSON.parse(res.stdout.trim().split('\n').at(-1)!) as { level: string; msg: string };
  assert.equal(line.level, 'error');
  assert.match(line.msg, /--xdp-answers: "yes" is not one of off, auto, native, generic/);
});
