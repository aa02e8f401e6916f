// One Clock (vrrp/clock.ts): src/clock.ts is the only file of src/ that reads the process clock or arms a global
// timer; everything else is handed a Clock, so every timing rule can be tested on the virtual one. Uses are read
// from the TypeScript syntax tree (comments and strings do not count). Also the VirtualClock's own contract.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { realClock } from '../../src/clock.ts';
import { sleep } from '../../vrrp/clock.ts';
import { VirtualClock } from '../../vrrp/sim/clock.ts';
import { tsFiles } from '../support/source-files.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SRC = join(ROOT, 'src');
const ALLOWED = new Set(['src/clock.ts']);

/** CLOCK_NAMES are the global clocks and timers; TIMER_MODULES the modules that offer them too. */
const CLOCK_NAMES = new Set([
  'setTimeout',
  'setInterval',
  'setImmediate',
  'clearTimeout',
  'clearInterval',
  'Date.now',
  'performance.now',
  'process.hrtime',
]);
const TIMER_MODULES = new Set(['node:timers', 'node:timers/promises', 'timers', 'timers/promises', 'node:perf_hooks']);

/** clockUses lists the global clocks, timers and timer modules a source file touches. */
function clockUses(source: string): string[] {
  const sf = ts.createSourceFile('x.ts', source, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const out = new Set<string>();
  const visit = (node: ts.Node): void => {
    if (ts.isPropertyAccessExpression(node) && ts.isIdentifier(node.expression)) {
      const name = `${node.expression.text}.${node.name.text}`;
      if (CLOCK_NAMES.has(name)) out.add(name);
      if (node.expression.text === 'globalThis' && CLOCK_NAMES.has(node.name.text)) out.add(name);
    }
    if (ts.isIdentifier(node) && CLOCK_NAMES.has(node.text)) {
      const parent = node.parent;
      const isMember = parent && ts.isPropertyAccessExpression(parent) && parent.name === node;
      const isKey =
        parent &&
        (ts.isPropertyAssignment(parent) || ts.isPropertySignature(parent) || ts.isMethodSignature(parent)) &&
        parent.name === node;
      if (!isMember && !isKey) out.add(node.text);
    }
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier) {
      const spec = node.moduleSpecifier;
      if (ts.isStringLiteral(spec) && TIMER_MODULES.has(spec.text)) out.add(`import ${spec.text}`);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return [...out];
}

describe('src/clock.ts is the only clock of src/', () => {
  const files = tsFiles(SRC).map((f) => relative(ROOT, f).split(sep).join('/'));

  test('the scan sees the timing edges and the real clock', () => {
    assert.ok(files.includes('src/clock.ts'));
    // The timing edges, wherever the layout puts them.
    for (const name of ['scheduler.ts', 'work-queue.ts', 'watched-cache.ts', 'leader-election.ts']) {
      assert.ok(
        files.some((f) => f.endsWith(`/${name}`)),
        `${name} scanned`,
      );
    }
    assert.deepEqual(clockUses(readFileSync(join(ROOT, 'src/clock.ts'), 'utf8')).sort(), [
      'Date.now',
      'clearTimeout',
      'import node:perf_hooks', // loopDelayMonitor: the event-loop delay metric
      'performance.now',
      'setImmediate',
      'setTimeout',
    ]);
  });

  for (const file of files.filter((f) => !ALLOWED.has(f))) {
    test(`${file} reads no global clock and arms no global timer`, () => {
      assert.deepEqual(clockUses(readFileSync(join(ROOT, file), 'utf8')), []);
    });
  }

  const caught: [string, string, string][] = [
    ['a bare timer', 'setTimeout(() => {}, 5);', 'setTimeout'],
    ['Date.now', 'const t = Date.now();', 'Date.now'],
    ['a timer through globalThis', 'globalThis.setInterval(f, 5);', 'globalThis.setInterval'],
    ['timers/promises', "import { setTimeout as delay } from 'node:timers/promises';", 'import node:timers/promises'],
    ['performance.now', 'const t0 = performance.now();', 'performance.now'],
  ];
  for (const [name, source, want] of caught) {
    test(`the check catches ${name}`, () => {
      assert.ok(clockUses(source).includes(want), clockUses(source).join());
    });
  }
  test('the check ignores comments, strings and members named like timers', () => {
    assert.deepEqual(clockUses("// setTimeout\nconst s = 'Date.now()'; clock.setTimer(f, 1); x.setTimeout;"), []);
  });
});

describe('VirtualClock', () => {
  test('timers fire in due order, ties in arming order, each at its due time; cancelled ones never', () => {
    const clock = new VirtualClock({ start: 1000, epochMs: 1_700_000_000_000 });
    const fired: [string, number][] = [];
    clock.setTimer(() => fired.push(['b', clock.now()]), 20);
    clock.setTimer(() => fired.push(['a', clock.now()]), 10);
    clock.setTimer(() => fired.push(['a2', clock.now()]), 10);
    const cancel = clock.setTimer(() => fired.push(['x', clock.now()]), 5);
    clock.setTimer(() => fired.push(['neg', clock.now()]), -3);
    cancel();
    cancel();
    assert.equal(clock.pending, 4);
    assert.deepEqual(clock.pendingDelays(), [0, 10, 10, 20]);
    clock.advance(15);
    assert.deepEqual(fired, [
      ['neg', 1000],
      ['a', 1010],
      ['a2', 1010],
    ]);
    assert.equal(clock.now(), 1015);
    assert.equal(clock.wallNow(), 1_700_000_001_015);
    assert.equal(clock.nextDue(), 1020);
    assert.equal(clock.runNext(), true);
    assert.deepEqual(fired.at(-1), ['b', 1020]);
    assert.equal(clock.runNext(), false);
  });

  test('a timer armed by a firing timer fires in the same advance when it falls due', () => {
    const clock = new VirtualClock();
    const at: number[] = [];
    const tick = () => {
      at.push(clock.now());
      if (at.length < 4) clock.setTimer(tick, 10);
    };
    clock.setTimer(tick, 10);
    clock.advance(35);
    assert.deepEqual(at, [10, 20, 30]);
    clock.advance(5);
    assert.deepEqual(at, [10, 20, 30, 40]);
    assert.equal(clock.pending, 0);
  });

  test('sleep resolves on the virtual clock, and rejects at once when aborted', async () => {
    const clock = new VirtualClock();
    let done = false;
    const slept = sleep(clock, 100).then(() => {
      done = true;
    });
    clock.advance(99);
    await Promise.resolve();
    assert.equal(done, false);
    clock.advance(1);
    await slept;
    assert.equal(done, true);
    const ac = new AbortController();
    const aborted = sleep(clock, 100, ac.signal);
    ac.abort(new Error('stopped'));
    await assert.rejects(aborted, /stopped/);
    assert.equal(clock.pending, 0, 'the abort cancels the timer');
    await assert.rejects(sleep(clock, 1, ac.signal), /stopped/);
  });

  test('the real clock: a cancelled timer never fires, a background one does', async () => {
    let fired = 0;
    realClock.setTimer(() => fired++, 1)();
    await new Promise<void>((r) => realClock.setTimer(r, 20, { background: true }));
    assert.equal(fired, 0);
    assert.ok(realClock.wallNow() > 1_600_000_000_000);
  });
});
