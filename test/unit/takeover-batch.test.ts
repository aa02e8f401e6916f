// A liveness signal moves every router following the dead master to a takeover; they are taken over in one run
// (src/speaker/runtime/takeover-batch.ts): every advert first, in one flush, then answering, then the first
// gratuitous ARP of every VIP, with the books (logs, metrics, transitions) after. No router claims before its own
// Skew_Time, and an advert from a master that is in fact alive keeps its router backup.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createLogger } from '../../src/log.ts';
import { createSpeakerMetrics } from '../../src/metrics.ts';
import type { VrrpReceive } from '../../src/net/frames/vrrp.ts';
import type { RouterKey } from '../../src/speaker/router-spec.ts';
import { Speaker } from '../../src/speaker/runtime/speaker.ts';
import { BATCH_IO_ROUNDS, TakeoverBatches } from '../../src/speaker/runtime/takeover-batch.ts';
import type { Advert } from '../../vrrp/advert.ts';
import { skewTimeMs } from '../../vrrp/timing.ts';
import { LoopClock } from '../support/loop-clock.ts';
import { planSpecs } from '../support/router-specs.ts';

describe('TakeoverBatches', () => {
  test('runs its routers together at its time, after the sockets are drained, without those that left', () => {
    const clock = new LoopClock();
    let received = 0;
    const runs: (readonly RouterKey[])[] = [];
    const b = new TakeoverBatches({ clock, received: () => received, run: (keys) => runs.push(keys) });
    b.add(['ipv4/1', 'ipv4/2', 'ipv4/3'], 5);
    b.leave('ipv4/2'); // an advert decided it meanwhile
    clock.advance(4.9);
    assert.equal(clock.checkPhase(), 0, 'nothing before the batch time');
    clock.advance(0.1);
    received++; // packets keep arriving: one more round
    assert.equal(clock.checkPhase(), 1);
    assert.deepEqual(runs, []);
    assert.equal(clock.checkPhase(), 1, 'a quiet round');
    assert.deepEqual(runs, [['ipv4/1', 'ipv4/3']]);
    assert.equal(b.size, 0);
  });

  test('a stream of packets delays a batch by at most BATCH_IO_ROUNDS loop rounds', () => {
    const clock = new LoopClock();
    let received = 0;
    const runs: (readonly RouterKey[])[] = [];
    const b = new TakeoverBatches({ clock, received: () => received, run: (keys) => runs.push(keys) });
    b.add(['ipv4/1'], 1);
    clock.advance(1);
    let rounds = 0;
    while (runs.length === 0 && rounds < 100) {
      received++;
      clock.checkPhase();
      rounds++;
    }
    assert.equal(rounds, BATCH_IO_ROUNDS);
  });

  test('stop cancels every batch', () => {
    const clock = new LoopClock();
    const runs: (readonly RouterKey[])[] = [];
    const b = new TakeoverBatches({ clock, received: () => 0, run: (keys) => runs.push(keys) });
    b.add(['ipv4/1'], 1);
    b.stop();
    clock.advance(10);
    clock.checkPhase();
    assert.deepEqual(runs, []);
  });
});

const MASTER = '10.0.0.1';
const N = 40;

function setup(opts: { readonly batchAnnounce?: boolean } = {}) {
  const clock = new LoopClock();
  // Priorities 240..201: Skew_Times at 100 ms from 6.3 to 21.5 ms.
  const routers = planSpecs(
    Array.from({ length: N }, (_, i) => ({
      vrid: i + 1,
      family: 'ipv4' as const,
      priority: 240 - i,
      advertIntervalCs: 10,
      preempt: true,
      preemptDelayMs: 0,
      vips: [`10.0.0.${100 + i}`],
    })),
    { ipv4: '10.0.0.2' },
  );
  const wire: string[] = []; // what left, in order: "advert 7", "flush", "garp 10.0.0.106"
  const lines: string[] = [];
  const logger = createLogger({
    level: 'info',
    destination: { write: (l: string) => void lines.push(JSON.parse(l).msg) },
  });
  const speaker = new Speaker({
    ifname: 'eth0',
    nodeName: 'n2',
    routers,
    ports: {
      adverts: {
        ipv4: {
          send: (a: Advert) => {
            wire.push(`advert ${a.vrid}`);
            return { ok: true as const };
          },
          flush: () => void wire.push('flush'),
        },
      },
      announcers: {
        ipv4: {
          announce: async (ip, req) => {
            wire.push(`garp ${ip} x${req.count}`);
            return { ok: true, frames: req.count };
          },
          ...(opts.batchAnnounce
            ? {
                announceNow: (ips: readonly string[]) => {
                  wire.push(`garp-now ${ips.length}`);
                  return { ok: true, frames: ips.length };
                },
              }
            : {}),
        },
      },
      answering: (vips) => void wire.push(`answering ${vips.length}`),
    },
    clock,
    metrics: createSpeakerMetrics({ processMetrics: false }),
    logger,
  });
  const advert = (vrid: number): VrrpReceive => ({
    ok: true,
    family: 'ipv4',
    from: MASTER,
    to: '224.0.0.18',
    advert: { vrid, priority: 250, maxAdvertIntervalCs: 10, addresses: [`10.0.0.${99 + vrid}`] },
    checksumMode: 'pseudo-header',
  });
  speaker.start();
  for (let v = 1; v <= N; v++) speaker.receive(advert(v));
  clock.checkPhase();
  return { clock, speaker, wire, lines, advert };
}

describe('Speaker: a liveness signal takes over every router of the dead master in one run', () => {
  test('no router before its Skew_Time; then every advert, one flush, one answering update, every GARP', () => {
    const { clock, speaker, wire, lines } = setup();
    wire.length = 0;
    lines.length = 0;
    assert.equal(speaker.peerDown(MASTER), N);
    const latest = skewTimeMs(240 - (N - 1), 10);
    clock.advance(latest - 0.01);
    clock.checkPhase();
    assert.equal(wire.length, 0, 'the lowest priority has not waited its Skew_Time yet');
    clock.advance(0.01);
    assert.equal(clock.checkPhase(), 1, 'one loop round for the packets already waiting');
    const adverts = wire.slice(0, N);
    assert.ok(adverts.every((w) => w.startsWith('advert ')));
    assert.deepEqual(wire.slice(N, N + 2), ['flush', `answering ${N}`]);
    assert.equal(wire.slice(N + 2).filter((w) => w === 'garp' || w.endsWith(' x3')).length, N);
    for (let v = 1; v <= N; v++) assert.equal(speaker.stateOf(`ipv4/${v}`), 'master');
    // The per-VIP transition lines wait for a timer of 0 ms; the batch's summary line is written at once.
    assert.deepEqual(lines, ['liveness takeover batch']);
    clock.advance(0);
    assert.equal(lines.filter((l) => l.includes('backup -> master')).length, N);
  });

  test('with announceNow, the first GARP of every VIP leaves in one batch and the later rounds follow the spacing', () => {
    const { clock, speaker, wire } = setup({ batchAnnounce: true });
    wire.length = 0;
    speaker.peerDown(MASTER);
    clock.advance(skewTimeMs(240 - (N - 1), 10));
    clock.checkPhase();
    assert.deepEqual(wire.slice(N), ['flush', `answering ${N}`, `garp-now ${N}`]);
    wire.length = 0;
    clock.advance(99); // default spacing 100 ms
    assert.equal(wire.length, 0);
    clock.advance(1);
    assert.equal(wire.filter((w) => w.endsWith(' x2')).length, N, 'the remaining two rounds of the default three');
  });

  test('a false detection: the master advertising after the signal keeps its router backup', () => {
    const { clock, speaker, advert } = setup();
    speaker.peerDown(MASTER);
    clock.advance(3);
    speaker.receive(advert(5)); // the master was alive after all (a stall, not a death)
    clock.advance(50);
    clock.checkPhase();
    clock.checkPhase();
    assert.equal(speaker.stateOf('ipv4/5'), 'backup');
    assert.equal(speaker.stateOf('ipv4/6'), 'master');
    // The real master's next advert with its higher priority wins the others back (RFC 5798 §6.4.3).
    speaker.receive(advert(6));
    assert.equal(speaker.stateOf('ipv4/6'), 'backup');
  });
});
