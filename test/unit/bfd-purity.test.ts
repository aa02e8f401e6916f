/**
 * bfd/ is a pure protocol engine like vrrp/: it imports only bfd/ itself, no package, and reads no clock, timer or
 * randomness of its own (time and the jitter source are passed in). Imports are read from the syntax tree.
 */

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const BFD = join(ROOT, 'bfd');
const FORBIDDEN = new Set([
  'Date',
  'performance',
  'Math.random',
  'crypto',
  'setTimeout',
  'setInterval',
  'setImmediate',
  'queueMicrotask',
  'process',
  'globalThis',
  'fetch',
  'require',
]);

function violations(file: string, source: string): string[] {
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const out: string[] = [];
  const visit = (node: ts.Node): void => {
    let spec: string | undefined;
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier) {
      spec = ts.isStringLiteral(node.moduleSpecifier) ? node.moduleSpecifier.text : '<computed>';
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [arg] = node.arguments;
      spec = arg && ts.isStringLiteralLike(arg) ? arg.text : '<computed>';
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      const lit = node.argument.literal;
      if (ts.isStringLiteral(lit)) spec = lit.text;
    }
    if (spec !== undefined) {
      const rel = spec.startsWith('.') ? relative(BFD, resolve(dirname(file), spec)) : undefined;
      if (rel === undefined || rel === '' || rel.startsWith('..') || isAbsolute(rel)) out.push(`import ${spec}`);
    }
    if (ts.isPropertyAccessExpression(node) && ts.isIdentifier(node.expression)) {
      const name = `${node.expression.text}.${node.name.text}`;
      if (FORBIDDEN.has(name)) out.push(`uses ${name}`);
    }
    if (ts.isIdentifier(node) && FORBIDDEN.has(node.text)) {
      const parent = node.parent;
      const isMember = parent && ts.isPropertyAccessExpression(parent) && parent.name === node;
      const isKey =
        parent && (ts.isPropertyAssignment(parent) || ts.isPropertySignature(parent)) && parent.name === node;
      if (!isMember && !isKey) out.push(`uses ${node.text}`);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

describe('bfd/ purity', () => {
  const files = readdirSync(BFD).filter((n) => n.endsWith('.ts'));
  test('the scan sees the codec, the session and the timing', () => {
    for (const f of ['codec.ts', 'session.ts', 'timing.ts', 'packet.ts']) assert.ok(files.includes(f), f);
  });
  for (const name of files) {
    test(`bfd/${name} imports only bfd/ and reads no clock, timer or randomness`, () => {
      const file = join(BFD, name);
      assert.deepEqual(violations(file, readFileSync(file, 'utf8')), []);
    });
  }
  test('the check catches what it must', () => {
    const at = join(BFD, 'session.ts');
    for (const bad of [
      "import dgram from 'node:dgram';",
      "import { x } from '../src/net/bfd-socket.ts';",
      "import { y } from '../vrrp/sim/clock.ts';",
      'export const t = Date.now();',
      'export const r = Math.random();',
      'setTimeout(() => {}, 1);',
      "const m = await import('node:fs');",
    ]) {
      assert.notDeepEqual(violations(at, bad), [], bad);
    }
    assert.deepEqual(violations(at, "import { step } from './session.ts'; const o = { process: 1 }; o.process++;"), []);
  });
});
