// Network test of hushed adverts (native/quiet.c through src/net/vrrp-socket.ts): real VRRP frames over a veth pair
// inside one namespace (mvnet-hush: h0 10.77.0.1 sends, h1 10.77.0.2 receives). A child Node process in the namespace
// plays the scenario with two VrrpSockets and prints one JSON line of what the receiver saw; the test asserts on it.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadPacketSocketAddon } from '../../src/net/packet-socket.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const NS = 'mvnet-hush';
const SKIP = process.getuid?.() !== 0 ? 'needs root (network namespaces, AF_PACKET)' : false;

function run(argv: readonly string[], timeout = 30_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(argv[0]!, argv.slice(1), { timeout, cwd: ROOT }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

async function ok(...argv: string[]): Promise<void> {
  const r = await run(argv);
  if (r.code !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr}`);
}

// The child: h0 sends adverts, h1 hears them; every step waits a few loop turns so the frames are read.
const CHILD = `
const { VrrpSocket } = await import(${JSON.stringify(`${ROOT}src/net/vrrp-socket.ts`)});
const { realClock } = await import(${JSON.stringify(`${ROOT}src/clock.ts`)});
const heard = [];
const tx = new VrrpSocket({ family: 'ipv4', ifname: 'h0', onAdvert: () => {}, onDrop: () => {} });
const rx = new VrrpSocket({
  family: 'ipv4',
  ifname: 'h1',
  onAdvert: (r) => heard.push(r),
  onDrop: (d) => heard.push(d),
});
const turn = () => new Promise((resolve) => setTimeout(resolve, 20));
const advert = (vrid, priority) => ({ vrid, priority, maxAdvertIntervalCs: 10, addresses: ['10.77.0.100'] });
const out = {};
const X = advert(7, 200);
tx.send(X);
await turn();
out.first = heard.length;
const r = heard.at(-1);
out.hushed = rx.hush(r);
const sentAt = realClock.now();
for (let i = 0; i < 5; i++) {
  tx.send(X);
  await turn();
}
out.afterRepeats = heard.length;
const again = rx.heardAgain(7);
out.count = again?.count;
out.lastAgoMs = again?.ageMs;
out.spanMs = realClock.now() - sentAt;
out.againEmpty = rx.heardAgain(7) === undefined;
tx.send(advert(7, 150)); // a new priority: handed on
tx.send(advert(8, 200)); // another VRID: handed on
await turn();
out.afterOthers = heard.slice(out.afterRepeats).map((a) => a.ok + '/' + a.advert.vrid + '/' + a.advert.priority);
tx.send(X); // still the hushed frame of VRID 7
await turn();
out.afterX = heard.length;
out.countX = rx.heardAgain(7)?.count;
// Same burst: a different advert of VRID 7 and then the hushed one, in one sendmmsg: the repeat read after a frame
// handed on must be handed on too, so the speaker never folds it in before that frame.
tx.send(advert(7, 100));
tx.send(X);
await turn();
out.burst = heard.slice(out.afterX).map((a) => a.advert.priority);
out.burstCount = rx.heardAgain(7)?.count ?? 0;
rx.unhush(7);
tx.send(X);
await turn();
out.afterUnhush = heard.length - out.afterX - out.burst.length;
out.refusedForeign = rx.hush({ ...r });
tx.stop();
rx.stop();
process.stdout.write(JSON.stringify(out) + '\\n');
`;

// The watch (due): VRID 7 hushed with a 1,000 ms watch interval, VRID 8 with none; due(aheadMs) names a VRID whose
// last repeat is older than its interval less aheadMs, or that had no repeat since hush, or that has no interval.
const DUE_CHILD = `
const { VrrpSocket } = await import(${JSON.stringify(`${ROOT}src/net/vrrp-socket.ts`)});
const heard = [];
const tx = new VrrpSocket({ family: 'ipv4', ifname: 'h0', onAdvert: () => {}, onDrop: () => {} });
const rx = new VrrpSocket({ family: 'ipv4', ifname: 'h1', onAdvert: (r) => heard.push(r), onDrop: () => {} });
const turn = (ms = 20) => new Promise((resolve) => setTimeout(resolve, ms));
const advert = (vrid) => ({ vrid, priority: 200, maxAdvertIntervalCs: 10, addresses: ['10.77.0.100'] });
const out = {};
tx.send(advert(7));
tx.send(advert(8));
await turn();
out.hushed = [rx.hush(heard[0], 1000), rx.hush(heard[1])];
out.beforeRepeat = rx.due(0);
tx.send(advert(7));
tx.send(advert(8));
await turn();
out.fresh = rx.due(0);
out.freshAhead = rx.due(950); // 1000 - 950 = 50 ms: the repeat is ~20 ms old
await turn(120);
out.olderAhead = rx.due(950); // ~140 ms old: past 50
out.olderNoAhead = rx.due(0); // not past 1000
rx.unhush(7);
rx.unhush(8);
out.unhushed = rx.due(1000);
tx.stop();
rx.stop();
process.stdout.write(JSON.stringify(out) + '\\n');
`;

before(async () => {
  if (SKIP) return;
  await run(['ip', 'netns', 'del', NS]);
  await ok('ip', 'netns', 'add', NS);
  await ok('ip', '-n', NS, 'link', 'add', 'h0', 'type', 'veth', 'peer', 'name', 'h1');
  await ok('ip', '-n', NS, 'addr', 'add', '10.77.0.1/24', 'dev', 'h0');
  await ok('ip', '-n', NS, 'addr', 'add', '10.77.0.2/24', 'dev', 'h1');
  await ok('ip', '-n', NS, 'link', 'set', 'h0', 'up');
  await ok('ip', '-n', NS, 'link', 'set', 'h1', 'up');
});

after(async () => {
  if (!SKIP) await run(['ip', 'netns', 'del', NS]);
});

test('the addon leaves out repeats of a hushed advert, counts them, and hands on everything else', {
  skip: SKIP,
}, async () => {
  assert.ok(loadPacketSocketAddon().ok, 'the addon is built');
  const argv = ['ip', 'netns', 'exec', NS, process.execPath, '--import', 'tsx', '--input-type=module', '-e', CHILD];
  const r = await run(argv);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
  assert.equal(out.first, 1, 'the first advert is handed on');
  assert.equal(out.hushed, true);
  assert.equal(out.afterRepeats, 1, 'its five repeats are not');
  assert.equal(out.count, 5, 'but counted');
  const lastAgo = out.lastAgoMs as number;
  assert.ok(lastAgo >= 0 && lastAgo < (out.spanMs as number) / 5 + 50, `the last repeat's time (${lastAgo} ms ago)`);
  assert.equal(out.againEmpty, true, 'the count restarts once read');
  assert.deepEqual(out.afterOthers, ['true/7/150', 'true/8/200'], 'another priority, another VRID: handed on');
  assert.equal(out.countX, 1, 'the hushed frame stays hushed until replaced');
  assert.deepEqual(out.burst, [100, 200], 'a repeat read after a frame of its VRID handed on in the same burst');
  assert.equal(out.burstCount, 0);
  assert.equal(out.afterUnhush, 1, 'unhushed: handed on again');
  assert.equal(out.refusedForeign, false, 'an advert the socket did not hand over cannot be hushed');
});

test('the addon names the hushed VRIDs whose master has been silent for their watch interval less the look-ahead', {
  skip: SKIP,
}, async () => {
  const argv = ['ip', 'netns', 'exec', NS, process.execPath, '--import', 'tsx', '--input-type=module', '-e', DUE_CHILD];
  const r = await run(argv);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
  assert.deepEqual(out.hushed, [true, true]);
  assert.deepEqual(out.beforeRepeat, [7, 8], 'no repeat since hush: both');
  assert.deepEqual(out.fresh, [8], 'a fresh repeat of VRID 7: only VRID 8 (no watch interval)');
  assert.deepEqual(out.freshAhead, [8], 'the repeat is younger than 1000 - 950 ms');
  assert.deepEqual(out.olderAhead, [7, 8], 'older than 1000 - 950 ms');
  assert.deepEqual(out.olderNoAhead, [8], 'but not older than 1000 ms');
  assert.deepEqual(out.unhushed, [], 'unhushed VRIDs are not watched');
});
