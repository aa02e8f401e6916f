// manifests-image.test.ts — the Dockerfile cannot be built here (no Docker engine), so what can be checked without
// building is: two stages on a slim Node 20 base, a runtime stage that copies only from the build stage, installs only
// iproute2 (the speaker's link watch runs `ip`) and runs as a non-root user, every file the build stage copies exists
// and is not excluded by .dockerignore, the runtime gets the bundle and the addon but no node_modules, and the entry
// point is the bundle `npm run build` makes of src/cli.ts.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
const ignored = readFileSync(join(root, '.dockerignore'), 'utf8')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l !== '' && !l.startsWith('#'));

interface Instruction {
  readonly op: string;
  readonly args: string;
}
/** stages splits the Dockerfile into stages of instructions (comments dropped, continuation lines joined). */
function stages(text: string): Instruction[][] {
  const out: Instruction[][] = [];
  const joined = text
    .split('\n')
    .filter((l) => !l.trimStart().startsWith('#'))
    .join('\n')
    .replace(/\\\n/g, ' ');
  for (const line of joined.split('\n')) {
    const m = /^\s*([A-Z]+)\s+(.*)$/.exec(line);
    if (!m) continue;
    if (m[1] === 'FROM') out.push([]);
    out.at(-1)?.push({ op: m[1]!, args: m[2]!.trim() });
  }
  return out;
}
const [build, runtime, ...more] = stages(dockerfile);

/** isIgnored applies .dockerignore's patterns as used here: a path, a top-level name, `**` + suffix, or `prefix*`. */
function isIgnored(path: string): boolean {
  return ignored.some((p) => {
    const re = new RegExp(
      `^${p
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*\*\//g, '(?:.*/)?')
        .replace(/\*/g, '[^/]*')}(?:/.*)?$`,
    );
    return re.test(path);
  });
}

test('two stages, both on a slim Node 20 base', () => {
  assert.ok(build && runtime, 'a build and a runtime stage');
  assert.equal(more.length, 0);
  for (const stage of [build, runtime]) assert.match(stage[0]!.args, /^node:20-[a-z]+-slim\b/);
  assert.match(build[0]!.args, / AS build$/i);
});

test('build stage: every copied path exists and reaches the build context', () => {
  const copies = build!.filter((i) => i.op === 'COPY');
  assert.ok(copies.length > 0);
  for (const c of copies) {
    const parts = c.args.split(/\s+/);
    for (const src of parts.slice(0, -1)) {
      const path = src.replace(/\/$/, '');
      assert.ok(existsSync(join(root, path)), `COPY ${src}: no such path`);
      assert.ok(!isIgnored(path), `COPY ${src}: excluded by .dockerignore`);
    }
  }
  assert.ok(isIgnored('node_modules') && isIgnored('test/unit/x.ts') && isIgnored('docs/a.md'), '.dockerignore read');
});

test('build stage: the addon, then TypeScript checked and bundled (npm run build: tsc, scripts/bundle.mjs)', () => {
  const runs = build!.filter((i) => i.op === 'RUN').map((i) => i.args);
  const ci = runs.findIndex((r) => /^npm ci\b/.test(r) && !r.includes('--omit=dev'));
  const compile = runs.indexOf('npm run build');
  assert.ok(ci >= 0 && ci < compile, `npm ci, then npm run build: ${runs}`);
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  assert.match(pkg.scripts['build'] ?? '', /^tsc -p tsconfig\.build\.json && node scripts\/bundle\.mjs$/);
  assert.ok(existsSync(join(root, 'binding.gyp')), 'npm ci builds the addon through binding.gyp');
});

test('runtime stage: copies only the bundle and the addon from the build stage, runs as non-root, starts the bundle', () => {
  const copies = runtime!.filter((i) => i.op === 'COPY').map((i) => i.args);
  assert.deepEqual(copies, [
    '--from=build /src/dist/bundle/ dist/bundle/',
    '--from=build /src/build/Release/*.node build/Release/',
  ]);
  // Installed at runtime: iproute2 only (`ip -o monitor link`, the speaker's interface watch), no npm.
  const runs = runtime!.filter((i) => i.op === 'RUN').map((i) => i.args);
  assert.ok(!runs.some((r) => /\bnpm\b/.test(r)), `no npm at runtime: ${runs}`);
  const installs = runs.flatMap((r) => [...r.matchAll(/apt-get install ([^&]*)/g)].map((m) => m[1]!.trim()));
  assert.deepEqual(installs, ['-y --no-install-recommends iproute2'], `runtime packages: ${runs}`);
  assert.ok(
    runs.every((r) => !/apt-get/.test(r) || /rm -rf \/var\/lib\/apt\/lists\/\*$/.test(r)),
    'apt lists removed in the same layer',
  );
  const user = runtime!.filter((i) => i.op === 'USER').at(-1);
  assert.ok(user && !/^(0|root)(:|$)/.test(user.args), `USER ${user?.args}`);
  const entry = runtime!.find((i) => i.op === 'ENTRYPOINT');
  const argv = JSON.parse(entry!.args) as string[];
  assert.equal(argv[0], 'node');
  assert.equal(argv.at(-1), 'dist/bundle/cli.mjs');
  // Between them only V8 / node flags (bench:speaker-load reads them from here to run the bundle as the image does).
  for (const flag of argv.slice(1, -1)) assert.match(flag, /^--[a-z0-9-]+(=\S+)?$/);
  const bundler = readFileSync(join(root, 'scripts/bundle.mjs'), 'utf8');
  assert.match(bundler, /entryPoints: \{ cli: 'src\/cli\.ts' \}/, 'dist/bundle/cli.mjs is bundled from src/cli.ts');
  assert.match(bundler, /BUNDLE_DIR = 'dist\/bundle'/);
  assert.match(bundler, /outExtension: \{ '\.js': '\.mjs' \}/);
});
