// architecture.test.ts — the dependency rules of the layout (README, "Layout"; issue 11), each a test over the real
// import graph of src/, vrrp/, lab/ and bench/ that names the offending imports when it fails. The self-tests below
// feed every rule, and the cycle check, a synthetic violation, so none of them can pass by checking nothing.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  anyOf,
  builtin,
  type DependencyRule,
  fileIn,
  fileOutside,
  folderCycles,
  folderOf,
  formatCycle,
  formatEdge,
  formatViolations,
  nativeAddon,
  pkg,
  under,
  violations,
} from '../support/architecture.ts';
import {
  type ImportEdge,
  importSpecifiers,
  REPO_ROOT,
  resolveSpecifier,
  scanImportGraph,
} from '../support/import-graph.ts';

const KUBERNETES = pkg('@kubernetes/', 'kubernetes-models');

/** RULES are the layout's dependency rules. */
const RULES: readonly DependencyRule[] = [
  {
    name: 'vrrp/ (the engine) is pure: nothing outside vrrp/, no sockets, processes, real timers, addon or Kubernetes',
    appliesTo: ['vrrp'],
    forbids: anyOf(
      fileOutside('vrrp'),
      builtin('net', 'dgram', 'child_process', 'http', 'https', 'http2', 'tls', 'timers'),
      pkg('raw-socket'),
      KUBERNETES,
      nativeAddon,
    ),
  },
  {
    name: 'src/net/ knows no Kubernetes, no speaker and no controller',
    appliesTo: ['src/net'],
    forbids: anyOf(fileIn('src/k8s', 'src/speaker', 'src/controller'), KUBERNETES),
  },
  {
    name: 'src/model/ knows no Kubernetes client and none of k8s, net, speaker, controller',
    appliesTo: ['src/model'],
    forbids: anyOf(KUBERNETES, fileIn('src/k8s', 'src/net', 'src/speaker', 'src/controller')),
  },
  {
    name: 'src/controller/ never touches the wire: no src/net, raw-socket or native addon',
    appliesTo: ['src/controller'],
    forbids: anyOf(fileIn('src/net'), pkg('raw-socket'), builtin('dgram'), nativeAddon),
  },
  {
    name: 'src/ never imports lab/, bench/ or test/',
    appliesTo: ['src'],
    forbids: fileIn('lab', 'bench', 'test'),
  },
  {
    name: 'lab/ and bench/ import nothing from test/',
    appliesTo: ['lab', 'bench'],
    forbids: fileIn('test'),
  },
];

const SCANNED = ['src', 'vrrp', 'lab', 'bench'];
const graph = scanImportGraph(REPO_ROOT, SCANNED);

describe('dependency rules on the tree', () => {
  for (const rule of RULES) {
    test(rule.name, () => {
      const found = violations(rule, graph.edges);
      assert.equal(found.length, 0, formatViolations(rule, found));
    });
  }

  test('every rule applies to some files (a renamed folder would make its rule vacuous)', () => {
    const empty = RULES.filter((r) => !graph.files.some((f) => under(f, ...r.appliesTo))).map(
      (r) => `${r.appliesTo.join(', ')}: no .ts files (rule "${r.name}")`,
    );
    assert.deepEqual(empty, [], empty.join('\n'));
  });

  test('no cycles between folders (src/<x>, src/speaker/<sub>, src/*.ts, vrrp, lab, lab/<sub>, bench)', () => {
    const cycles = folderCycles(graph.edges);
    assert.equal(cycles.length, 0, cycles.map(formatCycle).join('\n'));
  });

  test('the scan sees the tree: files in every scanned folder and imports between them', () => {
    for (const folder of SCANNED)
      assert.ok(
        graph.files.some((f) => under(f, folder)),
        `no files under ${folder}/`,
      );
    assert.ok(
      graph.edges.some((e) => e.from.startsWith('src/') && e.to.startsWith('vrrp/')),
      'no import from src/ into the engine found: the scanner is broken',
    );
  });
});

/** edge builds a synthetic import. */
function edge(from: string, to: string, kind: ImportEdge['kind'] = 'file'): ImportEdge {
  return { from, to, kind, specifier: to };
}

/** CASES are, per rule, imports it must flag and imports it must allow. */
const CASES: Record<string, { bad: ImportEdge[]; good: ImportEdge[] }> = {
  [RULES[0]!.name]: {
    bad: [
      edge('vrrp/router.ts', 'src/log.ts'),
      edge('vrrp/sim/lan.ts', 'test/support/fake-clock.ts'),
      edge('vrrp/codec.ts', 'node:dgram', 'builtin'),
      edge('vrrp/codec.ts', 'node:net', 'builtin'),
      edge('vrrp/codec.ts', 'node:child_process', 'builtin'),
      edge('vrrp/router.ts', 'node:timers/promises', 'builtin'),
      edge('vrrp/codec.ts', 'raw-socket', 'package'),
      edge('vrrp/codec.ts', 'node:module', 'builtin'),
      edge('vrrp/codec.ts', 'build/Release/packet_socket.node'),
      edge('vrrp/index.ts', '@kubernetes/client-node', 'package'),
    ],
    good: [
      edge('vrrp/router.ts', 'vrrp/timing.ts'),
      edge('vrrp/sim/lan.ts', 'vrrp/router.ts'),
      edge('vrrp/codec.ts', 'ipaddr.js', 'package'),
      edge('vrrp/priority.ts', 'node:crypto', 'builtin'),
      edge('src/net/vrrp-socket.ts', 'raw-socket', 'package'),
    ],
  },
  [RULES[1]!.name]: {
    bad: [
      edge('src/net/local-addresses.ts', 'src/speaker/desired-routers.ts'),
      edge('src/net/frames/arp.ts', 'src/k8s/clients.ts'),
      edge('src/net/announce.ts', 'src/controller/config.ts'),
      edge('src/net/announce.ts', '@kubernetes/client-node', 'package'),
    ],
    good: [
      edge('src/net/announce.ts', 'src/net/frames/arp.ts'),
      edge('src/net/announce.ts', 'vrrp/codec.ts'),
      edge('src/net/announce.ts', 'src/model/local-node.ts'),
      edge('src/net/vrrp-socket.ts', 'raw-socket', 'package'),
      edge('src/k8s/clients.ts', '@kubernetes/client-node', 'package'),
    ],
  },
  [RULES[2]!.name]: {
    bad: [
      edge('src/model/pool.ts', '@kubernetes/client-node', 'package'),
      edge('src/model/pool.ts', 'src/k8s/plain.ts'),
      edge('src/model/pool.ts', 'src/net/frames/address.ts'),
      edge('src/model/pool.ts', 'src/speaker/runtime/vip-table.ts'),
      edge('src/model/pool.ts', 'src/controller/ip-range.ts'),
    ],
    good: [
      edge('src/model/pool.ts', 'src/model/ip.ts'),
      edge('src/model/pool.ts', 'ipaddr.js', 'package'),
      edge('src/model/pool.ts', 'src/errors.ts'),
      edge('src/k8s/sources.ts', 'src/model/pool.ts'),
    ],
  },
  [RULES[3]!.name]: {
    bad: [
      edge('src/controller/reconciler.ts', 'src/net/packet-socket.ts'),
      edge('src/controller/reconciler.ts', 'raw-socket', 'package'),
      edge('src/controller/reconciler.ts', 'node:dgram', 'builtin'),
      edge('src/controller/reconciler.ts', 'node:module', 'builtin'),
      edge('src/controller/reconciler.ts', 'build/Release/packet_socket.node'),
    ],
    good: [
      edge('src/controller/reconciler.ts', 'src/model/pool.ts'),
      edge('src/controller/reconciler.ts', 'src/metrics.ts'),
      edge('src/controller/reconciler.ts', 'node:http', 'builtin'),
      edge('src/speaker/runtime/effects.ts', 'src/net/announce.ts'),
    ],
  },
  [RULES[4]!.name]: {
    bad: [
      edge('src/cli/speaker.ts', 'lab/netlab/exec.ts'),
      edge('src/speaker/x.ts', 'bench/soak.ts'),
      edge('src/k8s/clients.ts', 'test/support/fake-clock.ts'),
    ],
    good: [
      edge('src/cli/speaker.ts', 'src/speaker/speaker.ts'),
      edge('lab/run.ts', 'src/cli/speaker.ts'),
      edge('src/cli/lab.ts', 'src/labels.ts'),
    ],
  },
  [RULES[5]!.name]: {
    bad: [edge('lab/run.ts', 'test/harness/exec.ts'), edge('bench/soak.ts', 'test/support/pcap.ts')],
    good: [
      edge('lab/run.ts', 'lab/netlab/exec.ts'),
      edge('bench/soak.ts', 'lab/netlab/speaker.ts'),
      edge('bench/soak.ts', 'src/speaker/speaker.ts'),
      edge('test/net/lab.test.ts', 'lab/netlab/netns.ts'),
      edge('lab/tests.ts', 'lab/test-plan.ts'),
    ],
  },
};

describe('the rules fire on synthetic violations', () => {
  for (const rule of RULES) {
    test(rule.name, () => {
      const cases = CASES[rule.name];
      assert.ok(cases, `no self-test cases for rule "${rule.name}"`);
      const found = violations(rule, [...cases.good, ...cases.bad]).map((v) => v.edge);
      assert.deepEqual(found, cases.bad);
      assert.match(formatViolations(rule, violations(rule, cases.bad)), new RegExp(`${cases.bad[0]!.from} -> `));
    });
  }
});

describe('folder cycles', () => {
  test('folders: src/<x>, src/speaker/<sub>, each file directly in src/, lab/<sub>, top-level folders', () => {
    const table: [string, string][] = [
      ['src/net/frames/arp.ts', 'src/net'],
      ['src/speaker/speaker-host.ts', 'src/speaker'],
      ['src/speaker/runtime/vip-table.ts', 'src/speaker/runtime'],
      ['src/speaker/cluster/deep/x.ts', 'src/speaker/cluster'],
      ['src/log.ts', 'src/log.ts'],
      ['vrrp/sim/lan.ts', 'vrrp'],
      ['lab/run.ts', 'lab'],
      ['lab/netlab/netns.ts', 'lab/netlab'],
      ['bench/soak.ts', 'bench'],
    ];
    for (const [path, folder] of table) assert.equal(folderOf(path), folder, path);
  });

  test('an acyclic graph has no cycle; imports inside one folder are not cycles', () => {
    const edges = [
      edge('src/cli/speaker.ts', 'src/speaker/speaker.ts'),
      edge('src/speaker/speaker.ts', 'src/net/announce.ts'),
      edge('src/net/announce.ts', 'vrrp/codec.ts'),
      edge('src/net/a.ts', 'src/net/frames/b.ts'),
      edge('src/net/frames/b.ts', 'src/net/a.ts'),
      edge('src/speaker/speaker.ts', 'ipaddr.js', 'package'),
    ];
    assert.deepEqual(folderCycles(edges), []);
  });

  test('a cycle is reported with its path and the imports behind each step', () => {
    const closing = edge('src/net/local-addresses.ts', 'src/speaker/desired-routers.ts');
    const edges = [
      edge('src/speaker/runtime/effects.ts', 'src/net/announce.ts'),
      edge('src/speaker/speaker-host.ts', 'src/speaker/runtime/effects.ts'),
      closing,
      edge('src/cli/speaker.ts', 'src/speaker/speaker-host.ts'),
    ];
    const cycles = folderCycles(edges);
    assert.equal(cycles.length, 1);
    const [cycle] = cycles;
    assert.deepEqual(cycle!.path, ['src/net', 'src/speaker', 'src/speaker/runtime', 'src/net']);
    assert.deepEqual(cycle!.edges[0], [closing]);
    assert.deepEqual(cycle!.tangle, ['src/net', 'src/speaker', 'src/speaker/runtime']);
    assert.deepEqual(cycle!.links, [
      { from: 'src/net', to: 'src/speaker', imports: 1 },
      { from: 'src/speaker', to: 'src/speaker/runtime', imports: 1 },
      { from: 'src/speaker/runtime', to: 'src/net', imports: 1 },
    ]);
    const text = formatCycle(cycle!);
    assert.match(text, /cycle src\/net -> src\/speaker -> src\/speaker\/runtime -> src\/net/);
    assert.match(text, /src\/net\/local-addresses\.ts -> src\/speaker\/desired-routers\.ts/);
  });

  test('two separate tangles are two cycles', () => {
    const edges = [
      edge('src/a/x.ts', 'src/b/x.ts'),
      edge('src/b/x.ts', 'src/a/x.ts'),
      edge('lab/netlab/x.ts', 'lab/x.ts'),
      edge('lab/x.ts', 'lab/netlab/x.ts'),
    ];
    assert.deepEqual(
      folderCycles(edges).map((c) => c.path),
      [
        ['lab', 'lab/netlab', 'lab'],
        ['src/a', 'src/b', 'src/a'],
      ],
    );
  });

  test('an import from the engine back into one of its users would close a cycle in the real tree', () => {
    const user = graph.edges.find((e) => e.from.startsWith('src/') && e.to.startsWith('vrrp/'));
    assert.ok(user, 'no import from src/ into vrrp/ found');
    const back = edge(user.to, user.from);
    const cycles = folderCycles([...graph.edges, back]);
    assert.ok(
      cycles.some((c) => c.tangle.includes('vrrp') && c.tangle.includes(folderOf(user.from))),
      `adding ${formatEdge(back)} did not produce a cycle through vrrp`,
    );
  });
});

describe('import scanner', () => {
  test('finds static, type, side-effect, re-export and dynamic imports, not ones in comments or strings', () => {
    const source = [
      "// import a from 'in-comment';",
      "/* export * from 'in-block' */",
      "import type { X } from './x.js';",
      "import './side.js';",
      "import def, { y } from '../y.ts';",
      "export * from './star.js';",
      "export { z } from './z.js';",
      "export type { W } from './w.js';",
      'const s = "import q from \'in-string\'";',
      "async function f() { await import('node:net'); }",
    ].join('\n');
    assert.deepEqual(importSpecifiers(source), [
      './x.js',
      './side.js',
      '../y.ts',
      './star.js',
      './z.js',
      './w.js',
      'node:net',
    ]);
  });

  test('resolves .js to the .ts source, normalises built-ins and package sub-paths', () => {
    const files = new Set(['src/speaker/desired-routers.ts', 'src/model/index.ts']);
    const exists = (p: string): boolean => files.has(p);
    assert.deepEqual(resolveSpecifier('src/net/local-addresses.ts', '../speaker/desired-routers.js', exists), {
      to: 'src/speaker/desired-routers.ts',
      kind: 'file',
    });
    assert.deepEqual(resolveSpecifier('src/net/x.ts', '../model', exists), { to: 'src/model/index.ts', kind: 'file' });
    assert.deepEqual(resolveSpecifier('src/net/x.ts', 'dgram', exists), { to: 'node:dgram', kind: 'builtin' });
    assert.deepEqual(resolveSpecifier('src/net/x.ts', 'node:fs/promises', exists), {
      to: 'node:fs/promises',
      kind: 'builtin',
    });
    assert.deepEqual(resolveSpecifier('src/cli.ts', 'yargs/helpers', exists), { to: 'yargs', kind: 'package' });
    assert.deepEqual(resolveSpecifier('src/k8s/x.ts', '@kubernetes/client-node/dist/gen', exists), {
      to: '@kubernetes/client-node',
      kind: 'package',
    });
  });
});
