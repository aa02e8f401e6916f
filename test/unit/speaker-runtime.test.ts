// The Speaker runtime on a fake LAN: several speakers whose advert channels deliver to each other through the fake
// clock (zero latency, in time order), fake announcers that record what they announce, a pino sink for the logs and
// the real prom-client registry for the metrics. No sockets: the elections, answering and announcing are the real code.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger } from '../../src/log.ts';
import { createSpeakerMetrics, type SpeakerMetrics } from '../../src/metrics.ts';
import type { VrrpReceive } from '../../src/net/frames/vrrp.ts';
import type { AnnounceRequest } from '../../src/speaker/runtime/ports.ts';
import { RateLimiter } from '../../src/speaker/runtime/rate-limit.ts';
import { Speaker } from '../../src/speaker/runtime/speaker.ts';
import type { Advert } from '../../vrrp/advert.ts';
import { masterDownIntervalMs, skewTimeMs } from '../../vrrp/timing.ts';
import { FakeClock } from '../support/fake-clock.ts';
import { planSpecs } from '../support/router-specs.ts';

const VIP = '10.0.0.100';
const VIP6 = 'fd00::100';

interface Node {
  readonly name: string;
  readonly ip: string;
  readonly speaker: Speaker;
  readonly metrics: SpeakerMetrics;
  readonly logs: Record<string, unknown>[];
  readonly announced: { ip: string; at: number; request: AnnounceRequest }[];
  readonly sent: { advert: Advert; to: string | undefined; at: number }[];
  /** answering: what ports.answering heard (the responders' kernel filters), with how many announcements preceded. */
  readonly answering: { vips: string[]; announcedBefore: number }[];
  linkUp: boolean;
  /** deafTo: names of nodes whose adverts do not reach this one (a one-way or partial partition). */
  readonly deafTo: Set<string>;
}

/** lan builds one speaker per priority on a shared fake segment. */
function lan(
  priorities: readonly number[],
  opts: {
    gratuitous?: number;
    refreshMs?: number;
    ipv6?: boolean;
    shouldAnswer?: (ip: string) => boolean;
    candidateSources?: readonly string[];
  } = {},
) {
  const clock = new FakeClock();
  const nodes: Node[] = [];
  const deliver = (from: Node, advert: Advert, family: 'ipv4' | 'ipv6') => {
    for (const n of nodes) {
      if (n === from || !n.linkUp || !from.linkUp || n.deafTo.has(from.name)) continue;
      const r: VrrpReceive = {
        ok: true,
        family,
        from: family === 'ipv4' ? from.ip : `fe80::${from.name.slice(1)}`,
        to: family === 'ipv4' ? '224.0.0.18' : 'ff02::12',
        advert,
        checksumMode: 'pseudo-header',
      };
      clock.setTimer(() => n.speaker.receive(r), 0);
    }
  };
  priorities.forEach((priority, i) => {
    const name = `n${i + 1}`;
    const ip = `10.0.0.${i + 1}`;
    const specs = [
      {
        vrid: 7,
        family: 'ipv4' as const,
        priority,
        advertIntervalCs: 10,
        preempt: true,
        preemptDelayMs: 0,
        vips: [VIP],
      },
      ...(opts.ipv6
        ? [
            {
              vrid: 7,
              family: 'ipv6' as const,
              priority,
              advertIntervalCs: 10,
              preempt: true,
              preemptDelayMs: 0,
              vips: [VIP6],
            },
          ]
        : []),
    ];
    const routers = planSpecs(
      specs,
      { ipv4: ip, ipv6: `fe80::${i + 1}` },
      {
        gratuitous: { count: opts.gratuitous ?? 3, spacingMs: 100, refreshMs: opts.refreshMs ?? 0 },
        ...(opts.candidateSources ? { candidateSources: opts.candidateSources } : {}),
      },
    );
    const logs: Record<string, unknown>[] = [];
    const metrics = createSpeakerMetrics({ processMetrics: false });
    const announced: Node['announced'] = [];
    const sent: Node['sent'] = [];
    const answering: Node['answering'] = [];
    const node = {
      name,
      ip,
      metrics,
      logs,
      announced,
      sent,
      answering,
      linkUp: true,
      deafTo: new Set<string>(),
    } as Omit<Node, 'speaker'> & {
      speaker?: Speaker;
    };
    const channel = (family: 'ipv4' | 'ipv6') => ({
      send: (advert: Advert, to?: string) => {
        sent.push({ advert, to, at: clock.now() });
        deliver(node as Node, advert, family);
        return { ok: true as const };
      },
    });
    const announcer = {
      announce: async (ip: string, request: AnnounceRequest) => {
        announced.push({ ip, at: clock.now(), request });
        return { ok: true, frames: request.count };
      },
    };
    node.speaker = new Speaker({
      ifname: 'eth0',
      nodeName: name,
      routers,
      ports: {
        adverts: { ipv4: channel('ipv4'), ipv6: channel('ipv6') },
        announcers: { ipv4: announcer, ipv6: announcer },
        answering: (vips: readonly string[]) =>
          void answering.push({ vips: [...vips].sort(), announcedBefore: announced.length }),
      },
      clock,
      metrics,
      logger: createLogger({ level: 'debug', destination: { write: (s: string) => void logs.push(JSON.parse(s)) } }),
      ...(opts.shouldAnswer ? { shouldAnswer: opts.shouldAnswer } : {}),
    });
    nodes.push(node as Node);
  });
  const masters = (vip = VIP) => nodes.filter((n) => n.speaker.shouldAnswer(vip, 'eth0')).map((n) => n.name);
  return { clock, nodes, masters };
}

async function counter(m: SpeakerMetrics, name: keyof SpeakerMetrics, labels: Record<string, string>) {
  const metric = m[name] as { get(): Promise<{ values: { labels: Record<string, unknown>; value: number }[] }> };
  const { values } = await metric.get();
  const hit = values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x));
  return hit?.value;
}

test('three speakers elect the highest priority; only it answers, and it announces with the configured count', async () => {
  const { clock, nodes, masters } = lan([100, 200, 150], { gratuitous: 2 });
  for (const n of nodes) n.speaker.start();
  assert.deepEqual(masters(), [], 'nobody answers before an election');
  await clock.tick(1000);
  assert.deepEqual(masters(), ['n2']);
  assert.equal(nodes[1]!.speaker.shouldAnswer(VIP, 'eth1'), false, 'only on the speaker interface');
  assert.equal(nodes[1]!.speaker.shouldAnswer('10.0.0.99', 'eth0'), false, 'only for VIPs');
  assert.deepEqual(
    nodes.map((n) => n.announced.length),
    [0, 1, 0],
  );
  assert.equal(nodes[1]!.announced[0]!.request.count, 2);
  assert.deepEqual(
    nodes.map((n) => n.speaker.status()[0]!.state),
    ['backup', 'master', 'backup'],
  );
  assert.equal(nodes[0]!.speaker.status()[0]!.master, '10.0.0.2');
  // Every state change is logged with vip, vrid and interface.
  const change = nodes[1]!.logs.find((l) => l['to'] === 'master');
  assert.ok(change, 'a log line for the change to master');
  assert.equal(change['vip'], VIP);
  assert.equal(change['vrid'], 7);
  assert.equal(change['interface'], 'eth0');
  assert.equal(change['reason'], 'no-master');
});

test('ports.answering hears the mastered VIPs on every change, before the takeover is announced', async () => {
  const { clock, nodes } = lan([200, 100]);
  for (const n of nodes) n.speaker.start();
  await clock.tick(1000);
  const [n1, n2] = nodes as [Node, Node];
  assert.deepEqual(n1.answering.at(-1), { vips: [VIP], announcedBefore: 0 }, 'narrowed before announcing');
  assert.ok(n2.answering.length > 0 && n2.answering.every((a) => a.vips.length === 0), 'the backup answers nothing');
  n1.linkUp = false;
  await clock.tick(1000);
  assert.deepEqual(n2.answering.at(-1), { vips: [VIP], announcedBefore: 0 });
  await n2.speaker.stop();
  assert.deepEqual(n2.answering.at(-1), { vips: [], announcedBefore: 1 }, 'stopping leaves nothing answered');
});

test('node loss: the next priority takes over after its Master_Down_Interval, not before', async () => {
  const { clock, nodes, masters } = lan([100, 200, 150]);
  for (const n of nodes) n.speaker.start();
  await clock.tick(1000);
  const lost = nodes[1]!;
  lost.linkUp = false; // its adverts stop reaching anyone
  const t0 = clock.now();
  const mdi = masterDownIntervalMs(150, 10);
  // The last advert was at most one interval before t0, so the takeover is due within (mdi - 100, mdi].
  await clock.tick(mdi - 100 - 1);
  assert.deepEqual(
    masters().filter((n) => n !== 'n2'),
    [],
  );
  await clock.tick(102);
  assert.deepEqual(
    masters().filter((n) => n !== 'n2'),
    ['n3'],
  );
  const took = nodes[2]!.announced.at(-1)!.at - t0;
  assert.ok(took <= mdi, `took ${took} ms, Master_Down_Interval ${mdi}`);
  lost.linkUp = true; // it comes back: preemption gives the VIP back and n3 stops answering at once
  await clock.tick(1000);
  assert.deepEqual(masters(), ['n2']);
});

test('stop(): priority 0 from the master; the best backup takes over after Skew_Time', async () => {
  const { clock, nodes, masters } = lan([100, 200, 150]);
  for (const n of nodes) n.speaker.start();
  await clock.tick(1000);
  const stopping = nodes[1]!.speaker.stop();
  assert.deepEqual(masters(), [], 'the old master stops answering at once');
  const last = nodes[1]!.sent.at(-1)!;
  assert.equal(last.advert.priority, 0);
  await stopping;
  await clock.tick(skewTimeMs(150, 10) - 1);
  assert.deepEqual(masters(), []);
  await clock.tick(2);
  assert.deepEqual(masters(), ['n3']);
  assert.equal(nodes[2]!.logs.find((l) => l['to'] === 'master')?.['reason'], 'priority-zero');
  // A stopped speaker neither sends nor reacts.
  const count = nodes[1]!.sent.length;
  await clock.tick(1000);
  assert.equal(nodes[1]!.sent.length, count);
  assert.equal(nodes[1]!.speaker.started, false);
});

test('invalid packets are counted by reason and change no state', async () => {
  const { clock, nodes, masters } = lan([200, 100]);
  for (const n of nodes) n.speaker.start();
  await clock.tick(1000);
  const before = nodes.map((n) => n.speaker.status());
  const master = nodes[0]!;
  for (const reason of ['bad-ttl', 'bad-checksum', 'truncated', 'bad-ttl'] as const) {
    master.speaker.receive({ ok: false, family: 'ipv4', reason, detail: 'test', from: '10.0.0.9' });
  }
  master.speaker.receive({ ok: false, family: 'ipv4', reason: 'own-packet', detail: 'loop' });
  await clock.tick(500);
  assert.deepEqual(
    nodes.map((n) => n.speaker.status()),
    before,
  );
  assert.deepEqual(masters(), ['n1']);
  const m = master.metrics;
  assert.equal(await counter(m, 'invalidPackets', { family: 'ipv4', reason: 'bad-ttl' }), 2);
  assert.equal(await counter(m, 'invalidPackets', { family: 'ipv4', reason: 'bad-checksum' }), 1);
  assert.equal(await counter(m, 'invalidPackets', { family: 'ipv4', reason: 'truncated' }), 1);
  assert.equal(await counter(m, 'invalidPackets', { family: 'ipv6', reason: 'bad-ttl' }), 0, 'pre-registered');
  assert.equal(await counter(m, 'invalidPackets', { family: 'ipv4', reason: 'own-packet' }), undefined);
  const warned = master.logs.filter((l) => l['msg'] === 'invalid VRRP packet dropped');
  assert.deepEqual(
    warned.map((l) => l['reason']),
    ['bad-ttl', 'bad-checksum', 'truncated'],
    'logged once per reason and sender (rate-limited), counted every time',
  );
});

test('§7.1: an advert with another address list is counted as address-list-mismatch and changes no state', async () => {
  const { clock, nodes, masters } = lan([200, 100]);
  for (const n of nodes) n.speaker.start();
  await clock.tick(1000);
  const before = nodes.map((n) => n.speaker.status());
  const forged: Advert = { vrid: 7, priority: 254, maxAdvertIntervalCs: 10, addresses: ['10.0.0.200'] };
  for (let i = 0; i < 30; i++) {
    for (const n of nodes) {
      n.speaker.receive({
        ok: true,
        family: 'ipv4',
        from: '10.0.0.250',
        to: '224.0.0.18',
        advert: forged,
        checksumMode: 'pseudo-header',
      });
    }
    await clock.tick(20);
  }
  assert.deepEqual(
    nodes.map((n) => n.speaker.status()),
    before,
  );
  assert.deepEqual(masters(), ['n1']);
  for (const n of nodes) {
    assert.equal(await counter(n.metrics, 'invalidPackets', { family: 'ipv4', reason: 'address-list-mismatch' }), 30);
    assert.equal(
      await counter(n.metrics, 'invalidPackets', { family: 'ipv6', reason: 'address-list-mismatch' }),
      0,
      'pre-registered',
    );
    const warned = n.logs.filter((l) => l['msg'] === 'invalid VRRP packet dropped');
    assert.deepEqual(
      warned.map((l) => [l['reason'], l['from'], l['theirs']]),
      [['address-list-mismatch', '10.0.0.250', '10.0.0.200']],
      'logged once (rate-limited), counted every time',
    );
  }
});

test('Kubernetes mode: a priority-255 advert from a source that is no candidate is dropped as not-a-candidate', async () => {
  const { clock, nodes, masters } = lan([200, 100], { candidateSources: ['10.0.0.1', '10.0.0.2'] });
  for (const n of nodes) n.speaker.start();
  clock.advance(1000);
  assert.deepEqual(masters(), ['n1'], 'the candidates themselves are heard');
  const before = nodes.map((n) => n.speaker.status());
  const spoofed: Advert = { vrid: 7, priority: 255, maxAdvertIntervalCs: 10, addresses: [VIP] };
  for (let i = 0; i < 30; i++) {
    for (const n of nodes) {
      n.speaker.receive({
        ok: true,
        family: 'ipv4',
        from: '10.0.0.66',
        to: '224.0.0.18',
        advert: spoofed,
        checksumMode: 'pseudo-header',
      });
    }
    clock.advance(20);
  }
  assert.deepEqual(
    nodes.map((n) => n.speaker.status()),
    before,
  );
  assert.deepEqual(masters(), ['n1']);
  for (const n of nodes) {
    assert.equal(await counter(n.metrics, 'invalidPackets', { family: 'ipv4', reason: 'not-a-candidate' }), 30);
    const warned = n.logs.filter((l) => l['reason'] === 'not-a-candidate');
    assert.deepEqual(
      warned.map((l) => [l['from'], l['vrid'], l['msg']]),
      [['10.0.0.66', 7, 'VRRP advert for VRID 7 from 10.0.0.66, which is not a candidate node: dropped']],
      'one line naming source and VRID (rate-limited), counted every time',
    );
  }
});

test('a higher-priority advert makes the master stop answering at once and cancels its announcements', async () => {
  const { clock, nodes, masters } = lan([150]);
  const [n1] = nodes;
  n1!.speaker.start();
  await clock.tick(1000);
  assert.deepEqual(masters(), ['n1']);
  const signal = n1!.announced.at(-1)!.request.signal;
  assert.equal(signal.aborted, false);
  n1!.speaker.receive({
    ok: true,
    family: 'ipv4',
    from: '10.0.0.9',
    to: '224.0.0.18',
    advert: { vrid: 7, priority: 250, maxAdvertIntervalCs: 10, addresses: [VIP] },
    checksumMode: 'pseudo-header',
  });
  assert.deepEqual(masters(), [], 'stopped answering within the same step');
  assert.equal(signal.aborted, true);
});

test('gratuitous refresh: the master repeats one round every refreshMs while master, and stops when it leaves', async () => {
  const { clock, nodes, masters } = lan([100, 200], { refreshMs: 5000 });
  for (const n of nodes) n.speaker.start();
  await clock.tick(1000);
  assert.deepEqual(masters(), ['n2']);
  const master = nodes[1]!;
  const takeover = master.announced.length;
  assert.equal(master.announced.at(-1)!.request.count, 3, 'the takeover burst');
  await clock.tick(5000);
  assert.equal(master.announced.length, takeover + 1, 'one refresh after 5 s');
  assert.equal(master.announced.at(-1)!.request.count, 1, 'a refresh is one round');
  await clock.tick(10_000);
  assert.equal(master.announced.length, takeover + 3, 'and every 5 s after');
  assert.equal(nodes[0]!.announced.length, 0, 'a backup never refreshes');
  // A higher priority takes over: the old master stops refreshing at once.
  master.speaker.receive({
    ok: true,
    family: 'ipv4',
    from: '10.0.0.9',
    to: '224.0.0.18',
    advert: { vrid: 7, priority: 250, maxAdvertIntervalCs: 10, addresses: [VIP] },
    checksumMode: 'pseudo-header',
  });
  // Its old refresh chain was due at most 5 s after the spoof; a new chain can only start after it takes the VIP
  // back (Master_Down_Interval ≈ 322 ms later, the spoofer being silent) plus 5 s. So: no refresh round in between.
  const spoofedAt = clock.now();
  await clock.tick(5010);
  assert.deepEqual(
    master.announced.filter((a) => a.at > spoofedAt && a.request.count === 1),
    [],
    'the old refresh chain was cancelled when it left master',
  );
  assert.equal(master.announced.filter((a) => a.at > spoofedAt).length, 1, 'only its takeover burst after reclaiming');
});

test('gratuitous refresh 0: only the takeover burst', async () => {
  const { clock, nodes } = lan([100]);
  nodes[0]!.speaker.start();
  await clock.tick(60_000);
  assert.equal(nodes[0]!.announced.length, 1);
});

test('IPv6 and IPv4 routers with one VRID run apart; metrics follow the states', async () => {
  const { clock, nodes, masters } = lan([200, 100], { ipv6: true });
  for (const n of nodes) n.speaker.start();
  await clock.tick(1000);
  assert.deepEqual(masters(VIP6), ['n1']);
  assert.deepEqual(masters(VIP), ['n1']);
  const six = nodes[0]!.sent.find((s) => s.advert.addresses.includes(VIP6));
  assert.equal(six?.advert.addresses[0], 'fe80::200:5eff:fe00:207', 'virtual link-local first');
  const m = nodes[0]!.metrics;
  assert.equal(await counter(m, 'routerState', { vrid: '7', family: 'ipv6' }), 2);
  assert.equal(await counter(m, 'vipMaster', { vip: VIP6, node: 'n1' }), 1);
  assert.equal(await counter(nodes[1]!.metrics, 'vipMaster', { vip: VIP6, node: 'n2' }), 0);
  assert.ok(((await counter(nodes[1]!.metrics, 'advertsReceived', { family: 'ipv6' })) ?? 0) > 5);
  assert.equal(await counter(m, 'gratuitousSent', { family: 'ipv6' }), 3);
});

test('injected shouldAnswer narrows answering; the mastership check comes first', async () => {
  const asked: string[] = [];
  const { clock, nodes } = lan([200], {
    ipv6: true,
    shouldAnswer: (ip) => {
      asked.push(ip);
      return ip !== VIP6; // e.g. no local endpoint for the IPv6 Service
    },
  });
  const n = nodes[0]!;
  assert.equal(n.speaker.shouldAnswer(VIP, 'eth0'), false);
  assert.deepEqual(asked, [], 'not asked for a VIP this node does not master');
  n.speaker.start();
  await clock.tick(1000);
  assert.equal(n.speaker.shouldAnswer(VIP, 'eth0'), true);
  assert.equal(n.speaker.shouldAnswer(VIP6, 'eth0'), false);
  assert.deepEqual(asked, [VIP, VIP6]);
});

test('RateLimiter lets one event per key per window through', async () => {
  const r = new RateLimiter(1000);
  assert.equal(r.allow('a', 0), true);
  assert.equal(r.allow('a', 999), false);
  assert.equal(r.allow('b', 999), true);
  assert.equal(r.allow('a', 1000), true);
});

test('masters seen: 1 in a healthy election; 2 on a node that hears two masters within one interval; 0 stopped', async () => {
  const { clock, nodes, masters } = lan([200, 150, 100]);
  for (const n of nodes) n.speaker.start();
  await clock.tick(1000);
  const seen = async (n: Node) => counter(n.metrics, 'mastersSeen', { vrid: '7', family: 'ipv4' });
  assert.deepEqual(await Promise.all(nodes.map(seen)), [1, 1, 1]);
  // n1 and n2 stop hearing each other; n3 hears both. n2 takes over after its Master_Down_Interval.
  nodes[0]!.deafTo.add('n2');
  nodes[1]!.deafTo.add('n1');
  await clock.tick(masterDownIntervalMs(150, 10) + 10);
  assert.deepEqual(masters(), ['n1', 'n2']);
  assert.deepEqual(await Promise.all(nodes.map(seen)), [1, 1, 2], 'only n3 hears both');
  // Healed: n2 hears n1's higher priority and steps down at its next advert; n3's view settles within
  // Master_Down_Interval of n2's last advert.
  nodes[0]!.deafTo.clear();
  nodes[1]!.deafTo.clear();
  await clock.tick(100);
  assert.deepEqual(masters(), ['n1']);
  await clock.tick(masterDownIntervalMs(100, 10));
  assert.deepEqual(await Promise.all(nodes.map(seen)), [1, 1, 1]);
  // A master resigning with priority 0 stops counting at once; a stopped speaker's series go with it.
  await nodes[0]!.speaker.stop();
  await clock.tick(1);
  assert.equal(nodes[1]!.speaker.mastersSeen('ipv4/7'), 0);
  await clock.tick(1000);
  assert.deepEqual(masters(), ['n2']);
  assert.deepEqual(await Promise.all(nodes.slice(1).map(seen)), [1, 1]);
});
