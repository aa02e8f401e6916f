// run-tests.mjs — runs node:test over the TypeScript test files of the named suites (folders under test/).
// Node 20's runner finds only *.test.js by itself, so we list the files and load them through tsx.
// The `net` suite runs one file at a time: its files build network namespaces and measure protocol deadlines.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const suites = process.argv.slice(2);
if (suites.length === 0) suites.push('unit', 'integration', 'net');

function testFiles(dir) {
  let out = [];
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries.sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out = out.concat(testFiles(path));
    else if (name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

const serial = new Set(['net']);
const NET_LOCK = '/tmp/metal-vrrp-net.lock';
let status = 0;
for (const suite of suites) {
  const files = testFiles(join('test', suite));
  if (files.length === 0) {
    console.log(`# suite ${suite}: no test files`);
    continue;
  }
  const concurrency = serial.has(suite) ? 1 : 2;
  const args = ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, ...files];
  // Network-namespace files use fixed names: one run at a time per machine (another checkout's run would tear down
  // this one's namespaces), so the net suite holds a machine-wide lock.
  const res = serial.has(suite)
    ? spawnSync('flock', [NET_LOCK, process.execPath, ...args], { stdio: 'inherit' })
    : spawnSync(process.execPath, args, { stdio: 'inherit' });
  if (res.status !== 0) status = res.status ?? 1;
}
process.exit(status);
