// Start-up page release (src/release-pages.ts, native/release_pages.c): the schedule (once, after the delay, on a
// background timer, its outcome logged) on a fake clock; and, with the addon built, a real release in a child
// process: its file-backed resident set shrinks, and the process then still runs code of every kind it had touched
// before (JIT, Intl / ICU, crypto, zlib) and exits cleanly — what MADV_DONTNEED over the wrong pages would break.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { createLogger } from '../../src/log.ts';
import { RELEASE_AFTER_MS, type ReleaseOutcome, scheduleStartupRelease } from '../../src/release-pages.ts';
import { FakeClock } from '../support/fake-clock.ts';

function logSink(): { lines: Record<string, unknown>[]; stream: Writable } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n')) if (l.trim() !== '') lines.push(JSON.parse(l));
      cb();
    },
  });
  return { lines, stream };
}

test('scheduleStartupRelease releases once, RELEASE_AFTER_MS later, and logs what came back', async () => {
  const clock = new FakeClock();
  const sink = logSink();
  const logger = createLogger({ level: 'info', destination: sink.stream });
  let calls = 0;
  const outcome: ReleaseOutcome = {
    ok: true,
    released: {
      fileKb: 30_000,
      mappings: 20,
      mallocTrimmed: true,
      mallocKb: 9000,
      mallocFreeKb: 4000,
      ms: 8,
    },
  };
  scheduleStartupRelease({
    clock,
    logger,
    release: () => {
      calls++;
      return outcome;
    },
  });
  await clock.tick(RELEASE_AFTER_MS - 1);
  assert.equal(calls, 0);
  await clock.tick(1);
  assert.equal(calls, 1);
  await clock.tick(10 * RELEASE_AFTER_MS);
  assert.equal(calls, 1, 'once only');
  const line = sink.lines.find((l) => l['msg'] === 'start-up pages released');
  assert.equal(line?.['fileKb'], 30_000);
  assert.equal(line?.['mallocTrimmed'], true);
});

test('scheduleStartupRelease: a refused release is a warning; cancel stops it', async () => {
  const clock = new FakeClock();
  const sink = logSink();
  const logger = createLogger({ level: 'info', destination: sink.stream });
  scheduleStartupRelease({
    clock,
    logger,
    afterMs: 10,
    release: () => ({ ok: false, code: 'not-built', detail: 'no addon' }),
  });
  await clock.tick(10);
  assert.equal(sink.lines.find((l) => l['msg'] === 'start-up pages not released')?.['code'], 'not-built');
  let calls = 0;
  const cancel = scheduleStartupRelease({
    clock,
    logger,
    afterMs: 10,
    release: () => {
      calls++;
      return { ok: false, code: 'x', detail: '' };
    },
  });
  cancel();
  await clock.tick(100);
  assert.equal(calls, 0);
});

/** CHILD runs in a fresh node: touch code of several kinds, release, then run it all again. */
const CHILD = `
import { releaseStartupPages } from ${JSON.stringify(new URL('../../src/release-pages.ts', import.meta.url).href)};
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { gzipSync, gunzipSync } from 'node:zlib';
const rssFile = () => Number(/RssFile:\\s+(\\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]);
const work = () => {
  let x = 0;
  for (let i = 0; i < 200000; i++) x += Math.sqrt(i) * (i % 7);
  const date = new Intl.DateTimeFormat('de-DE', { dateStyle: 'full' }).format(new Date(0));
  const hash = createHash('sha256').update('metal-vrrp').digest('hex');
  const zip = gunzipSync(gzipSync(Buffer.from('x'.repeat(10000)))).length;
  return JSON.stringify({ x: x > 0, date, hash, zip, re: /\\p{L}+/u.test('Ärger') });
};
const before = work();
const fileBefore = rssFile();
const r = releaseStartupPages({ now: () => performance.now() });
const fileAfter = rssFile();
const again = work();
process.stdout.write(JSON.stringify({ r, fileBefore, fileAfter, same: before === again }));
`;

test('releaseStartupPages: the file-backed resident set shrinks and the process runs on unharmed', (t) => {
  const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', CHILD], {
    encoding: 'utf8',
  });
  const { r, fileBefore, fileAfter, same } = JSON.parse(out) as {
    r: ReleaseOutcome;
    fileBefore: number;
    fileAfter: number;
    same: boolean;
  };
  if (!r.ok && r.code === 'not-built') return t.skip('build/Release/release_pages.node not built');
  assert.ok(r.ok, JSON.stringify(r));
  assert.ok(r.released.mappings > 0, 'some mappings advised');
  assert.ok(r.released.fileKb > 0);
  assert.ok(r.released.mallocKb >= r.released.mallocFreeKb && r.released.mallocKb > 0, JSON.stringify(r.released));
  // Measured right after the release, before the process touches much again: well under what it was.
  assert.ok(fileAfter < fileBefore / 2, `RssFile ${fileBefore} kB -> ${fileAfter} kB`);
  assert.ok(same, 'the same work gives the same results after the release');
});
