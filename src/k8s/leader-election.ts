/**
 * Lease-based leader election, as client-go's `leaderelection` package does it, so that only one controller replica
 * allocates while the others stand by:
 *   - decideLease is the pure rule: given the Lease as read, when it was last seen to change, the time and our
 *     identity, it says create, update (acquire or renew) or wait;
 *   - LeaderElector is the thin loop around it: every retryPeriod read the Lease, apply the decision with optimistic
 *     concurrency (the update carries the resourceVersion read, so of two candidates one gets 409 Conflict), and give
 *     up leadership when no renewal succeeded for renewDeadline;
 *   - leaseApiFor adapts a coordination.k8s.io/v1 client to the loop's three calls (get, create, update).
 * API errors never throw out of the loop: they are counted and retried.
 */
import { CoordinationV1Api, type KubeConfig, type V1Lease, V1MicroTime } from '@kubernetes/client-node';
import { type Cancel, type Clock, realClock } from '../clock.ts';
import type { Logger } from '../log.ts';
import { statusCodeOf } from './clients.ts';

/** LEADER_ELECTION_DEFAULTS are client-go's: the Lease lasts 15 s, renewal may fail for 10 s, retries every 2 s. */
export const LEADER_ELECTION_DEFAULTS = Object.freeze({
  leaseDurationMs: 15_000,
  renewDeadlineMs: 10_000,
  retryPeriodMs: 2_000,
});

/** LeaseRecord is the part of a Lease's spec the election reads and writes; times in ms since the epoch. */
export interface LeaseRecord {
  /** holderIdentity is '' for a released Lease. */
  readonly holderIdentity: string;
  readonly leaseDurationSeconds: number;
  readonly acquireTime: number;
  readonly renewTime: number;
  readonly leaseTransitions: number;
}

/** StoredLease is a Lease as the API returned it. */
export interface StoredLease {
  readonly record: LeaseRecord;
  readonly resourceVersion: string;
}

/** LeaseDecision is what to do next with the Lease. */
export type LeaseDecision =
  | { readonly kind: 'create'; readonly record: LeaseRecord }
  | { readonly kind: 'update'; readonly record: LeaseRecord; readonly acquire: boolean }
  | { readonly kind: 'wait'; readonly holder: string; readonly expiresAt: number };

/** DecideInput: the Lease read (undefined: there is none), when its record was first seen as it is now, the time. */
export interface DecideInput {
  readonly current: StoredLease | undefined;
  /** observedAt is our clock when the current record was first seen; client-go measures expiry from it. */
  readonly observedAt: number;
  readonly now: number;
  readonly identity: string;
  readonly leaseDurationMs: number;
}

/**
 * decideLease is the election rule. A Lease is free when there is none, when it was released (empty holder), or when
 * its record has not changed for its leaseDurationSeconds as measured on our own clock since we first saw it (the
 * Lease's own doc: "measured against the time of last observed renewTime"), so a holder with a skewed clock is not
 * robbed. A Lease held by us is renewed; a free one is taken, counting a transition when the holder changes.
 */
export function decideLease(input: DecideInput): LeaseDecision {
  const { current, now, identity } = input;
  const seconds = Math.max(1, Math.ceil(input.leaseDurationMs / 1000));
  if (!current) {
    return {
      kind: 'create',
      record: {
        holderIdentity: identity,
        leaseDurationSeconds: seconds,
        acquireTime: now,
        renewTime: now,
        leaseTransitions: 0,
      },
    };
  }
  const held = current.record;
  if (held.holderIdentity === identity) {
    return { kind: 'update', acquire: false, record: { ...held, leaseDurationSeconds: seconds, renewTime: now } };
  }
  const expiresAt = input.observedAt + held.leaseDurationSeconds * 1000;
  if (held.holderIdentity !== '' && now < expiresAt) {
    return { kind: 'wait', holder: held.holderIdentity, expiresAt };
  }
  return {
    kind: 'update',
    acquire: true,
    record: {
      holderIdentity: identity,
      leaseDurationSeconds: seconds,
      acquireTime: now,
      renewTime: now,
      leaseTransitions: held.leaseTransitions + 1,
    },
  };
}

/** releasedRecord is what a leader writes on a graceful stop (client-go's ReleaseOnCancel): no holder, so a standby takes over at its next retry. */
export function releasedRecord(held: LeaseRecord, now: number): LeaseRecord {
  return { ...held, holderIdentity: '', leaseDurationSeconds: 1, acquireTime: now, renewTime: now };
}

/** LeaseApi is the Lease seen by the loop: get (undefined when absent), create, update with the read resourceVersion. */
export interface LeaseApi {
  get(): Promise<StoredLease | undefined>;
  create(record: LeaseRecord): Promise<StoredLease>;
  update(record: LeaseRecord, resourceVersion: string): Promise<StoredLease>;
}

/** ElectorDeps: the Lease, who we are, the timings, reporting and the two callbacks. */
export interface ElectorDeps {
  readonly api: LeaseApi;
  readonly identity: string;
  readonly logger: Logger;
  readonly leaseDurationMs?: number;
  readonly renewDeadlineMs?: number;
  readonly retryPeriodMs?: number;
  /** clock gives the wall time written into the Lease and times the retries (default the process clock). */
  readonly clock?: Clock;
  /** leader is set to 1 while leading (metal_vrrp_leader). */
  readonly leader?: { set(v: number): void };
  /** errors counts failed Lease calls by operation (metal_vrrp_leader_election_errors_total). */
  readonly errors?: { inc(labels: { operation: string }): void };
  /** onStartedLeading runs once, when the Lease is first acquired. */
  readonly onStartedLeading: () => void;
  /** onStoppedLeading runs once, when leadership is lost (not on stop()); the elector has stopped by then. */
  readonly onStoppedLeading: (reason: string) => void;
}

/** recordKey identifies a record's content, to notice when the holder renewed. */
function recordKey(s: StoredLease | undefined): string {
  return s ? JSON.stringify(s.record) : '';
}

/**
 * LeaderElector runs the election loop. Timings are checked as client-go checks them: leaseDuration > renewDeadline >
 * retryPeriod, so a leader gives up (renewDeadline) before anyone else may take the Lease (leaseDuration).
 */
export class LeaderElector {
  readonly #d: ElectorDeps;
  readonly #leaseMs: number;
  readonly #renewDeadlineMs: number;
  readonly #retryMs: number;
  readonly #clock: Clock;
  #observed: StoredLease | undefined;
  #observedKey = '';
  #observedAt = 0;
  #leading = false;
  #lastRenew = 0;
  #lastObservation = Number.NEGATIVE_INFINITY;
  #stopped = true;
  #cancelTimer: Cancel = () => {};
  #tick: Promise<void> = Promise.resolve();
  #resolveLeading: () => void = () => {};
  readonly #leadingPromise: Promise<void>;

  constructor(deps: ElectorDeps) {
    this.#d = deps;
    this.#leaseMs = deps.leaseDurationMs ?? LEADER_ELECTION_DEFAULTS.leaseDurationMs;
    this.#renewDeadlineMs = deps.renewDeadlineMs ?? LEADER_ELECTION_DEFAULTS.renewDeadlineMs;
    this.#retryMs = deps.retryPeriodMs ?? LEADER_ELECTION_DEFAULTS.retryPeriodMs;
    if (!(this.#leaseMs > this.#renewDeadlineMs && this.#renewDeadlineMs > this.#retryMs && this.#retryMs > 0)) {
      throw new Error(
        `leader election: need leaseDuration (${this.#leaseMs} ms) > renewDeadline (${this.#renewDeadlineMs} ms) > retryPeriod (${this.#retryMs} ms) > 0`,
      );
    }
    this.#clock = deps.clock ?? realClock;
    this.#leadingPromise = new Promise((resolve) => {
      this.#resolveLeading = resolve;
    });
    deps.leader?.set(0);
  }

  /** isLeader is true between acquiring the Lease and losing or releasing it. */
  isLeader(): boolean {
    return this.#leading;
  }

  /** whenLeading resolves when this candidate first becomes leader. */
  whenLeading(): Promise<void> {
    return this.#leadingPromise;
  }

  /** healthyCandidate: the Lease was read or written within one leaseDuration (readiness of a standby). */
  healthyCandidate(): boolean {
    return this.#clock.wallNow() - this.#lastObservation < this.#leaseMs;
  }

  /** start runs the first attempt now, then one every retryPeriod. */
  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#schedule(0);
  }

  /**
   * stop ends the loop after the attempt in flight. With `release` (the default) a leader writes the Lease free so a
   * standby takes over at its next retry; without it the Lease simply expires (as when the process dies).
   */
  async stop(opts: { release?: boolean } = {}): Promise<void> {
    this.#stopped = true;
    this.#cancelTimer();
    await this.#tick;
    const wasLeading = this.#leading;
    this.#setLeading(false);
    if (!wasLeading || opts.release === false || !this.#observed) return;
    try {
      await this.#d.api.update(
        releasedRecord(this.#observed.record, this.#clock.wallNow()),
        this.#observed.resourceVersion,
      );
      this.#d.logger.info({ identity: this.#d.identity }, 'released the leader Lease');
    } catch (err) {
      this.#d.errors?.inc({ operation: 'release' });
      this.#d.logger.warn({ err: String(err) }, 'could not release the leader Lease; it expires on its own');
    }
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    this.#cancelTimer = this.#clock.setTimer(() => {
      this.#tick = this.#attempt().finally(() => this.#schedule(this.#retryMs));
    }, ms);
  }

  #setLeading(on: boolean): void {
    this.#leading = on;
    this.#d.leader?.set(on ? 1 : 0);
  }

  #observe(s: StoredLease | undefined, now: number): void {
    this.#lastObservation = now;
    const key = recordKey(s);
    if (key !== this.#observedKey || this.#observed === undefined) this.#observedAt = now;
    this.#observedKey = key;
    this.#observed = s;
  }

  /** #attempt is one try to acquire or renew (client-go's tryAcquireOrRenew); it never throws. */
  async #attempt(): Promise<void> {
    const log = this.#d.logger;
    let op = 'get';
    try {
      const current = await this.#bounded(this.#d.api.get());
      if (this.#stopped) return;
      const now = this.#clock.wallNow();
      this.#observe(current, now);
      const decision = decideLease({
        current,
        observedAt: this.#observedAt,
        now,
        identity: this.#d.identity,
        leaseDurationMs: this.#leaseMs,
      });
      if (decision.kind === 'wait') {
        if (this.#leading) this.#lose(`the Lease is now held by ${decision.holder}`);
        return;
      }
      op = decision.kind;
      const written =
        decision.kind === 'create'
          ? await this.#bounded(this.#d.api.create(decision.record))
          : await this.#bounded(this.#d.api.update(decision.record, current?.resourceVersion ?? ''));
      const at = this.#clock.wallNow();
      this.#observe(written, at);
      this.#lastRenew = now;
      if (!this.#leading) {
        // Taken while stop() waits for this attempt: leading, so that stop() releases it, but nothing is started.
        this.#setLeading(true);
        if (this.#stopped) return;
        log.info(
          { identity: this.#d.identity, transitions: written.record.leaseTransitions },
          'acquired the leader Lease; starting',
        );
        this.#resolveLeading();
        this.#d.onStartedLeading();
      }
      return;
    } catch (err) {
      const code = statusCodeOf(err);
      this.#d.errors?.inc({ operation: op });
      // 409: another candidate wrote first; we read again next time.
      log[code === 409 ? 'debug' : 'warn']({ operation: op, code, err: String(err) }, 'leader Lease call failed');
    }
    if (this.#leading && this.#clock.wallNow() - this.#lastRenew >= this.#renewDeadlineMs) {
      this.#lose(`no renewal succeeded for ${this.#renewDeadlineMs} ms`);
    }
  }

  /** #bounded fails a call that hangs past renewDeadline, so a leader notices it can no longer renew. */
  #bounded<T>(call: Promise<T>): Promise<T> {
    let cancel: Cancel = () => {};
    const timeout = new Promise<never>((_, reject) => {
      cancel = this.#clock.setTimer(
        () => reject(new Error(`no answer within ${this.#renewDeadlineMs} ms`)),
        this.#renewDeadlineMs,
      );
    });
    return Promise.race([call, timeout]).finally(cancel);
  }

  #lose(reason: string): void {
    this.#stopped = true;
    this.#cancelTimer();
    this.#setLeading(false);
    this.#d.logger.error({ identity: this.#d.identity, reason }, 'lost the leader Lease');
    this.#d.onStoppedLeading(reason);
  }
}

/** timeOf reads a MicroTime as the client returns it (a string, as client-node leaves unknown types) or a Date. */
function timeOf(v: unknown): number {
  if (v instanceof Date) return v.getTime();
  const t = typeof v === 'string' ? Date.parse(v) : Number.NaN;
  return Number.isNaN(t) ? 0 : t;
}

function toStored(l: V1Lease): StoredLease {
  const s = l.spec ?? {};
  return {
    resourceVersion: l.metadata?.resourceVersion ?? '',
    record: {
      holderIdentity: s.holderIdentity ?? '',
      leaseDurationSeconds: s.leaseDurationSeconds ?? 0,
      acquireTime: timeOf(s.acquireTime),
      renewTime: timeOf(s.renewTime),
      leaseTransitions: s.leaseTransitions ?? 0,
    },
  };
}

function toLease(name: string, namespace: string, r: LeaseRecord, resourceVersion?: string): V1Lease {
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name, namespace, ...(resourceVersion ? { resourceVersion } : {}) },
    spec: {
      holderIdentity: r.holderIdentity,
      leaseDurationSeconds: r.leaseDurationSeconds,
      // V1MicroTime serialises with the six fractional digits the API server requires.
      acquireTime: new V1MicroTime(r.acquireTime),
      renewTime: new V1MicroTime(r.renewTime),
      leaseTransitions: r.leaseTransitions,
    },
  };
}

/**
 * leaseApiFor is the LeaseApi of one Lease through coordination.k8s.io/v1: get, create and update only (the verbs
 * manifests/rbac/controller.yaml grants). Pass a KubeConfig whose connections are already shared (connectKube).
 */
export function leaseApiFor(kubeConfig: KubeConfig, namespace: string, name: string): LeaseApi {
  const api = kubeConfig.makeApiClient(CoordinationV1Api);
  return {
    async get() {
      try {
        return toStored(await api.readNamespacedLease({ name, namespace }));
      } catch (err) {
        if (statusCodeOf(err) === 404) return undefined;
        throw err;
      }
    },
    create: async (r) => toStored(await api.createNamespacedLease({ namespace, body: toLease(name, namespace, r) })),
    update: async (r, rv) =>
      toStored(await api.replaceNamespacedLease({ name, namespace, body: toLease(name, namespace, r, rv) })),
  };
}
