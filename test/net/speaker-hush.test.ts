// speaker-hush.test.ts — hushed adverts with real speakers (`metal-vrrp speaker --config`) on a lab LAN: n1 masters
// 20 IPv4 + 20 IPv6 routers at 100 ms (priority 200), n2 backs them up (priority 100). n2's addon leaves out the
// repeats of each master's advert once the router followed it (native/quiet.c; n2 logs it at debug level), and the
// speaker takes them in at each Master_Down check. Asserted: while n1 sends, n2 holds every router (no takeover) and
// counts every advert; after node loss (link down + SIGKILL), n2 takes over every router within
// Master_Down_Interval + a margin, and not before n1 has been silent for three intervals. Namespaces mvsp-h-*.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildLab, hostAddress, type LabHost, teardownByPrefix } from '../../lab/netlab/netns.ts';
import { type LogLine, metricValue, type RouterOptions, startSpeaker } from '../../lab/netlab/speaker.ts';
import { masterDownIntervalMs } from '../../vrrp/timing.ts';

const PREFIX = 'mvsp-h';
const SKIP = process.getuid?.() !== 0 ? 'needs root (network namespaces)' : false;
const ROUTERS = 20; // per family
const INTERVAL_CS = 10;
const HOLD_MS = 3000;
const MARGIN_MS = 150; // a loaded 2-core machine: timers and the kill land late; this separates protocol paths only

after(async () => {
  await teardownByPrefix(PREFIX);
});

/** at is when a speaker wrote a log line (pino's ISO time), epoch ms. */
const at = (l: LogLine) => Date.parse(String(l['time']));

test('hushed adverts hold the backup while the master sends; node loss is still detected in Master_Down_Interval', {
  skip: SKIP,
  timeout: 120_000,
}, async (t) => {
  const lab = await buildLab({ prefix: PREFIX, nodes: 2, ipv4Subnet: '10.79.0.0/16', ipv6Subnet: 'fd00:79::/64' });
  const [n1, n2] = lab.nodes as [LabHost, LabHost];
  const routers = (priority: number): RouterOptions[] => {
    const out: RouterOptions[] = [];
    for (let vrid = 1; vrid <= ROUTERS; vrid++) {
      out.push({ vrid, priority, vips: [hostAddress(lab.ipv4Subnet, 256 + vrid)] });
      out.push({ vrid, priority, vips: [hostAddress(lab.ipv6Subnet, 0x10000 + vrid)] });
    }
    return out;
  };
  const s1 = await startSpeaker(n1, { routers: routers(200), advertIntervalMs: INTERVAL_CS * 10 });
  const masters = () => s1.logs.filter((l) => l['to'] === 'master').length;
  for (let i = 0; i < 100 && masters() < 2 * ROUTERS; i++) await sleep(100);
  assert.equal(masters(), 2 * ROUTERS, 'n1 masters every router');
  const s2 = await startSpeaker(n2, { routers: routers(100), advertIntervalMs: INTERVAL_CS * 10, logLevel: 'debug' });
  const hushed = () =>
    new Set(
      s2.logs
        .filter((l) => l['msg'] === 'repeats of the followed advert hushed')
        .map((l) => `${l['family']}/${l['vrid']}`),
    );
  for (let i = 0; i < 50 && hushed().size < 2 * ROUTERS; i++) await sleep(100);
  assert.equal(hushed().size, 2 * ROUTERS, 'n2 hushed the adverts of every router');

  const receivedTotal = async () => {
    const text = await s2.metrics();
    let sum = 0;
    for (const family of ['ipv4', 'ipv6']) {
      for (let vrid = 1; vrid <= ROUTERS; vrid++) {
        sum += metricValue(text, 'metal_vrrp_adverts_received_total', { vrid: String(vrid), family }) ?? 0;
      }
    }
    return sum;
  };
  const before = await receivedTotal();
  const t0 = Date.now();
  await sleep(HOLD_MS);
  const counted = (await receivedTotal()) - before;
  const expected = ((2 * ROUTERS * (Date.now() - t0)) / (INTERVAL_CS * 10)) | 0;
  t.diagnostic(`n2 counted ${counted} adverts in ${Date.now() - t0} ms; n1 sent about ${expected}`);
  assert.equal(s2.logs.filter((l) => l['to'] === 'master').length, 0, 'n2 never took over while n1 sent');
  assert.ok(counted > expected * 0.8 && counted < expected * 1.2, `left-out repeats are counted (${counted})`);

  await sleep(Math.random() * 100); // a random point of the advert cycle
  const kill = Date.now();
  await Promise.all([lab.setLinkDown(n1), s1.kill('SIGKILL')]);
  const takeovers = () => s2.logs.filter((l) => l['to'] === 'master');
  for (let i = 0; i < 50 && takeovers().length < 2 * ROUTERS; i++) await sleep(100);
  const lines = takeovers();
  assert.equal(lines.length, 2 * ROUTERS, 'n2 took over every router');
  const mdi = masterDownIntervalMs(100, INTERVAL_CS);
  const gaps = lines.map((l) => at(l) - kill).sort((a, b) => a - b);
  t.diagnostic(
    `takeovers ${gaps[0]}..${gaps.at(-1)} ms after the kill (Master_Down_Interval ${mdi} ms, n=${gaps.length})`,
  );
  assert.ok(
    lines.every((l) => l['reason'] === 'master-down'),
    'every takeover for Master_Down_Interval',
  );
  assert.ok(gaps.at(-1)! < mdi + MARGIN_MS, `last takeover ${gaps.at(-1)} ms >= ${mdi} + ${MARGIN_MS} ms`);
  assert.ok(gaps[0]! > 3 * INTERVAL_CS * 10 - 100, `first takeover ${gaps[0]} ms: before n1 was silent`);
  await s2.kill('SIGTERM');
});
