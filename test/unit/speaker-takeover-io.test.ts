// A backup's Master_Down_Timer that fires after an event-loop stall must not take over before the adverts queued in
// the sockets meanwhile are read (the start-up double master seen in the lab). The clock here models Node's loop: a
// timer round, then the poll round that delivers the packets waiting, then afterPendingIo callbacks (setImmediate).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger } from '../../src/log.ts';
import { createSpeakerMetrics } from '../../src/metrics.ts';
import type { VrrpReceive } from '../../src/net/frames/vrrp.ts';
import { Speaker } from '../../src/speaker/runtime/speaker.ts';
import type { Advert } from '../../vrrp/advert.ts';
import { masterDownIntervalMs } from '../../vrrp/timing.ts';
import { LoopClock } from '../support/loop-clock.ts';
import { planSpecs } from '../support/router-specs.ts';

const VIP = '10.0.0.100';

function setup(send: (advert: Advert) => { ok: true } = () => ({ ok: true as const })) {
  const clock = new LoopClock();
  const routers = planSpecs(
    [{ vrid: 7, family: 'ipv4', priority: 100, advertIntervalCs: 10, preempt: true, preemptDelayMs: 0, vips: [VIP] }],
    { ipv4: '10.0.0.2' },
  );
  const speaker = new Speaker({
    ifname: 'eth0',
    nodeName: 'n2',
    routers,
    ports: { adverts: { ipv4: { send } }, announcers: {} },
    clock,
    metrics: createSpeakerMetrics({ processMetrics: false }),
    logger: createLogger({ level: 'silent' }),
  });
  const advert: Advert = { vrid: 7, priority: 200, maxAdvertIntervalCs: 10, addresses: [VIP] };
  const fromMaster: VrrpReceive = {
    ok: true,
    family: 'ipv4',
    from: '10.0.0.1',
    to: '224.0.0.18',
    advert,
    checksumMode: 'pseudo-header',
  };
  return { clock, speaker, fromMaster };
}

test('a late Master_Down_Timer waits for the adverts already queued: no takeover when one of them is the master', () => {
  const { clock, speaker, fromMaster } = setup();
  speaker.start();
  speaker.receive(fromMaster);
  // The loop stalls past Master_Down_Interval with three adverts from the master queued in the socket.
  clock.advance(masterDownIntervalMs(100, 10) + 50);
  assert.equal(speaker.stateOf('ipv4/7'), 'backup', 'the timer round alone does not take over');
  // Poll rounds: the socket yields one packet per round; the takeover keeps waiting while packets come.
  for (let i = 0; i < 3; i++) {
    speaker.receive(fromMaster);
    clock.checkPhase();
    assert.equal(speaker.stateOf('ipv4/7'), 'backup', `round ${i}`);
  }
  clock.checkPhase(); // a round with nothing read: the deferred timer runs, finds its deadline moved, ignores it
  assert.equal(speaker.stateOf('ipv4/7'), 'backup');
  assert.equal(clock.checkPhase(), 0, 'nothing left waiting');
  // The master falls silent for real: the takeover happens, one loop round after the timer.
  clock.advance(masterDownIntervalMs(100, 10) + 1);
  assert.equal(speaker.stateOf('ipv4/7'), 'backup');
  clock.checkPhase();
  assert.equal(speaker.stateOf('ipv4/7'), 'master');
});

test('a takeover hands its advert to the kernel before it answers ARP (RFC 5798 §6.4.2 order)', () => {
  const answeringAtSend: boolean[] = [];
  let speakerRef: Speaker | undefined;
  const send = (_advert: Advert) => {
    answeringAtSend.push(speakerRef?.shouldAnswer(VIP, 'eth0') ?? false);
    return { ok: true as const };
  };
  const { clock, speaker } = setup(send);
  speakerRef = speaker;
  speaker.start();
  clock.advance(masterDownIntervalMs(100, 10) + 1);
  clock.checkPhase();
  assert.equal(speaker.stateOf('ipv4/7'), 'master');
  assert.deepEqual(answeringAtSend, [false], 'one advert sent, while not yet answering');
  assert.equal(speaker.shouldAnswer(VIP, 'eth0'), true, 'answering once the advert left');
});
