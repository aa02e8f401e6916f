import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type AllocationRequest, Allocator, type PoolUsage } from '../../src/controller/allocator.ts';
import type { ErrorCode } from '../../src/errors.ts';
import { type IPAddressPoolObject, parseConfig } from '../../src/model/config.ts';

// Scenario tables in MetalLB's style: one allocator per table, steps played in order, each with its expected outcome.

type Req = Partial<AllocationRequest>;
type Step =
  | { readonly setPools: readonly IPAddressPoolObject[]; readonly orphans?: readonly string[] }
  | {
      readonly assign: string;
      readonly req?: Req;
      readonly ips?: readonly string[];
      readonly pool?: string;
      readonly error?: ErrorCode;
      /** keep: assign with keepOnFailure (the controller's --keep-address-on-failure). */
      readonly keep?: boolean;
    }
  | { readonly restore: string; readonly ips: readonly string[]; readonly req?: Req; readonly error?: ErrorCode }
  | { readonly release: string; readonly released?: boolean }
  | { readonly usage: string; readonly is: PoolUsage }
  | { readonly holds: string; readonly ips: readonly string[] | null };

/** request fills the fields a scenario does not care about. */
function request(r: Req = {}): AllocationRequest {
  return {
    namespace: 'default',
    labels: {},
    namespaceLabels: {},
    families: ['ipv4'],
    ipFamilyPolicy: 'SingleStack',
    ports: [{ port: 80, protocol: 'TCP' }],
    externalTrafficPolicy: 'Cluster',
    ...r,
  };
}

/** pool builds an IPAddressPool object. */
function pool(name: string, addresses: string[], spec: Record<string, unknown> = {}, meta = {}) {
  return { metadata: { name, ...meta }, spec: { addresses, ...spec } } as IPAddressPoolObject;
}

/** play runs a scenario on a fresh allocator; every step is labelled in failures by its index. */
function play(steps: readonly Step[], a = new Allocator()): Allocator {
  for (const [i, step] of steps.entries()) {
    const at = `step ${i}: ${JSON.stringify(step)}`;
    if ('setPools' in step) {
      const { config, problems } = parseConfig({ pools: step.setPools, l2Advertisements: [] });
      assert.deepEqual(problems, [], at);
      const orphans = a.setPools(config.pools);
      assert.deepEqual(
        orphans.map((o) => `${o.key}:${o.reason.code}`),
        step.orphans ?? [],
        at,
      );
    } else if ('assign' in step || 'restore' in step) {
      const res =
        'assign' in step
          ? a.assign(step.assign, request(step.req), { keepOnFailure: step.keep === true })
          : a.restore(step.restore, step.ips, request(step.req));
      if (step.error) {
        assert.equal(res.ok ? `ok ${res.ips}` : res.error.code, step.error, at);
      } else {
        assert.ok(res.ok, `${at}: ${res.ok ? '' : res.error.message}`);
        if (step.ips) assert.deepEqual(res.ips, step.ips, at);
        if ('pool' in step && step.pool) assert.equal(res.pool, step.pool, at);
      }
    } else if ('release' in step) {
      assert.equal(a.release(step.release), step.released ?? true, at);
    } else if ('usage' in step) {
      assert.deepEqual(a.usage(step.usage), step.is, at);
    } else {
      assert.deepEqual(a.get(step.holds)?.ips ?? null, step.ips, at);
    }
  }
  return a;
}

const seed = [pool('seed', ['192.11.182.222-192.11.182.226'])];
const u = (assignedV4: number, availableV4: number, assignedV6 = 0, availableV6 = 0): PoolUsage => ({
  assignedV4,
  assignedV6,
  availableV4,
  availableV6,
});

const scenarios: Record<string, readonly Step[]> = {
  'seed range gives 5 addresses in order, then POOL_EXHAUSTED; a release is reused first': [
    { setPools: seed },
    { usage: 'seed', is: u(0, 5) },
    { assign: 's1', ips: ['192.11.182.222'], pool: 'seed' },
    { assign: 's2', ips: ['192.11.182.223'] },
    { assign: 's3', ips: ['192.11.182.224'] },
    { assign: 's4', ips: ['192.11.182.225'] },
    { assign: 's5', ips: ['192.11.182.226'] },
    { usage: 'seed', is: u(5, 0) },
    { assign: 's6', error: 'POOL_EXHAUSTED' },
    { release: 's3' },
    { release: 's3', released: false },
    { assign: 's6', ips: ['192.11.182.224'] },
    { assign: 's1', ips: ['192.11.182.222'] },
    { usage: 'seed', is: u(5, 0) },
  ],
  'CIDRs of both families; counts of a /64 saturate without iterating': [
    {
      setPools: [
        pool('v4', ['10.0.0.0/30']),
        pool('v6', ['2001:db8::/126'], { autoAssign: false }),
        pool('huge', ['2001:db8:1::/64'], { autoAssign: false }),
      ],
    },
    { assign: 'a', ips: ['10.0.0.0'] },
    { assign: 'b', ips: ['10.0.0.1'] },
    { assign: 'c', req: { families: ['ipv6'], pool: 'v6' }, ips: ['2001:db8::'] },
    { assign: 'd', req: { families: ['ipv6'], pool: 'v6' }, ips: ['2001:db8::1'] },
    { usage: 'v4', is: u(2, 2) },
    { usage: 'v6', is: u(0, 0, 2, 2) },
    { assign: 'e', req: { families: ['ipv6'], pool: 'huge' }, ips: ['2001:db8:1::'] },
    { usage: 'huge', is: u(0, 0, 1, Number.MAX_SAFE_INTEGER) },
    { assign: 'f', req: { families: ['ipv6'] }, error: 'NO_ELIGIBLE_POOL' },
  ],
  'avoidBuggyIPs skips every .0 and .255, and they count as outside the pool': [
    { setPools: [pool('p', ['10.0.0.254-10.0.1.1'], { avoidBuggyIPs: true })] },
    { usage: 'p', is: u(0, 2) },
    { assign: 'a', ips: ['10.0.0.254'] },
    { assign: 'b', ips: ['10.0.1.1'] },
    { assign: 'c', error: 'POOL_EXHAUSTED' },
    { assign: 'c', req: { requestedIps: ['10.0.1.0'] }, error: 'IP_NOT_IN_POOL' },
    { setPools: [pool('p', ['10.0.0.254-10.0.1.1'])] },
    { usage: 'p', is: u(2, 2) },
    { assign: 'c', ips: ['10.0.0.255'] },
  ],
  'autoAssign false pools serve only explicit requests': [
    { setPools: [pool('cheap', ['10.0.0.1/32']), pool('expensive', ['42.176.25.64/30'], { autoAssign: false })] },
    { assign: 'a', ips: ['10.0.0.1'], pool: 'cheap' },
    { assign: 'b', error: 'POOL_EXHAUSTED' },
    { assign: 'b', req: { pool: 'expensive' }, ips: ['42.176.25.64'], pool: 'expensive' },
    { assign: 'c', req: { requestedIps: ['42.176.25.66'] }, ips: ['42.176.25.66'] },
    { setPools: [pool('expensive', ['42.176.25.64/30'], { autoAssign: false })], orphans: ['a:IP_NOT_IN_POOL'] },
    { assign: 'd', error: 'NO_ELIGIBLE_POOL' },
  ],
  'priority: lower first, unset last, ties by name': [
    {
      setPools: [
        pool('a-none', ['10.0.0.1/32']),
        pool('b-20', ['10.0.1.1/32'], { serviceAllocation: { priority: 20 } }),
        pool('c-10', ['10.0.2.1/32'], { serviceAllocation: { priority: 10 } }),
        pool('d-10', ['10.0.3.1/32'], { serviceAllocation: { priority: 10 } }),
      ],
    },
    { assign: 's1', pool: 'c-10' },
    { assign: 's2', pool: 'd-10' },
    { assign: 's3', pool: 'b-20' },
    { assign: 's4', pool: 'a-none' },
    { assign: 's5', error: 'POOL_EXHAUSTED' },
  ],
  'namespace and service selectors pin pools; pinned pools come before open ones': [
    {
      setPools: [
        pool('open', ['10.0.0.1-10.0.0.9'], { serviceAllocation: { priority: 1 } }),
        pool('team', ['10.1.0.1/32'], { serviceAllocation: { namespaces: ['team-a'] } }),
        pool('tier', ['10.2.0.1/32'], {
          serviceAllocation: { namespaceSelectors: [{ matchLabels: { tier: 'gold' } }] },
        }),
        pool('web', ['10.3.0.1/32'], {
          autoAssign: false,
          serviceAllocation: {
            serviceSelectors: [{ matchExpressions: [{ key: 'app', operator: 'In', values: ['web', 'www'] }] }],
          },
        }),
      ],
    },
    { assign: 'x/1', req: { namespace: 'other' }, pool: 'open', ips: ['10.0.0.1'] },
    { assign: 'team-a/1', req: { namespace: 'team-a' }, pool: 'team', ips: ['10.1.0.1'] },
    { assign: 'team-a/2', req: { namespace: 'team-a' }, pool: 'open', ips: ['10.0.0.2'] },
    { assign: 'g/1', req: { namespace: 'g', namespaceLabels: { tier: 'gold' } }, pool: 'tier' },
    { assign: 's/1', req: { pool: 'team' }, error: 'POOL_NOT_ALLOWED' },
    { assign: 's/1', req: { requestedIps: ['10.2.0.1'] }, error: 'POOL_NOT_ALLOWED' },
    { assign: 'w/1', req: { pool: 'web', labels: { app: 'db' } }, error: 'POOL_NOT_ALLOWED' },
    { assign: 'w/1', req: { pool: 'web', labels: { app: 'www' } }, ips: ['10.3.0.1'] },
  ],
  'only restricted pools that do not admit the service: NO_ELIGIBLE_POOL': [
    { setPools: [pool('team', ['10.1.0.0/24'], { serviceAllocation: { namespaces: ['team-a'] } })] },
    { assign: 'b/1', req: { namespace: 'b' }, error: 'NO_ELIGIBLE_POOL' },
  ],
  'requested addresses: in a pool, outside, wrong pool, unknown pool, taken, wrong family, bad text': [
    { setPools: [pool('a', ['10.0.0.0/24']), pool('b', ['10.0.1.0/24'])] },
    { assign: 's1', req: { requestedIps: ['10.0.0.7'] }, ips: ['10.0.0.7'], pool: 'a' },
    { assign: 's2', req: { requestedIps: ['192.0.2.1'] }, error: 'IP_NOT_IN_POOL' },
    { assign: 's2', req: { requestedIps: ['10.0.0.8'], pool: 'b' }, error: 'IP_NOT_IN_POOL' },
    { assign: 's2', req: { requestedIps: ['10.0.0.8'], pool: 'nope' }, error: 'UNKNOWN_POOL' },
    { assign: 's2', req: { pool: 'nope' }, error: 'UNKNOWN_POOL' },
    { assign: 's2', req: { requestedIps: ['10.0.0.7'] }, error: 'IP_IN_USE' },
    { assign: 's2', req: { requestedIps: ['2001:db8::1'] }, error: 'FAMILY_MISMATCH' },
    { assign: 's2', req: { requestedIps: ['10.0.0.300'] }, error: 'INVALID_SERVICE' },
    { assign: 's2', req: { requestedIps: ['10.0.0.8'], pool: 'a' }, ips: ['10.0.0.8'] },
    { assign: 's2', ips: ['10.0.0.8'] },
  ],
  'sharing: same key and free ports share; clashes are told apart': [
    { setPools: [pool('p', ['10.0.0.1-10.0.0.3'])] },
    { assign: 'a', req: { sharingKey: 'k', ports: [{ port: 80, protocol: 'TCP' }] }, ips: ['10.0.0.1'] },
    { assign: 'b', req: { sharingKey: 'k', ports: [{ port: 443, protocol: 'TCP' }] }, ips: ['10.0.0.1'] },
    { assign: 'u', req: { sharingKey: 'k', ports: [{ port: 80, protocol: 'UDP' }] }, ips: ['10.0.0.1'] },
    { usage: 'p', is: u(1, 2) },
    { assign: 'c', req: { sharingKey: 'k', requestedIps: ['10.0.0.1'] }, error: 'PORT_IN_USE' },
    { assign: 'c', req: { sharingKey: 'k' }, ips: ['10.0.0.2'] },
    { assign: 'd', req: { sharingKey: 'other', requestedIps: ['10.0.0.1'] }, error: 'SHARING_KEY_CONFLICT' },
    { assign: 'd', req: { requestedIps: ['10.0.0.1'], ports: [] }, error: 'IP_IN_USE' },
    {
      assign: 'd',
      req: { sharingKey: 'k', requestedIps: ['10.0.0.1'], ports: [{ port: 8080, protocol: 'TCP' }] },
      ips: ['10.0.0.1'],
    },
    {
      assign: 'e',
      req: { sharingKey: 'k', requestedIps: ['10.0.0.1'], ports: [], externalTrafficPolicy: 'Local' },
      error: 'SHARING_BACKEND_CONFLICT',
    },
    { release: 'a' },
    { holds: 'b', ips: ['10.0.0.1'] },
    { usage: 'p', is: u(2, 1) },
    { assign: 'a', req: { sharingKey: 'k' }, ips: ['10.0.0.1'] },
  ],
  'sharing with Local traffic policy needs the same selector': [
    { setPools: [pool('p', ['10.0.0.1-10.0.0.2'])] },
    {
      assign: 'a',
      req: { sharingKey: 'k', externalTrafficPolicy: 'Local', selector: { app: 'x' } },
      ips: ['10.0.0.1'],
    },
    {
      assign: 'b',
      req: { sharingKey: 'k', externalTrafficPolicy: 'Local', selector: { app: 'x' }, ports: [] },
      ips: ['10.0.0.1'],
    },
    {
      assign: 'c',
      req: {
        sharingKey: 'k',
        externalTrafficPolicy: 'Local',
        selector: { app: 'y' },
        ports: [],
        requestedIps: ['10.0.0.1'],
      },
      error: 'SHARING_BACKEND_CONFLICT',
    },
    { assign: 'd', req: { sharingKey: 'k', ports: [], requestedIps: ['10.0.0.1'] }, error: 'SHARING_BACKEND_CONFLICT' },
  ],
  'a sole user may change its sharing key in place; a second user pins it': [
    { setPools: [pool('p', ['10.0.0.1-10.0.0.2'])] },
    { assign: 'a', req: { sharingKey: 'k' }, ips: ['10.0.0.1'] },
    { assign: 'a', req: { sharingKey: 'k2' }, ips: ['10.0.0.1'] },
    { assign: 'b', req: { sharingKey: 'k2', ports: [] }, ips: ['10.0.0.1'] },
    { assign: 'a', req: { sharingKey: 'k3' }, ips: ['10.0.0.2'] },
  ],
  'dual-stack policies': [
    {
      setPools: [
        pool('dual', ['10.0.0.1/32', '2001:db8::1/128']),
        pool('v4', ['10.1.0.0/30'], { serviceAllocation: { priority: 5 } }),
        pool('v6', ['2001:db8:6::/126'], { serviceAllocation: { priority: 6 } }),
      ],
    },
    {
      assign: 'r',
      req: { families: ['ipv6', 'ipv4'], ipFamilyPolicy: 'RequireDualStack' },
      ips: ['2001:db8::1', '10.0.0.1'],
      pool: 'dual',
    },
    { assign: 'r2', req: { families: ['ipv4', 'ipv6'], ipFamilyPolicy: 'RequireDualStack' }, error: 'POOL_EXHAUSTED' },
    { assign: 'r2', req: { families: ['ipv4'], ipFamilyPolicy: 'RequireDualStack' }, error: 'FAMILY_MISMATCH' },
    { assign: 'p', req: { families: ['ipv6', 'ipv4'], ipFamilyPolicy: 'PreferDualStack' }, ips: ['2001:db8:6::'] },
    { assign: 's', req: { families: ['ipv6', 'ipv4'], ipFamilyPolicy: 'SingleStack' }, ips: ['2001:db8:6::1'] },
    { assign: 'p4', req: { families: ['ipv4', 'ipv6'], ipFamilyPolicy: 'PreferDualStack' }, ips: ['10.1.0.0'] },
    {
      assign: 'q',
      req: { families: ['ipv4', 'ipv6'], ipFamilyPolicy: 'RequireDualStack', requestedIps: ['10.1.0.3'] },
      error: 'FAMILY_MISMATCH',
    },
    {
      assign: 'q',
      req: { families: ['ipv4', 'ipv6'], ipFamilyPolicy: 'PreferDualStack', requestedIps: ['10.1.0.3'] },
      ips: ['10.1.0.3'],
    },
    {
      assign: 'q2',
      req: {
        families: ['ipv4', 'ipv6'],
        ipFamilyPolicy: 'RequireDualStack',
        requestedIps: ['10.1.0.2', '2001:db8::1'],
      },
      error: 'IP_NOT_IN_POOL',
    },
  ],
  'PreferDualStack with one family gains the other when its pool frees one': [
    { setPools: [pool('dual', ['10.0.0.1/32', '2001:db8::1/128'])] },
    { assign: 'v6', req: { families: ['ipv6'] }, ips: ['2001:db8::1'] },
    { assign: 'p', req: { families: ['ipv4', 'ipv6'], ipFamilyPolicy: 'PreferDualStack' }, ips: ['10.0.0.1'] },
    { release: 'v6' },
    {
      assign: 'p',
      req: { families: ['ipv4', 'ipv6'], ipFamilyPolicy: 'PreferDualStack' },
      ips: ['10.0.0.1', '2001:db8::1'],
    },
  ],
  'restore: idempotent, never moves, reports conflicts': [
    { setPools: [pool('p', ['10.0.0.0/29'])] },
    { restore: 'a', ips: ['10.0.0.5'] },
    { restore: 'a', ips: ['10.0.0.5'] },
    { restore: 'a', ips: ['10.0.0.6'], error: 'RESTORE_CONFLICT' },
    { holds: 'a', ips: ['10.0.0.5'] },
    { restore: 'b', ips: ['10.0.0.5'], error: 'IP_IN_USE' },
    { restore: 'b', ips: ['192.0.2.1'], error: 'IP_NOT_IN_POOL' },
    { restore: 'b', ips: ['nonsense'], error: 'INVALID_SERVICE' },
    { restore: 'b', ips: ['10.0.0.1', '10.0.0.2'], error: 'FAMILY_MISMATCH' },
    { assign: 'c', ips: ['10.0.0.0'] },
    { assign: 'a', ips: ['10.0.0.5'] },
    { assign: 'a', req: { requestedIps: ['10.0.0.6'] }, ips: ['10.0.0.6'] },
    { assign: 'd', ips: ['10.0.0.1'] },
  ],
  // MetalLB: a pool change leaves addresses it no longer justifies until the Service's next sync, which clears them
  // (ClearAssignment) and allocates anew; with no address to be had, the Service holds nothing.
  'pool changes: orphans are reported, re-homed by address, healed when the pool returns, cleared when not': [
    { setPools: [pool('p', ['10.0.0.1-10.0.0.2'])] },
    { assign: 'a', ips: ['10.0.0.1'] },
    { assign: 'b', ips: ['10.0.0.2'] },
    { setPools: [pool('p', ['10.0.0.1/32'])], orphans: ['b:IP_NOT_IN_POOL'] },
    { usage: 'p', is: u(1, 0) },
    { holds: 'b', ips: ['10.0.0.2'] },
    { setPools: [pool('renamed', ['10.0.0.0/30'])] },
    { usage: 'renamed', is: u(2, 2) },
    { assign: 'c', ips: ['10.0.0.0'] },
    { assign: 'b', ips: ['10.0.0.2'], pool: 'renamed' },
    {
      setPools: [pool('renamed', ['10.0.0.0/30'], { serviceAllocation: { namespaces: ['x'] } })],
      orphans: ['a:POOL_NOT_ALLOWED', 'b:POOL_NOT_ALLOWED', 'c:POOL_NOT_ALLOWED'],
    },
    { assign: 'a', error: 'NO_ELIGIBLE_POOL' },
    { holds: 'a', ips: null },
    { usage: 'renamed', is: u(2, 2) },
  ],
  'keepOnFailure: an orphan that cannot move keeps its address': [
    { setPools: [pool('p', ['10.0.0.1/32'])] },
    { assign: 'a', ips: ['10.0.0.1'] },
    {
      setPools: [pool('p', ['10.0.0.1/32'], { serviceAllocation: { namespaces: ['x'] } })],
      orphans: ['a:POOL_NOT_ALLOWED'],
    },
    { assign: 'a', keep: true, error: 'NO_ELIGIBLE_POOL' },
    { holds: 'a', ips: ['10.0.0.1'] },
    { assign: 'a', error: 'NO_ELIGIBLE_POOL' },
    { holds: 'a', ips: null },
  ],
  // MetalLB: a requested pool or address that cannot be had clears the old one (the Service goes back to pending).
  'changed wishes move a holding; an impossible wish drops the old one': [
    { setPools: [pool('a', ['10.0.0.1-10.0.0.2']), pool('b', ['10.0.1.1/32'], { autoAssign: false })] },
    { assign: 's', ips: ['10.0.0.1'] },
    { assign: 's', req: { pool: 'b' }, ips: ['10.0.1.1'] },
    { assign: 't', req: { pool: 'b' }, error: 'POOL_EXHAUSTED' },
    { assign: 't', ips: ['10.0.0.1'] },
    { assign: 't', req: { pool: 'b' }, error: 'POOL_EXHAUSTED' },
    { holds: 't', ips: null },
    { assign: 's', req: { requestedIps: ['10.0.0.2'] }, ips: ['10.0.0.2'] },
    { assign: 'u', req: { pool: 'b' }, ips: ['10.0.1.1'] },
    { assign: 't', ips: ['10.0.0.1'] },
    { assign: 't', req: { requestedIps: ['10.0.1.1'] }, keep: true, error: 'IP_IN_USE' },
    { holds: 't', ips: ['10.0.0.1'] },
    // a family the Service cannot have (MetalLB: "does not match the ipFamily of the service")
    { assign: 't', req: { requestedIps: ['2001:db8::1'] }, error: 'FAMILY_MISMATCH' },
    { holds: 't', ips: null },
  ],
};

describe('allocator scenarios', () => {
  for (const [name, steps] of Object.entries(scenarios)) test(name, () => void play(steps));
});

test('assignments lists holdings sorted by key, with pool and VRIDs', () => {
  const a = play([{ setPools: seed }, { assign: 'z' }, { assign: 'b' }]);
  assert.deepEqual(a.assignments(), [
    { key: 'b', ips: ['192.11.182.223'], pool: 'seed', vrids: [2] },
    { key: 'z', ips: ['192.11.182.222'], pool: 'seed', vrids: [1] },
  ]);
  assert.equal(a.usage('nope'), undefined);
});

test('error results carry a message naming the object', () => {
  const a = play([{ setPools: seed }]);
  const res = a.assign('x', request({ pool: 'gold' }));
  assert.deepEqual(res, {
    ok: false,
    error: { code: 'UNKNOWN_POOL', message: 'no valid address pool has that name: gold' },
  });
});
