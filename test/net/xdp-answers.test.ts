// xdp-answers.test.ts — the speaker's `xdpAnswers` (src/speaker/runtime/xdp-answers.ts, native/xdp_responder.c) on a
// lab LAN: n1 and n2 run standalone speakers with `xdpAnswers: auto` (generic XDP on these veths), one IPv4 and one
// IPv6 router (VRID 71). The client sends ARP requests and neighbour solicitations from an AF_PACKET socket and keeps
// the replies addressed to it. Checked: the program is on n1's eth0 (`ip link`), the replies are byte for byte what
// the JS codecs build for those requests, every one is counted by XDP and none by the native thread (all answers =
// XDP's answers); when n2 (priority 200) preempts, n1's map loses the VIPs in the same step: the first requests after
// n1 logs its transition get answers from n2 only, and n1's program passes them on; after SIGTERM and after SIGKILL
// nothing is left attached (the BPF link dies with the process's descriptors). Needs root; namespaces xdpa-*.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { run, runOk } from '../../lab/netlab/exec.ts';
import { buildLab, type Lab, type LabHost, teardownByPrefix } from '../../lab/netlab/netns.ts';
import { isStateChange, metricValue, type SpeakerProcess, startSpeaker } from '../../lab/netlab/speaker.ts';
import { ARP_OP, answerArp, arpFrame } from '../../src/net/frames/arp.ts';
import { BROADCAST_MAC, ZERO_MAC } from '../../src/net/frames/ethernet.ts';
import { answerSolicitation, neighborSolicitationFrame } from '../../src/net/frames/ndp.ts';
import { xdpAvailable } from '../../src/net/xdp-responder.ts';

const PREFIX = 'xdpa';
const SKIP =
  process.getuid?.() !== 0 ? 'needs root (network namespaces, bpf)' : xdpAvailable() ? false : 'XDP addon not built';
const VRID = 71;
const ROUNDS = 3;
/** ATTACHED: what `ip link` shows for an interface with an XDP program (any mode). */
const ATTACHED = /prog\/xdp|xdpgeneric|xdpdrv|\bxdp\b/;

/** EXCHANGE (python, in the client): send each frame, keep for 300 ms the ARP replies / NAs addressed to us. */
const EXCHANGE = String.raw`
import socket, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind((sys.argv[1], 0))
me = bytes.fromhex(sys.argv[2].replace(':', ''))
ip4 = socket.inet_aton(sys.argv[3])
ip6 = socket.inet_pton(socket.AF_INET6, sys.argv[4])
s.settimeout(0.05)
for h in sys.argv[5:]:
    s.send(bytes.fromhex(h))
    end = time.time() + 0.3
    while time.time() < end:
        try:
            f, addr = s.recvfrom(2048)
        except socket.timeout:
            continue
        if addr[2] == 4 or f[0:6] != me:
            continue
        if f[12:14] == b'\x08\x06' and f[20:22] == b'\x00\x02' and f[38:42] == ip4:
            print(f.hex(), flush=True)
        elif f[12:14] == b'\x86\xdd' and len(f) > 54 and f[20] == 58 and f[54] == 136 and f[38:54] == ip6:
            print(f.hex(), flush=True)
`;

describe('XDP answers from the speaker', { skip: SKIP }, () => {
  let lab: Lab;
  let n1: LabHost;
  let n2: LabHost;
  let s1: SpeakerProcess;
  let s2: SpeakerProcess;
  let vip4: string;
  let vip6: string;
  let arpRequest: Buffer;
  let solicitation: Buffer;

  const routers = (priority: number) => [
    { vrid: VRID, priority, vips: [vip4] },
    { vrid: VRID, priority, vips: [vip6] },
  ];

  /** exchange sends ROUNDS ARP requests and NSes for the VIPs from the client and returns the replies to it. */
  async function exchange(): Promise<Buffer[]> {
    const c = lab.client;
    const frames = Array.from({ length: ROUNDS }, () => [arpRequest, solicitation]).flat();
    const out = await runOk(c.ns, [
      'python3',
      '-c',
      EXCHANGE,
      c.ifname,
      c.mac,
      c.ipv4,
      c.ipv6,
      ...frames.map((f) => f.toString('hex')),
    ]);
    return out
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => Buffer.from(l, 'hex'));
  }

  const isArp = (f: Buffer) => f.readUInt16BE(12) === 0x0806;
  const senderMac = (f: Buffer) => [...f.subarray(6, 12)].map((b) => b.toString(16).padStart(2, '0')).join(':');
  const xdp = (text: string, family: string, outcome: string) =>
    metricValue(text, 'metal_vrrp_xdp_frames_total', { family, outcome }) ?? 0;
  const replies = (text: string, name: string) => metricValue(text, name) ?? 0;
  const xdpOn = async (host: LabHost) => (await runOk(host.ns, ['ip', 'link', 'show', 'dev', host.ifname])).trim();

  before(async () => {
    lab = await buildLab({ prefix: PREFIX, nodes: 2 });
    [n1, n2] = lab.nodes as [LabHost, LabHost];
    vip4 = lab.vipsV4[0]!;
    vip6 = lab.vipsV6[0]!;
    const c = lab.client;
    arpRequest = arpFrame(BROADCAST_MAC, c.mac, {
      op: ARP_OP.request,
      senderMac: c.mac,
      senderIp: c.ipv4,
      targetMac: ZERO_MAC,
      targetIp: vip4,
    })!;
    solicitation = neighborSolicitationFrame({ srcMac: c.mac, src: c.ipv6, target: vip6 })!;
  });

  after(async () => {
    await teardownByPrefix(PREFIX);
  });

  test('the master answers ARP and NDP from XDP, with the JS codecs bytes, and its thread answers nothing', async (t) => {
    s1 = await startSpeaker(n1, { routers: routers(100), xdpAnswers: 'auto' });
    await s1.waitForLog(isStateChange('master', 'ipv4'), 10_000);
    await s1.waitForLog(isStateChange('master', 'ipv6'), 10_000);
    const attached = s1.logs.find((l) => l['msg'] === 'ARP/NDP answered by XDP');
    assert.equal(attached?.['mode'], 'generic', 'auto on a veth: generic XDP');
    const link = await xdpOn(n1);
    t.diagnostic(link.split('\n').at(-1) ?? '');
    assert.match(link, /xdpgeneric/);
    assert.match(link, /prog\/xdp id \d+ name mv_answers/);

    const m0 = await s1.metrics();
    const got = await exchange();
    const m1 = await s1.metrics();
    const arp = got.filter(isArp);
    const nas = got.filter((f) => !isArp(f));
    assert.equal(arp.length, ROUNDS, 'one ARP reply per request');
    assert.equal(nas.length, ROUNDS, 'one NA per solicitation');
    const want = (frame: Buffer, family: 'ipv4' | 'ipv6') => {
      const shouldAnswer = (ip: string) => ip === vip4 || ip === vip6;
      const out =
        family === 'ipv4'
          ? answerArp(frame, 1, { mac: n1.mac, ifname: 'eth0', shouldAnswer })
          : answerSolicitation(frame, 2, {
              mac: n1.mac,
              ifname: 'eth0',
              linkLocal: n1.linkLocal,
              answerFrom: 'link-local',
              shouldAnswer,
            });
      assert.ok(out.answer, `the codec answers the ${family} request`);
      return out.reply.toString('hex');
    };
    for (const f of arp) assert.equal(f.toString('hex'), want(arpRequest, 'ipv4'), 'ARP reply bytes');
    for (const f of nas) assert.equal(f.toString('hex'), want(solicitation, 'ipv6'), 'NA bytes');

    const d = (f: (m: string) => number) => f(m1) - f(m0);
    const xdpArp = d((m) => xdp(m, 'ipv4', 'answered'));
    const xdpNdp = d((m) => xdp(m, 'ipv6', 'answered'));
    t.diagnostic(`XDP answered ${xdpArp} ARP, ${xdpNdp} NS`);
    assert.equal(xdpArp, ROUNDS);
    assert.equal(xdpNdp, ROUNDS);
    // metal_vrrp_*_replies_total counts every answer, the thread's and XDP's: equal deltas = the thread sent none.
    assert.equal(
      d((m) => replies(m, 'metal_vrrp_arp_replies_total')),
      xdpArp,
    );
    assert.equal(
      d((m) => replies(m, 'metal_vrrp_ndp_replies_total')),
      xdpNdp,
    );
  });

  test('a transition to backup stops the answers in the same step', async () => {
    const before = await s1.metrics();
    const earlier = new Set(s1.logs); // n1 was backup once at start: wait for the transition to come
    const fresh = (family: 'ipv4' | 'ipv6') => (l: (typeof s1.logs)[number]) =>
      !earlier.has(l) && isStateChange('backup', family)(l);
    s2 = await startSpeaker(n2, { routers: routers(200), xdpAnswers: 'auto' });
    await s1.waitForLog(fresh('ipv4'), 10_000);
    await s1.waitForLog(fresh('ipv6'), 10_000);
    const got = await exchange();
    const m = await s1.metrics();
    assert.deepEqual([...new Set(got.map(senderMac))], [n2.mac], 'answers from n2 only');
    assert.equal(got.length, 2 * ROUNDS, 'n2 answers every request');
    assert.equal(
      xdp(m, 'ipv4', 'answered'),
      xdp(before, 'ipv4', 'answered'),
      'n1 answered no ARP after the transition',
    );
    assert.equal(xdp(m, 'ipv6', 'answered'), xdp(before, 'ipv6', 'answered'), 'n1 answered no NS after the transition');
    assert.ok(xdp(m, 'ipv4', 'passed') - xdp(before, 'ipv4', 'passed') >= ROUNDS, "n1's program passed them on");
    assert.ok(xdp(m, 'ipv6', 'passed') - xdp(before, 'ipv6', 'passed') >= ROUNDS);
  });

  test('nothing stays attached after SIGTERM, nor after SIGKILL', async (t) => {
    assert.match(await xdpOn(n2), /mv_answers/);
    await s2.kill('SIGTERM');
    assert.doesNotMatch(await xdpOn(n2), ATTACHED, 'SIGTERM: detached');
    assert.match(await xdpOn(n1), /mv_answers/);
    const killed = await s1.kill('SIGKILL');
    assert.equal(killed.signal, 'SIGKILL');
    // The kernel closes a dead process's descriptors; the BPF link was the only reference: the program goes with it.
    assert.doesNotMatch(await xdpOn(n1), ATTACHED, 'SIGKILL: detached');
    const progs = await run(null, ['ip', 'link', 'show']);
    t.diagnostic(`host namespace untouched: ${/mv_answers/.test(progs.stdout) ? 'NO' : 'yes'}`);
  });
});
