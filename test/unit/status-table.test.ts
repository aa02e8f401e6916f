import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ClusterSnapshot, NodeView, ServiceView } from '../../src/model/cluster-snapshot.ts';
import { parseConfig } from '../../src/model/config.ts';
import { healthNotesByVip, type NodeHealthEntry } from '../../src/model/node-health-report.ts';
import { parsePoolTunings } from '../../src/model/pool-tuning.ts';
import type { ServiceL2StatusObject } from '../../src/model/service-l2-status.ts';
import { routerGroups } from '../../src/speaker/cluster/desired-routers.ts';
import { buildL2Status } from '../../src/speaker/cluster/l2-status.ts';
import {
  buildStatusRows,
  formatInterval,
  healthCell,
  humanDuration,
  renderStatusJson,
  renderStatusTable,
  STATUS_COLUMNS,
  type StatusRow,
  statusCells,
} from '../../src/status/table.ts';

const STATUS_HEALTH = STATUS_COLUMNS.indexOf('HEALTH');

const NODES: NodeView[] = ['node-a', 'node-b', 'node-c'].map((name) => ({
  name,
  labels: {},
  ready: true,
  networkUnavailable: false,
  internalIps: [],
}));
const svc = (name: string, vips: string[], vrids?: string, namespace = 'default'): ServiceView => ({
  namespace,
  name,
  vips,
  externalTrafficPolicy: 'Cluster',
  vridAnnotation: vrids,
});
const POOLS = [
  { metadata: { name: 'gold' }, spec: { addresses: ['10.0.0.0/24', 'fd00::/64'] } },
  {
    metadata: { name: 'fast', annotations: { 'metal-vrrp.io/advert-interval': '20ms' } },
    spec: { addresses: ['10.0.1.0/24'] },
  },
];

function snapshot(services: ServiceView[]): ClusterSnapshot {
  const { config } = parseConfig({ pools: POOLS, l2Advertisements: [{ metadata: { name: 'l2' } }] });
  return {
    services,
    nodes: NODES,
    readyEndpoints: new Map(),
    pools: config.pools,
    l2Advertisements: config.l2Advertisements,
    tunings: parsePoolTunings(POOLS).tunings,
  };
}

const status = (node: string, svcName: string, vips: string[] | undefined, created: string): ServiceL2StatusObject => {
  const o = buildL2Status({
    namespace: 'metallb-system',
    node,
    serviceNamespace: 'default',
    serviceName: svcName,
    vips: vips ?? [],
    interfaces: ['eth0'],
  });
  const annotations = vips === undefined ? {} : o.metadata.annotations;
  return { ...o, metadata: { ...o.metadata, annotations, creationTimestamp: created } };
};

describe('humanDuration (kubectl ages)', () => {
  const s = 1000;
  const m = 60 * s;
  const h = 60 * m;
  const d = 24 * h;
  // [ms, text]
  const cases: readonly [number, string][] = [
    [-5 * s, '<invalid>'],
    [-1500, '0s'],
    [0, '0s'],
    [999, '0s'],
    [59 * s, '59s'],
    [119 * s, '119s'],
    [2 * m, '2m'],
    [5 * m + 3 * s, '5m3s'],
    [10 * m + 59 * s, '10m'],
    [179 * m, '179m'],
    [3 * h, '3h'],
    [7 * h + 59 * m, '7h59m'],
    [8 * h + 30 * m, '8h'],
    [47 * h, '47h'],
    [2 * d, '2d'],
    [3 * d + 4 * h, '3d4h'],
    [8 * d + 5 * h, '8d'],
    [729 * d, '729d'],
    [730 * d, '2y'],
    [3 * 365 * d + 100 * d, '3y100d'],
    [9 * 365 * d, '9y'],
  ];
  for (const [ms, want] of cases) test(`${ms} ms → ${want}`, () => assert.equal(humanDuration(ms), want));
});

describe('formatInterval', () => {
  const cases: readonly [number, string][] = [
    [10, '10ms'],
    [100, '100ms'],
    [990, '990ms'],
    [1000, '1s'],
    [1500, '1.5s'],
    [40950, '40.95s'],
  ];
  for (const [ms, want] of cases) test(`${ms} → ${want}`, () => assert.equal(formatInterval(ms), want));
});

describe('buildStatusRows', () => {
  const services = [
    svc('web', ['fd00::10', '10.0.0.10'], '10.0.0.10=7,fd00::10=7'),
    svc('api', ['10.0.1.5'], '10.0.1.5=9'),
    svc('new', ['10.0.0.99']),
  ];
  const snap = snapshot(services);
  const { groups } = routerGroups(snap);
  const rankingOf = (key: string) => groups.find((g) => g.key === key)!.ranking;

  test('pool, VRID, interval and backups from the router group; master and time from ServiceL2Status', () => {
    const v4 = rankingOf('ipv4/7');
    const v6 = rankingOf('ipv6/7');
    const rows = buildStatusRows({
      services,
      groups,
      pools: snap.pools,
      l2Statuses: [
        status(v4[0]!.node, 'web', ['10.0.0.10'], '2026-11-30T10:00:00Z'),
        status(v6[1]!.node, 'web', ['fd00::10'], '2026-11-30T11:00:00Z'),
      ],
    });
    assert.deepEqual(
      rows.map((r) => [r.name, r.vip, r.pool, r.vrid, r.master, r.advertIntervalMs, r.lastTransitionTime]),
      [
        ['api', '10.0.1.5', 'fast', 9, null, 20, null],
        ['new', '10.0.0.99', 'gold', null, null, null, null],
        ['web', '10.0.0.10', 'gold', 7, v4[0]!.node, 100, '2026-11-30T10:00:00Z'],
        ['web', 'fd00::10', 'gold', 7, v6[1]!.node, 100, '2026-11-30T11:00:00Z'],
      ],
    );
    const web4 = rows[2]!;
    assert.deepEqual(web4.backups, v4.slice(1));
    const web6 = rows[3]!;
    assert.deepEqual(web6.backups, [v6[0], v6[2]]);
    assert.deepEqual(rows[0]!.backups, rankingOf('ipv4/9'));
  });

  test('a MetalLB-written status (no VIP list) covers every VIP; two claims: both shown, newest first; reported backups win', () => {
    const v4 = rankingOf('ipv4/7');
    const rows = buildStatusRows({
      services: [services[0]!],
      groups,
      l2Statuses: [
        status('node-a', 'web', undefined, '2026-11-30T10:00:00Z'),
        status('node-c', 'web', ['fd00::10'], '2026-11-30T12:00:00Z'),
      ],
      reported: new Map([['ipv4/7', [{ node: 'node-b', priority: 200 }]]]),
    });
    assert.deepEqual(
      rows.map((r) => [r.vip, r.master, r.backups]),
      [
        ['10.0.0.10', 'node-a', [{ node: 'node-b', priority: 200 }]],
        ['fd00::10', 'node-c', rankingOf('ipv6/7').filter((r) => r.node !== 'node-c' && r.node !== 'node-a')],
      ],
    );
    // fd00::10 is claimed by node-a (the MetalLB-style object) and node-c: a split brain, named in the MASTER cell.
    assert.deepEqual(
      rows.map((r) => r.masters),
      [['node-a'], ['node-c', 'node-a']],
    );
    assert.equal(statusCells(rows[1]!, Date.parse('2026-11-30T12:00:05Z'))[5], 'node-c,node-a (2 masters)');
    assert.equal(statusCells(rows[0]!, Date.parse('2026-11-30T12:00:05Z'))[5], 'node-a');
    assert.deepEqual(JSON.parse(renderStatusJson(rows)).items[1].masters, ['node-c', 'node-a']);
    assert.ok(v4.length === 3);
  });
});

describe('preferred nodes (L2Advertisement preferredNodeSelectors)', () => {
  test('rows name the preferred candidates in rank order with their scores; none without preferences', () => {
    const labelled = NODES.map((n) => ({ ...n, labels: { tier: n.name === 'node-a' ? 'edge' : 'core' } }));
    const ads = [
      {
        metadata: { name: 'l2' },
        spec: {
          preferredNodeSelectors: [
            { weight: 30, preference: { matchLabels: { tier: 'core' } } },
            { weight: 80, preference: { matchLabels: { tier: 'edge' } } },
          ],
        },
      },
    ];
    const { config } = parseConfig({ pools: POOLS, l2Advertisements: ads });
    const services = [svc('web', ['10.0.0.10'], '10.0.0.10=7')];
    const snap = { ...snapshot(services), nodes: labelled, l2Advertisements: config.l2Advertisements };
    const { groups } = routerGroups(snap);
    const ranking = groups[0]!.ranking;
    assert.equal(ranking[0]!.node, 'node-a');
    const [row] = buildStatusRows({
      services,
      groups,
      l2Statuses: [status('node-a', 'web', undefined, '2026-11-30T10:00:00Z')],
    });
    assert.deepEqual(row!.preferred, [
      { node: 'node-a', score: 80 },
      ...ranking.slice(1).map((r) => ({ node: r.node, score: 30 })),
    ]);
    const [plain] = buildStatusRows({ services, groups: routerGroups(snapshot(services)).groups, l2Statuses: [] });
    assert.deepEqual(plain!.preferred, []);
  });
});

describe('rendering', () => {
  const rows: StatusRow[] = [
    {
      namespace: 'default',
      name: 'web',
      vip: '10.0.0.10',
      family: 'ipv4',
      pool: 'gold',
      vrid: 7,
      master: 'node-a',
      backups: [
        { node: 'node-c', priority: 253, preference: 50 },
        { node: 'node-b', priority: 252 },
      ],
      preferred: [
        { node: 'node-a', score: 110 },
        { node: 'node-c', score: 50 },
      ],
      advertIntervalMs: 100,
      lastTransitionTime: '2026-11-30T10:00:00Z',
    },
    {
      namespace: 'kube-system',
      name: 'dns',
      vip: 'fd00::53',
      family: 'ipv6',
      pool: null,
      vrid: null,
      master: null,
      backups: [],
      preferred: [],
      advertIntervalMs: null,
      lastTransitionTime: null,
    },
  ];
  const now = Date.parse('2026-11-30T10:05:03Z');

  test('kubectl-style table: headers, columns padded by three, ages, <none>', () => {
    assert.equal(
      renderStatusTable(rows, now),
      [
        'NAMESPACE     NAME   VIP         POOL     VRID     MASTER   BACKUPS                 PREFERRED              HEALTH   INTERVAL    LAST TRANSITION',
        'default       web    10.0.0.10   gold     7        node-a   node-c:253,node-b:252   node-a=110,node-c=50   <none>   100ms       5m3s',
        'kube-system   dns    fd00::53    <none>   <none>   <none>   <none>                  <none>                 <none>   <unknown>   <unknown>',
        '',
      ].join('\n'),
    );
  });

  test('no rows: kubectl’s message', () => assert.equal(renderStatusTable([], now), 'No resources found\n'));

  test('-o json: a list with every field', () => {
    const parsed = JSON.parse(renderStatusJson(rows));
    assert.equal(parsed.kind, 'VIPStatusList');
    assert.deepEqual(parsed.items[0], {
      service: { namespace: 'default', name: 'web' },
      vip: '10.0.0.10',
      family: 'ipv4',
      pool: 'gold',
      vrid: 7,
      master: 'node-a',
      masters: ['node-a'],
      backups: [
        { node: 'node-c', priority: 253 },
        { node: 'node-b', priority: 252 },
      ],
      preferred: [
        { node: 'node-a', score: 110 },
        { node: 'node-c', score: 50 },
      ],
      advertIntervalMs: 100,
      lastTransitionTime: '2026-11-30T10:00:00Z',
      health: [],
    });
    assert.equal(parsed.items[1].master, null);
  });
});

describe('health (the speakers’ health Leases)', () => {
  const services = [svc('web', ['10.0.0.10', 'fd00::10'], '10.0.0.10=7,fd00::10=7')];
  const snap = snapshot(services);
  const { groups } = routerGroups(snap);
  const v4 = groups.find((g) => g.key === 'ipv4/7')!.ranking;
  const [first, second, third] = v4.map((r) => r.node) as [string, string, string];
  const now = Date.parse('2026-12-03T12:00:00Z');
  const entry = (node: string, routers: NodeHealthEntry['report']['routers'], renewedAgoS = 10): NodeHealthEntry => ({
    report: { node, routers },
    renewTime: now - renewedAgoS * 1000,
    expiresAt: now - renewedAgoS * 1000 + 90_000,
  });
  const kubeProxy = {
    check: 'http://:10256/healthz',
    kind: 'kube-proxy' as const,
    since: '2026-12-03T11:59:18Z',
    detail: 'connect ETIMEDOUT',
  };
  const entries = [
    // the ranking's first node resigned for the IPv4 router (its kube-proxy check fails) and stays out of the IPv6 one
    entry(first, [
      {
        family: 'ipv4',
        vrid: 7,
        vips: ['10.0.0.10'],
        effect: 'resign',
        basePriority: v4[0]!.priority,
        priority: 1,
        checks: [kubeProxy],
      },
    ]),
    // the third node is lowered by 200 below the second
    entry(third, [
      {
        family: 'ipv4',
        vrid: 7,
        vips: ['10.0.0.10'],
        effect: 'lower',
        basePriority: v4[2]!.priority,
        priority: 20,
        checks: [
          { check: 'http://:8080/healthz', kind: 'probe', since: '2026-12-03T11:57:00Z', detail: 'HTTP 503' },
          { check: 'interface eth0', kind: 'interface', since: '2026-12-03T11:59:55Z', detail: 'carrier down' },
        ],
      },
    ]),
    // a stale report (renewed 100 s ago, 90 s lease): its speaker is gone; not shown
    entry(
      second,
      [{ family: 'ipv4', vrid: 7, vips: ['10.0.0.10'], effect: 'resign', basePriority: 200, priority: 1, checks: [] }],
      100,
    ),
  ];

  test('rows name the excluded and lowered nodes; backups run at their health-adjusted priority, in that order', () => {
    const rows = buildStatusRows({
      services,
      groups,
      l2Statuses: [status(second, 'web', ['10.0.0.10'], '2026-12-03T11:59:18Z')],
      health: healthNotesByVip(entries, now),
    });
    const [r4, r6] = rows as [StatusRow, StatusRow];
    assert.equal(r4.master, second);
    assert.deepEqual(
      r4.health?.map((n) => [n.node, n.effect, n.priority]),
      [
        [first, 'resign', 1],
        [third, 'lower', 20],
      ].sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
    );
    assert.deepEqual(r4.backups, [
      { ...v4[2]!, priority: 20 },
      { ...v4[0]!, priority: 1 },
    ]);
    assert.equal(r6.health, undefined, 'the IPv6 VIP is not affected');
    const cell = statusCells(r4, now)[STATUS_HEALTH] ?? '';
    assert.ok(cell.includes(`${first}:resigned(http://:10256/healthz 42s)`), cell);
    assert.ok(
      cell.includes(`${third}:lowered-${v4[2]!.priority - 20}(http://:8080/healthz 3m;interface eth0 5s)`),
      cell,
    );
    assert.ok(!cell.includes(second), 'the stale report is left out');
    const json = JSON.parse(renderStatusJson(rows)).items[0];
    assert.deepEqual(
      json.health.find((h: { node: string }) => h.node === first),
      { node: first, effect: 'resign', basePriority: v4[0]!.priority, priority: 1, checks: [kubeProxy] },
    );
    assert.deepEqual(JSON.parse(renderStatusJson(rows)).items[1].health, []);
  });

  test('healthCell: <none> without notes', () => assert.equal(healthCell([], now), '<none>'));
});
