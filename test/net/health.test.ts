// health.test.ts — LinkWatch (src/net/link-watch.ts) against the kernel: two namespaces joined by a veth pair,
// hlt-a (watched) and hlt-b (the far end). Pulling the far end down takes hlt-a's eth0 carrier away, as a pulled cable
// or a switch port going down does; the watch must report it within a second and report it back up again. The kernel
// sends the netlink event from linkwatch (net/core/link_watch.c), which holds a non-urgent carrier change back up to
// 1 s; both ends here have ifindex 2, which makes the change non-urgent, so this is the slow case (measured 0.76–0.9 s
// for down, ~20 ms for up). The test allows 1 s plus a margin for a loaded machine.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { realClock } from '../../src/clock.ts';
import { silentLogger } from '../../src/log.ts';
import { type LinkState, LinkWatch } from '../../src/net/link-watch.ts';

const SKIP = process.getuid?.() !== 0 ? 'needs root (network namespaces)' : false;
const NS_A = 'hlt-a';
const NS_B = 'hlt-b';
const DEADLINE_MS = 1000;
const MARGIN_MS = 500;

function ip(...args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('ip', args, { timeout: 10_000 }, (err, _out, stderr) =>
      err ? reject(new Error(`ip ${args.join(' ')}: ${stderr}`)) : resolve(),
    );
  });
}

async function removeNamespaces(): Promise<void> {
  for (const ns of [NS_A, NS_B]) await ip('netns', 'del', ns).catch(() => {});
}

describe('LinkWatch in network namespaces', { skip: SKIP }, () => {
  const events: { at: number; state: LinkState }[] = [];
  let watch: LinkWatch;

  before(async () => {
    await removeNamespaces();
    await ip('netns', 'add', NS_A);
    await ip('netns', 'add', NS_B);
    await ip('-n', NS_A, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', NS_B);
    await ip('-n', NS_A, 'link', 'set', 'eth0', 'up');
    await ip('-n', NS_B, 'link', 'set', 'eth0', 'up');
    watch = new LinkWatch({
      onChange: (state) => events.push({ at: performance.now(), state }),
      logger: silentLogger(),
      clock: realClock,
      netns: NS_A,
    });
    await watch.start();
  });

  after(async () => {
    watch?.stop();
    await removeNamespaces();
  });

  /** until waits for an event about eth0 with `up` after `since`, up to the deadline plus margin. */
  async function until(up: boolean, since: number): Promise<number> {
    const limit = since + DEADLINE_MS + MARGIN_MS;
    for (;;) {
      const e = events.find((x) => x.at >= since && x.state.ifname === 'eth0' && x.state.up === up);
      if (e) return e.at - since;
      if (performance.now() > limit) assert.fail(`no eth0 up=${up} event within ${DEADLINE_MS + MARGIN_MS} ms`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  async function settleUp(): Promise<void> {
    for (let i = 0; i < 300 && watch.state('eth0')?.up !== true; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(watch.state('eth0')?.up, true, 'eth0 should be up');
  }

  test('the first state is read at start', async () => {
    await settleUp();
    assert.equal(watch.state('lo')?.up, false);
  });

  test('the far end goes down: carrier lost, reported within a second; back up: reported', async () => {
    await settleUp();
    // Let the kernel's linkwatch rate limit (one run per second) lapse, so the measured delay is the event's own.
    await new Promise((r) => setTimeout(r, 1100));
    const t0 = performance.now();
    await ip('-n', NS_B, 'link', 'set', 'eth0', 'down');
    const downMs = await until(false, t0);
    const down = watch.state('eth0')!;
    assert.deepEqual([down.up, down.carrier], [false, false]);
    assert.match(down.detail, /^carrier down/);
    const t1 = performance.now();
    await ip('-n', NS_B, 'link', 'set', 'eth0', 'up');
    const upMs = await until(true, t1);
    process.stdout.write(`# carrier down seen after ${downMs.toFixed(0)} ms, up after ${upMs.toFixed(0)} ms\n`);
  });

  test('the watched interface itself set down: reported', async () => {
    await settleUp();
    const t0 = performance.now();
    await ip('-n', NS_A, 'link', 'set', 'eth0', 'down');
    await until(false, t0);
    assert.equal(watch.state('eth0')?.detail, 'administratively down (DOWN)');
    await ip('-n', NS_A, 'link', 'set', 'eth0', 'up');
    await until(true, t0);
  });
});
