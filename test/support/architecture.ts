// architecture.ts — dependency rules over an import graph, and folder cycles. Pure: the graph is handed in, so the
// tests can prove each rule fires on a synthetic violation as well as check the real tree (import-graph.ts).

import type { ImportEdge } from './import-graph.ts';

/** DependencyRule forbids some imports to the files under `appliesTo` (repository-relative folder prefixes). */
export interface DependencyRule {
  readonly name: string;
  readonly appliesTo: readonly string[];
  /** forbids returns why an edge breaks the rule, or undefined when it is allowed. */
  readonly forbids: (edge: ImportEdge) => string | undefined;
}

/** Violation is one import that breaks a rule. */
export interface Violation {
  readonly edge: ImportEdge;
  readonly reason: string;
}

/** under tells whether a repository-relative path lies in one of the folders. */
export function under(path: string, ...folders: string[]): boolean {
  return folders.some((f) => path === f || path.startsWith(f.endsWith('/') ? f : `${f}/`));
}

/** fileIn forbids imports of files under any of the folders. */
export function fileIn(...folders: string[]): (e: ImportEdge) => string | undefined {
  return (e) => (e.kind === 'file' && under(e.to, ...folders) ? `imports ${folders.join(' or ')}` : undefined);
}

/** fileOutside forbids imports of files outside the folder. */
export function fileOutside(folder: string): (e: ImportEdge) => string | undefined {
  return (e) => (e.kind === 'file' && !under(e.to, folder) ? `imports a file outside ${folder}/` : undefined);
}

/** builtin forbids Node built-in modules (names without `node:`; a name also covers its sub-paths). */
export function builtin(...names: string[]): (e: ImportEdge) => string | undefined {
  return (e) =>
    e.kind === 'builtin' && names.some((n) => e.to === `node:${n}` || e.to.startsWith(`node:${n}/`))
      ? `imports ${e.to}`
      : undefined;
}

/** pkg forbids packages by name; a name ending in `/` is a scope ("@kubernetes/"). */
export function pkg(...names: string[]): (e: ImportEdge) => string | undefined {
  return (e) =>
    e.kind === 'package' && names.some((n) => (n.endsWith('/') ? e.to.startsWith(n) : e.to === n))
      ? `imports the package ${e.to}`
      : undefined;
}

/** nativeAddon forbids loading a native addon: a `.node` file, anything under build/ (node-gyp's output), or
 * `node:module`, whose createRequire is how src/net/packet-socket.ts loads the AF_PACKET addon. */
export function nativeAddon(e: ImportEdge): string | undefined {
  if (e.kind === 'file' && (e.to.endsWith('.node') || under(e.to, 'build'))) return 'loads a native addon';
  if (e.kind === 'builtin' && e.to === 'node:module') return 'imports node:module (createRequire loads native addons)';
  return undefined;
}

/** anyOf combines checks: the first reason wins. */
export function anyOf(...checks: ((e: ImportEdge) => string | undefined)[]): (e: ImportEdge) => string | undefined {
  return (e) => {
    for (const check of checks) {
      const reason = check(e);
      if (reason !== undefined) return reason;
    }
    return undefined;
  };
}

/** violations lists the edges of the graph that break the rule, in graph order. */
export function violations(rule: DependencyRule, edges: readonly ImportEdge[]): Violation[] {
  const out: Violation[] = [];
  for (const edge of edges) {
    if (!under(edge.from, ...rule.appliesTo)) continue;
    const reason = rule.forbids(edge);
    if (reason !== undefined) out.push({ edge, reason });
  }
  return out;
}

/** formatEdge writes an edge as `from -> to ('specifier')`. */
export function formatEdge(e: ImportEdge): string {
  return e.specifier === e.to ? `${e.from} -> ${e.to}` : `${e.from} -> ${e.to} ('${e.specifier}')`;
}

/** formatViolations writes one line per violation, for a failure message. */
export function formatViolations(rule: DependencyRule, found: readonly Violation[]): string {
  return [
    `${rule.name}: ${found.length} forbidden import(s)`,
    ...found.map((v) => `  ${formatEdge(v.edge)}: ${v.reason}`),
  ].join('\n');
}

/** folderOf is the folder a file belongs to for the cycle rule: `src/<x>`, and for src/speaker its sub-folders
 * (`src/speaker/<sub>`); a file directly in src/ (the entry `src/cli.ts`, shared leaves such as `src/log.ts`) is a
 * node of its own, since one folder `src` would join the entry point and the leaves every module imports into a
 * cycle that says nothing; lab's sub-folders (`lab/netlab`) are their own folders; elsewhere the top-level folder
 * (`vrrp`, `bench`, `test`). */
export function folderOf(path: string): string {
  const parts = path.split('/');
  const [top, second, third] = parts;
  if (top === 'src') {
    if (parts.length === 2) return path;
    if (second === 'speaker' && parts.length >= 4) return `src/speaker/${third}`;
    return `src/${second}`;
  }
  if (top === 'lab' && parts.length >= 3) return `lab/${second}`;
  return top!;
}

/** FolderCycle is one cycle between folders: `path` starts and ends at the same folder, and `edges[i]` are the file
 * imports behind the step path[i] -> path[i+1]. `tangle` lists every folder of the strongly connected component and
 * `links` every folder edge inside it with its number of file imports: cutting the tangle means cutting some of them. */
export interface FolderCycle {
  readonly path: readonly string[];
  readonly edges: readonly (readonly ImportEdge[])[];
  readonly tangle: readonly string[];
  readonly links: readonly { readonly from: string; readonly to: string; readonly imports: number }[];
}

/** folderCycles finds the folder-level strongly connected components of the graph (Tarjan) and reports for each a
 * shortest cycle through its first folder (by name). Imports within one folder are not edges of the folder graph. */
export function folderCycles(edges: readonly ImportEdge[], folder: (path: string) => string = folderOf): FolderCycle[] {
  // folder -> folder -> file edges behind that folder edge
  const graph = new Map<string, Map<string, ImportEdge[]>>();
  for (const e of edges) {
    if (e.kind !== 'file') continue;
    const a = folder(e.from);
    const b = folder(e.to);
    if (a === b) continue;
    const out = graph.get(a) ?? new Map<string, ImportEdge[]>();
    graph.set(a, out);
    const list = out.get(b) ?? [];
    list.push(e);
    out.set(b, list);
    if (!graph.has(b)) graph.set(b, new Map());
  }
  return stronglyConnected(graph)
    .filter((scc) => scc.length > 1)
    .map((scc) => {
      const members = new Set(scc);
      const start = [...scc].sort()[0]!;
      const path = shortestCycle(graph, start, members);
      const stepEdges = path.slice(0, -1).map((a, i) => graph.get(a)!.get(path[i + 1]!)!);
      const tangle = [...scc].sort();
      const links = tangle.flatMap((a) =>
        [...graph.get(a)!.entries()]
          .filter(([b]) => members.has(b))
          .sort(([x], [y]) => x.localeCompare(y))
          .map(([b, list]) => ({ from: a, to: b, imports: list.length })),
      );
      return { path, edges: stepEdges, tangle, links };
    })
    .sort((x, y) => x.path[0]!.localeCompare(y.path[0]!));
}

/** formatCycle writes a cycle and the file imports behind each step, for a failure message. */
export function formatCycle(c: FolderCycle): string {
  const lines = [`cycle ${c.path.join(' -> ')} (folders in this tangle: ${c.tangle.join(', ')})`];
  c.edges.forEach((step, i) => {
    lines.push(`  ${c.path[i]} -> ${c.path[i + 1]}:`);
    for (const e of step) lines.push(`    ${formatEdge(e)}`);
  });
  lines.push(
    `  folder edges inside the tangle: ${c.links.map((l) => `${l.from} -> ${l.to} (${l.imports})`).join(', ')}`,
  );
  return lines.join('\n');
}

function stronglyConnected(graph: Map<string, Map<string, ImportEdge[]>>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const out: string[][] = [];
  let next = 0;
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of [...graph.get(v)!.keys()].sort()) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      out.push(scc);
    }
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return out;
}

/** shortestCycle walks breadth-first from start inside one component back to start. */
function shortestCycle(graph: Map<string, Map<string, ImportEdge[]>>, start: string, members: Set<string>): string[] {
  const parent = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift()!;
    for (const w of [...graph.get(v)!.keys()].sort()) {
      if (!members.has(w)) continue;
      if (w === start) {
        const between: string[] = [];
        for (let u = v; u !== start; u = parent.get(u)!) between.unshift(u);
        return [start, ...between, start];
      }
      if (!parent.has(w) && w !== start) {
        parent.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start, start];
}
