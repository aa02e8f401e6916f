// link-watch.test.ts — reading iproute2's link lines, and the LinkWatch over a fake `ip`: first state, changes of
// `up` only, a restart (with a fresh read) after the monitor exits, and stop().
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import { describe, test } from 'node:test';
import { silentLogger } from '../../src/log.ts';
import { type LinkState, LinkWatch, parseLinkLine, type SpawnFn } from '../../src/net/link-watch.ts';
import { FakeTimers, settle } from '../support/fake-timers.ts';

const UP =
  '2: eth0@if2: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP group default \\    link/ether 2e:69:57:f6:45:31 brd ff:ff:ff:ff:ff:ff link-netns hlt-x2';
const NO_CARRIER =
  '2: eth0@if2: <NO-CARRIER,BROADCAST,MULTICAST,UP> mtu 1500 qdisc noqueue state LOWERLAYERDOWN group default \\    link/ether 2e:69:57:f6:45:31 brd ff:ff:ff:ff:ff:ff';
const ADMIN_DOWN =
  '2: eth0@if2: <BROADCAST,MULTICAST> mtu 1500 qdisc noqueue state DOWN group default \\    link/ether 2e:69:57:f6:45:31 brd ff:ff:ff:ff:ff:ff';
const LO =
  '1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN mode DEFAULT group default qlen 1000\\    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00';
const DELETED =
  'Deleted 3: eth1: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN group default \\    link/ether 02:00:00:00:00:01 brd ff:ff:ff:ff:ff:ff';

describe('parseLinkLine', () => {
  // [line, ifname, up, carrier, operstate, detail]
  const cases: readonly [string, string, boolean, boolean, string, string][] = [
    [UP, 'eth0', true, true, 'UP', 'up'],
    [NO_CARRIER, 'eth0', false, false, 'LOWERLAYERDOWN', 'carrier down (LOWERLAYERDOWN)'],
    [ADMIN_DOWN, 'eth0', false, false, 'DOWN', 'administratively down (DOWN)'],
    [LO, 'lo', true, true, 'UNKNOWN', 'up'],
    [DELETED, 'eth1', false, false, 'DELETED', 'interface deleted'],
    [`[LINK]${UP}`, 'eth0', true, true, 'UP', 'up'],
    [
      '5: br0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 state DORMANT',
      'br0',
      false,
      true,
      'DORMANT',
      'operstate DORMANT',
    ],
  ];
  for (const [line, ifname, up, carrier, operstate, detail] of cases) {
    test(`${ifname} ${operstate}`, () => {
      assert.deepEqual(parseLinkLine(line), { ifname, up, carrier, operstate, detail });
    });
  }
  test('other lines are not links', () => {
    for (const l of ['', '    link/ether 02:00:00:00:00:01', 'garbage: <x>']) assert.equal(parseLinkLine(l), undefined);
  });
});

/** FakeIp stands in for `ip`: each spawn is recorded; `show` answers with the current lines, `monitor` stays open. */
class FakeIp {
  readonly calls: string[][] = [];
  show: string[] = [UP];
  hangShow = false;
  monitors: { out: PassThrough; proc: EventEmitter & { killed?: string } }[] = [];
  readonly spawn: SpawnFn = (args) => {
    this.calls.push([...args]);
    const out = new PassThrough();
    const proc = Object.assign(new EventEmitter(), {
      stdout: out,
      kill: (sig?: string) => {
        (proc as { killed?: string }).killed = sig ?? 'SIGTERM';
        return true;
      },
    });
    if (args.includes('show') && this.hangShow) {
      // never answers
    } else if (args.includes('show')) {
      setImmediate(() => {
        out.end(this.show.map((l) => `${l}\n`).join(''));
        out.on('end', () => proc.emit('close', 0));
      });
    } else this.monitors.push({ out, proc });
    return proc as unknown as ReturnType<SpawnFn>;
  };
  emit(line: string): void {
    this.monitors.at(-1)!.out.write(`${line}\n`);
  }
}

describe('LinkWatch', () => {
  test('reads the first state, then reports each change of up, nothing else', async () => {
    const ip = new FakeIp();
    const seen: LinkState[] = [];
    const w = new LinkWatch({
      onChange: (s) => seen.push(s),
      logger: silentLogger(),
      clock: new FakeTimers(),
      spawn: ip.spawn,
      netns: 'hlt-a',
    });
    await w.start();
    assert.deepEqual(ip.calls, [
      ['-n', 'hlt-a', '-o', 'monitor', 'link'],
      ['-n', 'hlt-a', '-o', 'link', 'show'],
    ]);
    assert.deepEqual(
      seen.map((s) => [s.ifname, s.up]),
      [['eth0', true]],
    );
    ip.emit(UP); // same state again (e.g. an MTU change): no report
    ip.emit(NO_CARRIER);
    ip.emit(ADMIN_DOWN); // still down: no report
    ip.emit(UP);
    await settle();
    assert.deepEqual(
      seen.map((s) => [s.ifname, s.up, s.detail]),
      [
        ['eth0', true, 'up'],
        ['eth0', false, 'carrier down (LOWERLAYERDOWN)'],
        ['eth0', true, 'up'],
      ],
    );
    assert.equal(w.state('eth0')?.up, true);
    assert.equal(w.state('eth9'), undefined);
    w.stop();
    assert.equal(ip.monitors[0]!.proc.killed, 'SIGTERM');
  });

  test('a monitor that exits is restarted after restartMs, and the state read again', async () => {
    const ip = new FakeIp();
    const timers = new FakeTimers();
    const seen: boolean[] = [];
    const w = new LinkWatch({
      onChange: (s) => seen.push(s.up),
      logger: silentLogger(),
      clock: timers,
      spawn: ip.spawn,
      restartMs: 500,
    });
    await w.start();
    ip.monitors[0]!.proc.emit('exit', 1);
    ip.show = [NO_CARRIER]; // the link went down while nobody listened
    await timers.advance(499);
    assert.equal(ip.monitors.length, 1);
    await timers.advance(1);
    assert.equal(ip.monitors.length, 2);
    await settle();
    assert.deepEqual(seen, [true, false]);
    assert.deepEqual(ip.calls.at(-2), ['-o', 'monitor', 'link']);
    w.stop();
    ip.monitors[1]!.proc.emit('exit', 0); // after stop: no restart
    await timers.advance(5000);
    assert.equal(ip.monitors.length, 2);
  });

  test('a hung ip link show does not hold start() past its bound', async () => {
    const ip = new FakeIp();
    ip.hangShow = true;
    const timers = new FakeTimers();
    const w = new LinkWatch({ onChange: () => {}, logger: silentLogger(), clock: timers, spawn: ip.spawn });
    let started = false;
    const p = w.start().then(() => {
      started = true;
    });
    await timers.advance(1999);
    assert.equal(started, false);
    await timers.advance(1);
    await p;
    assert.equal(started, true);
    w.stop();
  });
});
