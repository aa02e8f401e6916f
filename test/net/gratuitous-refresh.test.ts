// gratuitous-refresh.test.ts — periodic gratuitous ARP / unsolicited NA from the master (metal-vrrp.io/gratuitous-refresh,
// standalone `gratuitous.refresh`; keepalived's garp_master_refresh, MetalLB PR #3125), seen by tshark on the client:
// the master repeats them every refresh interval, the backup never sends any. Needs root; namespaces mvgr-*.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, test } from 'node:test';
import { runOk } from '../../lab/netlab/exec.ts';
import { buildLab, type LabHost, teardownByPrefix } from '../../lab/netlab/netns.ts';
import { isStateChange, type SpeakerProcess, startSpeaker } from '../../lab/netlab/speaker.ts';

const PREFIX = 'mvgr';
const SKIP = process.getuid?.() !== 0 ? 'needs root (network namespaces)' : false;
const PCAP = `/run/metal-vrrp-lab/${PREFIX}-garp.pcap`;
const REFRESH_MS = 1000;
const CAPTURE_S = 4;

after(async () => {
  await teardownByPrefix(PREFIX);
  rmSync(PCAP, { force: true });
});

test('the master refreshes gratuitous ARP and unsolicited NA every interval; the backup stays silent', {
  skip: SKIP,
}, async () => {
  const lab = await buildLab({ prefix: PREFIX, nodes: 2 });
  const [n1, n2] = lab.nodes as [LabHost, LabHost];
  const vip4 = lab.vipsV4[0]!;
  const vip6 = lab.vipsV6[0]!;
  const routers = (priority: number) => [
    { vrid: 41, priority, vips: [vip4] },
    { vrid: 41, priority, vips: [vip6] },
  ];
  const gratuitous = { count: 1, spacingMs: 100, refreshMs: REFRESH_MS };
  const [s1] = (await Promise.all([
    startSpeaker(n1, { routers: routers(200), gratuitous }),
    startSpeaker(n2, { routers: routers(100), gratuitous }),
  ])) as [SpeakerProcess, SpeakerProcess];
  await s1.waitForLog(isStateChange('master', 'ipv4'));
  await s1.waitForLog(isStateChange('master', 'ipv6'));
  // Start capturing after the takeover burst: what is seen now is refresh rounds only.
  await new Promise((r) => setTimeout(r, 300));
  await runOk(lab.client.ns, [
    'tshark',
    '-q',
    '-i',
    lab.client.ifname,
    '-f',
    'arp or icmp6',
    '-a',
    `duration:${CAPTURE_S}`,
    '-w',
    PCAP,
  ]);
  const rows = async (filter: string) =>
    (
      await runOk(null, [
        'tshark',
        '-r',
        PCAP,
        '-Y',
        filter,
        '-T',
        'fields',
        '-e',
        'eth.src',
        '-e',
        'frame.time_relative',
      ])
    )
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => {
        const [mac, at] = l.split('\t');
        return { mac: mac ?? '', at: Number(at) };
      });
  const garp = await rows(`arp.isgratuitous == 1 && arp.src.proto_ipv4 == ${vip4}`);
  const na = await rows(`icmpv6.type == 136 && icmpv6.nd.na.target_address == ${vip6} && icmpv6.nd.na.flag.o == 1`);
  for (const [what, list] of [
    ['gratuitous ARP', garp],
    ['unsolicited NA', na],
  ] as const) {
    assert.deepEqual(
      [...new Set(list.map((r) => r.mac))],
      [n1.mac],
      `${what}: only the master's MAC (backup ${n2.mac} never announces)`,
    );
    // One round a second over 4 s: 3 or 4 rounds (each may hold two ARP forms); rounds are ~1 s apart.
    const rounds = [...new Set(list.map((r) => Math.round(r.at * 10)))].length;
    assert.ok(
      rounds >= CAPTURE_S - 1,
      `${what}: ${rounds} refresh rounds seen in ${CAPTURE_S} s: ${JSON.stringify(list)}`,
    );
    assert.ok(rounds <= CAPTURE_S + 1, `${what}: ${rounds} rounds is more than one a second`);
  }
});
