// A backup defers the repeats of the advert it last stepped (Speaker #deferRepeat) and steps the last one at its
// own time before the router's next event. These tests hold that this changes nothing anyone can see: twin speakers
// on one virtual clock, one handed the socket's cached object for every repeat of a frame (so it defers) and one
// handed a fresh copy every time (so it steps each), must send the same adverts and make the same transitions at
// the same times, whatever the adverts, priorities, preempt settings, liveness signals and silences.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger } from '../../src/log.ts';
import { createSpeakerMetrics } from '../../src/metrics.ts';
import type { ReceivedAdvert } from '../../src/net/frames/vrrp.ts';
import { Speaker } from '../../src/speaker/runtime/speaker.ts';
import type { Advert } from '../../vrrp/advert.ts';
import { seededRandom } from '../../vrrp/sim/clock.ts';
import { masterDownIntervalMs } from '../../vrrp/timing.ts';
import { FakeClock } from '../support/fake-clock.ts';
import { type EngineFields, planSpecs } from '../support/router-specs.ts';

const VIP = '10.0.0.100';
const MASTERS = ['10.0.0.1', '10.0.0.3'] as const;

interface Twin {
  readonly speaker: Speaker;
  readonly log: string[];
}

function twin(clock: FakeClock, name: string, router: EngineFields): Twin {
  const log: string[] = [];
  const send = (advert: Advert) => {
    log.push(`${clock.now()} send p${advert.priority}`);
    return { ok: true as const };
  };
  const speaker = new Speaker({
    ifname: 'eth0',
    nodeName: name,
    routers: planSpecs([router], { ipv4: '10.0.0.2' }),
    ports: { adverts: { ipv4: { send } }, announcers: {} },
    clock,
    metrics: createSpeakerMetrics({ processMetrics: false }),
    logger: createLogger({ level: 'silent' }),
    onTransition: (_key, to, reason) => log.push(`${clock.now()} ${to} ${reason}`),
  });
  return { speaker, log };
}

function received(from: string, priority: number, intervalCs = 10): ReceivedAdvert {
  const advert: Advert = { vrid: 7, priority, maxAdvertIntervalCs: intervalCs, addresses: [VIP] };
  return { ok: true, family: 'ipv4', from, to: '224.0.0.18', advert, checksumMode: 'pseudo-header' };
}

/** scenario plays one random run on a deferring and a stepping twin and returns both logs. */
function scenario(seed: number): { deferring: string[]; stepping: string[]; router: EngineFields } {
  const random = seededRandom(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const router: EngineFields = {
    vrid: 7,
    family: 'ipv4',
    priority: 100,
    advertIntervalCs: 10,
    preempt: random() < 0.7,
    preemptDelayMs: pick([0, 0, 250]),
    vips: [VIP],
  };
  const clock = new FakeClock();
  const a = twin(clock, 'deferring', router);
  const b = twin(clock, 'stepping', router);
  a.speaker.start();
  b.speaker.start();
  const cached = new Map<string, ReceivedAdvert>(); // what the socket's repeat table hands on: one object per frame
  let current = { from: MASTERS[0] as string, priority: 200, intervalCs: 10 };
  for (let i = 0; i < 300; i++) {
    const r = random();
    if (r < 0.06) current = { ...current, from: pick(MASTERS) };
    else if (r < 0.12) current = { ...current, priority: pick([0, 50, 100, 150, 200]) };
    else if (r < 0.14) current = { ...current, intervalCs: pick([10, 20]) };
    else if (r < 0.16) {
      a.speaker.peerDown(current.from);
      b.speaker.peerDown(current.from);
    }
    // Mostly the master's steady stream; sometimes a gap (a lost advert, or a dead master).
    clock.advance(random() < 0.1 ? Math.floor(random() * 500) : current.intervalCs * 10);
    if (random() < 0.85) {
      const key = `${current.from}/${current.priority}/${current.intervalCs}`;
      let same = cached.get(key);
      if (same === undefined) {
        same = received(current.from, current.priority, current.intervalCs);
        cached.set(key, same);
      }
      a.speaker.receive(same);
      b.speaker.receive(received(current.from, current.priority, current.intervalCs));
    }
    assert.equal(a.speaker.stateOf('ipv4/7'), b.speaker.stateOf('ipv4/7'), `seed ${seed}, step ${i}`);
  }
  clock.advance(2000);
  return { deferring: a.log, stepping: b.log, router };
}

test('deferring repeats is invisible: twin speakers send and transition alike (200 random runs)', () => {
  let takeovers = 0;
  for (let seed = 1; seed <= 200; seed++) {
    const { deferring, stepping, router } = scenario(seed);
    assert.deepEqual(deferring, stepping, `seed ${seed}, router ${JSON.stringify(router)}`);
    takeovers += stepping.filter((l) => l.includes(' master ')).length;
  }
  assert.ok(takeovers > 50, `the runs exercise takeovers (${takeovers})`);
});

test('a backup hearing the same advert takes over Master_Down_Interval after the last one, not the first', () => {
  const clock = new FakeClock();
  const router: EngineFields = {
    vrid: 7,
    family: 'ipv4',
    priority: 100,
    advertIntervalCs: 10,
    preempt: true,
    preemptDelayMs: 0,
    vips: [VIP],
  };
  const { speaker } = twin(clock, 'n2', router);
  speaker.start();
  const same = received(MASTERS[0], 200);
  for (let i = 0; i < 20; i++) {
    speaker.receive(same);
    clock.advance(100);
  }
  const last = clock.now() - 100;
  const mdi = masterDownIntervalMs(100, 10);
  clock.advance(last + mdi - 1 - clock.now());
  assert.equal(speaker.stateOf('ipv4/7'), 'backup', 'one ms before Master_Down_Interval after the last advert');
  clock.advance(1);
  assert.equal(speaker.stateOf('ipv4/7'), 'master');
});
