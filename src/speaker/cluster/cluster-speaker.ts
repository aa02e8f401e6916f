/**
 * ClusterSpeaker is the speaker in Kubernetes mode: it turns what the API says (Services with VIPs and VRIDs, pools,
 * L2Advertisements, Nodes, EndpointSlices) into the virtual routers this node runs, and tells the cluster which node
 * is master of what (ServiceL2Status objects, nodeAssigned Events, metrics).
 *
 * Flow: any change → reconcile() → snapshotOf → desiredRouters (rendezvous priorities over the eligible nodes) →
 * diffRouters against what runs → RouterHost steps. A node that stops being eligible while master resigns with
 * priority 0 (the 'stop' step), so the next node takes over within Skew_Time. Every transition to or from master, and
 * every change of the stored ServiceL2Status objects, re-plans the status writes; planL2StatusWrites returns none
 * when nothing changed, so the API is written on change only, never per advert.
 *
 * Health (issue 13): with a HealthSource, the desired routers pass through applyHealth before the diff, so this
 * node's own failed checks lower or resign it (src/health/health-adjust.ts); resignSteps makes a resigning master
 * send priority 0. The monitor calls reconcile() when a verdict flips. What health does is also handed to
 * `publishHealth` (health-report.ts), which the Kubernetes wiring writes to this node's health Lease for status.
 */
import { type Cancel, type Clock, realClock } from '../../clock.ts';
import { applyHealth, type HealthAdjustment, resignSteps, wantedChecks } from '../../health/health-adjust.ts';
import { healthEvents } from '../../health/health-events.ts';
import type { HealthSource } from '../../health/health-monitor.ts';
import { healthReport } from '../../health/health-report.ts';
import type { Logger } from '../../log.ts';
import type { SpeakerMetrics } from '../../metrics.ts';
import { type ClusterObjects, snapshotOf } from '../../model/cluster-objects.ts';
import type { ClusterSnapshot } from '../../model/cluster-snapshot.ts';
import { DEFAULT_LIVENESS, type LivenessSettings } from '../../model/liveness.ts';
import type { LocalNode } from '../../model/local-node.ts';
import type { NodeHealthReport } from '../../model/node-health-report.ts';
import {
  L2_STATUS_LABELS,
  type L2StatusWrite,
  type OwnerReference,
  type ServiceEvent,
  type ServiceL2StatusObject,
} from '../../model/service-l2-status.ts';
import type { RouterHost, RouterSpec } from '../router-spec.ts';
import { DesiredMemo } from './desired-memo.ts';
import { diffRouters, type RouterKey } from './desired-routers.ts';
import { l2StatusesFor, masterChangeEvents, planL2StatusWrites } from './l2-status.ts';
import { planLiveness } from './liveness-plan.ts';

/** ClusterSpeakerDeps are the ports; each is a narrow interface so tests drive the logic without an API server. */
export interface ClusterSpeakerDeps {
  readonly nodeName: string;
  /** namespace holds the pools, advertisements and ServiceL2Status objects. */
  readonly namespace: string;
  readonly loadBalancerClass?: string;
  readonly objects: () => ClusterObjects;
  readonly l2Statuses: () => readonly ServiceL2StatusObject[];
  /** local reads this node's interface addresses (they can change, so read on every reconcile). */
  readonly local: () => LocalNode;
  readonly host: RouterHost;
  readonly writeL2Status: (writes: readonly L2StatusWrite[]) => Promise<number>;
  /** recordEvent sends a Service Event; `uid` is the Service's when known. */
  readonly recordEvent: (event: ServiceEvent, uid: string | undefined) => void;
  readonly metrics: SpeakerMetrics;
  readonly logger: Logger;
  readonly owner?: OwnerReference;
  /** retryMs re-runs the status sync after a failed write (default 1000). */
  readonly retryMs?: number;
  /** clock times the retry (default the process clock). */
  readonly clock?: Clock;
  /** health is this node's own health (HealthMonitor); without it, health checks are off. */
  readonly health?: HealthSource;
  /** publishHealth hears, after every reconcile with a HealthSource, what health does to this node's routers. */
  readonly publishHealth?: (report: NodeHealthReport) => void;
  /** liveness is the cluster default of the BFD liveness signal (pools may override it); DEFAULT_LIVENESS if absent. */
  readonly liveness?: LivenessSettings;
}

/** REPORT_QUIET_MS / REPORT_MAX_WAIT_MS: the API writes of transitions wait for a pause in them (#scheduleReport). */
const REPORT_QUIET_MS = 10;
const REPORT_MAX_WAIT_MS = 250;

/** ClusterSpeaker: see the file comment. */
export class ClusterSpeaker {
  readonly #deps: ClusterSpeakerDeps;
  // router key -> the RouterSpec it runs with
  #running = new Map<RouterKey, RouterSpec>();
  // router key -> what health did to it at the last reconcile
  #health = new Map<RouterKey, HealthAdjustment>();
  #snapshot: ClusterSnapshot | undefined;
  // the last plan, reused while the snapshot and the local node say nothing new (most API updates)
  readonly #plans = new DesiredMemo();
  // wall time − monotonic time, taken once (health reports carry wall times)
  #wallOffset: number | undefined;
  #syncing: Promise<void> | undefined;
  #syncAgain = false;
  #cancelRetry: Cancel = () => {};
  #stopped = false;
  // "kind/code/detail" of problems already logged, so a steady problem logs once, not per reconcile
  readonly #reported = new Set<string>();

  // Routers that became master since the last report, in order; reported (Events, ServiceL2Status) by #report.
  #newMasters: RouterSpec[] = [];
  #reportTimer: Cancel | undefined;
  #reportDeadline = 0;

  constructor(deps: ClusterSpeakerDeps) {
    this.#deps = deps;
    deps.host.onTransition((router, to, reason) => {
      if (to === 'master') this.#newMasters.push(router);
      this.#deps.logger.debug({ router: router.key, to, reason }, 'router transition');
      this.#scheduleReport();
    });
  }

  /**
   * scheduleReport defers the API writes a transition causes (a nodeAssigned Event per Service, the ServiceL2Status
   * sync) until the burst of transitions is over: REPORT_QUIET_MS without another one, at most REPORT_MAX_WAIT_MS
   * after the first. When a node dies, its backup takes over every VIP of that node at once; each API call costs
   * the event loop about a millisecond of CPU (the client library's request path), and made inline they would sit
   * between one router's takeover and the next, so the last VIP of a hundred would be answered tens of ms later.
   * The wire does not wait for the API: the status and Events follow the takeovers by a few ms.
   */
  #scheduleReport(): void {
    if (this.#stopped) return;
    const clock = this.#deps.clock ?? realClock;
    const now = clock.now();
    if (this.#reportTimer === undefined) this.#reportDeadline = now + REPORT_MAX_WAIT_MS;
    this.#reportTimer?.();
    const delay = Math.min(REPORT_QUIET_MS, Math.max(0, this.#reportDeadline - now));
    this.#reportTimer = clock.setTimer(() => this.#report(), delay);
  }

  /** report writes what the transitions since the last report call for: Events first, then the status sync. */
  #report(): void {
    this.#reportTimer?.();
    this.#reportTimer = undefined;
    const masters = this.#newMasters;
    this.#newMasters = [];
    if (this.#stopped) return;
    if (masters.length > 0) this.#announceMasters(masters);
    this.syncStatus();
  }

  /** running is a copy of the routers this node runs, by key. */
  get running(): ReadonlyMap<RouterKey, RouterSpec> {
    return new Map(this.#running);
  }

  /** healthAdjustments is what this node's health does to its routers (router key -> adjustment), for status. */
  get healthAdjustments(): ReadonlyMap<RouterKey, HealthAdjustment> {
    return new Map(this.#health);
  }

  /** reconcile brings the running routers to what the cluster asks of this node. Never throws. */
  reconcile(): void {
    if (this.#stopped) return;
    const d = this.#deps;
    const { snapshot, configProblems, tuningProblems } = snapshotOf(d.objects(), d.loadBalancerClass);
    this.#snapshot = snapshot;
    const local = d.local();
    const desired = this.#plans.desired(snapshot, local);
    const seen = new Set<string>();
    for (const p of configProblems) this.#problem(seen, p.kind, p.code, `${p.kind} ${p.name}: ${p.message}`);
    for (const p of tuningProblems)
      this.#problem(seen, 'IPAddressPool', p.error.code, `pool ${p.pool}: ${p.error.message}`);
    for (const p of desired.problems) this.#problem(seen, 'Router', p.error.code, p.error.message);
    for (const key of [...this.#reported]) if (!seen.has(key)) this.#reported.delete(key);

    let routers = desired.routers;
    let adjustments = new Map<RouterKey, HealthAdjustment>();
    if (d.health) {
      const me = snapshot.nodes.find((n) => n.name === d.nodeName);
      d.health.update({
        wanted: wantedChecks(desired.routers, snapshot.tunings),
        cordoned: me?.unschedulable === true,
        address: me?.internalIps.find((ip) => !ip.includes(':')) ?? me?.internalIps[0],
      });
      const adjusted = applyHealth(desired.routers, snapshot.tunings, d.health.current());
      routers = adjusted.routers;
      adjustments = new Map(adjusted.adjustments);
      const states = new Map([...routers.keys()].map((k) => [k, d.host.state(k)]));
      this.#healthMoves(adjustments, routers, snapshot, (k) => states.get(k));
    }

    const next = new Map(this.#running);
    const steps = resignSteps(diffRouters(routers, this.#running), adjustments, (k) => d.host.state(k));
    for (const step of steps) {
      const failure = d.host.apply(step);
      if (failure !== undefined) {
        d.logger.error({ op: step.op, router: step.key, err: failure }, 'router step failed; retried on next change');
        continue;
      }
      if (step.op === 'stop') next.delete(step.key);
      else next.set(step.key, step.spec);
      d.logger.info(
        {
          op: step.op,
          router: step.key,
          ...(step.op === 'stop' ? {} : { priority: step.spec.config.priority, vips: step.spec.vips }),
        },
        `router ${step.op}`,
      );
    }
    // Routers whose services or ranking changed need no step, but keep their latest description.
    for (const [key, router] of routers) if (next.has(key)) next.set(key, router);
    this.#running = next;
    this.#health = adjustments;
    if (d.health && d.publishHealth) {
      // One offset for the process's life: recomputed per reconcile it would jitter by a millisecond, change the
      // report's `since` and cost a Lease write at every reconcile.
      const clock = d.clock ?? realClock;
      this.#wallOffset ??= clock.wallNow() - clock.now();
      const offset = this.#wallOffset;
      d.publishHealth(healthReport(d.nodeName, adjustments, routers, (m) => m + offset));
    }
    d.host.setLiveness?.(planLiveness(next, snapshot, local, d.liveness ?? DEFAULT_LIVENESS));
    this.syncStatus();
  }

  /** syncStatus brings this node's ServiceL2Status objects in line with the routers it masters. */
  syncStatus(): void {
    if (this.#stopped || !this.#snapshot) return;
    if (this.#syncing) {
      this.#syncAgain = true;
      return;
    }
    this.#syncing = this.#syncOnce().finally(() => {
      this.#syncing = undefined;
      if (this.#syncAgain) {
        this.#syncAgain = false;
        this.syncStatus();
      }
    });
  }

  /** idle reports pending transitions now and resolves when no status write is in flight (tests, shutdown). */
  async idle(): Promise<void> {
    if (this.#reportTimer !== undefined) this.#report();
    while (this.#syncing) await this.#syncing;
  }

  /** stop leaves every election (priority 0 from masters) and deletes this node's ServiceL2Status objects. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#cancelRetry();
    this.#reportTimer?.();
    this.#reportTimer = undefined;
    await this.#syncing;
    await this.#deps.host.stop();
    const d = this.#deps;
    const stored = this.#ownStored();
    if (stored.length > 0) await d.writeL2Status(planL2StatusWrites([], stored));
  }

  #ownStored(): ServiceL2StatusObject[] {
    const me = this.#deps.nodeName;
    return this.#deps.l2Statuses().filter((o) => o.metadata.labels?.[L2_STATUS_LABELS.node] === me);
  }

  async #syncOnce(): Promise<void> {
    const d = this.#deps;
    const snapshot = this.#snapshot;
    if (!snapshot) return;
    const mastered = [...this.#running.values()].filter((r) => d.host.state(r.key) === 'master');
    const wanted = l2StatusesFor({
      namespace: d.namespace,
      node: d.nodeName,
      mastered,
      services: snapshot.services,
      ...(d.owner ? { owner: d.owner } : {}),
    });
    const writes = planL2StatusWrites(wanted, this.#ownStored());
    if (writes.length === 0) return;
    const failed = await d.writeL2Status(writes);
    if (failed > 0 && !this.#stopped) {
      this.#cancelRetry();
      this.#cancelRetry = (d.clock ?? realClock).setTimer(() => this.syncStatus(), d.retryMs ?? 1000, {
        background: true,
      });
    }
  }

  /** healthMoves sends the Events and counts the transitions of health-driven moves (health-events.ts). */
  #healthMoves(
    adjustments: ReadonlyMap<RouterKey, HealthAdjustment>,
    routers: ReadonlyMap<RouterKey, RouterSpec>,
    snapshot: ClusterSnapshot,
    stateOf: (key: RouterKey) => ReturnType<RouterHost['state']>,
  ): void {
    const d = this.#deps;
    for (const [key, adj] of adjustments) {
      const was = this.#health.get(key);
      if (stateOf(key) === 'master' && adj.resign && !was?.resign) {
        const { family, vrid } = routers.get(key)!.config;
        d.metrics.transitions.inc({ vrid: String(vrid), family, to: 'backup', reason: 'health' });
      }
    }
    const events = healthEvents(d.nodeName, this.#health, adjustments, routers, snapshot.services, stateOf);
    if (events.length === 0) return;
    const uids = this.#serviceUids();
    for (const ev of events) d.recordEvent(ev, uids.get(`${ev.namespace}/${ev.name}`));
  }

  #serviceUids(): Map<string, string> {
    const uids = new Map<string, string>();
    for (const o of this.#deps.objects().services) {
      const m = o.metadata as { namespace?: string; name?: string; uid?: string } | undefined;
      if (m?.namespace && m.name && m.uid) uids.set(`${m.namespace}/${m.name}`, m.uid);
    }
    return uids;
  }

  /** announceMasters records the nodeAssigned Events of routers that became master (one scan of the Services). */
  #announceMasters(routers: readonly RouterSpec[]): void {
    const d = this.#deps;
    const uids = new Map<string, string>();
    for (const o of d.objects().services) {
      const m = o.metadata as { namespace?: string; name?: string; uid?: string } | undefined;
      if (m?.namespace && m.name && m.uid) uids.set(`${m.namespace}/${m.name}`, m.uid);
    }
    const all = this.#snapshot?.services ?? [];
    for (const router of routers) {
      const services = all.filter((s) => router.services.includes(`${s.namespace}/${s.name}`));
      const { family, vrid } = router.config;
      for (const ev of masterChangeEvents(d.nodeName, { family, vrid, vips: router.vips }, services)) {
        d.recordEvent(ev, uids.get(`${ev.namespace}/${ev.name}`));
      }
    }
  }

  #problem(seen: Set<string>, kind: string, code: string, message: string): void {
    const key = `${kind}/${code}/${message}`;
    seen.add(key);
    if (this.#reported.has(key)) return;
    this.#reported.add(key);
    this.#deps.metrics.configErrors.inc({ kind, code });
    this.#deps.logger.warn({ kind, code }, message);
  }
}
