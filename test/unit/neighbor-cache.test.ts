// NeighborCache: unicast peers' MACs from the kernel's neighbour table, with a fake table, clock and nudge.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ipv4Bytes, ipv6Bytes } from '../../src/net/frames/address.ts';
import { macBytes } from '../../src/net/frames/ethernet.ts';
import { NeighborCache } from '../../src/net/neighbor-cache.ts';
import type { Neighbor } from '../../src/net/packet-socket.ts';

const REACHABLE = 0x02;
const STALE = 0x04;
const INCOMPLETE = 0x01;

function setup(family: 'ipv4' | 'ipv6') {
  let now = 0;
  let table: Neighbor[] = [];
  const nudged: string[] = [];
  let reads = 0;
  const cache = new NeighborCache({
    family,
    ifname: 'eth0',
    ifindex: 2,
    now: () => now,
    refreshMs: 10_000,
    nudgeMs: 1_000,
    read: (fam, ifindex) => {
      assert.deepEqual([fam, ifindex], [family === 'ipv4' ? 4 : 6, 2]);
      reads++;
      return table;
    },
    nudge: (a) => nudged.push(a),
  });
  const entry = (ip: string, mac: string, state: number): Neighbor => ({
    address: (family === 'ipv4' ? ipv4Bytes(ip) : ipv6Bytes(ip))!,
    mac: macBytes(mac)!,
    state,
  });
  return {
    cache,
    nudged,
    reads: () => reads,
    setTable: (t: Neighbor[]) => {
      table = t;
    },
    entry,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

test('an unknown peer is nudged once per nudgeMs and found once the kernel has resolved it', () => {
  const s = setup('ipv6');
  assert.equal(s.cache.lookup('fd00::2'), undefined);
  assert.equal(s.cache.lookup('fd00::2'), undefined);
  assert.deepEqual(s.nudged, ['fd00::2'], 'one nudge within nudgeMs');
  s.setTable([s.entry('fd00::2', '02:00:00:00:00:02', INCOMPLETE)]);
  s.advance(1000);
  assert.equal(s.cache.lookup('fd00::2'), '02:00:00:00:00:02', 'an incomplete entry with a lladdr is still used');
  assert.deepEqual(s.nudged, ['fd00::2', 'fd00::2'], 'and nudged again, since it is not usable yet');
  s.setTable([s.entry('fd00:0::2', '02:00:00:00:00:02', REACHABLE)]);
  s.advance(1000);
  assert.equal(s.cache.lookup('fd00::2'), '02:00:00:00:00:02');
  assert.equal(s.nudged.length, 2);
});

test('a known MAC is served from the cache until refreshMs, kept while the table forgets it, replaced when it changes', () => {
  const s = setup('ipv4');
  s.setTable([s.entry('10.0.0.2', '02:00:00:00:00:02', STALE)]);
  assert.equal(s.cache.lookup('10.0.0.2'), '02:00:00:00:00:02');
  const reads = s.reads();
  s.advance(5000);
  assert.equal(s.cache.lookup('10.0.0.2'), '02:00:00:00:00:02');
  assert.equal(s.reads(), reads, 'no table read within refreshMs');
  s.setTable([]);
  s.advance(6000);
  assert.equal(s.cache.lookup('10.0.0.2'), '02:00:00:00:00:02', 'kept when the entry was garbage-collected');
  assert.deepEqual(s.nudged, ['10.0.0.2']);
  s.setTable([s.entry('10.0.0.2', '02:00:00:00:00:99', REACHABLE)]);
  s.advance(11_000);
  assert.equal(s.cache.lookup('10.0.0.2'), '02:00:00:00:00:99');
  assert.equal(s.cache.peerOf('02:00:00:00:00:99'), '10.0.0.2');
  assert.equal(s.cache.peerOf('02:00:00:00:00:02'), undefined, 'the old MAC no longer names the peer');
});

test('peerOf: watched peers are resolved ahead; an unknown MAC rescans at most once per nudgeMs', () => {
  const s = setup('ipv6');
  s.cache.watch(['fd00::2', 'fd00::3']);
  assert.equal(s.cache.size, 2);
  assert.deepEqual(s.nudged, ['fd00::2', 'fd00::3']);
  s.setTable([s.entry('fd00::3', '02:00:00:00:00:03', REACHABLE)]);
  assert.equal(s.cache.peerOf('02:00:00:00:00:03'), 'fd00::3', 'an unknown MAC rescans the unresolved peers');
  const reads = s.reads();
  assert.equal(s.cache.peerOf('02:00:00:00:00:42'), undefined);
  assert.equal(s.cache.peerOf('02:00:00:00:00:42'), undefined);
  assert.equal(s.reads(), reads, 'within nudgeMs of the last rescan: strangers cost no table read');
  s.advance(1000);
  assert.equal(s.cache.peerOf('02:00:00:00:00:42'), undefined);
  assert.equal(s.reads(), reads + 1, 'one read: fd00::2 is still unresolved; fd00::3 is fresh');
});

test('known answers from the cache without reading the table; a peerOf rescan makes a late resolution known', () => {
  const s = setup('ipv6');
  s.cache.watch(['fd00::1']);
  const reads = s.reads();
  assert.equal(s.cache.known('fd00::1'), false);
  assert.equal(s.cache.known('fd00::9'), false, 'never watched');
  assert.equal(s.reads(), reads, 'no table read');
  s.setTable([s.entry('fd00::1', '02:00:00:00:00:01', REACHABLE)]);
  s.advance(1000);
  assert.equal(s.cache.peerOf('02:00:00:00:00:01'), 'fd00::1');
  assert.equal(s.cache.known('fd00::1'), true);
});
