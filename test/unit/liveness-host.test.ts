/**
 * LivenessHost over fake sockets and a fake clock: two nodes' hosts come Up, a silenced peer is reported as down
 * (detect-timeout) within Detect Mult × interval, a peer that stops its session (AdminDown) or is removed from the
 * plan is not, and metal_vrrp_liveness_sessions follows the states.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { silentLogger } from '../../src/log.ts';
import { createSpeakerMetrics } from '../../src/metrics.ts';
import type { BfdSocketOptions } from '../../src/net/bfd-socket.ts';
import type { BfdFrame } from '../../src/net/frames/bfd-udp.ts';
import type { LivenessLink } from '../../src/speaker/liveness-spec.ts';
import { LivenessHost } from '../../src/speaker/runtime/liveness-host.ts';
import { seededRandom } from '../../vrrp/sim/clock.ts';
import { FakeClock, settle } from '../support/fake-clock.ts';

const A = '10.0.0.1';
const B = '10.0.0.2';

function link(local: string, peer: string, intervalMs = 20, detectMult = 3): LivenessLink {
  return {
    interface: 'eth0',
    family: 'ipv4',
    localAddress: local,
    intervalMs,
    detectMult,
    peers: [{ node: peer === A ? 'a' : 'b', address: peer }],
  };
}

function world() {
  const clock = new FakeClock();
  const mute = new Set<string>();
  // address -> onPacket of its open socket
  const receivers = new Map<string, (f: BfdFrame) => void>();
  const downs: { at: number; by: string; peer: string }[] = [];
  const node = (me: string, seed: number) => {
    const metrics = createSpeakerMetrics({ processMetrics: false });
    const host = new LivenessHost({
      clock,
      logger: silentLogger(),
      metrics,
      random: seededRandom(seed),
      onPeerDown: (_ifname, _family, address) => downs.push({ at: clock.now(), by: me, peer: address }),
      openSocket: async (o: BfdSocketOptions) => {
        receivers.set(o.localAddress, o.onPacket);
        return {
          send: (to: string, bytes: Buffer) => {
            if (mute.has(me)) return;
            const payload = Buffer.from(bytes);
            clock.setTimer(() => receivers.get(to)?.({ source: me, payload } as unknown as BfdFrame), 0.1);
          },
          close: async () => {
            receivers.delete(o.localAddress);
          },
        };
      },
    });
    return { host, metrics };
  };
  return { clock, mute, downs, a: node(A, 1), b: node(B, 2) };
}

async function upCount(metrics: ReturnType<typeof createSpeakerMetrics>): Promise<number> {
  const m = await metrics.livenessSessions.get();
  return m.values.find((v) => v.labels['state'] === 'up')?.value ?? 0;
}

describe('LivenessHost', () => {
  test('sessions come Up; a silenced peer is reported down within Detect Mult × interval', async () => {
    const w = world();
    w.a.host.apply([link(A, B)]);
    w.b.host.apply([link(B, A)]);
    await w.clock.tick(3000); // sessions send at 1 s until Up (RFC 5880 §6.8.3)
    assert.equal(await upCount(w.a.metrics), 1);
    assert.equal(await upCount(w.b.metrics), 1);
    assert.deepEqual(w.a.host.sessions(), [{ interface: 'eth0', family: 'ipv4', node: 'b', address: B, state: 'up' }]);
    const t0 = w.clock.now();
    w.mute.add(B);
    await w.clock.tick(200);
    assert.deepEqual(
      w.downs.map((d) => [d.by, d.peer]),
      [[A, B]],
    );
    assert.ok(w.downs[0]!.at - t0 <= 3 * 20 + 1, `down after ${w.downs[0]!.at - t0} ms`);
    assert.equal(await upCount(w.a.metrics), 0);
  });

  test('a peer that stops (AdminDown) or leaves the plan is not reported as dead', async () => {
    const w = world();
    w.a.host.apply([link(A, B)]);
    w.b.host.apply([link(B, A)]);
    await w.clock.tick(3000);
    assert.equal(await upCount(w.a.metrics), 1);
    await w.b.host.stop();
    await w.clock.tick(500);
    assert.deepEqual(w.downs, [], 'AdminDown is a stop, not a death');
    w.a.host.apply([]);
    await settle();
    assert.deepEqual(w.a.host.sessions(), []);
    assert.equal(await upCount(w.a.metrics), 0);
  });

  test('a new pace rebuilds the sessions, which come Up again at the new pace', async () => {
    const w = world();
    w.a.host.apply([link(A, B)]);
    w.b.host.apply([link(B, A)]);
    await w.clock.tick(3000);
    w.a.host.apply([link(A, B, 50, 4)]);
    w.b.host.apply([link(B, A, 50, 4)]);
    await w.clock.tick(5000);
    assert.equal(await upCount(w.a.metrics), 1);
    assert.equal(w.downs.length, 0, 'the rebuild is no death');
    const t0 = w.clock.now();
    w.mute.add(A);
    await w.clock.tick(500);
    assert.deepEqual(
      w.downs.map((d) => d.by),
      [B],
    );
    assert.ok(w.downs[0]!.at - t0 <= 4 * 50 + 1, `down after ${w.downs[0]!.at - t0} ms`);
  });
});
