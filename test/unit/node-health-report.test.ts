// The health a speaker publishes for `metal-vrrp status` (issue 13): the report built from health adjustments, its
// parsing and freshness, and the Lease publisher's write policy (on change, at start, renewals only while a finding
// holds, retries, create when missing) on a fake clock and a fake API.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { HealthAdjustment } from '../../src/health/health-adjust.ts';
import { healthReport } from '../../src/health/health-report.ts';
import {
  type HealthLeaseApi,
  type LeaseBody,
  leaseBody,
  microTime,
  NodeHealthPublisher,
  nodeHealthEntries,
} from '../../src/k8s/node-health-lease.ts';
import { createLogger } from '../../src/log.ts';
import {
  healthNotesByVip,
  NODE_HEALTH_ANNOTATION,
  type NodeHealthReport,
  nodeHealthLeaseName,
  parseNodeHealthReport,
} from '../../src/model/node-health-report.ts';
import type { RouterKey, RouterSpec } from '../../src/speaker/router-spec.ts';
import { FakeClock } from '../support/fake-clock.ts';

const logLines: string[] = [];
const logger = createLogger({ level: 'debug', destination: { write: (l: string) => void logLines.push(l) } });

const spec = (key: RouterKey, vips: string[]) =>
  ({
    key,
    vips,
    config: { family: key.startsWith('ipv4') ? 'ipv4' : 'ipv6', vrid: Number(key.split('/')[1]) },
  }) as unknown as RouterSpec;

describe('healthReport', () => {
  test('one entry per adjusted router, by family then VRID, with wall times of the verdicts', () => {
    const routers = new Map<RouterKey, RouterSpec>([
      ['ipv6/3', spec('ipv6/3', ['fd00::3'])],
      ['ipv4/9', spec('ipv4/9', ['10.0.0.9'])],
      ['ipv4/2', spec('ipv4/2', ['10.0.0.2', '10.0.0.22'])],
    ]);
    const finding = {
      check: 'http://:10256/healthz',
      kind: 'kube-proxy' as const,
      effect: 'resign' as const,
      weight: 0,
      since: 5_000,
      detail: 'HTTP 503',
    };
    const adj = (key: RouterKey, resign: boolean, priority: number): HealthAdjustment => ({
      key,
      basePriority: 200,
      priority,
      resign,
      findings: [resign ? finding : { ...finding, effect: 'lower', weight: 50, check: 'tcp://:443', kind: 'probe' }],
    });
    const adjustments = new Map<RouterKey, HealthAdjustment>([
      ['ipv6/3', adj('ipv6/3', true, 1)],
      ['ipv4/9', adj('ipv4/9', false, 150)],
      ['ipv4/2', adj('ipv4/2', true, 1)],
    ]);
    // monotonic 5 000 ms happened at wall 1 000 000 000 000 + 5 000
    const report = healthReport('n1', adjustments, routers, (m) => 1_000_000_000_000 + m);
    assert.deepEqual(
      report.routers.map((r) => [r.family, r.vrid, r.vips, r.effect, r.priority]),
      [
        ['ipv4', 2, ['10.0.0.2', '10.0.0.22'], 'resign', 1],
        ['ipv4', 9, ['10.0.0.9'], 'lower', 150],
        ['ipv6', 3, ['fd00::3'], 'resign', 1],
      ],
    );
    assert.deepEqual(report.routers[0]!.checks, [
      {
        check: 'http://:10256/healthz',
        kind: 'kube-proxy',
        since: new Date(1_000_000_005_000).toISOString(),
        detail: 'HTTP 503',
      },
    ]);
    assert.deepEqual(parseNodeHealthReport(JSON.stringify(report)), report);
    assert.deepEqual(
      healthReport('n1', new Map(), routers, (m) => m),
      { node: 'n1', routers: [] },
    );
  });
});

describe('the report on the wire', () => {
  const report: NodeHealthReport = {
    node: 'n1',
    routers: [
      {
        family: 'ipv4',
        vrid: 1,
        vips: ['10.0.0.1'],
        effect: 'resign',
        basePriority: 254,
        priority: 1,
        checks: [{ check: 'interface eth0', kind: 'interface', since: '2026-12-03T12:00:00.000Z', detail: 'x' }],
      },
    ],
  };

  test('parse refuses what is not a report', () => {
    for (const bad of [
      undefined,
      '',
      'not json',
      '[]',
      '{"node":"n1"}',
      JSON.stringify({ ...report, routers: [{ ...report.routers[0], effect: 'explode' }] }),
      JSON.stringify({ ...report, routers: [{ ...report.routers[0], checks: [{ check: 'x', kind: 'other' }] }] }),
    ])
      assert.equal(parseNodeHealthReport(bad), undefined, String(bad));
  });

  test('the Lease name and body: holder = node, the annotation, a MicroTime renewTime', () => {
    assert.equal(nodeHealthLeaseName('node-a'), 'metal-vrrp-speaker-node-a');
    assert.equal(nodeHealthLeaseName('a'.repeat(234)), `metal-vrrp-speaker-${'a'.repeat(234)}`);
    assert.equal(nodeHealthLeaseName('a'.repeat(235)), undefined);
    assert.equal(microTime(Date.parse('2026-12-03T12:00:00.123Z')), '2026-12-03T12:00:00.123000Z');
    const body = leaseBody('metal-vrrp-speaker-n1', 'metallb-system', report, Date.parse('2026-12-03T12:00:00Z'));
    assert.equal(body.spec.holderIdentity, 'n1');
    assert.equal(body.spec.leaseDurationSeconds, 90);
    assert.deepEqual(JSON.parse(body.metadata.annotations[NODE_HEALTH_ANNOTATION]!), report);
    // listed back: fresh until renewTime + 90 s; another node's name in the holder is not trusted
    const [entry] = nodeHealthEntries([body, { ...body, spec: { ...body.spec, holderIdentity: 'n2' } }]);
    assert.equal(entry?.expiresAt, Date.parse('2026-12-03T12:01:30Z'));
    assert.equal(nodeHealthEntries([body]).length, 1);
    assert.equal(nodeHealthEntries([{ ...body, spec: { ...body.spec, holderIdentity: 'n2' } }]).length, 0);
    const notes = healthNotesByVip([entry!], Date.parse('2026-12-03T12:01:29Z'));
    assert.deepEqual([...notes.keys()], ['10.0.0.1']);
    assert.equal(healthNotesByVip([entry!], Date.parse('2026-12-03T12:01:30Z')).size, 0, 'expired');
  });
});

/** FakeLeaseApi records writes; `failNext` makes the next calls reject with those HTTP codes. */
class FakeLeaseApi implements HealthLeaseApi {
  readonly calls: { op: 'patch' | 'create'; body: LeaseBody }[] = [];
  stored: LeaseBody | undefined;
  failNext: number[] = [];
  async patch(body: LeaseBody): Promise<void> {
    this.calls.push({ op: 'patch', body });
    this.#fail();
    if (!this.stored) throw Object.assign(new Error('not found'), { code: 404 });
    this.stored = body;
  }
  async create(body: LeaseBody): Promise<void> {
    this.calls.push({ op: 'create', body });
    this.#fail();
    if (this.stored) throw Object.assign(new Error('exists'), { code: 409 });
    this.stored = body;
  }
  #fail(): void {
    const code = this.failNext.shift();
    if (code !== undefined) throw Object.assign(new Error(`HTTP ${code}`), { code });
  }
  shown(): NodeHealthReport | undefined {
    return parseNodeHealthReport(this.stored?.metadata.annotations[NODE_HEALTH_ANNOTATION]);
  }
}

describe('NodeHealthPublisher', () => {
  const healthy: NodeHealthReport = { node: 'n1', routers: [] };
  const sick: NodeHealthReport = {
    node: 'n1',
    routers: [
      { family: 'ipv4', vrid: 1, vips: ['10.0.0.1'], effect: 'resign', basePriority: 9, priority: 1, checks: [] },
    ],
  };
  const setup = () => {
    const clock = new FakeClock({ epochMs: Date.parse('2026-12-03T12:00:00Z') });
    const api = new FakeLeaseApi();
    const pub = new NodeHealthPublisher({ api, namespace: 'ns', node: 'n1', clock, logger, retryMs: 1000 });
    return { clock, api, pub };
  };

  test('writes at start (creating the Lease), then only on change; renews only while a finding holds', async () => {
    const { clock, api, pub } = setup();
    pub.publish(healthy);
    await pub.idle();
    assert.deepEqual(
      api.calls.map((c) => c.op),
      ['patch', 'create'],
    );
    assert.deepEqual(api.shown(), healthy);
    for (let i = 0; i < 5; i++) pub.publish(healthy);
    await clock.tick(120_000);
    assert.equal(api.calls.length, 2, 'a healthy node is neither re-written nor renewed');

    pub.publish(sick);
    await pub.idle();
    assert.deepEqual(api.shown(), sick);
    assert.equal(api.calls.length, 3);
    await clock.tick(30_000);
    assert.equal(api.calls.length, 4, 'renewed after a third of the 90 s lease');
    assert.ok(api.stored!.spec.renewTime.startsWith('2026-12-03T12:02:30'), api.stored!.spec.renewTime);
    await clock.tick(30_000);
    assert.equal(api.calls.length, 5);

    pub.publish(healthy);
    await pub.idle();
    await clock.tick(120_000);
    assert.equal(api.calls.length, 6, 'healthy again: one write, no renewals');
    assert.deepEqual(api.shown(), healthy);
  });

  test('a failed write is retried with backoff; the newest report wins', async () => {
    const { clock, api, pub } = setup();
    api.failNext = [500, 500];
    pub.publish(sick);
    await pub.idle();
    assert.equal(api.stored, undefined);
    await clock.tick(999);
    assert.equal(api.calls.length, 1);
    pub.publish(healthy); // replaces the waiting report and writes at once (fails again: 500)
    await pub.idle();
    assert.equal(api.calls.length, 2);
    await clock.tick(1000);
    assert.equal(api.calls.length, 2, 'backoff doubled to 2 s');
    await clock.tick(1000);
    assert.deepEqual(api.shown(), healthy);
    assert.ok(logLines.some((l) => l.includes('health Lease write failed')));
  });

  test('stop clears the report of a node that had findings', async () => {
    const { api, pub } = setup();
    pub.publish(sick);
    await pub.idle();
    await pub.stop();
    assert.deepEqual(api.shown(), healthy);
    pub.publish(sick);
    await pub.idle();
    assert.deepEqual(api.shown(), healthy, 'nothing is written after stop');
  });
});
