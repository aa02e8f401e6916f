import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { type AllocationRequest, Allocator } from '../../src/controller/allocator.ts';
import { type Config, type IPAddressPoolObject, parseConfig } from '../../src/model/config.ts';
import { isBuggy, parseRange, rangeContains } from '../../src/model/ip-range.ts';
import { formatIp, parseIp } from '../../vrrp/ip.ts';

// Random sequences of assign / restore / release / setPools against one allocator; after every step the invariants
// below must hold, whatever succeeded or failed.

const p = (name: string, addresses: string[], spec: Record<string, unknown> = {}): IPAddressPoolObject => ({
  metadata: { name },
  spec: { addresses, ...spec },
});

const CONFIGS: readonly Config[] = [
  [
    p('p1', ['10.0.0.0-10.0.0.5']),
    p('p2', ['10.0.1.254-10.0.2.1'], { avoidBuggyIPs: true, serviceAllocation: { priority: 1 } }),
    p('p6', ['2001:db8::/125']),
    p('d', ['10.0.3.0/31', '2001:db8:1::/127'], { autoAssign: false }),
  ],
  [p('p1', ['10.0.0.0-10.0.0.2']), p('q', ['10.0.1.254-10.0.2.1']), p('p6', ['2001:db8::/126'])],
  [
    p('p1', ['10.0.0.0-10.0.0.5'], { serviceAllocation: { namespaces: ['a'] } }),
    p('d', ['10.0.3.0/31', '2001:db8:1::/127', '10.0.0.6/31']),
  ],
].map((pools) => parseConfig({ pools, l2Advertisements: [] }).config);

const KEYS = ['k0', 'k1', 'k2', 'k3', 'k4', 'k5'];
const CANDIDATE_IPS = [
  '10.0.0.0',
  '10.0.0.1',
  '10.0.2.0',
  '10.0.2.1',
  '10.0.3.1',
  '2001:db8::3',
  '2001:db8:1::',
  '9.9.9.9',
];
const PORTS = [
  { port: 80, protocol: 'TCP' },
  { port: 443, protocol: 'TCP' },
  { port: 80, protocol: 'UDP' },
];

const familyArb = fc.constantFrom<Pick<AllocationRequest, 'families' | 'ipFamilyPolicy'>>(
  { families: ['ipv4'], ipFamilyPolicy: 'SingleStack' },
  { families: ['ipv6'], ipFamilyPolicy: 'SingleStack' },
  { families: ['ipv4', 'ipv6'], ipFamilyPolicy: 'PreferDualStack' },
  { families: ['ipv6', 'ipv4'], ipFamilyPolicy: 'RequireDualStack' },
);

/** rarely is a value one time in five, else undefined: most Services name neither pool nor address. */
const rarely = <T>(arb: fc.Arbitrary<T>) =>
  fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: arb });

const requestArb: fc.Arbitrary<AllocationRequest> = fc
  .record({
    fam: familyArb,
    namespace: fc.constantFrom('a', 'b'),
    sharingKey: fc.constantFrom(undefined, 'x', 'x', 'y'),
    ports: fc.subarray(PORTS),
    requestedIps: rarely(fc.subarray(CANDIDATE_IPS, { minLength: 1, maxLength: 2 })),
    pool: rarely(fc.constantFrom('p1', 'p2', 'p6', 'd', 'q', 'nope')),
    externalTrafficPolicy: fc.constantFrom<'Cluster' | 'Local'>('Cluster', 'Local'),
    selector: fc.constantFrom({ app: 'a' }, { app: 'b' }),
  })
  .map(({ fam, ...r }) => {
    const req: AllocationRequest = { ...fam, ...r, labels: {}, namespaceLabels: {} };
    return Object.fromEntries(Object.entries(req).filter(([, v]) => v !== undefined)) as unknown as AllocationRequest;
  });

type Cmd =
  | { op: 'assign'; key: string; req: AllocationRequest; keep: boolean }
  | { op: 'restore'; key: string; ips: string[]; req: AllocationRequest }
  | { op: 'release'; key: string }
  | { op: 'setPools'; config: number };

const keyArb = fc.constantFrom(...KEYS);
const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({ op: fc.constant('assign' as const), key: keyArb, req: requestArb, keep: fc.boolean() }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('restore' as const),
      key: keyArb,
      ips: fc.subarray(CANDIDATE_IPS, { minLength: 1, maxLength: 2 }),
      req: requestArb,
    }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('release' as const), key: keyArb }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('setPools' as const), config: fc.nat(CONFIGS.length - 1) }) },
);

/** backend is the sharing rule restated independently: Local shares only with Local of the same selector. */
const backend = (r: AllocationRequest) =>
  r.externalTrafficPolicy === 'Local' ? `L:${JSON.stringify(r.selector ?? {})}` : 'C';

/** poolOwning says, without the allocator, which pool of a config holds an address. */
function poolOwning(config: Config, text: string): string | undefined {
  const ip = parseIp(text);
  if (!ip) return undefined;
  return config.pools.find(
    (pl) => !(pl.avoidBuggyIPs && isBuggy(ip.family, ip.value)) && pl.ranges.some((r) => rangeContains(r, ip)),
  )?.name;
}

/** capacity counts a small pool's addresses by enumerating them. */
function capacity(config: Config, name: string, family: 'ipv4' | 'ipv6'): number {
  const pl = config.poolsByName.get(name);
  let n = 0;
  for (const r of pl?.ranges ?? []) {
    if (r.family !== family) continue;
    for (let v = r.first; v <= r.last; v++) if (!(pl?.avoidBuggyIPs && isBuggy(family, v))) n++;
  }
  return n;
}

/** lowestFree is MetalLB's "first free in order" by brute force: the pool's ranges in order, avoided and used skipped. */
function lowestFree(config: Config, pool: string, like: string, used: ReadonlySet<string>): string | undefined {
  const pl = config.poolsByName.get(pool);
  const family = like.includes(':') ? 'ipv6' : 'ipv4';
  for (const r of pl?.ranges ?? []) {
    if (r.family !== family) continue;
    for (let v = r.first; v <= r.last; v++) {
      const text = formatIp(family, v);
      if (!(pl?.avoidBuggyIPs && isBuggy(family, v)) && !used.has(text)) return text;
    }
  }
  return undefined;
}

function checkInvariants(a: Allocator, config: Config, reqOf: ReadonlyMap<string, AllocationRequest>): void {
  const all = a.assignments();
  assert.deepEqual(all.map((x) => x.key).sort(), [...reqOf.keys()].sort(), 'holders match the model');
  const byIp = new Map<string, { key: string; vrid: number }[]>();
  for (const x of all) {
    assert.ok(x.ips.length >= 1 && x.ips.length <= 2, `${x.key} holds ${x.ips}`);
    assert.equal(new Set(x.ips.map((t) => parseIp(t)?.family)).size, x.ips.length, `${x.key}: one per family`);
    for (const [i, ip] of x.ips.entries()) {
      byIp.set(ip, [...(byIp.get(ip) ?? []), { key: x.key, vrid: x.vrids[i] ?? -1 }]);
    }
  }
  const vridOwner = new Map<string, string>();
  for (const [ip, users] of byIp) {
    assert.equal(new Set(users.map((u) => u.vrid)).size, 1, `${ip}: one VRID for all its users`);
    const family = ip.includes(':') ? '6' : '4';
    const slot = `${family}/${users[0]?.vrid}`;
    assert.equal(vridOwner.get(slot) ?? ip, ip, `${slot} used by two VIPs while VRIDs were free`);
    vridOwner.set(slot, ip);
    for (const [i, u] of users.entries()) {
      for (const v of users.slice(i + 1)) {
        const ru = reqOf.get(u.key) as AllocationRequest;
        const rv = reqOf.get(v.key) as AllocationRequest;
        assert.ok(ru.sharingKey && ru.sharingKey === rv.sharingKey, `${ip} given to ${u.key} and ${v.key}`);
        assert.equal(backend(ru), backend(rv), `${ip}: ${u.key} and ${v.key} have different backends`);
        const ports = new Set(ru.ports.map((x) => `${x.protocol}/${x.port}`));
        assert.ok(!rv.ports.some((x) => ports.has(`${x.protocol}/${x.port}`)), `${ip}: port clash`);
      }
    }
  }
  for (const pl of config.pools) {
    const mine = [...byIp.keys()].filter((ip) => poolOwning(config, ip) === pl.name);
    const v4 = mine.filter((ip) => !ip.includes(':')).length;
    const v6 = mine.length - v4;
    assert.deepEqual(a.usage(pl.name), {
      assignedV4: v4,
      assignedV6: v6,
      availableV4: capacity(config, pl.name, 'ipv4') - v4,
      availableV6: capacity(config, pl.name, 'ipv6') - v6,
    });
  }
  const orphans = new Set(a.orphaned().map((o) => o.key));
  for (const x of all) {
    const owners = new Set(x.ips.map((ip) => poolOwning(config, ip)));
    if (!orphans.has(x.key)) assert.ok(owners.size === 1 && !owners.has(undefined), `${x.key} justified`);
  }
}

test('random operation sequences keep the allocator consistent', () => {
  fc.assert(
    fc.property(fc.array(cmdArb, { minLength: 1, maxLength: 60, size: 'large' }), (cmds) => {
      const a = new Allocator();
      let config = CONFIGS[0] as Config;
      a.setPools(config.pools);
      const reqOf = new Map<string, AllocationRequest>();
      for (const c of cmds) {
        if (c.op === 'setPools') {
          config = CONFIGS[c.config] as Config;
          a.setPools(config.pools);
        } else if (c.op === 'release') {
          assert.equal(a.release(c.key), reqOf.delete(c.key));
        } else {
          const usedBefore = new Set(a.assignments().flatMap((x) => x.ips));
          const res =
            c.op === 'assign' ? a.assign(c.key, c.req, { keepOnFailure: c.keep }) : a.restore(c.key, c.ips, c.req);
          const held = reqOf.has(c.key);
          if (res.ok && c.op === 'assign' && !held && !c.req.sharingKey && !c.req.requestedIps) {
            for (const ip of res.ips) assert.equal(ip, lowestFree(config, res.pool, ip, usedBefore), 'first free');
          }
          if (res.ok) {
            if (c.op === 'assign' || !held) reqOf.set(c.key, c.req);
            assert.deepEqual(a.get(c.key)?.ips, res.ips);
          } else if (c.op === 'assign' && !c.keep) {
            // MetalLB: what no longer fits is cleared before a new allocation is tried; a failure leaves nothing.
            assert.equal(a.get(c.key), undefined, 'a failed assign leaves nothing held');
            reqOf.delete(c.key);
          } else {
            assert.equal(a.get(c.key) !== undefined, held, `a failed ${c.op} (keep) keeps what was held`);
          }
        }
        checkInvariants(a, config, reqOf);
      }
    }),
    { numRuns: 300 },
  );
});

test('address ranges parse the same way the property oracle reads them', () => {
  const r = parseRange('10.0.1.254-10.0.2.1');
  assert.ok('range' in r);
  assert.equal(r.range.last - r.range.first + 1n, 4n);
});
