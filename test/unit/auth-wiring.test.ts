// Authenticated adverts end to end without sockets: the Secret and the pool annotation (src/model), planning
// (desired-routers: keys in the spec, fail closed), and two Speakers whose adverts travel as real bytes through the
// real frame builders and receive checks (src/net/frames/vrrp.ts, as VrrpSocket uses them), with a hostile host injecting plain, forged and
// replayed packets. Asserts drops by reason, no state change, and key rotation without a transition.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createLogger } from '../../src/log.ts';
import { createSpeakerMetrics, type SpeakerMetrics } from '../../src/metrics.ts';
import { type AuthKeys, parseAuthSecret } from '../../src/model/auth-secret.ts';
import { snapshotOf } from '../../src/model/cluster-objects.ts';
import type { LocalNode } from '../../src/model/local-node.ts';
import { parsePoolTuning } from '../../src/model/pool-tuning.ts';
import { receiveIpv4Frame, vrrpIpv4Frame } from '../../src/net/frames/vrrp.ts';
import { desiredRouters, diffRouters } from '../../src/speaker/cluster/desired-routers.ts';
import { keyringOf } from '../../src/speaker/runtime/auth-keyring.ts';
import type { AdvertSeal } from '../../src/speaker/runtime/ports.ts';
import { Speaker } from '../../src/speaker/runtime/speaker.ts';
import type { Advert } from '../../vrrp/advert.ts';
import { FakeClock } from '../support/fake-clock.ts';
import { planSpecs } from '../support/router-specs.ts';

const b64 = (text: string) => Buffer.from(text).toString('base64');
const KEY_A = 'key A: thirty-two bytes of secret';
const KEY_B = 'key B: thirty-two bytes of secret';
const keys = (key: string, previousKey?: string): AuthKeys => {
  const r = parseAuthSecret({
    metadata: { name: 's' },
    data: { key: b64(key), ...(previousKey === undefined ? {} : { previousKey: b64(previousKey) }) },
  });
  assert.ok('keys' in r, JSON.stringify(r));
  return r.keys;
};

describe('auth Secret and annotation', () => {
  test('a Secret with key and previousKey parses; bad ones say why', () => {
    const k = keys(KEY_A, KEY_B);
    assert.equal(Buffer.from(k.key).toString(), KEY_A);
    assert.equal(Buffer.from(k.previousKey!).toString(), KEY_B);
    const bad: [Record<string, string>, RegExp][] = [
      [{}, /no data\.key/],
      [{ key: b64('short') }, /5 bytes, at least 16/],
      [{ key: 'not base64!' }, /not base64/],
      [{ key: b64(KEY_A), previousKey: b64('x') }, /previousKey has 1 bytes/],
    ];
    for (const [data, why] of bad) {
      const r = parseAuthSecret({ metadata: { name: 's' }, data });
      assert.ok('error' in r && why.test(r.error), JSON.stringify(r));
    }
  });

  test('metal-vrrp.io/auth-secret takes a Secret name; anything else is a problem and leaves authentication off', () => {
    assert.equal(parsePoolTuning('p', { 'metal-vrrp.io/auth-secret': 'vrrp-auth' }).tuning.authSecret, 'vrrp-auth');
    assert.equal(parsePoolTuning('p', {}).tuning.authSecret, undefined);
    const bad = parsePoolTuning('p', { 'metal-vrrp.io/auth-secret': 'Not_A_Name' });
    assert.equal(bad.tuning.authSecret, undefined);
    assert.deepEqual(
      bad.problems.map((p) => p.error.code),
      ['INVALID_TUNING'],
    );
  });
});

describe('planning with authentication', () => {
  const objects = (secretData?: Record<string, string>) => ({
    services: [
      {
        metadata: { namespace: 'default', name: 'web', annotations: { 'metal-vrrp.io/vrids': '10.0.0.100=7' } },
        spec: { type: 'LoadBalancer', externalTrafficPolicy: 'Cluster' },
        status: { loadBalancer: { ingress: [{ ip: '10.0.0.100' }] } },
      },
    ],
    nodes: ['a', 'b'].map((n, i) => ({
      metadata: { name: `node-${n}`, labels: {} },
      status: {
        conditions: [{ type: 'Ready', status: 'True' }],
        addresses: [{ type: 'InternalIP', address: `10.0.0.${i + 1}` }],
      },
    })),
    endpointSlices: [],
    pools: [
      {
        metadata: { name: 'p', annotations: { 'metal-vrrp.io/auth-secret': 'vrrp-auth' } },
        spec: { addresses: ['10.0.0.100-10.0.0.200'] },
      },
    ],
    l2Advertisements: [{ metadata: { name: 'l2' } }],
    secrets: secretData === undefined ? [] : [{ metadata: { name: 'vrrp-auth' }, data: secretData }],
  });
  const local: LocalNode = {
    name: 'node-a',
    addresses: [{ ifname: 'eth0', address: '10.0.0.1', prefixLength: 24 }],
    defaultInterface: { ipv4: 'eth0' },
    sources: new Map([['eth0', { ipv4: '10.0.0.1' }]]),
  };
  const plan = (data?: Record<string, string>) => desiredRouters(snapshotOf(objects(data) as never).snapshot, local);

  test('the Secret’s keys ride in the spec; a key change is a live reconfigure', () => {
    const one = plan({ key: b64(KEY_A) });
    const spec = one.routers.get('ipv4/7');
    assert.ok(spec, JSON.stringify(one.problems));
    assert.equal(Buffer.from(spec.auth!.key).toString(), KEY_A);
    const two = plan({ key: b64(KEY_B), previousKey: b64(KEY_A) });
    assert.deepEqual(
      diffRouters(two.routers, one.routers).map((s) => s.op),
      ['reconfigure'],
    );
    assert.deepEqual(diffRouters(one.routers, plan({ key: b64(KEY_A) }).routers), []);
  });

  test('fail closed: without usable keys the router does not run, and AUTH_SECRET_INVALID says why', () => {
    for (const data of [undefined, { key: b64('short') }]) {
      const r = plan(data);
      assert.equal(r.routers.size, 0);
      assert.deepEqual(
        r.problems.map((p) => p.error.code),
        ['AUTH_SECRET_INVALID'],
      );
    }
  });
});

/** macOf gives node `ip` a MAC of its own, so receiveIpv4Frame's own-MAC check sees who sent a frame. */
const macOf = (ip: string) => `02:00:00:00:00:${Number(ip.split('.')[3]).toString(16).padStart(2, '0')}`;

/** ETH: the Ethernet header before the IPv4 header (whose source is at 12, the advert after its 20 bytes). */
const ETH = 14;

/**
 * wire: speakers whose adverts travel as Ethernet frames (real builders and receive checks, as VrrpSocket runs them);
 * a hostile host injects.
 */
function wire(auth: readonly (AuthKeys | undefined)[]) {
  const clock = new FakeClock();
  const captured: Buffer[] = []; // every advert on the wire, as bytes
  interface Node {
    speaker: Speaker;
    ip: string;
    metrics: SpeakerMetrics;
    logs: Record<string, unknown>[];
  }
  const nodes: Node[] = [];
  const deliver = (bytes: Buffer, except?: Node) => {
    for (const n of nodes) {
      if (n === except) continue;
      const r = receiveIpv4Frame(bytes, 0, {
        ownAddresses: new Set([n.ip]),
        mac: macOf(n.ip),
        authKeys: (family, vrid) => n.speaker.authKeysFor(family, vrid),
      });
      clock.setTimer(() => n.speaker.receive(r), 0);
    }
  };
  auth.forEach((keys, i) => {
    const ip = `10.0.0.${i + 1}`;
    const metrics = createSpeakerMetrics({ processMetrics: false });
    const logs: Record<string, unknown>[] = [];
    const [spec] = planSpecs(
      [
        {
          vrid: 7,
          family: 'ipv4',
          priority: 200 - i * 50,
          advertIntervalCs: 10,
          preempt: true,
          preemptDelayMs: 0,
          vips: ['10.0.0.100'],
        },
      ],
      { ipv4: ip },
      { gratuitous: { count: 0, spacingMs: 0, refreshMs: 0 }, ...(keys ? { auth: keys } : {}) },
    );
    const node = { ip, metrics, logs } as Node;
    node.speaker = new Speaker({
      ifname: 'eth0',
      nodeName: `n${i + 1}`,
      routers: [spec!],
      ports: {
        adverts: {
          ipv4: {
            send: (advert: Advert, to?: string, seal?: AdvertSeal) => {
              const built = vrrpIpv4Frame(advert, { srcMac: macOf(ip), src: ip, ...(to ? { dst: to } : {}) }, seal);
              assert.ok(built.ok);
              captured.push(built.bytes);
              deliver(built.bytes, node);
              return { ok: true as const };
            },
          },
        },
        announcers: {},
      },
      clock,
      metrics,
      logger: createLogger({ level: 'warn', destination: { write: (s: string) => void logs.push(JSON.parse(s)) } }),
    });
    nodes.push(node);
  });
  const states = () => nodes.map((n) => n.speaker.stateOf('ipv4/7'));
  return { clock, nodes, captured, deliver, states };
}

async function invalid(m: SpeakerMetrics, reason: string): Promise<number | undefined> {
  const { values } = await m.invalidPackets.get();
  return values.find((v) => v.labels['reason'] === reason && v.labels['family'] === 'ipv4')?.value;
}

describe('speakers with authenticated adverts', () => {
  test('they elect over signed adverts; plain, forged, unknown-key and replayed adverts are dropped by reason', async () => {
    const k = keys(KEY_A);
    const { clock, nodes, captured, deliver, states } = wire([k, k]);
    for (const n of nodes) n.speaker.start();
    clock.advance(1000);
    assert.deepEqual(states(), ['master', 'backup']);
    assert.ok(
      captured.length > 5 && captured.every((b) => b.length === ETH + 20 + 8 + 4 + 48),
      'every advert is signed',
    );
    const oldMasterAdvert = captured.find((b) => b[ETH + 12 + 3] === 1)!; // from 10.0.0.1, recorded early

    const hostile = '10.0.0.66';
    const spoof = (priority: number, seal?: AdvertSeal, src = hostile) => {
      const built = vrrpIpv4Frame(
        { vrid: 7, priority, maxAdvertIntervalCs: 10, addresses: ['10.0.0.100'] },
        { srcMac: macOf(src), src },
        seal,
      );
      assert.ok(built.ok);
      return built.bytes;
    };
    const forged = spoof(255, {
      key: { id: nodes[0]!.speaker.authKeysFor('ipv4', 7)![0]!.id, mac: () => new Uint8Array(32) },
      counter: 2n ** 62n,
    });
    const otherKey = keys(KEY_B);
    const unknown = spoof(255, { key: keyringOf(otherKey).send, counter: 2n ** 62n });
    for (let i = 0; i < 20; i++) {
      deliver(spoof(255)); // plain priority 255 from a non-node
      deliver(forged);
      deliver(unknown);
      deliver(oldMasterAdvert); // a recording of the real master: old counter
      clock.advance(20);
    }
    assert.deepEqual(states(), ['master', 'backup'], 'no transition');
    for (const [reason, n] of [
      ['auth-missing', 20],
      ['auth-bad-mac', 20],
      ['auth-unknown-key', 20],
    ] as const) {
      for (const node of nodes) assert.equal(await invalid(node.metrics, reason), n, `${reason}`);
    }
    // The recording is refused by the backup as a replay; the master, whose own MAC and address it carries, knows it
    // did not send it (not PACKET_OUTGOING) and counts it as own-source.
    assert.equal(await invalid(nodes[1]!.metrics, 'auth-replay'), 20);
    assert.equal(await invalid(nodes[0]!.metrics, 'auth-replay'), 0);
    assert.equal(await invalid(nodes[0]!.metrics, 'own-source'), 20);
    assert.equal(await invalid(nodes[1]!.metrics, 'own-source'), 0);
  });

  test('a speaker without the key is clearly separated: it counts signed adverts as count-mismatch', async () => {
    const { clock, nodes, states } = wire([keys(KEY_A), undefined]);
    for (const n of nodes) n.speaker.start();
    clock.advance(1000);
    assert.ok((await invalid(nodes[1]!.metrics, 'count-mismatch'))! > 0);
    assert.ok((await invalid(nodes[0]!.metrics, 'auth-missing'))! > 0);
    assert.deepEqual(states(), ['master', 'master'], 'mixing is not supported: each side ignores the other');
  });

  test('key rotation in three steps changes no state', () => {
    const { clock, nodes, states } = wire([keys(KEY_A), keys(KEY_A)]);
    for (const n of nodes) n.speaker.start();
    clock.advance(1000);
    const steps = [keys(KEY_A, KEY_B), keys(KEY_B, KEY_A), keys(KEY_B)];
    const spec = (n: (typeof nodes)[number], auth: AuthKeys) => {
      const s = n.speaker.status()[0]!;
      const [planned] = planSpecs(
        [
          {
            vrid: 7,
            family: 'ipv4',
            priority: s.priority,
            advertIntervalCs: 10,
            preempt: true,
            preemptDelayMs: 0,
            vips: ['10.0.0.100'],
          },
        ],
        { ipv4: n.ip },
        { gratuitous: { count: 0, spacingMs: 0, refreshMs: 0 }, auth },
      );
      return planned!;
    };
    for (const auth of steps) {
      // Each write reaches the backup first and the master a second (ten intervals) later: no advert may be refused.
      assert.equal(nodes[1]!.speaker.reconfigureRouter(spec(nodes[1]!, auth), {}), undefined);
      clock.advance(1000);
      assert.deepEqual(states(), ['master', 'backup']);
      assert.equal(nodes[0]!.speaker.reconfigureRouter(spec(nodes[0]!, auth), {}), undefined);
      clock.advance(1000);
      assert.deepEqual(states(), ['master', 'backup']);
    }
  });
});
