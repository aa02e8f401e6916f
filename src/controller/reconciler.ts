/**
 * The reconciler: for one Service, decide with the allocator what it should hold, then make the API say so — status
 * ingress, the `metallb.io/ip-allocated-from-pool` and `metal-vrrp.io/vrids` annotations — and tell the user with an
 * Event (MetalLB's reasons: IPAllocated, AllocationFailed). It also applies configuration snapshots and rebuilds the
 * allocator from Service status after a restart. It reaches Kubernetes only through the narrow StatusWriter and
 * EventRecorder of src/k8s; when to call it (queue, informers, start-up order) is controller.ts's business.
 *
 * Rule: what the status says is what the allocator holds, so no two Services ever show the same address. As in MetalLB
 * (controller/service.go, convergeBalancer): an address that can no longer be kept (pool gone or no longer admitting
 * the Service, sharing or family now impossible) is dropped with a `ClearAssignment` Event and a new one is tried; if
 * none can be had the Service goes back to pending with `AllocationFailed`. A user who asks for another address or
 * pool gets the same without `ClearAssignment`. With no pool at all, assignments are cleared silently. Two choices
 * keep an address instead: `keepAddressOnFailure` (the controller's --keep-address-on-failure, off by default), and
 * a pool that exists but was rejected as invalid (MetalLB never applies an invalid configuration, so its Services
 * keep their addresses there too). A Service whose own spec is invalid keeps its address, as MetalLB's does.
 */

import type { Family } from '../../vrrp/advert.ts';
import { canonicalIp } from '../../vrrp/ip.ts';
import { type CodedError, isTransient } from '../errors.ts';
import type { EventRecorder, EventType, ObjectRef } from '../k8s/event-recorder.ts';
import type { ObjectKey, StatusWriter } from '../k8s/status-writer.ts';
import type { Logger } from '../log.ts';
import type { ControllerMetrics } from '../metrics.ts';
import type { ConfigProblem, ConfigResult } from '../model/config.ts';
import { annotationOf, ingressIps, type ObservedService } from '../model/observed-service.ts';
import { ANNOTATIONS, isManaged, serviceKey, toServiceRequest } from '../model/service-request.ts';
import { formatServiceVrids, parseServiceVrids, SERVICE_VRIDS_ANNOTATION } from '../model/service-vrids.ts';
import type { AllocationRequest, Allocator, Assignment } from './allocator.ts';

/** POOL_ANNOTATION is MetalLB's record of the pool an address came from. */
export const POOL_ANNOTATION = 'metallb.io/ip-allocated-from-pool';

/** REASONS are the Event reasons the controller uses; the first two are MetalLB's. */
export const REASONS = Object.freeze({
  allocated: 'IPAllocated',
  failed: 'AllocationFailed',
  /** annotationWarning: a non-fatal finding in the Service's annotations (both prefixes set and disagreeing). */
  annotationWarning: 'AnnotationConflict',
  /** notRestored: an address found in status at start-up could not be kept (it moved or was dropped). */
  notRestored: 'IPNotRestored',
  /** released: the Service stopped being a LoadBalancer and its address went back to the pool. */
  released: 'IPReleased',
  /** cleared: MetalLB's reason when an address that can no longer be kept is dropped. */
  cleared: 'ClearAssignment',
  /** deprecated: MetalLB's reason for a metallb.universe.tf/ annotation (a Warning; the annotation still works). */
  deprecated: 'deprecatedAnnotation',
  invalidPool: 'InvalidConfiguration',
  configWarning: 'ConfigurationWarning',
});

/** SyncOutcome tells the controller what to do next with a key. */
export type SyncOutcome =
  | 'done'
  /** freed: addresses went back to a pool; Services waiting for one should be tried again. */
  | 'freed'
  /** waiting: allocation failed for a reason that can pass (pool exhausted, IP in use); retry when something frees. */
  | 'waiting'
  /** retry: an API write failed; try again after a backoff. */
  | 'retry';

/** ReconcilerDeps: the allocator, the API ports, and where to report. */
export interface ReconcilerDeps {
  readonly allocator: Allocator;
  readonly status: StatusWriter;
  readonly events: EventRecorder;
  readonly metrics: ControllerMetrics;
  readonly logger: Logger;
  /** namespace of the IPAddressPools (for their Events and status). */
  readonly namespace: string;
  readonly loadBalancerClass?: string;
  /** poolUid finds a pool's uid so its Events attach to it. */
  readonly poolUid?: (name: string) => string | undefined;
  /** keepAddressOnFailure keeps an address that no longer fits when no new one can be had (default false). */
  readonly keepAddressOnFailure?: boolean;
}

const serviceRef = (svc: ObservedService): ObjectRef => ({
  kind: 'Service',
  apiVersion: 'v1',
  namespace: svc.metadata?.namespace ?? '',
  name: svc.metadata?.name ?? '',
  ...(svc.metadata?.uid ? { uid: svc.metadata.uid } : {}),
});

const objectKey = (key: string): ObjectKey => {
  const slash = key.indexOf('/');
  return { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
};

const quoteList = (ips: readonly string[]) => `[${ips.map((ip) => JSON.stringify(ip)).join(',')}]`;
const canon = (ips: readonly string[]) => ips.map((ip) => canonicalIp(ip) ?? ip);
const sameList = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/** DEPRECATED_ANNOTATION_PREFIX is MetalLB's old annotation prefix. */
export const DEPRECATED_ANNOTATION_PREFIX = 'metallb.universe.tf/';

/**
 * askedToMove: the user asked for other addresses or another pool, which MetalLB honours by clearing without a
 * ClearAssignment Event (its differentIPRequested / differentPoolRequested).
 */
function askedToMove(previous: AllocationRequest | undefined, next: AllocationRequest): boolean {
  if (!previous) return false;
  const want = (r: AllocationRequest) => canon(r.requestedIps ?? []).join(',');
  return want(previous) !== want(next) || (next.pool !== undefined && next.pool !== previous.pool);
}

/** Reconciler: see the file comment. */
export class Reconciler {
  private readonly deps: ReconcilerDeps;
  private readonly ourClass: string;
  private config: ConfigResult['config'] | undefined;
  private reportedProblems = new Set<string>();
  // service key -> addresses last announced with IPAllocated (or restored): Events follow changes, not syncs
  private readonly announced = new Map<string, string>();
  // service key -> message of its last AllocationFailed, so a Service retried on every change warns once per cause
  private readonly lastFailure = new Map<string, string>();
  // service keys whose allocation failed for a transient reason
  private readonly waitingKeys = new Set<string>();
  // pools present in the cluster but rejected as invalid: their Services keep their addresses
  private rejectedPools = new Set<string>();
  // "service key/annotation" of deprecated annotations already warned about
  private readonly deprecatedWarned = new Set<string>();

  constructor(deps: ReconcilerDeps) {
    this.deps = deps;
    this.ourClass = deps.loadBalancerClass ?? '';
  }

  /** waiting lists the Services whose allocation failed transiently, to try again when addresses free up. */
  waiting(): string[] {
    return [...this.waitingKeys];
  }

  /** pools names the valid pools of the current configuration. */
  pools(): readonly string[] {
    return this.config?.pools.map((p) => p.name) ?? [];
  }

  /**
   * applyConfig installs a parsed configuration: the valid pools go to the allocator (assignments are kept and
   * re-homed), and each problem not reported before becomes a log line, a metric and an Event on its object.
   */
  applyConfig(result: ConfigResult): void {
    this.config = result.config;
    this.rejectedPools = new Set(
      result.problems.filter((p) => p.kind === 'IPAddressPool' && p.rejected && p.name !== '').map((p) => p.name),
    );
    this.deps.allocator.setPools(result.config.pools);
    const seen = new Set<string>();
    for (const p of result.problems) {
      const id = `${p.kind}/${p.name}/${p.code}/${p.message}`;
      seen.add(id);
      if (this.reportedProblems.has(id)) continue;
      this.reportProblem(p);
    }
    this.reportedProblems = seen;
    this.deps.logger.info(
      { pools: result.config.pools.map((p) => p.name), problems: result.problems.length },
      'configuration applied',
    );
  }

  /**
   * restore rebuilds the allocator from what Service status says, before anything new is allocated: oldest Service
   * first, so when two claim one address (not sharing) the one that had it first keeps it. A Service whose address
   * cannot be kept is reported; its next sync gives it a new one.
   */
  restore(services: readonly ObservedService[]): { restored: number; failed: number } {
    let restored = 0;
    let failed = 0;
    const ordered = services
      .filter((s) => isManaged(s, this.ourClass) && ingressIps(s).length > 0)
      .sort((a, b) => {
        const ta = a.metadata?.creationTimestamp ?? '\uffff';
        const tb = b.metadata?.creationTimestamp ?? '\uffff';
        if (ta !== tb) return ta < tb ? -1 : 1;
        const ka = serviceKey(a);
        const kb = serviceKey(b);
        return ka < kb ? -1 : ka > kb ? 1 : 0;
      });
    for (const svc of ordered) {
      const key = serviceKey(svc);
      const ips = ingressIps(svc);
      const parsedReq = toServiceRequest(svc, this.namespaceLabels(svc));
      // A Service whose spec became invalid still holds its address (a running controller keeps it too: see sync),
      // so it is restored under a request built from its status; its sync reports the invalid spec.
      const request = 'error' in parsedReq ? this.fallbackRequest(svc, ips) : parsedReq.request;
      const vridText = annotationOf(svc, SERVICE_VRIDS_ANNOTATION) ?? '';
      const parsed = parseServiceVrids(vridText);
      const vrids = 'vrids' in parsed ? canon(ips).map((ip) => parsed.vrids.get(ip) ?? 0) : [];
      const r = this.deps.allocator.restore(key, ips, request, vrids);
      if (!r.ok) {
        failed++;
        this.notRestored(svc, ips, r.error);
        continue;
      }
      restored++;
      this.announced.set(key, r.ips.join(','));
    }
    this.deps.logger.info({ restored, failed }, 'assignments restored from Service status');
    return { restored, failed };
  }

  /** sync reconciles one Service; `svc` undefined means it was deleted. */
  async sync(key: string, svc: ObservedService | undefined): Promise<SyncOutcome> {
    const log = this.deps.logger.child({ service: key });
    if (!svc) {
      this.forget(key);
      const freed = this.deps.allocator.release(key);
      if (freed) log.info('service deleted, addresses released');
      return freed ? 'freed' : 'done';
    }
    if (!isManaged(svc, this.ourClass)) return this.unmanaged(key, svc, log);

    this.warnDeprecated(key, svc);
    if (this.config && this.config.pools.length === 0 && this.rejectedPools.size === 0)
      return this.noPools(key, svc, log);
    const req = toServiceRequest(svc, this.namespaceLabels(svc));
    const before = this.deps.allocator.get(key)?.ips ?? [];
    let failure: CodedError | undefined;
    if ('error' in req) {
      failure = req.error;
    } else {
      for (const w of req.warnings) this.event(svc, 'Warning', REASONS.annotationWarning, w.message);
      const fromPool = annotationOf(svc, POOL_ANNOTATION);
      const keepOnFailure =
        this.deps.keepAddressOnFailure === true || (fromPool !== undefined && this.rejectedPools.has(fromPool));
      const previous = this.deps.allocator.requestOf(key);
      const r = this.deps.allocator.assign(key, req.request, { keepOnFailure });
      if (!r.ok) failure = r.error;
      const now = this.deps.allocator.get(key)?.ips ?? [];
      const dropped = before.filter((ip) => !now.includes(ip));
      if (dropped.length > 0 && !askedToMove(previous, req.request)) {
        this.event(
          svc,
          'Normal',
          REASONS.cleared,
          `current IP ${quoteList(dropped)} for "${key}" not allowed by config, will attempt for new IP assignment`,
        );
      }
    }
    const held = this.deps.allocator.get(key);
    const written = await this.write(svc, held, log);
    if (failure) {
      this.fail(key, svc, failure, held, log);
      if (written === 'retry') return 'retry';
      return isTransient(failure.code) ? 'waiting' : 'done';
    }
    this.waitingKeys.delete(key);
    this.lastFailure.delete(key);
    if (written === 'retry') return 'retry';
    if (held && written !== 'gone') this.announce(key, svc, held, log);
    // A Service that moved (requested address or pool changed) gave its old address back.
    return before.some((ip) => !held?.ips.includes(ip)) ? 'freed' : 'done';
  }

  /**
   * noPools: with no pool at all MetalLB clears every assignment and emits nothing (convergeBalancer's "pools are
   * empty"); the Service waits, pending, until a pool appears.
   */
  private async noPools(key: string, svc: ObservedService, log: Logger): Promise<SyncOutcome> {
    this.forget(key);
    const had = this.deps.allocator.get(key);
    const freed = this.deps.allocator.release(key);
    if (freed) log.info({ ips: had?.ips }, 'no address pool: assignment cleared');
    const w = await this.write(svc, undefined, log);
    if (w === 'retry') return 'retry';
    this.waitingKeys.add(key);
    return freed ? 'freed' : 'waiting';
  }

  /**
   * warnDeprecated gives MetalLB's Warning for each metallb.universe.tf/ annotation, once per Service and annotation
   * (MetalLB warns when it writes the Service, and also removes the annotation; we leave the user's object alone).
   */
  private warnDeprecated(key: string, svc: ObservedService): void {
    for (const name of Object.keys(svc.metadata?.annotations ?? {})) {
      if (!name.startsWith(DEPRECATED_ANNOTATION_PREFIX)) continue;
      const id = `${key}/${name}`;
      if (this.deprecatedWarned.has(id)) continue;
      this.deprecatedWarned.add(id);
      this.event(svc, 'Warning', REASONS.deprecated, `Service uses deprecated annotation ${name}`);
    }
  }

  /** unmanaged handles a Service that is not (or no longer) ours: release, and clear what we wrote. */
  private async unmanaged(key: string, svc: ObservedService, log: Logger): Promise<SyncOutcome> {
    this.forget(key);
    const had = this.deps.allocator.get(key);
    const freed = this.deps.allocator.release(key);
    // A Service of another class is someone else's: never write to it. One that stopped being a LoadBalancer had
    // its status written by us if it carries our pool annotation.
    const ours = svc.spec?.type !== 'LoadBalancer' && (freed || annotationOf(svc, POOL_ANNOTATION) !== undefined);
    if (freed) log.info({ ips: had?.ips }, 'service is no longer ours, addresses released');
    if (ours) {
      const w = await this.write(svc, undefined, log);
      if (w === 'retry') return 'retry';
      if (freed && had) {
        this.event(svc, 'Normal', REASONS.released, `Released IP ${quoteList(had.ips)}: type is ${svc.spec?.type}`);
      }
    }
    return freed ? 'freed' : 'done';
  }

  /**
   * write makes the Service's annotations and status say `held` (or nothing). Annotations go first so a speaker that
   * sees the address in status also sees its VRIDs. Skipped when the cache already shows it.
   */
  private async write(
    svc: ObservedService,
    held: Assignment | undefined,
    log: Logger,
  ): Promise<'ok' | 'gone' | 'retry'> {
    const ref = { namespace: svc.metadata?.namespace ?? '', name: svc.metadata?.name ?? '' };
    const wantIps = held ? [...held.ips] : [];
    const wantPool = held?.pool ?? null;
    const wantVrids = held ? formatServiceVrids(held.ips.map((ip, i) => [ip, held.vrids[i] ?? 0] as const)) : null;
    const annotations: Record<string, string | null> = {};
    if ((annotationOf(svc, POOL_ANNOTATION) ?? null) !== wantPool) annotations[POOL_ANNOTATION] = wantPool;
    if ((annotationOf(svc, SERVICE_VRIDS_ANNOTATION) ?? null) !== wantVrids) {
      annotations[SERVICE_VRIDS_ANNOTATION] = wantVrids;
    }
    const ingressNow = canon(ingressIps(svc));
    try {
      if (Object.keys(annotations).length > 0) {
        if ((await this.deps.status.patchServiceAnnotations(ref, annotations)) === 'gone') return 'gone';
      }
      if (!sameList(ingressNow, wantIps)) {
        if ((await this.deps.status.setServiceIngress(ref, wantIps)) === 'gone') return 'gone';
      }
      return 'ok';
    } catch (err) {
      log.warn({ err: err instanceof Error ? err.message : String(err) }, 'writing service status failed, will retry');
      return 'retry';
    }
  }

  private announce(key: string, svc: ObservedService, held: Assignment, log: Logger): void {
    const text = held.ips.join(',');
    if (this.announced.get(key) === text) return;
    this.announced.set(key, text);
    this.deps.metrics.allocations.inc({ pool: held.pool ?? '' });
    log.info({ ips: held.ips, pool: held.pool, vrids: held.vrids }, 'addresses assigned');
    this.event(svc, 'Normal', REASONS.allocated, `Assigned IP ${quoteList(held.ips)}`);
  }

  private fail(key: string, svc: ObservedService, err: CodedError, held: Assignment | undefined, log: Logger): void {
    if (isTransient(err.code)) this.waitingKeys.add(key);
    else this.waitingKeys.delete(key);
    const kept = held ? ` (keeping ${quoteList(held.ips)})` : '';
    const message = `Failed to allocate IP for "${key}": ${err.message}${kept}`;
    if (this.lastFailure.get(key) === message) return;
    this.lastFailure.set(key, message);
    this.deps.metrics.allocationErrors.inc({ reason: err.code });
    log.warn({ code: err.code, kept: held?.ips }, message);
    this.event(svc, 'Warning', REASONS.failed, message);
  }

  private notRestored(svc: ObservedService, ips: readonly string[], err: CodedError): void {
    const message = `Could not keep ${quoteList(ips)} found in status: ${err.message}`;
    this.deps.logger.warn({ service: serviceKey(svc), code: err.code }, message);
    this.event(svc, 'Warning', REASONS.notRestored, message);
  }

  /** fallbackRequest is the narrowest request the addresses in status satisfy, for a Service with an invalid spec. */
  private fallbackRequest(svc: ObservedService, ips: readonly string[]): AllocationRequest {
    const families = ips.map((ip): Family => (ip.includes(':') ? 'ipv6' : 'ipv4'));
    const sharing = ANNOTATIONS.allowSharedIP.map((n) => annotationOf(svc, n)).find((v) => v !== undefined);
    return {
      namespace: svc.metadata?.namespace ?? '',
      labels: { ...(svc.metadata?.labels ?? {}) },
      namespaceLabels: { ...this.namespaceLabels(svc) },
      families,
      ipFamilyPolicy: families.length === 2 ? 'RequireDualStack' : 'SingleStack',
      ports: [],
      externalTrafficPolicy: svc.spec?.externalTrafficPolicy === 'Local' ? 'Local' : 'Cluster',
      selector: { ...(svc.spec?.selector ?? {}) },
      ...(sharing ? { sharingKey: sharing } : {}),
    };
  }

  private forget(key: string): void {
    for (const id of [...this.deprecatedWarned]) if (id.startsWith(`${key}/`)) this.deprecatedWarned.delete(id);
    this.announced.delete(key);
    this.lastFailure.delete(key);
    this.waitingKeys.delete(key);
  }

  private reportProblem(p: ConfigProblem): void {
    this.deps.metrics.configErrors.inc({ kind: p.kind, code: p.code });
    const what = p.rejected ? 'rejected, other pools keep working' : 'accepted with a warning';
    this.deps.logger.warn({ kind: p.kind, name: p.name, code: p.code, rejected: p.rejected }, `${p.message} (${what})`);
    if (p.name === '') return;
    const uid = p.kind === 'IPAddressPool' ? this.deps.poolUid?.(p.name) : undefined;
    this.deps.events.record(
      {
        kind: p.kind,
        apiVersion: 'metallb.io/v1beta1',
        namespace: this.deps.namespace,
        name: p.name,
        ...(uid ? { uid } : {}),
      },
      'Warning',
      p.rejected ? REASONS.invalidPool : REASONS.configWarning,
      `${p.message} (${what})`,
    );
  }

  private event(svc: ObservedService, type: EventType, reason: string, message: string): void {
    this.deps.events.record(serviceRef(svc), type, reason, message);
  }

  private namespaceLabels(svc: ObservedService) {
    return this.config?.namespaceLabels.get(svc.metadata?.namespace ?? '') ?? {};
  }
}

export { objectKey };
