import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ErrorCode } from '../../src/errors.ts';
import {
  type ConfigSnapshot,
  type IPAddressPoolObject,
  type L2AdvertisementObject,
  parseConfig,
} from '../../src/model/config.ts';
import { buggyCount, firstUsable, parseRange, rangeSize, toSafeNumber, usableCount } from '../../src/model/ip-range.ts';
import { matches, parseSelector } from '../../src/model/selectors.ts';
import { canonicalIp, formatIp } from '../../vrrp/ip.ts';

const pool = (name: string, spec: Record<string, unknown>, meta: Record<string, unknown> = {}) =>
  ({ metadata: { name, ...meta }, spec }) as IPAddressPoolObject;
const snap = (pools: IPAddressPoolObject[], l2Advertisements: L2AdvertisementObject[] = []): ConfigSnapshot => ({
  pools,
  l2Advertisements,
});

describe('address entries', () => {
  // [entry, family, first, last] or [entry, error fragment]
  const ok: readonly [string, string, string, string][] = [
    ['192.168.10.0/24', 'ipv4', '192.168.10.0', '192.168.10.255'],
    ['192.168.10.7/24', 'ipv4', '192.168.10.0', '192.168.10.255'],
    ['42.176.25.64/32', 'ipv4', '42.176.25.64', '42.176.25.64'],
    ['0.0.0.0/0', 'ipv4', '0.0.0.0', '255.255.255.255'],
    ['192.11.182.222-192.11.182.226', 'ipv4', '192.11.182.222', '192.11.182.226'],
    [' 10.0.0.1 - 10.0.0.1 ', 'ipv4', '10.0.0.1', '10.0.0.1'],
    ['2001:DB8::/64', 'ipv6', '2001:db8::', '2001:db8::ffff:ffff:ffff:ffff'],
    ['2001:db8::1-2001:db8::1:0', 'ipv6', '2001:db8::1', '2001:db8::1:0'],
    ['::/0', 'ipv6', '::', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'],
  ];
  for (const [entry, family, first, last] of ok) {
    test(`parses ${entry}`, () => {
      const r = parseRange(entry);
      assert.ok('range' in r, 'error' in r ? r.error : '');
      assert.deepEqual(
        [r.range.family, formatIp(r.range.family, r.range.first), formatIp(r.range.family, r.range.last)],
        [family, first, last],
      );
    });
  }
  const bad: readonly [string, string][] = [
    ['10.0.0.0/33', 'prefix length'],
    ['10.0.0.0/-1', 'prefix length'],
    ['10.0.0.0/024', 'prefix length'],
    ['2001:db8::/129', 'prefix length'],
    ['10.0.0/24', 'invalid address'],
    ['010.0.0.0/24', 'invalid address'],
    ['10.0.0.256/32', 'invalid address'],
    ['hello', 'neither'],
    ['10.0.0.1', 'neither'],
    ['10.0.0.9-10.0.0.1', 'reversed'],
    ['10.0.0.1-2001:db8::1', 'mixes'],
    ['10.0.0.x-10.0.0.9', 'invalid start'],
    ['10.0.0.1-', 'invalid end'],
    ['fe80::1%eth0/64', 'invalid address'],
    ['::ffff:10.0.0.1/128', 'invalid address'],
  ];
  for (const [entry, fragment] of bad) {
    test(`rejects ${entry}`, () => {
      const r = parseRange(entry);
      assert.ok('error' in r && r.error.includes(fragment), 'error' in r ? r.error : 'parsed');
    });
  }

  test('counts are arithmetic: a /64 and a /32 without iterating', () => {
    const r = (t: string) => {
      const p = parseRange(t);
      assert.ok('range' in p);
      return p.range;
    };
    assert.equal(rangeSize(r('2001:db8::/64')), 2n ** 64n);
    assert.equal(toSafeNumber(rangeSize(r('2001:db8::/64'))), Number.MAX_SAFE_INTEGER);
    assert.equal(toSafeNumber(rangeSize(r('2001:db8::/80'))), 2 ** 48);
    assert.equal(buggyCount(r('0.0.0.0/0')), 2n * 2n ** 24n);
    assert.equal(buggyCount(r('10.0.0.0/24')), 2n);
    assert.equal(buggyCount(r('10.0.0.1-10.0.0.254')), 0n);
    assert.equal(buggyCount(r('10.0.0.255-10.0.1.0')), 2n); // not /24 aligned: still both, as MetalLB's rule
    assert.equal(buggyCount(r('2001:db8::/120')), 0n);
    assert.equal(usableCount(r('10.0.0.0/23'), true), 512n - 4n);
    assert.equal(usableCount(r('10.0.0.0/23'), false), 512n);
  });

  test('firstUsable skips used and buggy addresses, and offers only used ones for sharing', () => {
    const p = parseRange('10.0.0.254-10.0.1.3');
    assert.ok('range' in p);
    const used = new Set([p.range.first, p.range.first + 3n]);
    const offered: bigint[] = [];
    const v = firstUsable(
      p.range,
      true,
      (x) => used.has(x),
      (x) => {
        offered.push(x);
        return false;
      },
    );
    assert.equal(formatIp('ipv4', v ?? 0n), '10.0.1.2');
    assert.deepEqual(
      offered.map((x) => formatIp('ipv4', x)),
      ['10.0.0.254', '10.0.1.1'],
    );
    assert.equal(canonicalIp('2001:0DB8:0:0::0001'), '2001:db8::1');
    assert.equal(canonicalIp('1.2.3'), undefined);
  });
});

describe('label selectors', () => {
  const labels = { app: 'web', tier: 'gold' };
  const cases: readonly [string, object, boolean][] = [
    ['empty matches all', {}, true],
    ['matchLabels', { matchLabels: { app: 'web' } }, true],
    ['matchLabels miss', { matchLabels: { app: 'db' } }, false],
    ['In', { matchExpressions: [{ key: 'tier', operator: 'In', values: ['gold', 'silver'] }] }, true],
    ['In missing label', { matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] }, false],
    ['NotIn', { matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['gold'] }] }, false],
    ['NotIn missing label', { matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['a'] }] }, true],
    ['Exists', { matchExpressions: [{ key: 'app', operator: 'Exists' }] }, true],
    ['DoesNotExist', { matchExpressions: [{ key: 'app', operator: 'DoesNotExist' }] }, false],
    [
      'ANDed',
      { matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['x'] }] },
      false,
    ],
  ];
  for (const [name, obj, want] of cases) {
    test(name, () => {
      const p = parseSelector(obj);
      assert.ok('selector' in p);
      assert.equal(matches(p.selector, labels), want);
    });
  }
  const invalid: readonly [string, object][] = [
    ['unknown operator', { matchExpressions: [{ key: 'a', operator: 'in', values: ['x'] }] }],
    ['In without values', { matchExpressions: [{ key: 'a', operator: 'In', values: [] }] }],
    ['Exists with values', { matchExpressions: [{ key: 'a', operator: 'Exists', values: ['x'] }] }],
    ['bad key', { matchLabels: { '-a': 'x' } }],
    ['bad prefix', { matchLabels: { 'Example.com/a': 'x' } }],
    ['bad value', { matchLabels: { a: 'x y' } }],
  ];
  for (const [name, obj] of invalid) test(`rejects ${name}`, () => assert.ok('error' in parseSelector(obj)));
});

interface PoolCase {
  readonly name: string;
  readonly pools: IPAddressPoolObject[];
  /** valid: the names in config.pools; problems: "name:CODE" (rejected) or "name:CODE?" (warning). */
  readonly valid: readonly string[];
  readonly problems?: readonly string[];
}

const cases: readonly PoolCase[] = [
  {
    name: 'defaults: autoAssign true, avoidBuggyIPs false, no allocation, full VRID range',
    pools: [pool('a', { addresses: ['10.0.0.0/24'] })],
    valid: ['a'],
  },
  { name: 'missing name', pools: [pool('', { addresses: ['10.0.0.0/24'] })], valid: [], problems: [':INVALID_POOL'] },
  { name: 'no addresses', pools: [pool('a', { addresses: [] })], valid: [], problems: ['a:INVALID_POOL'] },
  { name: 'missing spec', pools: [{ metadata: { name: 'a' } }], valid: [], problems: ['a:INVALID_POOL'] },
  { name: 'bad address', pools: [pool('a', { addresses: ['10.0.0.1'] })], valid: [], problems: ['a:INVALID_POOL'] },
  {
    name: 'bad entry keeps the other pools',
    pools: [pool('a', { addresses: ['10.0.0.9-10.0.0.1'] }), pool('b', { addresses: ['10.0.1.0/24'] })],
    valid: ['b'],
    problems: ['a:INVALID_POOL'],
  },
  {
    name: 'non-boolean flags',
    pools: [
      pool('a', { addresses: ['10.0.0.0/24'], autoAssign: 'no' }),
      pool('b', { addresses: ['::/0'], avoidBuggyIPs: 1 }),
    ],
    valid: [],
    problems: ['a:INVALID_POOL', 'b:INVALID_POOL'],
  },
  {
    name: 'overlap within one pool',
    pools: [pool('a', { addresses: ['10.0.0.0/24', '10.0.0.5-10.0.1.0'] })],
    valid: [],
    problems: ['a:INVALID_POOL'],
  },
  {
    name: 'overlap between pools: the later by name loses when there are no timestamps',
    pools: [pool('b', { addresses: ['10.0.0.128/25'] }), pool('a', { addresses: ['10.0.0.0/24'] })],
    valid: ['a'],
    problems: ['b:POOL_OVERLAP'],
  },
  {
    name: 'overlap between pools: the newer by creationTimestamp loses',
    pools: [
      pool('a', { addresses: ['10.0.0.0/24'] }, { creationTimestamp: '2024-05-02T00:00:00Z' }),
      pool('b', { addresses: ['10.0.0.255-10.0.1.5'] }, { creationTimestamp: '2024-05-01T00:00:00Z' }),
      pool('c', { addresses: ['2001:db8::/64'] }),
    ],
    valid: ['b', 'c'],
    problems: ['a:POOL_OVERLAP'],
  },
  {
    name: 'IPv4 and IPv6 never overlap',
    pools: [pool('a', { addresses: ['0.0.0.0/0'] }), pool('b', { addresses: ['::/96'] })],
    valid: ['a', 'b'],
  },
  {
    name: 'duplicate pool names: the older stays',
    pools: [pool('a', { addresses: ['10.0.0.0/24'] }), pool('a', { addresses: ['10.0.1.0/24'] })],
    valid: ['a'],
    problems: ['a:INVALID_POOL'],
  },
  {
    name: 'serviceAllocation errors',
    pools: [
      pool('a', { addresses: ['10.0.0.0/24'], serviceAllocation: { namespaces: ['x', 'x'] } }),
      pool('b', { addresses: ['10.0.1.0/24'], serviceAllocation: { priority: 1.5 } }),
      pool('c', {
        addresses: ['10.0.2.0/24'],
        serviceAllocation: {
          serviceSelectors: [{ matchExpressions: [{ key: 'a', operator: 'Exists', values: ['v'] }] }],
        },
      }),
      pool('d', {
        addresses: ['10.0.3.0/24'],
        serviceAllocation: { namespaceSelectors: [{ matchLabels: { a: 'b' } }, { matchLabels: { a: 'b' } }] },
      }),
    ],
    valid: [],
    problems: ['a:INVALID_POOL', 'b:INVALID_POOL', 'c:INVALID_SELECTOR', 'd:INVALID_SELECTOR'],
  },
  ...['0-10', '99-50', '1-256', 'abc', '', '5-'].map((text) => ({
    name: `vrid-range "${text}" is a warning and the full range`,
    pools: [pool('a', { addresses: ['10.0.0.0/24'] }, { annotations: { 'metal-vrrp.io/vrid-range': text } })],
    valid: ['a'],
    problems: ['a:INVALID_VRID_RANGE?'],
  })),
];

describe('parseConfig pools', () => {
  for (const c of cases) {
    test(c.name, () => {
      const { config, problems } = parseConfig(snap(c.pools));
      assert.deepEqual(
        config.pools.map((p) => p.name),
        c.valid,
      );
      assert.deepEqual(
        problems.map((p) => `${p.name}:${p.code}${p.rejected ? '' : '?'}`),
        c.problems ?? [],
      );
      for (const p of problems) assert.ok(p.message.length > 0 && p.kind === 'IPAddressPool');
    });
  }

  test('a valid pool, fully read and frozen', () => {
    const { config } = parseConfig({
      pools: [
        pool(
          'gold',
          {
            addresses: ['10.0.0.0/30', '2001:db8::1-2001:db8::2'],
            autoAssign: false,
            avoidBuggyIPs: true,
            serviceAllocation: {
              priority: 3,
              namespaces: ['a'],
              namespaceSelectors: [{ matchLabels: { t: 'x' } }],
              serviceSelectors: [{ matchExpressions: [{ key: 'app', operator: 'NotIn', values: ['b', 'a'] }] }],
            },
          },
          { labels: { tier: 'gold' }, annotations: { 'metal-vrrp.io/vrid-range': ' 50 - 99 ' } },
        ),
        pool(
          'zero',
          { addresses: ['10.1.0.0/30'], serviceAllocation: { priority: 0 } },
          {
            annotations: { 'metal-vrrp.io/vrid-range': '7' },
          },
        ),
      ],
      l2Advertisements: [],
      namespaces: [{ name: 'a', labels: { t: 'x' } }, { name: 'b' }],
    });
    const gold = config.poolsByName.get('gold');
    assert.ok(gold);
    assert.deepEqual(
      gold.ranges.map((r) => r.text),
      ['10.0.0.0/30', '2001:db8::1-2001:db8::2'],
    );
    assert.deepEqual(
      [gold.autoAssign, gold.avoidBuggyIPs, gold.vridRange, gold.labels],
      [false, true, { lo: 50, hi: 99 }, { tier: 'gold' }],
    );
    assert.equal(gold.serviceAllocation?.priority, 3);
    assert.deepEqual(gold.serviceAllocation?.serviceSelectors[0]?.requirements, [
      { key: 'app', operator: 'NotIn', values: ['a', 'b'] },
    ]);
    assert.equal(config.poolsByName.get('zero')?.serviceAllocation?.priority, null);
    assert.deepEqual(config.poolsByName.get('zero')?.vridRange, { lo: 7, hi: 7 });
    assert.deepEqual(config.namespaceLabels.get('b'), {});
    assert.ok(Object.isFrozen(config) && Object.isFrozen(config.pools) && Object.isFrozen(gold));
    assert.ok(Object.isFrozen(gold.ranges) && Object.isFrozen(gold.serviceAllocation));
    assert.throws(() => (config.pools as unknown as unknown[]).push({}));
  });

  test('the outcome does not depend on list order', () => {
    const pools = [
      pool('x', { addresses: ['10.0.0.0/24'] }),
      pool('y', { addresses: ['10.0.0.0/25'] }),
      pool('z', { addresses: ['10.0.1.0/24'] }),
    ];
    const a = parseConfig(snap(pools));
    const b = parseConfig(snap([...pools].reverse()));
    assert.deepEqual(a.problems, b.problems);
    assert.deepEqual(
      a.config.pools.map((p) => p.name),
      b.config.pools.map((p) => p.name),
    );
  });
});

describe('parseConfig L2Advertisements', () => {
  const pools = [
    pool('a', { addresses: ['10.0.0.0/24'] }, { labels: { zone: 'east' } }),
    pool('b', { addresses: ['10.0.1.0/24'] }, { labels: { zone: 'west' } }),
  ];
  const l2 = (name: string, spec: Record<string, unknown>) => ({ metadata: { name }, spec }) as L2AdvertisementObject;
  const table: readonly {
    name: string;
    ads: L2AdvertisementObject[];
    want: Record<string, string[]>;
    problems?: string[];
  }[] = [
    { name: 'no pools and no selectors: every pool', ads: [l2('all', {})], want: { all: ['a', 'b'] } },
    { name: 'by name', ads: [l2('n', { ipAddressPools: ['b'] })], want: { n: ['b'] } },
    {
      name: 'by selector, plus names',
      ads: [l2('s', { ipAddressPools: ['a'], ipAddressPoolSelectors: [{ matchLabels: { zone: 'west' } }] })],
      want: { s: ['a', 'b'] },
    },
    {
      name: 'unknown pool name is a warning',
      ads: [l2('u', { ipAddressPools: ['a', 'gone'] })],
      want: { u: ['a'] },
      problems: ['u:UNKNOWN_POOL?'],
    },
    {
      name: 'invalid ones are rejected alone',
      ads: [
        l2('dup', { ipAddressPools: ['a', 'a'] }),
        l2('sel', { nodeSelectors: [{ matchExpressions: [{ key: 'k', operator: 'Bogus' }] }] }),
        l2('if', { interfaces: [''] }),
        l2('', {}),
        l2('ok', { interfaces: ['eth0'], nodeSelectors: [{ matchLabels: { role: 'edge' } }] }),
      ],
      want: { ok: ['a', 'b'] },
      problems: [
        ':INVALID_L2_ADVERTISEMENT',
        'dup:INVALID_L2_ADVERTISEMENT',
        'if:INVALID_L2_ADVERTISEMENT',
        'sel:INVALID_SELECTOR',
      ],
    },
  ];
  for (const c of table) {
    test(c.name, () => {
      const { config, problems } = parseConfig(snap(pools, c.ads));
      assert.deepEqual(Object.fromEntries(config.l2Advertisements.map((a) => [a.name, [...a.pools]])), c.want);
      assert.deepEqual(
        problems.map((p) => `${p.name}:${p.code}${p.rejected ? '' : '?'}`),
        c.problems ?? [],
      );
    });
  }

  // preferredNodeSelectors (MetalLB main): weight an integer 1..100 and preference a valid selector, both required.
  const preferredTable: readonly { name: string; entries: unknown; want: string | readonly number[] }[] = [
    { name: 'absent', entries: undefined, want: [] },
    { name: 'null', entries: null, want: [] },
    {
      name: 'weights at both bounds',
      entries: [
        { weight: 1, preference: { matchLabels: { zone: 'b' } } },
        { weight: 100, preference: {} },
      ],
      want: [1, 100],
    },
    { name: 'weight 0', entries: [{ weight: 0, preference: {} }], want: 'INVALID_L2_ADVERTISEMENT' },
    { name: 'weight 101', entries: [{ weight: 101, preference: {} }], want: 'INVALID_L2_ADVERTISEMENT' },
    { name: 'weight 2.5', entries: [{ weight: 2.5, preference: {} }], want: 'INVALID_L2_ADVERTISEMENT' },
    { name: 'weight as text', entries: [{ weight: '50', preference: {} }], want: 'INVALID_L2_ADVERTISEMENT' },
    { name: 'weight missing', entries: [{ preference: {} }], want: 'INVALID_L2_ADVERTISEMENT' },
    { name: 'preference missing', entries: [{ weight: 5 }], want: 'INVALID_L2_ADVERTISEMENT' },
    { name: 'not a list', entries: { weight: 5, preference: {} }, want: 'INVALID_L2_ADVERTISEMENT' },
    {
      name: 'bad preference operator',
      entries: [{ weight: 5, preference: { matchExpressions: [{ key: 'k', operator: 'Bogus' }] } }],
      want: 'INVALID_SELECTOR',
    },
  ];
  for (const c of preferredTable) {
    test(`preferredNodeSelectors: ${c.name}`, () => {
      const ads = [l2('pref', { preferredNodeSelectors: c.entries }), l2('other', {})];
      const { config, problems } = parseConfig(snap(pools, ads));
      const pref = config.l2Advertisements.find((a) => a.name === 'pref');
      if (typeof c.want === 'string') {
        // Rejected alone and reported like the other fields; the other advertisement keeps working.
        assert.equal(pref, undefined);
        assert.deepEqual(
          problems.map((p) => `${p.name}:${p.code}${p.rejected ? '' : '?'}`),
          [`pref:${c.want}`],
        );
        assert.match(problems[0]!.message, /preferredNodeSelectors/);
        assert.deepEqual(
          config.l2Advertisements.map((a) => a.name),
          ['other'],
        );
      } else {
        assert.deepEqual(problems, []);
        assert.deepEqual(
          pref?.preferredNodeSelectors.map((p) => p.weight),
          c.want,
        );
      }
    });
  }

  test('pools list the advertisements that announce them', () => {
    const { config } = parseConfig(snap(pools, [l2('east', { ipAddressPools: ['a'] }), l2('all', {})]));
    assert.deepEqual(config.poolsByName.get('a')?.l2Advertisements, ['all', 'east']);
    assert.deepEqual(config.poolsByName.get('b')?.l2Advertisements, ['all']);
  });
});

test('problem codes come from the catalog', () => {
  const { problems } = parseConfig(snap([pool('a', { addresses: ['x'] })]));
  const code: ErrorCode | undefined = problems[0]?.code;
  assert.equal(code, 'INVALID_POOL');
  assert.match(problems[0]?.message ?? '', /^invalid IPAddressPool: pool a: "x" is neither/);
});
