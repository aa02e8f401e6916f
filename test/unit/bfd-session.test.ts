import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ControlPacket, SessionStateName } from '../../bfd/packet.ts';
import {
  newSession,
  type Session,
  type SessionAction,
  type SessionEvent,
  type StepResult,
  step,
} from '../../bfd/session.ts';
import type { SessionConfig } from '../../bfd/session-config.ts';
import { validateSessionConfig } from '../../bfd/session-config.ts';

const CONFIG: SessionConfig = {
  localDiscriminator: 11,
  desiredMinTxUs: 10_000,
  requiredMinRxUs: 10_000,
  detectMult: 3,
};
const PEER = 22;
const NO_JITTER = () => 0;

/** peer is a packet from the other side (discriminator 22) in `state`, addressed to us unless told otherwise. */
function peer(state: SessionStateName, over: Partial<ControlPacket> = {}): SessionEvent {
  const packet: ControlPacket = {
    diag: 0,
    state,
    poll: false,
    final: false,
    controlPlaneIndependent: false,
    authenticationPresent: false,
    demand: false,
    multipoint: false,
    detectMult: 3,
    myDiscriminator: PEER,
    yourDiscriminator: state === 'down' || state === 'admin-down' ? 0 : CONFIG.localDiscriminator,
    desiredMinTxUs: 10_000,
    requiredMinRxUs: 10_000,
    requiredMinEchoRxUs: 0,
    ...over,
  };
  return { type: 'packet', packet };
}

const TIMER: SessionEvent = { type: 'timer' };

/** Driver feeds events to one session and keeps the last result. */
class Driver {
  s: Session;
  last: StepResult | undefined;
  constructor(config: SessionConfig = CONFIG, now = 0) {
    this.s = newSession(config, now);
  }
  on(event: SessionEvent, at: number, random: () => number = NO_JITTER): readonly SessionAction[] {
    this.last = step(this.s, event, at, random);
    this.s = this.last.session;
    return this.last.actions;
  }
  /** up brings the session to Up by the three-way handshake, at times 0 (first send), 1 and 2. */
  up(): this {
    this.on(TIMER, 0);
    this.on(peer('down'), 1);
    this.on(peer('up'), 2);
    assert.equal(this.s.state, 'up');
    return this;
  }
}

function sends(actions: readonly SessionAction[]): ControlPacket[] {
  return actions.flatMap((a) => (a.type === 'send' ? [a.packet] : []));
}
function kinds(actions: readonly SessionAction[]): string[] {
  return actions.map((a) => (a.type === 'down' ? `down:${a.reason}:${a.diag}` : a.type));
}

describe('BFD session: bring-up (RFC 5880 §6.2, §6.8.6)', () => {
  test('starts Down and sends its first packet at once: Down, your discriminator 0, slow TX advertised', () => {
    const d = new Driver();
    assert.equal(d.s.state, 'down');
    assert.equal(d.last, undefined);
    const [p] = sends(d.on(TIMER, 0));
    assert.ok(p);
    assert.equal(p.state, 'down');
    assert.equal(p.yourDiscriminator, 0);
    assert.equal(p.myDiscriminator, 11);
    assert.equal(p.desiredMinTxUs, 1_000_000, '§6.8.3: at least 1 s while not Up');
    assert.equal(p.requiredMinRxUs, 10_000);
    assert.equal(p.requiredMinEchoRxUs, 0);
    assert.equal(p.detectMult, 3);
    assert.equal(d.s.nextTxAt, 1000, 'next packet 1 s later (no jitter drawn)');
  });

  const rows: {
    name: string;
    from: 'down' | 'init' | 'up';
    recv: SessionStateName;
    to: SessionStateName;
    out: string[];
  }[] = [
    { name: 'Down hears Down', from: 'down', recv: 'down', to: 'init', out: ['state', 'send'] },
    { name: 'Down hears Init', from: 'down', recv: 'init', to: 'up', out: ['state', 'up', 'send'] },
    { name: 'Down hears Up: stays', from: 'down', recv: 'up', to: 'down', out: [] },
    { name: 'Down hears AdminDown: stays', from: 'down', recv: 'admin-down', to: 'down', out: [] },
    { name: 'Init hears Init', from: 'init', recv: 'init', to: 'up', out: ['state', 'up', 'send'] },
    { name: 'Init hears Up', from: 'init', recv: 'up', to: 'up', out: ['state', 'up', 'send'] },
    { name: 'Init hears Down: stays', from: 'init', recv: 'down', to: 'init', out: [] },
    { name: 'Init hears AdminDown', from: 'init', recv: 'admin-down', to: 'down', out: ['state', 'send'] },
    { name: 'Up hears Up: stays', from: 'up', recv: 'up', to: 'up', out: [] },
    { name: 'Up hears Init: stays', from: 'up', recv: 'init', to: 'up', out: [] },
    { name: 'Up hears Down', from: 'up', recv: 'down', to: 'down', out: ['state', 'down:neighbor-down:3', 'send'] },
    {
      name: 'Up hears AdminDown',
      from: 'up',
      recv: 'admin-down',
      to: 'down',
      out: ['state', 'down:admin-down:3', 'send'],
    },
  ];
  for (const r of rows) {
    test(`${r.name} → ${r.to}`, () => {
      const d = new Driver();
      d.on(TIMER, 0);
      if (r.from !== 'down') d.on(peer('down'), 1);
      if (r.from === 'up') d.on(peer('up'), 2);
      assert.equal(d.s.state, r.from);
      assert.deepEqual(kinds(d.on(peer(r.recv), 10)), r.out);
      assert.equal(d.s.state, r.to);
      assert.equal(d.s.remoteDiscriminator, PEER, 'bfd.RemoteDiscr learnt from My Discriminator');
      assert.equal(d.s.remoteState, r.recv);
    });
  }

  test('the packet sent on entering Init carries the peer discriminator', () => {
    const d = new Driver();
    d.on(TIMER, 0);
    const [p] = sends(d.on(peer('down'), 1));
    assert.equal(p?.state, 'init');
    assert.equal(p?.yourDiscriminator, PEER);
  });

  test('entering Up lowers the advertised TX to the configured 10 ms and polls the peer (§6.8.3, §6.5)', () => {
    const d = new Driver();
    d.on(TIMER, 0);
    d.on(peer('down'), 1);
    const [p] = sends(d.on(peer('up'), 2));
    assert.equal(p?.state, 'up');
    assert.equal(p?.desiredMinTxUs, 10_000);
    assert.equal(p?.poll, true);
    assert.equal(d.last?.deadline, 12, 'the next packet at the fast rate');
    const [q] = sends(d.on(TIMER, 12));
    assert.equal(q?.poll, true, 'P rides on the periodic packets until a Final');
    d.on(peer('up', { final: true }), 13);
    assert.equal(d.s.polling, false);
    const [r] = sends(d.on(TIMER, 22));
    assert.equal(r?.poll, false);
  });
});

describe('BFD session: detection (§6.8.4)', () => {
  test('Up goes Down with diag 1 exactly one Detection Time after the last packet', () => {
    const d = new Driver().up();
    d.on(peer('up'), 20);
    assert.equal(d.s.detectAt, 50, '3 × max(10 ms ours, 10 ms theirs)');
    for (let t = 22; t < 50; t += 10) assert.deepEqual(kinds(d.on(TIMER, t)), ['send']);
    const actions = d.on(TIMER, 50);
    assert.deepEqual(kinds(actions), ['state', 'down:detect-timeout:1', 'send']);
    assert.equal(d.s.remoteDiscriminator, 0, '§6.8.1: RemoteDiscr zeroed after a Detection Time of silence');
    assert.equal(sends(actions)[0]?.desiredMinTxUs, 1_000_000, 'back to the slow rate');
    assert.equal(sends(actions)[0]?.yourDiscriminator, 0);
    assert.equal(d.last?.deadline, 1050);
  });

  test('uses the remote Detect Mult and the greater of our Required Min RX and its Desired Min TX', () => {
    const d = new Driver().up();
    d.on(peer('up', { detectMult: 5, desiredMinTxUs: 20_000 }), 100);
    assert.equal(d.s.detectAt, 200);
    d.on(peer('up', { detectMult: 2, desiredMinTxUs: 1_000 }), 110);
    assert.equal(d.s.detectAt, 130, '2 × our 10 ms floor');
  });

  test('a timer delivered early changes nothing', () => {
    const d = new Driver().up();
    const before = d.s;
    assert.deepEqual(d.on(TIMER, 5), []);
    assert.equal(d.s, before);
  });

  test('in Down a Detection Time of silence clears the remote discriminator without a down event', () => {
    const d = new Driver();
    d.on(TIMER, 0);
    d.on(peer('admin-down'), 1);
    assert.equal(d.s.remoteDiscriminator, PEER);
    assert.deepEqual(kinds(d.on(TIMER, 31)), []);
    assert.equal(d.s.remoteDiscriminator, 0);
    assert.equal(d.s.state, 'down');
  });
});

describe('BFD session: drops (§6.8.6)', () => {
  test('a nonzero Your Discriminator that is not ours', () => {
    const d = new Driver().up();
    const before = d.s;
    const actions = d.on(peer('up', { yourDiscriminator: 99 }), 10);
    assert.deepEqual(kinds(actions), ['drop']);
    assert.equal(actions[0]?.type === 'drop' && actions[0].reason, 'your-discriminator-mismatch');
    assert.equal(d.s, before, 'not counted as received: detection keeps running');
  });

  test('the A bit, since no authentication is in use', () => {
    const d = new Driver().up();
    const actions = d.on(peer('up', { authenticationPresent: true }), 10);
    assert.equal(actions[0]?.type === 'drop' && actions[0].reason, 'authentication-not-in-use');
  });

  test('anything while AdminDown, after learning the remote variables', () => {
    const d = new Driver();
    d.on({ type: 'admin-down' }, 0);
    const actions = d.on(peer('down'), 5);
    assert.equal(actions[0]?.type === 'drop' && actions[0].reason, 'admin-down');
    assert.equal(d.s.state, 'admin-down');
    assert.equal(d.s.remoteDiscriminator, PEER);
  });
});

describe('BFD session: administrative control (§6.8.16)', () => {
  test('admin-down from Up reports down with diag 7 and tells the peer AdminDown at once', () => {
    const d = new Driver().up();
    const actions = d.on({ type: 'admin-down' }, 10);
    assert.deepEqual(kinds(actions), ['state', 'down:admin-down:7', 'send']);
    const [p] = sends(actions);
    assert.equal(p?.state, 'admin-down');
    assert.equal(p?.diag, 7);
    assert.equal(p?.desiredMinTxUs, 1_000_000);
    assert.deepEqual(d.on({ type: 'admin-down' }, 11), [], 'twice is once');
  });

  test('admin-up goes to Down and sends; admin-up while enabled does nothing', () => {
    const d = new Driver();
    assert.deepEqual(d.on({ type: 'admin-up' }, 0), []);
    d.on({ type: 'admin-down' }, 0);
    const actions = d.on({ type: 'admin-up' }, 10);
    assert.deepEqual(kinds(actions), ['state', 'send']);
    assert.equal(d.s.state, 'down');
  });
});

describe('BFD session: transmission (§6.8.2, §6.8.3, §6.8.7)', () => {
  test('jitter: reduced by 0–25 %, or to 75–90 % with Detect Mult 1', () => {
    for (const [mult, r, want] of [
      [3, 0, 10],
      [3, 0.5, 8.75],
      [3, 0.999999, 7.5],
      [1, 0, 7.5],
      [1, 0.999999, 9],
    ] as const) {
      const d = new Driver({ ...CONFIG, detectMult: mult }).up();
      d.on(TIMER, 12, () => r);
      assert.ok(Math.abs((d.s.nextTxAt ?? 0) - 12 - want) < 1e-3, `mult ${mult} r ${r}: ${d.s.nextTxAt}`);
    }
  });

  test('the slower side sets the rate: the peer Required Min RX above our Desired Min TX', () => {
    const d = new Driver().up();
    d.on(peer('up', { requiredMinRxUs: 50_000 }), 3);
    d.on(TIMER, 12);
    assert.equal(d.s.nextTxAt, 62);
  });

  test('a lowered Required Min RX from the peer is honoured at once (§6.8.3)', () => {
    const d = new Driver().up();
    d.on(peer('up', { requiredMinRxUs: 300_000 }), 3);
    d.on(TIMER, 12);
    assert.equal(d.s.nextTxAt, 312);
    d.on(peer('up', { requiredMinRxUs: 10_000 }), 15);
    assert.equal(d.s.nextTxAt, 22, 'no longer than the new interval after the previous packet');
  });

  test('no periodic packets while the peer asks for none (Required Min RX 0), resumed when it asks again', () => {
    const d = new Driver().up();
    d.on(peer('up', { requiredMinRxUs: 0 }), 3);
    assert.deepEqual(kinds(d.on(TIMER, 12)), []);
    assert.equal(d.s.nextTxAt, undefined);
    assert.equal(d.last?.deadline, d.s.detectAt);
    d.on(peer('up'), 20);
    assert.equal(d.s.nextTxAt, 20);
  });

  test('a Poll is answered at once with F set and P clear, without moving the schedule', () => {
    const d = new Driver().up();
    const nextTx = d.s.nextTxAt;
    const [p] = sends(d.on(peer('up', { poll: true, desiredMinTxUs: 20_000 }), 5));
    assert.equal(p?.final, true);
    assert.equal(p?.poll, false);
    assert.equal(d.s.nextTxAt, nextTx);
  });

  test('configure while Up: a higher TX is advertised at once but used only after the Final (§6.8.3)', () => {
    const d = new Driver().up();
    d.on(peer('up', { final: true }), 3);
    d.on({ type: 'configure', changes: { desiredMinTxUs: 50_000 } }, 4);
    assert.equal(d.s.polling, true);
    const [p] = sends(d.on(TIMER, 12));
    assert.equal(p?.desiredMinTxUs, 50_000);
    assert.equal(p?.poll, true);
    assert.equal(d.s.nextTxAt, 22, 'still the old 10 ms');
    d.on(peer('up', { final: true }), 14);
    d.on(TIMER, 22);
    assert.equal(d.s.nextTxAt, 72);
  });

  test('configure while Up: a lower RX keeps the old Detection Time until the Final (§6.8.3)', () => {
    const d = new Driver({ ...CONFIG, requiredMinRxUs: 50_000 }).up();
    d.on(peer('up', { final: true }), 3);
    d.on({ type: 'configure', changes: { requiredMinRxUs: 10_000 } }, 4);
    d.on(peer('up'), 5);
    assert.equal(d.s.detectAt, 155, 'old 50 ms basis');
    d.on(peer('up', { final: true }), 6);
    assert.equal(d.s.detectAt, 36);
  });

  test('configure refuses bad values and keeps the session', () => {
    const d = new Driver().up();
    const before = d.s;
    const actions = d.on({ type: 'configure', changes: { detectMult: 0 } }, 4);
    assert.deepEqual(kinds(actions), ['config-rejected']);
    assert.equal(d.s, before);
  });
});

describe('validateSessionConfig', () => {
  test('accepts the defaults and refuses each bad field', () => {
    assert.ok('config' in validateSessionConfig(CONFIG));
    for (const bad of [
      { localDiscriminator: 0 },
      { localDiscriminator: 2 ** 32 },
      { desiredMinTxUs: 999 },
      { requiredMinRxUs: 0.5 },
      { detectMult: 256 },
    ]) {
      const r = validateSessionConfig({ ...CONFIG, ...bad });
      assert.ok('errors' in r && r.errors.length === 1, JSON.stringify(bad));
    }
  });
});
