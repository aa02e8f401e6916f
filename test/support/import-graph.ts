// import-graph.ts — the module import graph of the repository's TypeScript, for the architecture tests.
// Specifiers come from the TypeScript compiler's own pre-processor (`ts.preProcessFile`): static `import`, `import
// type`, side-effect imports, `export … from`, dynamic `import('literal')`, `import x = require()` and `require()`,
// while comments and strings that merely look like imports are skipped. Dynamic imports of computed strings cannot be
// seen by any scanner; the code base has none in src/ or vrrp/.

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { join, posix, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/** ImportEdge is one import of one file (repository-relative). `to` is a repository-relative path for a file
 * ("src/net/x.ts"), `node:<name>` for a Node built-in, the package name for a package ("@kubernetes/client-node"). */
export interface ImportEdge {
  readonly from: string;
  readonly to: string;
  readonly kind: ImportKind;
  readonly specifier: string;
}

/** ImportKind says what an edge's target is. */
export type ImportKind = 'file' | 'builtin' | 'package';

/** importSpecifiers lists the module specifiers one source file imports, in source order. */
export function importSpecifiers(source: string): string[] {
  return ts.preProcessFile(source, true, true).importedFiles.map((f) => f.fileName);
}

/** resolveSpecifier turns a specifier written in `from` (repository-relative) into an edge target; `exists` tells
 * whether a repository-relative path is a file. `.js` suffixes name the `.ts` source (nodenext). */
export function resolveSpecifier(
  from: string,
  specifier: string,
  exists: (path: string) => boolean,
): { to: string; kind: ImportKind } {
  if (specifier.startsWith('.')) {
    const base = posix.normalize(posix.join(posix.dirname(from), specifier));
    const candidates = [base];
    if (base.endsWith('.js')) candidates.unshift(`${base.slice(0, -3)}.ts`);
    if (!/\.[cm]?[jt]s$|\.node$|\.json$/.test(base)) candidates.push(`${base}.ts`, `${base}/index.ts`);
    return { to: candidates.find(exists) ?? base, kind: 'file' };
  }
  if (specifier.startsWith('node:') || isBuiltin(specifier)) {
    return { to: specifier.startsWith('node:') ? specifier : `node:${specifier}`, kind: 'builtin' };
  }
  const parts = specifier.split('/');
  return { to: specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!, kind: 'package' };
}

/** sourceFiles lists the .ts files (not .d.ts) under the given repository-relative folders, repository-relative. */
export function sourceFiles(root: string, folders: readonly string[]): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    if (!existsSync(dir)) return;
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (name === 'node_modules') continue;
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(relative(root, path).split(sep).join('/'));
    }
  };
  for (const folder of folders) walk(join(root, folder));
  return out;
}

/** scanImportGraph reads every source file under `folders` and returns its files and import edges. */
export function scanImportGraph(root: string, folders: readonly string[]): { files: string[]; edges: ImportEdge[] } {
  const files = sourceFiles(root, folders);
  const exists = (path: string): boolean => existsSync(join(root, path)) && statSync(join(root, path)).isFile();
  const edges: ImportEdge[] = [];
  for (const from of files) {
    const source = readFileSync(join(root, from), 'utf8');
    for (const specifier of importSpecifiers(source)) {
      edges.push({ from, ...resolveSpecifier(from, specifier, exists), specifier });
    }
  }
  return { files, edges };
}

/** REPO_ROOT is the repository's root folder. */
export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
