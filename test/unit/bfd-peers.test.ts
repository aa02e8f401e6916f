import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { silentLogger } from '../../src/log.ts';
import { type BfdChange, BfdPeers } from '../../src/net/bfd-peers.ts';
import { DeadlineScheduler } from '../../src/speaker/runtime/scheduler.ts';
import { seededRandom } from '../../vrrp/sim/clock.ts';
import { FakeClock } from '../support/fake-clock.ts';

interface Side {
  peers: BfdPeers;
  changes: { at: number; peer: string; change: BfdChange }[];
}

/** world wires speakers at the given addresses over a fake network; `mute` silences a sender. */
function world(addresses: string[], clock = new FakeClock()) {
  const mute = new Set<string>();
  const sides = new Map<string, Side>();
  for (const [i, me] of addresses.entries()) {
    const changes: Side['changes'] = [];
    const peers = new BfdPeers({
      clock,
      deadlines: (onDue) => new DeadlineScheduler({ clock, onDue }),
      logger: silentLogger(),
      random: seededRandom(i + 1),
      onChange: (peer, change) => changes.push({ at: clock.now(), peer, change }),
      transport: {
        send: (to, bytes) => {
          if (mute.has(me)) return;
          const copy = Buffer.from(bytes);
          // Deliver asynchronously through the clock: 0.1 ms link delay.
          clock.setTimer(() => sides.get(to)?.peers.receive(me, copy), 0.1);
        },
      },
    });
    sides.set(me, { peers, changes });
  }
  return { clock, sides, mute, side: (a: string) => sides.get(a)! };
}

describe('BfdPeers', () => {
  test('a full mesh of three comes Up, and a silenced node is reported down by both others within 30 ms', () => {
    const w = world(['10.0.0.1', '10.0.0.2', '10.0.0.3']);
    for (const a of ['10.0.0.1', '10.0.0.2', '10.0.0.3']) {
      for (const b of ['10.0.0.1', '10.0.0.2', '10.0.0.3']) if (a !== b) w.side(a).peers.add(b);
    }
    w.clock.advance(100);
    for (const a of ['10.0.0.1', '10.0.0.2', '10.0.0.3']) {
      assert.equal(w.side(a).changes.length, 2, `${a}: ${JSON.stringify(w.side(a).changes)}`);
      assert.ok(w.side(a).changes.every((c) => c.change.up));
    }
    w.mute.add('10.0.0.3');
    const cut = w.clock.now();
    w.clock.advance(100);
    for (const a of ['10.0.0.1', '10.0.0.2']) {
      const down = w.side(a).changes.filter((c) => !c.change.up);
      assert.equal(down.length, 1);
      assert.equal(down[0]!.peer, '10.0.0.3');
      // On a virtual clock the detection timer runs on time, a Detection Time (3 × 10 ms) after the last packet.
      assert.deepEqual(down[0]!.change, { up: false, reason: 'detect-timeout', diag: 1, silentMs: 30, lateMs: 0 });
      assert.ok(down[0]!.at - cut <= 30.1, `down ${down[0]!.at - cut} ms after the cut`);
    }
  });

  test('an expired Detection Time first reads the packets waiting in the socket: a stall of our loop is no loss', () => {
    // LoopClock: afterPendingIo waits for checkPhase(), as setImmediate waits for the event loop's poll phase.
    const immediates: (() => void)[] = [];
    const clock = new (class extends FakeClock {
      afterPendingIo(fn: () => void) {
        immediates.push(fn);
        return () => {
          const i = immediates.indexOf(fn);
          if (i >= 0) immediates.splice(i, 1);
        };
      }
    })();
    const checkPhase = () => {
      for (const fn of immediates.splice(0)) fn();
    };
    const socket: { from: string; bytes: Buffer }[] = []; // what waits unread in A's socket while A's loop stalls
    let stalled = false;
    const changes: BfdChange[] = [];
    const a: BfdPeers = new BfdPeers({
      clock,
      deadlines: (onDue) => new DeadlineScheduler({ clock, onDue }),
      logger: silentLogger(),
      random: seededRandom(1),
      onChange: (_, change) => changes.push(change),
      transport: { send: (_, bytes) => void clock.setTimer(() => b.receive('10.0.0.1', Buffer.from(bytes)), 0.1) },
    });
    let bMuted = false;
    const b: BfdPeers = new BfdPeers({
      clock,
      deadlines: (onDue) => new DeadlineScheduler({ clock, onDue }),
      logger: silentLogger(),
      random: seededRandom(2),
      onChange: () => {},
      transport: {
        send: (_, bytes) => {
          if (bMuted) return;
          const copy = Buffer.from(bytes);
          clock.setTimer(
            () => (stalled ? socket.push({ from: '10.0.0.2', bytes: copy }) : a.receive('10.0.0.2', copy)),
            0.1,
          );
        },
      },
    });
    a.add('10.0.0.2');
    b.add('10.0.0.1');
    clock.advance(50);
    checkPhase();
    assert.equal(a.state('10.0.0.2'), 'up');
    stalled = true; // B keeps sending; A reads nothing until its timer has run
    clock.advance(40);
    assert.equal(immediates.length, 1, 'the expiry waits for one loop round');
    stalled = false;
    for (const q of socket.splice(0)) a.receive(q.from, q.bytes); // the poll phase reads what queued up
    checkPhase();
    assert.equal(a.state('10.0.0.2'), 'up');
    assert.deepEqual(changes, [{ up: true }]);
    // B falls silent for real: down after the same one round.
    bMuted = true;
    clock.advance(40);
    checkPhase();
    assert.equal(a.state('10.0.0.2'), 'down');
    assert.equal(changes.at(-1)?.up, false);
  });

  test('one timer at a time, whatever the number of sessions', () => {
    const clock = new FakeClock();
    const addresses = Array.from({ length: 20 }, (_, i) => `10.0.1.${i + 1}`);
    const w = world(addresses, clock);
    for (const b of addresses.slice(1)) w.side(addresses[0]!).peers.add(b);
    for (const a of addresses.slice(1)) w.side(a).peers.add(addresses[0]!);
    w.clock.advance(50);
    assert.equal(w.side(addresses[0]!).changes.length, 19);
    // 20 schedulers, each with exactly one timer, plus packets in flight.
    for (let t = 0; t < 20; t++) {
      w.clock.advance(0.05);
      const inFlight = clock.pending - addresses.length;
      assert.ok(inFlight >= 0 && inFlight < 40, `${clock.pending} timers`);
    }
  });

  test('remove sends AdminDown: the peer reports admin-down with diag 3, the remover reports nothing', () => {
    const w = world(['10.0.0.1', '10.0.0.2']);
    w.side('10.0.0.1').peers.add('10.0.0.2');
    w.side('10.0.0.2').peers.add('10.0.0.1');
    w.clock.advance(50);
    w.side('10.0.0.1').peers.remove('10.0.0.2');
    w.clock.advance(1);
    assert.deepEqual(w.side('10.0.0.2').changes.at(-1)?.change, { up: false, reason: 'admin-down', diag: 3 });
    assert.equal(w.side('10.0.0.1').changes.length, 1);
    assert.equal(w.side('10.0.0.1').peers.size, 0);
  });

  test('packets from an unknown source or for an unknown discriminator are counted, not processed', () => {
    const w = world(['10.0.0.1', '10.0.0.2', '10.0.0.9']);
    w.side('10.0.0.1').peers.add('10.0.0.2');
    w.side('10.0.0.9').peers.add('10.0.0.1'); // 10.0.0.1 has no session for .9
    w.clock.advance(5);
    assert.ok((w.side('10.0.0.1').peers.drops.get('no-session') ?? 0) >= 1);
    w.side('10.0.0.1').peers.receive('10.0.0.2', Buffer.from('garbage'));
    assert.equal(w.side('10.0.0.1').peers.drops.get('bad-version'), 1);
    assert.equal(w.side('10.0.0.1').peers.state('10.0.0.9'), undefined);
  });

  test('refuses bad timing and a peer that is not an address', () => {
    assert.throws(
      () =>
        new BfdPeers({
          clock: new FakeClock(),
          deadlines: (onDue) => new DeadlineScheduler({ clock: new FakeClock(), onDue }),
          logger: silentLogger(),
          onChange: () => {},
          transport: { send: () => {} },
          timing: { desiredMinTxUs: 10_000, requiredMinRxUs: 10_000, detectMult: 0 },
        }),
      /detectMult/,
    );
    const w = world(['10.0.0.1']);
    assert.throws(() => w.side('10.0.0.1').peers.add('node-b'), /not an IP address/);
  });
});
