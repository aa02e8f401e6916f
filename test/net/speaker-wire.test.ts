// speaker-wire.test.ts — what our speaker puts on the wire and what it refuses from it. Two speakers (n1 priority
// 200, n2 100, IPv4 and IPv6 routers, VRID 33) on a lab LAN; the client captures with tshark and injects hand-made
// VRRP frames from an AF_PACKET socket (python3). Needs root; namespaces mvsp-w-*.
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { run, runOk } from '../../lab/netlab/exec.ts';
import { buildLab, type Lab, type LabHost, teardownByPrefix } from '../../lab/netlab/netns.ts';
import { isStateChange, metricValue, type SpeakerProcess, startSpeaker } from '../../lab/netlab/speaker.ts';
import { encodeAdvert } from '../../vrrp/codec.ts';
import { ipv4Packet, ipv6Packet } from '../support/pcap.ts';

const PREFIX = 'mvsp-w';
const SKIP = process.getuid?.() !== 0 ? 'needs root (network namespaces)' : false;
const VRID = 33;
const PCAP = `/run/metal-vrrp-lab/${PREFIX}-adverts.pcap`;
/** VRRP_FIELDS are the tshark fields of the advert itself (v3 interval is short_adver_int, in centiseconds). */
const VRRP_FIELDS = ['vrrp.version', 'vrrp.virt_rtr_id', 'vrrp.prio', 'vrrp.short_adver_int', 'vrrp.addr_count'];

after(async () => {
  await teardownByPrefix(PREFIX);
  rmSync(PCAP, { force: true });
});

/** inject sends whole Ethernet frames (hex) from the client's eth0 with an AF_PACKET socket. */
async function inject(lab: Lab, frames: readonly Buffer[]): Promise<void> {
  const script =
    'import socket,sys\ns=socket.socket(socket.AF_PACKET,socket.SOCK_RAW)\ns.bind((sys.argv[1],0))\n' +
    'for h in sys.argv[2:]: s.send(bytes.fromhex(h))\n';
  await runOk(lab.client.ns, ['python3', '-c', script, lab.client.ifname, ...frames.map((f) => f.toString('hex'))]);
}

function ethernet(dst: string, src: string, type: number, payload: Buffer): Buffer {
  const mac = (m: string) => Buffer.from(m.replaceAll(':', ''), 'hex');
  const t = Buffer.alloc(2);
  t.writeUInt16BE(type);
  return Buffer.concat([mac(dst), mac(src), t, payload]);
}

test('our adverts on the wire, and malformed VRRP refused and counted', { skip: SKIP }, async (t) => {
  const lab = await buildLab({ prefix: PREFIX, nodes: 2 });
  try {
    const [n1, n2] = lab.nodes as [LabHost, LabHost];
    const vip4 = lab.vipsV4[0]!;
    const vip6 = lab.vipsV6[0]!;
    const routers = (priority: number) => [
      { vrid: VRID, priority, vips: [vip4] },
      { vrid: VRID, priority, vips: [vip6] },
    ];
    const [s1, s2] = (await Promise.all([
      startSpeaker(n1, { routers: routers(200) }),
      startSpeaker(n2, { routers: routers(100) }),
    ])) as [SpeakerProcess, SpeakerProcess];
    await s1.waitForLog(isStateChange('master', 'ipv4'));
    await s1.waitForLog(isStateChange('master', 'ipv6'));

    await t.test('tshark decodes our adverts as VRRPv3, TTL / hop limit 255, right fields, good checksum', async () => {
      await runOk(lab.client.ns, [
        'tshark',
        '-q',
        '-i',
        lab.client.ifname,
        '-f',
        'ip proto 112 or ip6 proto 112',
        '-a',
        'duration:1',
        '-w',
        PCAP,
      ]);
      const fields = (filter: string, f: string[]) =>
        runOk(null, [
          'tshark',
          '-r',
          PCAP,
          '-Y',
          filter,
          '-T',
          'fields',
          '-E',
          'separator=|',
          ...f.flatMap((x) => ['-e', x]),
        ]);
      const v4 = (
        await fields('vrrp && ip', [
          'ip.src',
          'ip.ttl',
          ...VRRP_FIELDS,
          'vrrp.ip_addr',
          'vrrp.checksum.status',
          'ip.dst',
        ])
      )
        .trim()
        .split('\n');
      assert.ok(v4.length >= 7, `only ${v4.length} IPv4 adverts in 1 s at 100 ms:\n${v4.join('\n')}`);
      for (const row of v4) {
        assert.equal(row, [n1.ipv4, 255, 3, VRID, 200, 10, 1, vip4, 1, '224.0.0.18'].join('|'));
      }
      const v6 = (
        await fields('vrrp && ipv6', [
          'ipv6.src',
          'ipv6.hlim',
          ...VRRP_FIELDS,
          'vrrp.ipv6_addr',
          'vrrp.checksum.status',
          'ipv6.dst',
        ])
      )
        .trim()
        .split('\n');
      assert.ok(v6.length >= 7, `only ${v6.length} IPv6 adverts:\n${v6.join('\n')}`);
      for (const row of v6) {
        const ll = `fe80::200:5eff:fe00:2${VRID.toString(16)}`;
        assert.equal(row, [n1.linkLocal, 255, 3, VRID, 200, 10, 2, `${ll},${vip6}`, 1, 'ff02::12'].join('|'));
      }
      t.diagnostic(`tshark: ${v4.length} IPv4 and ${v6.length} IPv6 adverts, all VRRPv3 TTL 255, checksum good`);
      assert.ok(readFileSync(PCAP).length > 0);
    });

    await t.test('bad TTL, bad checksum, truncated, VRRPv2 are dropped, counted, and change no state', async () => {
      const c = lab.client;
      const before = [await s1.metrics(), await s2.metrics()];
      const transitions = (m: string) => metricValue(m, 'metal_vrrp_transitions_total', { to: 'backup' }) ?? 0;
      // Each packet would make n1 resign were it accepted: priority 254 beats 200.
      const advert = { vrid: VRID, priority: 254, maxAdvertIntervalCs: 10, addresses: [vip4] };
      const ph = { family: 'ipv4' as const, source: c.ipv4, destination: '224.0.0.18' };
      const good = encodeAdvert(advert, ph);
      assert.ok(good.ok);
      const badSum = Buffer.from(good.packet);
      badSum[7] = badSum[7]! ^ 0xff;
      const v2 = Buffer.from(good.packet);
      v2[0] = 0x21;
      const mcast4 = '01:00:5e:00:00:12';
      const frame4 = (payload: Buffer, ttl = 255) =>
        ethernet(mcast4, c.mac, 0x0800, ipv4Packet({ source: c.ipv4, destination: '224.0.0.18', ttl }, payload));
      const ll = `fe80::200:5eff:fe00:2${VRID.toString(16)}`;
      const advert6 = { ...advert, addresses: [ll, vip6] };
      const good6 = encodeAdvert(advert6, { family: 'ipv6', source: c.linkLocal, destination: 'ff02::12' });
      assert.ok(good6.ok);
      const frame6 = (payload: Buffer, hop = 255) =>
        ethernet(
          '33:33:00:00:00:12',
          c.mac,
          0x86dd,
          ipv6Packet({ source: c.linkLocal, destination: 'ff02::12', ttl: hop }, payload),
        );
      const bad6Sum = Buffer.from(good6.packet);
      bad6Sum[6] = bad6Sum[6]! ^ 0xff;
      for (let i = 0; i < 3; i++) {
        await inject(lab, [
          frame4(good.packet, 64),
          frame4(badSum),
          frame4(good.packet.subarray(0, 6)),
          frame4(v2),
          frame6(good6.packet, 64),
          frame6(bad6Sum),
          frame6(good6.packet.subarray(0, 7)),
        ]);
        await sleep(50);
      }
      await sleep(500);
      const after = [await s1.metrics(), await s2.metrics()];
      for (const [i, m] of after.entries()) {
        const who = `n${i + 1}`;
        for (const [family, reason] of [
          ['ipv4', 'bad-ttl'],
          ['ipv4', 'bad-checksum'],
          ['ipv4', 'truncated'],
          ['ipv4', 'bad-version'],
          ['ipv6', 'bad-ttl'],
          ['ipv6', 'bad-checksum'],
          ['ipv6', 'truncated'],
        ] as const) {
          assert.equal(
            metricValue(m, 'metal_vrrp_invalid_packets_total', { family, reason }),
            3,
            `${who} ${family} ${reason}`,
          );
        }
        assert.equal(transitions(m), transitions(before[i]!), `${who} changed state`);
      }
      assert.equal(metricValue(after[0]!, 'metal_vrrp_router_state', { family: 'ipv4' }), 2, 'n1 still master');
      assert.equal(metricValue(after[0]!, 'metal_vrrp_router_state', { family: 'ipv6' }), 2);
      assert.equal(metricValue(after[1]!, 'metal_vrrp_router_state', { family: 'ipv4' }), 1, 'n2 still backup');
      const check = await run(null, ['promtool', 'check', 'metrics'], { input: after[0]! });
      assert.equal(check.code, 0, `promtool: ${check.stdout}${check.stderr}`);

      // Control: the same injection path with a valid advert does reach the speaker (so the drops above are real).
      const t0 = Date.now();
      await inject(lab, [frame4(good.packet)]);
      const resigned = await s1.waitForLog((l) => l.t >= t0 && l['to'] === 'backup' && l['family'] === 'ipv4', 3000);
      assert.equal(resigned['master'], c.ipv4);
      await s1.waitForLog((l) => l.t > resigned.t && l['to'] === 'master' && l['family'] === 'ipv4', 3000);
    });

    await t.test('/healthz and /readyz answer 200', async () => {
      for (const path of ['healthz', 'readyz']) {
        const res = await run(n1.ns, [
          'curl',
          '-s',
          '-o',
          '/dev/null',
          '-w',
          '%{http_code}',
          `http://127.0.0.1:7472/${path}`,
        ]);
        assert.equal(res.stdout, '200', path);
      }
    });
  } finally {
    await lab.teardown();
  }
});

test('unicast peers, IPv4 and IPv6: adverts go to the peer only, strangers are refused, failover still works', {
  skip: SKIP,
}, async (t) => {
  const lab = await buildLab({ prefix: PREFIX, nodes: 3 });
  try {
    const [n1, n2, n3] = lab.nodes as [LabHost, LabHost, LabHost];
    const vip4 = lab.vipsV4[0]!;
    const vip6 = lab.vipsV6[0]!;
    const routers = (priority: number) => [
      { vrid: VRID, priority, vips: [vip4] },
      { vrid: VRID, priority, vips: [vip6] },
    ];
    // Peers by their global addresses, as a cluster names nodes by InternalIP; IPv6 adverts come from link-locals.
    const [s1, s2] = (await Promise.all([
      startSpeaker(n1, { routers: routers(200), unicastPeers: [n2.ipv4, n2.ipv6] }),
      startSpeaker(n2, { routers: routers(100), unicastPeers: [n1.ipv4, n1.ipv6] }),
    ])) as [SpeakerProcess, SpeakerProcess];
    await s1.waitForLog(isStateChange('master', 'ipv4'));
    await s1.waitForLog(isStateChange('master', 'ipv6'));
    // n3 is not a peer: its higher-priority multicast adverts must not move anyone.
    const s3 = await startSpeaker(n3, { routers: routers(250) });
    await s3.waitForLog(isStateChange('master', 'ipv4'));
    // Captured in n2, where unicast to n2 arrives whatever the bridge has learned.
    await runOk(n2.ns, [
      'tshark',
      '-q',
      '-i',
      n2.ifname,
      '-f',
      `ip proto 112 and src host ${n1.ipv4}`,
      '-a',
      'duration:1',
      '-w',
      PCAP,
    ]);
    const dsts = await runOk(null, [
      'tshark',
      '-r',
      PCAP,
      '-Y',
      'vrrp',
      '-T',
      'fields',
      '-e',
      'ip.dst',
      '-e',
      'ip.ttl',
    ]);
    const rows = dsts.split('\n').filter((r) => r !== '');
    t.diagnostic(`n2 saw ${rows.length} adverts of n1 in 1 s: ${[...new Set(rows)].join(' ')}`);
    assert.ok(rows.length >= 5, `only ${rows.length} adverts`);
    assert.ok(
      rows.every((r) => r === `${n2.ipv4}\t255`),
      rows.join('\n'),
    );
    // IPv6: unicast to n2's address, at n2's MAC, hop limit 255, from n1's link-local (RFC 5798 §5.1.2.1).
    await runOk(n2.ns, [
      'tshark',
      '-q',
      '-i',
      n2.ifname,
      '-f',
      `ip6 and ip6[6] == 112 and ether src ${n1.mac}`,
      '-a',
      'duration:1',
      '-w',
      PCAP,
    ]);
    const v6 = await runOk(null, [
      'tshark',
      '-r',
      PCAP,
      '-Y',
      'vrrp',
      '-T',
      'fields',
      '-e',
      'eth.dst',
      '-e',
      'ipv6.src',
      '-e',
      'ipv6.dst',
      '-e',
      'ipv6.hlim',
      '-e',
      'vrrp.prio',
      '-e',
      'vrrp.checksum.status',
    ]);
    const rows6 = v6.split('\n').filter((r) => r !== '');
    t.diagnostic(`n2 saw ${rows6.length} IPv6 adverts of n1 in 1 s: ${[...new Set(rows6)].join(' | ')}`);
    assert.ok(rows6.length >= 5, `only ${rows6.length} IPv6 adverts`);
    assert.ok(
      rows6.every((r) => r === `${n2.mac}\t${n1.linkLocal}\t${n2.ipv6}\t255\t200\t1`),
      `expected ${n2.mac} ${n1.linkLocal} -> ${n2.ipv6} hlim 255 prio 200 checksum good:\n${rows6.join('\n')}`,
    );
    await sleep(500);
    const m1 = await s1.metrics();
    const m2 = await s2.metrics();
    assert.equal(metricValue(m1, 'metal_vrrp_router_state', { family: 'ipv4' }), 2, 'n1 stays master');
    assert.equal(metricValue(m2, 'metal_vrrp_router_state', { family: 'ipv4' }), 1, 'n2 stays backup');
    assert.equal(metricValue(m1, 'metal_vrrp_router_state', { family: 'ipv6' }), 2, 'n1 stays IPv6 master');
    assert.equal(metricValue(m2, 'metal_vrrp_router_state', { family: 'ipv6' }), 1, 'n2 stays IPv6 backup');
    assert.ok((metricValue(m2, 'metal_vrrp_adverts_received_total', { family: 'ipv6' }) ?? 0) >= 5);
    assert.ok((metricValue(m1, 'metal_vrrp_invalid_packets_total', { reason: 'not-a-peer' }) ?? 0) >= 5);
    assert.ok((metricValue(m2, 'metal_vrrp_adverts_received_total', { family: 'ipv4' }) ?? 0) >= 5);
    await s3.kill('SIGTERM');

    const t0 = Date.now();
    await Promise.all([lab.setLinkDown(n1), s1.kill('SIGKILL')]);
    const took = await s2.waitForLog((l) => l.t >= t0 && l['to'] === 'master' && l['family'] === 'ipv4', 3000);
    assert.equal(took['reason'], 'master-down');
    const took6 = await s2.waitForLog((l) => l.t >= t0 && l['to'] === 'master' && l['family'] === 'ipv6', 3000);
    assert.equal(took6['reason'], 'master-down');
  } finally {
    await lab.teardown();
  }
});
