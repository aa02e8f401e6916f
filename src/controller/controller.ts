/**
 * The controller's run loop: it wires the sources (informers) to the reconciler through a keyed work queue, and owns
 * the start-up order that makes restarts safe:
 *   1. wait until every cache has listed (pools, advertisements, namespaces, Services);
 *   2. apply the configuration;
 *   3. restore every assignment found in Service status — before anything new is allocated;
 *   4. only then start the queue, with every Service in it.
 * Afterwards a Service change queues its key; a configuration change re-applies the config and queues every Service;
 * a release queues the Services waiting for an address; a failed API write is retried with backoff.
 */
import { type Cancel, type Clock, realClock, sleep } from '../clock.ts';
import { backoffDelay } from '../k8s/backoff.ts';
import type { EventRecorder } from '../k8s/event-recorder.ts';
import type { ConfigSource, ServiceSource } from '../k8s/sources.ts';
import type { StatusWriter } from '../k8s/status-writer.ts';
import type { Logger } from '../log.ts';
import type { ControllerMetrics } from '../metrics.ts';
import { type ConfigProblem, type ConfigSnapshot, parseConfig } from '../model/config.ts';
import { parsePoolTunings, TUNING_ANNOTATIONS } from '../model/pool-tuning.ts';
import { Allocator } from './allocator.ts';
import { PoolStatusPublisher } from './pool-status.ts';
import { Reconciler } from './reconciler.ts';
import { KeyedQueue } from './work-queue.ts';

/** ControllerDeps: the ports to the cluster plus reporting. */
export interface ControllerDeps {
  readonly services: ServiceSource;
  readonly config: ConfigSource;
  readonly status: StatusWriter;
  readonly events: EventRecorder;
  readonly metrics: ControllerMetrics;
  readonly logger: Logger;
  /** namespace of the IPAddressPools and L2Advertisements. */
  readonly namespace: string;
  readonly loadBalancerClass?: string;
  /** keepAddressOnFailure: see the Reconciler (the command's --keep-address-on-failure). */
  readonly keepAddressOnFailure?: boolean;
  /** concurrency: how many Services are written at once (default 16). */
  readonly concurrency?: number;
  /** clock times the config debounce, retries and pool status coalescing, and idle() polls on it (default the
   * process clock; with a virtual one, advance it while awaiting idle()). */
  readonly clock?: Clock;
}

/** CONFIG_DEBOUNCE_MS gathers a burst of config edits (kubectl apply -f dir/) into one apply. */
const CONFIG_DEBOUNCE_MS = 20;

/** Controller is a running controller. */
export interface Controller {
  /** ready: caches synced, assignments restored, first pass done (readyz). */
  isReady(): boolean;
  /** whenReady resolves when isReady becomes true. */
  whenReady(): Promise<void>;
  /** idle resolves once no Service waits to be reconciled and pool status is written (tests, benchmarks). */
  idle(): Promise<void>;
  /** assignments is the allocator's view, for tests and `status`. */
  readonly allocator: Allocator;
  /** stop stops reconciling, letting writes in progress finish (the caller stops the sources). */
  stop(): Promise<void>;
}

/**
 * configFingerprint is the part of a snapshot parseConfig reads. Pool status writes, resourceVersion bumps and
 * namespace status changes arrive as config changes too; re-applying and re-syncing every Service for those would
 * make each pool status write cost O(Services).
 */
export function configFingerprint(s: ConfigSnapshot): string {
  const meta = (m: { name?: string; labels?: unknown; annotations?: unknown; creationTimestamp?: unknown } = {}) => [
    m.name,
    m.labels,
    m.annotations,
    m.creationTimestamp,
  ];
  return JSON.stringify([
    s.pools.map((p) => [meta(p?.metadata), p?.spec]),
    s.l2Advertisements.map((a) => [meta(a?.metadata), a?.spec]),
    (s.namespaces ?? []).map((n) => [n.name, n.labels]),
  ]);
}

/**
 * tuningProblems are the pools' invalid failover-tuning annotations (src/speaker/pool-tuning.ts), reported here as
 * warnings on the pool so a cluster gets one Event per problem, not one per speaker; the speakers only log and count
 * them. The VRID range is left out: the allocator's own parse reports it.
 */
export function tuningProblems(snapshot: ConfigSnapshot): ConfigProblem[] {
  return parsePoolTunings(snapshot.pools)
    .problems.filter((p) => p.annotation !== TUNING_ANNOTATIONS.vridRange)
    .map((p) => ({
      kind: 'IPAddressPool' as const,
      name: p.pool,
      code: p.error.code,
      message: `${p.error.message}; the default is used`,
      rejected: false,
    }));
}

/** runController starts the loop; the sources must be started by the caller (before or after). */
export function runController(deps: ControllerDeps): Controller {
  const log = deps.logger;
  const clock = deps.clock ?? realClock;
  const allocator = new Allocator();
  const reconciler = new Reconciler({
    allocator,
    status: deps.status,
    events: deps.events,
    metrics: deps.metrics,
    logger: log.child({ component: 'reconciler' }),
    namespace: deps.namespace,
    loadBalancerClass: deps.loadBalancerClass,
    ...(deps.keepAddressOnFailure ? { keepAddressOnFailure: true } : {}),
    poolUid: (name) => deps.config.poolUid(name),
  });
  const pools = new PoolStatusPublisher({
    allocator,
    status: deps.status,
    metrics: deps.metrics,
    logger: log.child({ component: 'pool-status' }),
    namespace: deps.namespace,
    pools: () => reconciler.pools(),
    clock,
  });
  const attempts = new Map<string, number>(); // key -> failed API writes in a row
  let stopped = false;
  let ready = false;
  let markReady: () => void = () => {};
  const readyPromise = new Promise<void>((resolve) => {
    markReady = resolve;
  });

  const queue = new KeyedQueue({
    concurrency: deps.concurrency ?? 16,
    logger: log.child({ component: 'queue' }),
    clock,
    handler: async (key) => {
      const slash = key.indexOf('/');
      const svc = deps.services.get(key.slice(0, slash), key.slice(slash + 1));
      const outcome = await reconciler.sync(key, svc);
      if (outcome === 'retry') {
        const n = attempts.get(key) ?? 0;
        attempts.set(key, n + 1);
        queue.addAfter(key, backoffDelay(n));
      } else {
        attempts.delete(key);
      }
      if (outcome === 'freed') for (const k of reconciler.waiting()) queue.add(k);
      pools.schedule();
    },
  });

  const enqueueAll = () => {
    for (const s of deps.services.list()) queue.add(`${s.metadata?.namespace ?? ''}/${s.metadata?.name ?? ''}`);
  };

  let cancelConfig: Cancel | undefined; // set while a config apply is pending
  let applied = '';
  /** applyConfig parses and installs the configuration; false when nothing parseConfig reads has changed. */
  const applyConfig = (): boolean => {
    const snapshot = deps.config.snapshot();
    const fingerprint = configFingerprint(snapshot);
    if (fingerprint === applied) return false;
    applied = fingerprint;
    const parsed = parseConfig(snapshot);
    reconciler.applyConfig({ ...parsed, problems: [...parsed.problems, ...tuningProblems(snapshot)] });
    pools.invalidate();
    pools.schedule();
    return true;
  };

  const start = async () => {
    await Promise.all([deps.config.synced(), deps.services.synced()]);
    if (stopped) return;
    applyConfig();
    reconciler.restore(deps.services.list());
    // Changes seen while restoring are already queued (the queue was paused); add the rest and go.
    enqueueAll();
    deps.config.onChange(() => {
      // A burst of config edits (kubectl apply -f dir/) is applied once.
      if (cancelConfig || stopped) return;
      cancelConfig = clock.setTimer(() => {
        cancelConfig = undefined;
        if (stopped) return;
        if (applyConfig()) enqueueAll();
      }, CONFIG_DEBOUNCE_MS);
    });
    queue.start();
    await queue.idle();
    await pools.flush();
    ready = true;
    markReady();
    log.info({ services: deps.services.list().length }, 'controller ready');
  };

  deps.services.onChange((key) => queue.add(key));
  void start().catch((err: unknown) => log.error({ err: String(err) }, 'controller start failed'));

  return {
    allocator,
    isReady: () => ready,
    whenReady: () => readyPromise,
    async idle() {
      await readyPromise;
      for (let i = 0; i < 100; i++) {
        await queue.idle();
        await pools.flush();
        await deps.events.flush();
        if (queue.size === 0 && cancelConfig === undefined) return;
        await sleep(clock, 25);
      }
    },
    async stop() {
      stopped = true;
      cancelConfig?.();
      await queue.stop();
      pools.stop();
      await deps.events.flush();
    },
  };
}
