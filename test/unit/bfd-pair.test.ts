// Two BFD sessions joined by a simulated link on a virtual clock: every packet goes through the codec, every timer
// fires at its exact deadline, so detection times are checked to the microsecond.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodeControl, encodeControl } from '../../bfd/codec.ts';
import { newSession, type Session, type SessionAction, type SessionEvent, step } from '../../bfd/session.ts';
import { DEFAULT_TIMING, type SessionConfig } from '../../bfd/session-config.ts';
import { EventQueue, seededRandom } from '../../vrrp/sim/clock.ts';

type Name = 'a' | 'b';
type Item =
  | { readonly kind: 'timer'; readonly node: Name; readonly gen: number }
  | { readonly kind: 'deliver'; readonly node: Name; readonly bytes: Buffer }
  | { readonly kind: 'do'; readonly fn: () => void };

interface Node {
  session: Session;
  gen: number;
  alive: boolean;
}

interface Note {
  readonly at: number;
  readonly node: Name;
  readonly action: SessionAction;
}

/** Pair is the simulated link: one-way delay, a per-direction cut, and a log of every action. */
class Pair {
  readonly q = new EventQueue<Item>();
  readonly log: Note[] = [];
  readonly lastRx: Record<Name, number> = { a: -1, b: -1 };
  readonly cut: Record<Name, boolean> = { a: false, b: false }; // cut[x]: packets *to* x are lost
  readonly nodes: Record<Name, Node>;
  readonly random = seededRandom(7);
  now = 0;

  constructor(
    configs: Record<Name, SessionConfig>,
    readonly delayMs = 0.05,
  ) {
    this.nodes = {
      a: { session: newSession(configs.a, 0), gen: 0, alive: true },
      b: { session: newSession(configs.b, 0.3), gen: 0, alive: true },
    };
    this.arm('a');
    this.arm('b');
  }

  arm(name: Name): void {
    const n = this.nodes[name];
    n.gen++;
    const at =
      n.session.nextTxAt === undefined
        ? n.session.detectAt
        : Math.min(n.session.nextTxAt, n.session.detectAt ?? Infinity);
    if (at !== undefined && n.alive) this.q.push(at, { kind: 'timer', node: name, gen: n.gen });
  }

  feed(name: Name, event: SessionEvent): void {
    const n = this.nodes[name];
    if (!n.alive) return;
    const r = step(n.session, event, this.now, this.random);
    n.session = r.session;
    for (const action of r.actions) {
      this.log.push({ at: this.now, node: name, action });
      if (action.type === 'send') {
        const enc = encodeControl(action.packet);
        assert.ok(enc.ok);
        const to: Name = name === 'a' ? 'b' : 'a';
        if (!this.cut[to]) this.q.push(this.now + this.delayMs, { kind: 'deliver', node: to, bytes: enc.bytes });
      }
    }
    this.arm(name);
  }

  at(t: number, fn: () => void): void {
    this.q.push(t, { kind: 'do', fn });
  }

  run(until: number): void {
    for (;;) {
      const t = this.q.peekTime();
      if (t === undefined || t > until) break;
      const { at, item } = this.q.pop()!;
      this.now = at;
      if (item.kind === 'do') item.fn();
      else if (item.kind === 'timer') {
        if (item.gen === this.nodes[item.node].gen) this.feed(item.node, { type: 'timer' });
      } else {
        const d = decodeControl(item.bytes);
        assert.ok(d.ok);
        if (this.nodes[item.node].alive) this.lastRx[item.node] = this.now;
        this.feed(item.node, { type: 'packet', packet: d.packet });
      }
    }
    this.now = until;
  }

  state(name: Name): string {
    return this.nodes[name].session.state;
  }

  events(name: Name, type: 'up' | 'down'): Note[] {
    return this.log.filter((n) => n.node === name && n.action.type === type);
  }
}

const A: SessionConfig = { localDiscriminator: 0x0a, ...DEFAULT_TIMING };
const B: SessionConfig = { localDiscriminator: 0x0b, ...DEFAULT_TIMING };

describe('BFD pair on a virtual clock', () => {
  test('two sessions come Up within a few link delays, then send at the 10 ms rate with jitter', () => {
    const p = new Pair({ a: A, b: B });
    p.run(5);
    assert.equal(p.state('a'), 'up');
    assert.equal(p.state('b'), 'up');
    const upAt = Math.max(p.events('a', 'up')[0]!.at, p.events('b', 'up')[0]!.at);
    assert.ok(upAt < 1, `up at ${upAt} ms`);
    p.run(1005);
    const sendsA = p.log.filter((n) => n.node === 'a' && n.action.type === 'send' && n.at > 5);
    // 10 ms reduced by 0–25 %: between 100 and 134 packets a second, periodic plus Final replies.
    assert.ok(sendsA.length >= 100 && sendsA.length <= 140, `${sendsA.length} packets in 1 s`);
    const gaps = sendsA
      .filter((n) => n.action.type === 'send' && !n.action.packet.final)
      .map((n, i, all) => (i === 0 ? 10 : n.at - all[i - 1]!.at));
    assert.ok(
      Math.min(...gaps) >= 7.5 - 1e-9 && Math.max(...gaps) <= 10 + 1e-9,
      `gaps ${Math.min(...gaps)}..${Math.max(...gaps)}`,
    );
    assert.equal(p.events('a', 'down').length, 0);
    assert.equal(p.nodes.a.session.polling, false, 'the poll for the fast rate got its Final');
  });

  test('one side stops sending: the other declares Down exactly Detect Mult × interval after the last packet', () => {
    const p = new Pair({ a: A, b: B });
    p.at(500.123, () => {
      p.nodes.b.alive = false; // b crashes: no more packets, no more timers
    });
    p.run(1000);
    const [down] = p.events('a', 'down');
    assert.ok(down && down.action.type === 'down');
    assert.equal(down.action.reason, 'detect-timeout');
    assert.equal(down.action.diag, 1);
    assert.equal(down.at, p.lastRx.a + 30, `down at ${down.at}, last packet at ${p.lastRx.a}`);
    assert.ok(down.at - 500.123 <= 30 && down.at - 500.123 > 30 - 10, 'within one interval of the 3 × 10 ms bound');
    assert.equal(p.nodes.a.session.remoteDiscriminator, 0);
  });

  test('a one-way cut: the deaf side times out, and tells the other, which goes Down on neighbor-down', () => {
    const p = new Pair({ a: A, b: B });
    p.at(200, () => {
      p.cut.a = true; // packets to a are lost; a still reaches b
    });
    p.run(400);
    const [downA] = p.events('a', 'down');
    const [downB] = p.events('b', 'down');
    assert.equal(downA?.action.type === 'down' && downA.action.reason, 'detect-timeout');
    assert.equal(downB?.action.type === 'down' && downB.action.reason, 'neighbor-down');
    assert.ok(downB!.at > downA!.at && downB!.at - downA!.at < 1, 'b learns it one link delay later');
  });

  test('AdminDown: the peer reports admin-down, drops nothing of ours, and both come back Up on admin-up', () => {
    const p = new Pair({ a: A, b: B });
    p.at(100, () => p.feed('a', { type: 'admin-down' }));
    p.at(300, () => p.feed('a', { type: 'admin-up' }));
    p.run(299);
    const [downA] = p.events('a', 'down');
    const [downB] = p.events('b', 'down');
    assert.equal(downA?.action.type === 'down' && `${downA.action.reason}/${downA.action.diag}`, 'admin-down/7');
    assert.equal(downB?.action.type === 'down' && `${downB.action.reason}/${downB.action.diag}`, 'admin-down/3');
    assert.equal(p.state('a'), 'admin-down');
    assert.equal(p.state('b'), 'down');
    const dropped = p.log.filter((n) => n.node === 'a' && n.action.type === 'drop');
    assert.ok(dropped.every((n) => n.action.type === 'drop' && n.action.reason === 'admin-down'));
    const sentByB = p.log.filter((n) => n.node === 'b' && n.action.type === 'send' && n.at > 101);
    assert.ok(sentByB.length <= 2, `b falls back to the slow rate: ${sentByB.length} packets in 200 ms`);
    p.run(310);
    assert.equal(p.state('a'), 'up');
    assert.equal(p.state('b'), 'up');
  });

  test('restart with a new discriminator: the survivor goes Down on neighbor-down and both come Up again', () => {
    const p = new Pair({ a: A, b: B });
    p.at(250, () => {
      // b restarts at once with a fresh discriminator: its old session is gone.
      p.nodes.b = { session: newSession({ ...B, localDiscriminator: 0xbb }, 250), gen: p.nodes.b.gen, alive: true };
      p.arm('b');
    });
    p.run(260);
    const [downA] = p.events('a', 'down');
    assert.equal(downA?.action.type === 'down' && downA.action.reason, 'neighbor-down');
    assert.ok(downA!.at - 250 < 1, 'seen from the restarted side’s first packet, not after a Detection Time');
    const staleDrops = p.log.filter((n) => n.node === 'b' && n.action.type === 'drop');
    assert.ok(
      staleDrops.every((n) => n.action.type === 'drop' && n.action.reason === 'your-discriminator-mismatch'),
      'packets still addressed to the old discriminator are dropped',
    );
    assert.equal(p.state('a'), 'up');
    assert.equal(p.state('b'), 'up');
    assert.equal(p.nodes.a.session.remoteDiscriminator, 0xbb);
    assert.equal(p.events('a', 'up').length, 2);
  });
});
