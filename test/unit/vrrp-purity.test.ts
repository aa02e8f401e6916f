/**
 * vrrp/ is the pure protocol engine (brief, issue 3): it imports nothing from src/, no I/O module and no package
 * but the pure ones listed here, and reads no clock or randomness of its own (time and packets are injected).
 * Imports are read from the TypeScript syntax tree, so dynamic import(), require(), import types and `export … from`
 * count too, and prose in comments or strings does not.
 */

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { tsFiles } from '../support/source-files.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const VRRP = join(ROOT, 'vrrp');

/** ALLOWED_PACKAGES are the bare specifiers vrrp/ may import: pure computation, no I/O. */
const ALLOWED_PACKAGES = new Set(['ipaddr.js']);

/**
 * FORBIDDEN_NAMES are ambient clocks, timers, randomness, process and network access: a router gets time from its
 * caller and the simulator draws from its seeded PRNG, so a run is a function of its inputs. Each entry is a global
 * identifier, or `object.member` for a property of one.
 */
const FORBIDDEN_NAMES = new Set([
  'Date.now',
  'performance.now',
  'Math.random',
  'crypto.getRandomValues',
  'crypto.randomUUID',
  'setTimeout',
  'setInterval',
  'setImmediate',
  'queueMicrotask',
  'process',
  'globalThis',
  'fetch',
  'require',
]);

/** moduleSpecifiers lists every module a file loads: import, export … from, import(), require() and import types. */
function moduleSpecifiers(sf: ts.SourceFile): string[] {
  const out: string[] = [];
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier) {
      if (ts.isStringLiteral(node.moduleSpecifier)) out.push(node.moduleSpecifier.text);
    } else if (ts.isCallExpression(node) && node.arguments.length > 0) {
      const callee = node.expression;
      const isLoader =
        callee.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(callee) && callee.text === 'require');
      const [arg] = node.arguments;
      if (isLoader) out.push(arg && ts.isStringLiteralLike(arg) ? arg.text : '<computed>');
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      const lit = node.argument.literal;
      if (ts.isStringLiteral(lit)) out.push(lit.text);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      const e = node.moduleReference.expression;
      out.push(ts.isStringLiteral(e) ? e.text : '<computed>');
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

/** ambientUses lists the forbidden globals a file touches (by name: a local binding of the same name counts too). */
function ambientUses(sf: ts.SourceFile): string[] {
  const out = new Set<string>();
  const visit = (node: ts.Node): void => {
    if (ts.isPropertyAccessExpression(node) && ts.isIdentifier(node.expression)) {
      const name = `${node.expression.text}.${node.name.text}`;
      if (FORBIDDEN_NAMES.has(name)) out.add(name);
    }
    if (ts.isIdentifier(node) && FORBIDDEN_NAMES.has(node.text)) {
      // A property name (x.process) or an object key is not the global.
      const parent = node.parent;
      const isMember = parent && ts.isPropertyAccessExpression(parent) && parent.name === node;
      const isKey =
        parent && (ts.isPropertyAssignment(parent) || ts.isPropertySignature(parent)) && parent.name === node;
      if (!isMember && !isKey) out.add(node.text);
    }
    if (ts.isNewExpression(node) && ts.isIdentifier(node.expression) && node.expression.text === 'Date') {
      out.add('new Date');
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return [...out];
}

/** violations lists what `source`, living at `file`, does that vrrp/ must not: bad imports and ambient globals. */
function violations(file: string, source: string): string[] {
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const out: string[] = [];
  for (const spec of moduleSpecifiers(sf)) {
    if (spec.startsWith('.')) {
      const rel = relative(VRRP, resolve(dirname(file), spec));
      if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) out.push(`import ${spec} leaves vrrp/`);
    } else if (!ALLOWED_PACKAGES.has(spec)) {
      out.push(`import ${spec} is not an allowed pure package`);
    }
  }
  for (const name of ambientUses(sf)) out.push(`uses ${name}`);
  return out;
}

describe('vrrp/ purity', () => {
  const files = tsFiles(VRRP);

  test('the scan sees the engine: codec, router, priority, timing and the simulator', () => {
    const names = files.map((f) => relative(VRRP, f).split(sep).join('/'));
    for (const expected of ['codec.ts', 'router.ts', 'priority.ts', 'timing.ts', 'sim/lan.ts', 'sim/clock.ts']) {
      assert.ok(names.includes(expected), `${expected} scanned`);
    }
  });

  for (const file of files) {
    const name = relative(ROOT, file);
    test(`${name} imports only vrrp/ and pure packages, and reads no clock, timer or randomness`, () => {
      assert.deepEqual(violations(file, readFileSync(file, 'utf8')), []);
    });
  }
});

describe('the purity check catches', () => {
  const inVrrp = join(VRRP, 'router.ts');
  const inSim = join(VRRP, 'sim', 'lan.ts');
  const rows: { name: string; file: string; source: string }[] = [
    { name: 'node:fs', file: inVrrp, source: "import { readFileSync } from 'node:fs';" },
    { name: 'fs without the node: prefix', file: inVrrp, source: "import fs from 'fs';" },
    { name: 'dgram', file: inVrrp, source: "import dgram from 'node:dgram';" },
    { name: 'node:net', file: inVrrp, source: "import * as net from 'node:net';" },
    { name: 'raw-socket', file: inVrrp, source: "import raw from 'raw-socket';" },
    { name: 'the Kubernetes client', file: inVrrp, source: "import k8s from '@kubernetes/client-node';" },
    { name: 'src/ by a relative path', file: inVrrp, source: "import { x } from '../src/speaker/speaker.ts';" },
    { name: 'src/ from vrrp/sim', file: inSim, source: "import type { X } from '../../src/net/vrrp-socket.ts';" },
    { name: 'a type-only import of src/', file: inVrrp, source: "import type { Logger } from '../src/logging.ts';" },
    { name: 'export … from', file: inVrrp, source: "export * from '../src/metrics.ts';" },
    { name: 'dynamic import()', file: inVrrp, source: "const m = await import('node:child_process');" },
    { name: 'require()', file: inVrrp, source: "const os = require('os');" },
    { name: 'Date.now()', file: inVrrp, source: 'export const t = () => Date.now();' },
    { name: 'setTimeout', file: inVrrp, source: 'setTimeout(() => {}, 1);' },
    { name: 'Math.random()', file: inVrrp, source: 'export const r = Math.random();' },
    { name: 'process', file: inVrrp, source: 'export const e = process.env.X;' },
    { name: 'new Date', file: inVrrp, source: 'export const d = new Date();' },
    { name: 'performance.now()', file: inVrrp, source: 'export const p = performance.now();' },
    { name: 'an import type of src/', file: inVrrp, source: "export type L = import('../src/logging.ts').Logger;" },
    { name: 'a computed dynamic import', file: inVrrp, source: "const m = await import('node:' + 'fs');" },
  ];
  for (const r of rows) {
    test(r.name, () => assert.notDeepEqual(violations(r.file, r.source), [], r.source));
  }

  test('and lets through what vrrp/ may do', () => {
    const ok = [
      "import ipaddr from 'ipaddr.js';",
      "import { step } from './router.ts';",
      "import type { Advert } from '../advert.ts';", // from vrrp/sim
      '// Date.now() is never called here; time is passed in',
      "const note = 'process the advert with setTimeout( semantics';",
      'const stats = { process: 1 }; stats.process++;',
      'export function at(now: number) { return now + 1; }',
    ].join('\n');
    assert.deepEqual(violations(inSim, ok), []);
  });
});
