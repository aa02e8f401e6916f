import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type AllocationRequest, Allocator } from '../../src/controller/allocator.ts';
import { VridAllocator } from '../../src/controller/vrid-allocator.ts';
import { type IPAddressPoolObject, parseConfig } from '../../src/model/config.ts';
import { MAX_VIPS_PER_VRID } from '../../src/model/vrid.ts';

const FULL = { lo: 1, hi: 255 };

describe('VridAllocator', () => {
  test('unique ids from 1 while the range lasts, then least-loaded sharing, ties to the lowest id', () => {
    const v = new VridAllocator();
    const got: number[] = [];
    for (let i = 0; i < 255; i++) {
      const r = v.acquire('ipv4', `10.0.${i >> 8}.${i & 255}`, FULL);
      assert.ok(r.ok);
      got.push(r.vrid);
    }
    assert.deepEqual(
      got,
      Array.from({ length: 255 }, (_, i) => i + 1),
    );
    const vrid = (vip: string) => {
      const r = v.acquire('ipv4', vip, FULL);
      assert.ok(r.ok);
      return r.vrid;
    };
    assert.equal(vrid('10.9.0.1'), 1);
    assert.equal(vrid('10.9.0.2'), 2);
    assert.equal(v.loadOf('ipv4', 1), 2);
    v.release('ipv4', '10.0.0.4'); // vrid 5 drops to load 0: the least loaded wins over 3
    assert.equal(vrid('10.9.0.3'), 5);
    assert.equal(vrid('10.9.0.4'), 3);
  });

  test('a VIP that has a VRID keeps it: sharing services share the router', () => {
    const v = new VridAllocator();
    const a = v.acquire('ipv4', '10.0.0.1', FULL);
    const b = v.acquire('ipv4', '10.0.0.1', { lo: 9, hi: 9 });
    assert.deepEqual(
      [a, b],
      [
        { ok: true, vrid: 1 },
        { ok: true, vrid: 1 },
      ],
    );
    assert.equal(v.loadOf('ipv4', 1), 1);
  });

  test('families have separate VRID spaces (RFC 5798 §5)', () => {
    const v = new VridAllocator();
    assert.deepEqual(v.acquire('ipv4', '10.0.0.1', FULL), { ok: true, vrid: 1 });
    assert.deepEqual(v.acquire('ipv6', '2001:db8::1', FULL), { ok: true, vrid: 1 });
    assert.deepEqual(v.acquire('ipv4', '10.0.0.2', FULL), { ok: true, vrid: 2 });
    assert.deepEqual([...v.vips('ipv6')], [['2001:db8::1', 1]]);
  });

  test('a pool range narrows the choice', () => {
    const v = new VridAllocator();
    const ids = ['a', 'b', 'c', 'd'].map((vip) => v.acquire('ipv4', vip, { lo: 50, hi: 52 }));
    assert.deepEqual(
      ids.map((r) => (r.ok ? r.vrid : 0)),
      [50, 51, 52, 50],
    );
    assert.deepEqual(v.acquire('ipv4', 'e', FULL), { ok: true, vrid: 1 });
  });

  // recorded: the VRID read back from status at restore.
  const recordedCases: readonly { name: string; recorded: number; range: { lo: number; hi: number }; want: number }[] =
    [
      { name: 'kept when in range', recorded: 77, range: FULL, want: 77 },
      { name: 'kept even when another VIP uses it', recorded: 1, range: FULL, want: 1 },
      { name: 'ignored out of the pool range', recorded: 77, range: { lo: 10, hi: 20 }, want: 10 },
      { name: 'ignored when not a VRID', recorded: 300, range: FULL, want: 2 },
    ];
  for (const c of recordedCases) {
    test(`recorded VRID ${c.name}`, () => {
      const v = new VridAllocator();
      v.acquire('ipv4', 'other', FULL);
      assert.deepEqual(v.acquire('ipv4', 'vip', c.range, c.recorded), { ok: true, vrid: c.want });
    });
  }

  test('VRID_EXHAUSTED when every router of the range carries the most addresses an advert can', () => {
    const v = new VridAllocator();
    const one = { lo: 7, hi: 7 };
    for (let i = 0; i < MAX_VIPS_PER_VRID.ipv6; i++)
      assert.ok(v.acquire('ipv6', `2001:db8::${i.toString(16)}`, one).ok);
    const r = v.acquire('ipv6', '2001:db8::ffff', one);
    assert.equal(r.ok ? r.vrid : r.error.code, 'VRID_EXHAUSTED');
    v.release('ipv6', '2001:db8::0');
    assert.deepEqual(v.acquire('ipv6', '2001:db8::ffff', one), { ok: true, vrid: 7 });
    v.release('ipv6', 'never-acquired');
    assert.equal(v.vridOf('ipv6', 'never-acquired'), undefined);
  });
});

const req = (r: Partial<AllocationRequest> = {}): AllocationRequest => ({
  namespace: 'default',
  labels: {},
  namespaceLabels: {},
  families: ['ipv4'],
  ipFamilyPolicy: 'SingleStack',
  ports: [{ port: 80, protocol: 'TCP' }],
  externalTrafficPolicy: 'Cluster',
  ...r,
});

function allocatorWith(...pools: IPAddressPoolObject[]): Allocator {
  const a = new Allocator();
  a.setPools(parseConfig({ pools, l2Advertisements: [] }).config.pools);
  return a;
}

const vridsOf = (res: ReturnType<Allocator['assign']>) => (res.ok ? res.vrids : res.error.code);

describe('VRIDs through the allocator', () => {
  test('each VIP gets its own VRID; shared-IP services share it; release frees it', () => {
    const a = allocatorWith({ metadata: { name: 'p' }, spec: { addresses: ['10.0.0.1-10.0.0.3'] } });
    assert.deepEqual(vridsOf(a.assign('x', req({ sharingKey: 'k' }))), [1]);
    assert.deepEqual(vridsOf(a.assign('y', req({ sharingKey: 'k', ports: [] }))), [1]);
    assert.deepEqual(vridsOf(a.assign('z', req())), [2]);
    a.release('x');
    assert.deepEqual(vridsOf(a.assign('w', req())), [3]);
    a.release('y');
    assert.deepEqual(vridsOf(a.assign('v', req())), [1]);
  });

  test('dual-stack VIPs get one VRID per family', () => {
    const a = allocatorWith({ metadata: { name: 'p' }, spec: { addresses: ['10.0.0.0/30', '2001:db8::/126'] } });
    a.assign('first', req());
    const res = a.assign('d', req({ families: ['ipv6', 'ipv4'], ipFamilyPolicy: 'RequireDualStack' }));
    assert.deepEqual(res.ok && [res.ips, res.vrids], [
      ['2001:db8::', '10.0.0.1'],
      [1, 2],
    ]);
  });

  test('the vrid-range annotation narrows a pool; past it VIPs share the least-loaded router', () => {
    const a = allocatorWith({
      metadata: { name: 'p', annotations: { 'metal-vrrp.io/vrid-range': '50-51' } },
      spec: { addresses: ['10.0.0.0/29'] },
    });
    const got = ['a', 'b', 'c', 'd', 'e'].map((k) => vridsOf(a.assign(k, req())));
    assert.deepEqual(got, [[50], [51], [50], [51], [50]]);
  });

  test('restore keeps the recorded VRID, and a later assign does not change it', () => {
    const a = allocatorWith({ metadata: { name: 'p' }, spec: { addresses: ['10.0.0.0/29'] } });
    assert.deepEqual(vridsOf(a.restore('r', ['10.0.0.3'], req(), [42])), [42]);
    assert.deepEqual(vridsOf(a.assign('r', req({ ports: [{ port: 443, protocol: 'TCP' }] }))), [42]);
    assert.deepEqual(vridsOf(a.assign('n', req())), [1]);
  });

  test('a failed move kept on purpose (keepOnFailure) keeps the old holding with its VRID', () => {
    const a = allocatorWith({ metadata: { name: 'p' }, spec: { addresses: ['10.0.0.0/31'] } });
    a.restore('r', ['10.0.0.1'], req(), [9]);
    a.assign('o', req());
    assert.equal(vridsOf(a.assign('r', req({ pool: 'missing' }), { keepOnFailure: true })), 'UNKNOWN_POOL');
    assert.deepEqual(a.get('r'), { key: 'r', ips: ['10.0.0.1'], pool: 'p', vrids: [9] });
    assert.equal(vridsOf(a.assign('r', req({ pool: 'missing' }))), 'UNKNOWN_POOL');
    assert.equal(a.get('r'), undefined, 'without keepOnFailure the holding and its VRID are released');
  });

  test('the same steps give the same VRIDs (deterministic)', () => {
    const run = () => {
      const a = allocatorWith({ metadata: { name: 'p' }, spec: { addresses: ['10.0.0.0/24'] } });
      for (let i = 0; i < 40; i++) a.assign(`s${i}`, req());
      for (let i = 0; i < 40; i += 3) a.release(`s${i}`);
      for (let i = 40; i < 60; i++) a.assign(`s${i}`, req());
      return a.assignments();
    };
    assert.deepEqual(run(), run());
  });
});
