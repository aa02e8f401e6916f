// A backup hushes the advert it followed: the advert channel (native/quiet.c on the wire) no longer hands over its
// byte-identical repeats, only counts them and stamps the last one's time; the speaker folds that in before every
// event of the router (its Master_Down_Timer included). These tests hold that nobody can tell: twin speakers on one
// virtual clock, one behind a channel that hushes (modelled here as the addon does it) and one stepping every advert,
// must send the same adverts, make the same transitions at the same times and count the same adverts received. With a
// wire that watches (due: the addon names the hushed routers whose master has been silent for nearly their
// Master_Down_Interval), the hushing speaker parks the others out of its scheduler: the same twin test holds it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger } from '../../src/log.ts';
import { createSpeakerMetrics, type SpeakerMetrics } from '../../src/metrics.ts';
import type { ReceivedAdvert } from '../../src/net/frames/vrrp.ts';
import type { AdvertChannel } from '../../src/speaker/runtime/ports.ts';
import { Speaker } from '../../src/speaker/runtime/speaker.ts';
import type { Advert } from '../../vrrp/advert.ts';
import { seededRandom } from '../../vrrp/sim/clock.ts';
import { masterDownIntervalMs } from '../../vrrp/timing.ts';
import { FakeClock } from '../support/fake-clock.ts';
import { type EngineFields, planSpecs } from '../support/router-specs.ts';

const VIPS = ['10.0.0.100', '10.0.0.101'] as const;
const MASTERS = ['10.0.0.1', '10.0.0.3'] as const;

/**
 * HushingWire is the addon's receive path as the speaker sees it through the channel: per VRID one hushed frame
 * (here: the frame's text), whose repeats are counted and stamped instead of delivered; any other frame goes on.
 * Every delivered frame is the same object per content, as the socket's repeat table hands it on. With `watch`, it
 * also answers due() as native/quiet.c does: the hushed VRIDs whose last repeat is older than their watch interval
 * less the look-ahead, or that had none since hush.
 */
class HushingWire {
  readonly #clock: FakeClock;
  readonly #watch: boolean;
  readonly #objects = new Map<string, ReceivedAdvert>(); // frame -> the object handed on for it
  readonly #frameOf = new WeakMap<ReceivedAdvert, string>();
  // vrid -> hushed frame, its repeats since the last heardAgain, the last one's time, the watch interval
  readonly #hushed = new Map<number, { frame: string; count: number; at?: number; watchMs?: number }>();
  delivered = 0;
  leftOut = 0;
  /** dueCalls and dueNamed: how often due() was asked and how many VRIDs it named, in all. */
  dueCalls = 0;
  dueNamed = 0;
  /** asked: heardAgain calls (the speaker folds the left-out repeats in: a look at the router). */
  asked = 0;
  receiver: ((r: ReceivedAdvert) => void) | undefined;

  constructor(clock: FakeClock, opts: { watch?: boolean } = {}) {
    this.#clock = clock;
    this.#watch = opts.watch ?? false;
  }

  /** frame: one advert on the wire. */
  frame(from: string, vrid: number, priority: number, intervalCs: number, addresses: readonly string[]): void {
    const frame = `${from}/${vrid}/${priority}/${intervalCs}/${addresses.join(',')}`;
    const h = this.#hushed.get(vrid);
    if (h?.frame === frame) {
      h.count++;
      h.at = this.#clock.now();
      this.leftOut++;
      return;
    }
    let r = this.#objects.get(frame);
    if (r === undefined) {
      r = received(from, vrid, priority, intervalCs, addresses);
      this.#objects.set(frame, r);
      this.#frameOf.set(r, frame);
    }
    this.delivered++;
    this.receiver?.(r);
  }

  channel(log: string[]): AdvertChannel {
    return {
      send: (advert: Advert) => {
        log.push(`${this.#clock.now()} send v${advert.vrid} p${advert.priority}`);
        return { ok: true };
      },
      hush: (r, watchMs) => {
        const frame = this.#frameOf.get(r);
        if (frame === undefined) return false;
        this.#hushed.set(r.advert.vrid, { frame, count: 0, ...(watchMs === undefined ? {} : { watchMs }) });
        return true;
      },
      unhush: (vrid) => {
        this.#hushed.delete(vrid);
      },
      heardAgain: (vrid) => {
        this.asked++;
        const h = this.#hushed.get(vrid);
        if (h === undefined || h.count === 0) return undefined;
        const out = { count: h.count, ageMs: this.#clock.now() - (h.at ?? 0) };
        h.count = 0;
        return out;
      },
      ...(this.#watch ? { due: (aheadMs: number) => this.#due(aheadMs) } : {}),
    };
  }

  #due(aheadMs: number): number[] {
    const now = this.#clock.now();
    const out: number[] = [];
    for (const [vrid, h] of this.#hushed) {
      if (h.at === undefined || h.watchMs === undefined || now - h.at >= h.watchMs - aheadMs) out.push(vrid);
    }
    this.dueCalls++;
    this.dueNamed += out.length;
    return out;
  }
}

function received(
  from: string,
  vrid: number,
  priority: number,
  intervalCs: number,
  addresses: readonly string[],
): ReceivedAdvert {
  const advert: Advert = { vrid, priority, maxAdvertIntervalCs: intervalCs, addresses };
  return { ok: true, family: 'ipv4', from, to: '224.0.0.18', advert, checksumMode: 'pseudo-header' };
}

interface Node {
  readonly speaker: Speaker;
  readonly metrics: SpeakerMetrics;
  readonly log: string[];
}

function node(clock: FakeClock, routers: readonly EngineFields[], channel: (log: string[]) => AdvertChannel): Node {
  const log: string[] = [];
  const metrics = createSpeakerMetrics({ processMetrics: false });
  const speaker = new Speaker({
    ifname: 'eth0',
    nodeName: 'n2',
    routers: planSpecs(routers, { ipv4: '10.0.0.2' }),
    ports: { adverts: { ipv4: channel(log) }, announcers: {} },
    clock,
    metrics,
    logger: createLogger({ level: 'silent' }),
    onTransition: (key, to, reason) => log.push(`${clock.now()} ${key} ${to} ${reason}`),
  });
  return { speaker, metrics, log };
}

async function receivedCount(m: SpeakerMetrics, vrid: number): Promise<number> {
  const { values } = await m.advertsReceived.get();
  return values.find((v) => v.labels.vrid === String(vrid))?.value ?? 0;
}

function routerFields(vrid: number, preempt: boolean, preemptDelayMs: number): EngineFields {
  return {
    vrid,
    family: 'ipv4',
    priority: 100,
    advertIntervalCs: 10,
    preempt,
    preemptDelayMs,
    vips: [VIPS[vrid - 1]!],
  };
}

/** scenario plays one random run of two routers on a hushing and a stepping twin. */
async function scenario(seed: number, watch: boolean) {
  const random = seededRandom(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const routers = [1, 2].map((vrid) => routerFields(vrid, random() < 0.7, pick([0, 0, 0, 250])));
  const clock = new FakeClock();
  const wire = new HushingWire(clock, { watch });
  const hushing = node(clock, routers, (log) => wire.channel(log));
  wire.receiver = (r) => hushing.speaker.receive(r);
  const stepping = node(clock, routers, (log) => ({
    send: (advert: Advert) => {
      log.push(`${clock.now()} send v${advert.vrid} p${advert.priority}`);
      return { ok: true };
    },
  }));
  hushing.speaker.start();
  stepping.speaker.start();
  const masters = [1, 2].map(() => ({ from: MASTERS[0] as string, priority: 200, intervalCs: 10, silent: false }));
  for (let i = 0; i < 400; i++) {
    const r = random();
    const vrid = random() < 0.5 ? 1 : 2;
    const m = masters[vrid - 1]!;
    if (r < 0.04) m.from = pick(MASTERS);
    else if (r < 0.08) m.priority = pick([0, 50, 100, 150, 200]);
    else if (r < 0.09) m.intervalCs = pick([10, 20]);
    else if (r < 0.12)
      m.silent = !m.silent; // a dead master, or one back
    else if (r < 0.13) {
      hushing.speaker.peerDown(m.from);
      stepping.speaker.peerDown(m.from);
    } else if (r < 0.14) {
      const priority = pick([50, 100, 150, 250]);
      const spec = planSpecs([{ ...routers[vrid - 1]!, priority }], { ipv4: '10.0.0.2' })[0]!;
      assert.equal(hushing.speaker.reconfigureRouter(spec, { priority }), undefined);
      assert.equal(stepping.speaker.reconfigureRouter(spec, { priority }), undefined);
    } else if (r < 0.15) {
      // No engine change (a Service's labels, say): unhushes, and a parked router's timer must come back.
      const spec = planSpecs([routers[vrid - 1]!], { ipv4: '10.0.0.2' })[0]!;
      assert.equal(hushing.speaker.reconfigureRouter(spec, {}), undefined);
      assert.equal(stepping.speaker.reconfigureRouter(spec, {}), undefined);
    }
    // Time passes in small steps, so the routers' timers fire between adverts as they would.
    clock.advance(random() < 0.05 ? Math.floor(random() * 400) : 50);
    for (const [j, mm] of masters.entries()) {
      if (mm.silent || random() < 0.1) continue; // a lost advert now and then
      const addresses = random() < 0.02 ? ['10.9.9.9'] : [VIPS[j]!]; // a wrong list: dropped by the engine
      wire.frame(mm.from, j + 1, mm.priority, mm.intervalCs, addresses);
      stepping.speaker.receive(received(mm.from, j + 1, mm.priority, mm.intervalCs, addresses));
    }
    for (const key of ['ipv4/1', 'ipv4/2'] as const) {
      assert.equal(hushing.speaker.stateOf(key), stepping.speaker.stateOf(key), `seed ${seed}, step ${i}, ${key}`);
      assert.equal(hushing.speaker.mastersSeen(key), stepping.speaker.mastersSeen(key), `seed ${seed}, step ${i}`);
    }
  }
  clock.advance(2000);
  const counts = async (n: Node) => [await receivedCount(n.metrics, 1), await receivedCount(n.metrics, 2)];
  return {
    hushing: hushing.log,
    stepping: stepping.log,
    received: [await counts(hushing), await counts(stepping)],
    wire,
  };
}

/**
 * perRouter splits a log by router: two routers due at the same instant run in the scheduler's heap order, which
 * depends on how their deadlines were set, not on the protocol.
 */
function perRouter(log: readonly string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const line of log) {
    const vrid = / send v(\d+) /.exec(line)?.[1] ?? / ipv4\/(\d+) /.exec(line)?.[1] ?? '?';
    const lines = out[vrid] ?? [];
    lines.push(line);
    out[vrid] = lines;
  }
  return out;
}

for (const watch of [false, true]) {
  const name = watch ? ', the wire watching (parked routers)' : '';
  test(`hushing repeats is invisible: twin speakers send, transition and count alike (100 random runs${name})`, async () => {
    let takeovers = 0;
    let leftOut = 0;
    let delivered = 0;
    for (let seed = 1; seed <= 100; seed++) {
      const run = await scenario(seed, watch);
      assert.deepEqual(perRouter(run.hushing), perRouter(run.stepping), `seed ${seed}`);
      assert.deepEqual(run.received[0], run.received[1], `seed ${seed}: adverts received`);
      takeovers += run.stepping.filter((l) => l.includes(' master ')).length;
      leftOut += run.wire.leftOut;
      delivered += run.wire.delivered;
    }
    assert.ok(takeovers > 50, `the runs exercise takeovers (${takeovers})`);
    // Many runs follow a lower-priority master (preempting) or have a preempt delay: those repeats are all delivered.
    assert.ok(
      leftOut > 0.2 * (leftOut + delivered),
      `repeats were left out (${leftOut} left out, ${delivered} delivered)`,
    );
  });
}

/** steady: a backup behind a hushing wire, its master (priority 200) sending every 100 ms from t = 0. */
function steady(watch = false) {
  const clock = new FakeClock();
  const wire = new HushingWire(clock, { watch });
  const n = node(clock, [routerFields(1, true, 0)], (log) => wire.channel(log));
  wire.receiver = (r) => n.speaker.receive(r);
  n.speaker.start();
  return { clock, wire, n };
}

test('a hushed backup holds while its master sends, and sees about one advert in all', () => {
  const { clock, wire, n } = steady();
  for (let i = 0; i < 100; i++) {
    wire.frame(MASTERS[0], 1, 200, 10, [VIPS[0]]);
    clock.advance(100);
  }
  assert.equal(n.speaker.stateOf('ipv4/1'), 'backup');
  assert.equal(wire.delivered, 1, 'only the first advert reached the speaker');
  assert.equal(wire.leftOut, 99);
  assert.deepEqual(n.log, ['0 ipv4/1 backup startup'], 'no transition since start-up, no advert sent');
});

test('a hushed backup takes over exactly Master_Down_Interval after the last repeat it never saw', () => {
  const { clock, wire, n } = steady();
  for (let i = 0; i < 20; i++) {
    wire.frame(MASTERS[0], 1, 200, 10, [VIPS[0]]);
    clock.advance(100);
  }
  const last = clock.now() - 100;
  const mdi = masterDownIntervalMs(100, 10);
  clock.advance(last + mdi - 0.5 - clock.now());
  assert.equal(n.speaker.stateOf('ipv4/1'), 'backup', 'half a ms before Master_Down_Interval after the last repeat');
  clock.advance(0.5);
  assert.equal(n.speaker.stateOf('ipv4/1'), 'master');
  assert.deepEqual(n.log, [
    '0 ipv4/1 backup startup',
    `${last + mdi} send v1 p100`,
    `${last + mdi} ipv4/1 master master-down`,
  ]);
});

test('a watching wire: the hushed backup is looked at once, then only when its master falls silent, and on time', () => {
  const { clock, wire, n } = steady(true);
  for (let i = 0; i < 100; i++) {
    wire.frame(MASTERS[0], 1, 200, 10, [VIPS[0]]);
    clock.advance(100);
  }
  assert.equal(n.speaker.stateOf('ipv4/1'), 'backup');
  assert.ok(wire.dueCalls >= 95, `the sweep asked the wire every 100 ms (${wire.dueCalls})`);
  assert.equal(wire.dueNamed, 1, 'named once: at the first sweep, before any repeat (then parked)');
  assert.ok(wire.asked <= 2, `its repeats were folded in at most twice in 10 s (${wire.asked})`);
  // Silent from here: the last repeat came at 9,900 ms.
  const last = clock.now() - 100;
  const mdi = masterDownIntervalMs(100, 10);
  clock.advance(last + mdi - 0.5 - clock.now());
  assert.equal(n.speaker.stateOf('ipv4/1'), 'backup', 'half a ms before Master_Down_Interval after the last repeat');
  assert.ok(wire.dueNamed >= 2, 'named again once its master was silent for Master_Down_Interval less the look-ahead');
  clock.advance(0.5);
  assert.equal(n.speaker.stateOf('ipv4/1'), 'master');
  assert.deepEqual(n.log, [
    '0 ipv4/1 backup startup',
    `${last + mdi} send v1 p100`,
    `${last + mdi} ipv4/1 master master-down`,
  ]);
});

test('anything but a repeat reaches the speaker: a new priority, another sender, priority 0', () => {
  const { clock, wire, n } = steady();
  const tick = (from: string, priority: number) => {
    wire.frame(from, 1, priority, 10, [VIPS[0]]);
    clock.advance(100);
  };
  for (let i = 0; i < 5; i++) tick(MASTERS[0], 200);
  assert.equal(wire.delivered, 1);
  tick(MASTERS[0], 150); // the master's priority changed
  assert.equal(wire.delivered, 2);
  for (let i = 0; i < 5; i++) tick(MASTERS[0], 150);
  assert.equal(wire.delivered, 2, 'the new advert is hushed in turn');
  tick(MASTERS[1], 150); // another sender (lower address: followed all the same by a backup, §6.4.2)
  assert.equal(wire.delivered, 3);
  tick(MASTERS[1], 0); // it resigns
  assert.equal(wire.delivered, 4);
  const t = clock.now() - 100;
  clock.advance(1000);
  assert.equal(n.speaker.stateOf('ipv4/1'), 'master');
  const takeovers = n.log.filter((l) => l.includes(' master '));
  assert.deepEqual(takeovers, [`${t + (156 * 100) / 256} ipv4/1 master priority-zero`], 'Skew_Time after priority 0');
});

test('a liveness signal unhushes: the next advert of the master is stepped, and holds the backup again', () => {
  const { clock, wire, n } = steady();
  for (let i = 0; i < 5; i++) {
    wire.frame(MASTERS[0], 1, 200, 10, [VIPS[0]]);
    clock.advance(10);
  }
  assert.equal(wire.delivered, 1);
  assert.equal(n.speaker.peerDown(MASTERS[0]), 1);
  wire.frame(MASTERS[0], 1, 200, 10, [VIPS[0]]); // a false detection: the master is alive
  assert.equal(wire.delivered, 2, 'delivered, not left out');
  clock.advance(2000);
  assert.equal(n.speaker.stateOf('ipv4/1'), 'master', 'silent since: takes over');
  const t = 50 + masterDownIntervalMs(100, 10); // Master_Down_Interval after the advert stepped at 50 ms
  assert.deepEqual(
    n.log.filter((l) => l.includes(' master ')),
    [`${t} ipv4/1 master master-down`],
  );
});

test('no hush for authenticated routers, nor for an advert accepted by its MAC', () => {
  const clock = new FakeClock();
  const hushes: string[] = [];
  const channel: AdvertChannel = {
    send: () => ({ ok: true }),
    hush: (r) => {
      hushes.push(r.from);
      return true;
    },
  };
  const make = (candidateSources?: readonly string[]) => {
    const speaker = new Speaker({
      ifname: 'eth0',
      nodeName: 'n2',
      routers: planSpecs(
        [routerFields(1, true, 0)],
        { ipv4: '10.0.0.2' },
        candidateSources ? { candidateSources } : {},
      ),
      ports: { adverts: { ipv4: channel }, announcers: {} },
      clock,
      metrics: createSpeakerMetrics({ processMetrics: false }),
      logger: createLogger({ level: 'silent' }),
    });
    speaker.start();
    return speaker;
  };
  const viaMac: ReceivedAdvert = { ...received('10.0.0.9', 1, 200, 10, [VIPS[0]]), fromPeer: MASTERS[0] };
  make([MASTERS[0], '10.0.0.2']).receive(viaMac);
  assert.deepEqual(hushes, [], 'accepted for its MAC: the neighbour table may change while the bytes do not');
  make([MASTERS[0], '10.0.0.2']).receive(received(MASTERS[0], 1, 200, 10, [VIPS[0]]));
  assert.deepEqual(hushes, [MASTERS[0]], 'a candidate by its own address: hushed');
  const authed: ReceivedAdvert = { ...received(MASTERS[0], 1, 200, 10, [VIPS[0]]), auth: { keyId: 1, counter: 5n } };
  make().receive(authed);
  assert.deepEqual(hushes, [MASTERS[0]], 'an authenticated advert: never hushed');
});
