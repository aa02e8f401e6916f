// bundle.mjs — `npm run build`'s second step: src/cli.ts and every npm dependency it reaches, bundled and minified by
// esbuild into dist/bundle/ (ESM, one chunk per lazily imported command, so a standalone speaker never loads
// @kubernetes/client-node's chunk). This is what the image runs (Dockerfile ENTRYPOINT). Why: node keeps the source
// of every loaded module in memory and compiles from it; 400 modules of node_modules (most of them unused code paths)
// cost the speaker several MB of RSS that one minified file does not, and the image then needs no node_modules.
// The AF_PACKET addon stays a file of its own (build/Release/packet_socket.node, found from the bundle's folder).
// Fails when an output still imports a package at run time (only node builtins may stay outside the bundle).
import { rmSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
export const BUNDLE_DIR = 'dist/bundle';
/**
 * OPTIONAL: packages required inside try/catch as optional extras, absent in the image on purpose: ws's speed-ups
 * (bufferutil, utf-8-validate) and node-fetch's legacy charset conversion (encoding).
 */
const OPTIONAL = new Set(['bufferutil', 'utf-8-validate', 'encoding']);

/**
 * nodeUrl resolves `whatwg-url` to Node's own URL. node-fetch 2 (client-node's HTTP library) requires whatwg-url
 * only as a fallback for Nodes without a global URL (`Url.URL || whatwgUrl.URL`), and requiring it evaluates tr46's
 * 250 KB mapping table: about 2.5 MB of heap in every process that loads client-node, for code Node 20 never runs.
 */
const nodeUrl = {
  name: 'node-url',
  setup(b) {
    b.onResolve({ filter: /^whatwg-url$/ }, () => ({ path: 'whatwg-url', namespace: 'node-url' }));
    b.onLoad({ filter: /.*/, namespace: 'node-url' }, () => ({
      contents: 'module.exports = { URL: globalThis.URL, URLSearchParams: globalThis.URLSearchParams };',
      loader: 'js',
    }));
  },
};

rmSync(new URL(`../${BUNDLE_DIR}`, import.meta.url), { recursive: true, force: true }); // no stale chunks
const result = await build({
  absWorkingDir: root,
  entryPoints: { cli: 'src/cli.ts' },
  outdir: BUNDLE_DIR,
  outExtension: { '.js': '.mjs' },
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  minify: true,
  // Names of classes and functions kept: logs and errors name them (err.name, constructor names in stack traces).
  keepNames: true,
  sourcemap: 'linked',
  legalComments: 'none',
  metafile: true,
  external: [...OPTIONAL],
  plugins: [nodeUrl],
  // Bundled CommonJS packages call require() for node builtins: give ESM a require.
  banner: {
    js: 'import{createRequire as __mvCreateRequire}from"node:module";const require=__mvCreateRequire(import.meta.url);',
  },
  logLevel: 'warning',
});

const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
const leaks = [];
for (const [file, out] of Object.entries(result.metafile.outputs)) {
  for (const imp of out.imports) {
    if (imp.external && !builtins.has(imp.path) && !OPTIONAL.has(imp.path)) leaks.push(`${file} imports ${imp.path}`);
  }
}
if (leaks.length > 0) {
  console.error(`bundle: outputs import packages that are not in the bundle:\n  ${leaks.join('\n  ')}`);
  process.exit(1);
}
const bytes = Object.entries(result.metafile.outputs)
  .filter(([f]) => f.endsWith('.mjs'))
  .reduce((n, [, o]) => n + o.bytes, 0);
console.log(`bundle: ${BUNDLE_DIR}/cli.mjs and its chunks, ${(bytes / 1024).toFixed(0)} KiB of JavaScript`);
