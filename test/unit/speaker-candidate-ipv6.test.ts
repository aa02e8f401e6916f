// Kubernetes mode's candidate-source check for IPv6 through the Speaker: adverts come from link-local addresses no
// Node lists, so the speaker has its channel resolve the candidates' InternalIPs and accepts an advert whose Ethernet
// source is one of their MACs (fromPeer); a spoofed advert from any other MAC is dropped once every MAC is known.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger } from '../../src/log.ts';
import { createSpeakerMetrics } from '../../src/metrics.ts';
import type { ReceivedAdvert } from '../../src/net/frames/vrrp.ts';
import { Speaker } from '../../src/speaker/runtime/speaker.ts';
import type { Advert } from '../../vrrp/advert.ts';
import { FakeClock } from '../support/fake-clock.ts';
import { planSpecs } from '../support/router-specs.ts';

const VIP6 = 'fd00::100';

function backup() {
  const clock = new FakeClock();
  const metrics = createSpeakerMetrics({ processMetrics: false });
  const watched: string[] = [];
  const known = new Set<string>();
  const routers = planSpecs(
    [{ vrid: 7, family: 'ipv6', priority: 100, advertIntervalCs: 10, preempt: true, preemptDelayMs: 0, vips: [VIP6] }],
    { ipv6: 'fe80::2' },
    { gratuitous: { count: 0, spacingMs: 0, refreshMs: 0 }, candidateSources: ['fd00::1', 'fd00::2', '10.0.0.1'] },
  );
  const speaker = new Speaker({
    ifname: 'eth0',
    nodeName: 'n2',
    routers,
    ports: {
      adverts: {
        ipv6: {
          send: () => ({ ok: true }),
          watchPeers: (peers) => void watched.push(...peers),
          knowsPeer: (address) => known.has(address),
        },
      },
      announcers: {},
    },
    clock,
    metrics,
    logger: createLogger({ level: 'silent' }),
  });
  // The router's own address list (the virtual link-local first), so the adverts pass the §7.1 list check.
  const addresses = [...routers[0]!.config.addresses];
  const advert = (priority: number): Advert => ({ vrid: 7, priority, maxAdvertIntervalCs: 10, addresses });
  const from = (source: string, priority: number, fromPeer?: string): ReceivedAdvert => ({
    ok: true,
    family: 'ipv6',
    from: source,
    to: 'ff02::12',
    advert: advert(priority),
    checksumMode: 'pseudo-header',
    ...(fromPeer === undefined ? {} : { fromPeer }),
  });
  const notACandidate = async () =>
    (await metrics.invalidPackets.get()).values.find(
      (v) => v.labels['family'] === 'ipv6' && v.labels['reason'] === 'not-a-candidate',
    )?.value;
  return { clock, speaker, watched, known, from, notACandidate };
}

test('the speaker asks its IPv6 channel to resolve the candidates’ InternalIPs', () => {
  const { watched } = backup();
  assert.deepEqual(watched.sort(), ['fd00::1', 'fd00::2']);
});

test('IPv6: the master heard by its MAC keeps the backup backup; a spoofed 255 from another MAC is dropped', async () => {
  const { clock, speaker, known, from, notACandidate } = backup();
  known.add('fd00::1').add('fd00::2');
  speaker.start();
  for (let i = 0; i < 30; i++) {
    speaker.receive(from('fe80::1', 200, 'fd00::1')); // the master, tied to node n1 by its MAC
    speaker.receive(from('fe80::66', 255)); // a host whose MAC is no candidate's
    clock.advance(100);
  }
  assert.equal(speaker.stateOf('ipv6/7'), 'backup', 'the genuine master was heard throughout');
  assert.equal(await notACandidate(), 30);
});

test('IPv6: while a candidate’s MAC is unresolved the check stays open, so its genuine adverts are not lost', async () => {
  const { clock, speaker, known, from, notACandidate } = backup();
  known.add('fd00::2'); // our own; n1's MAC not resolved yet
  speaker.start();
  for (let i = 0; i < 30; i++) {
    speaker.receive(from('fe80::1', 200)); // n1's advert, its MAC not yet tied to it
    clock.advance(100);
  }
  assert.equal(speaker.stateOf('ipv6/7'), 'backup', 'no second master while a MAC is unknown');
  assert.equal(await notACandidate(), 0);
});
