/**
 * The speaker's health Lease (src/model/node-health-report.ts): NodeHealthPublisher writes this node's report, and
 * listNodeHealth reads every node's for `metal-vrrp status`.
 *
 * Writes are JSON merge patches of the one Lease (create when it is missing), so the speaker needs only `create` and
 * `patch` on Leases in its namespace (manifests/rbac/speaker.yaml), never `get`, `list` or `update`: RBAC cannot limit
 * `create` to a name, so the admission policy beside that Role holds the speaker to its own node's Lease. A report is
 * written when it changes (never per reconcile), once at start (so a report a crashed speaker left is replaced at
 * once), and renewed every third of its duration only while it holds a finding: a healthy cluster costs no writes.
 * Failures are logged and retried with backoff; a newer report replaces one still waiting.
 */
import {
  CoordinationV1Api,
  type KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1Lease,
} from '@kubernetes/client-node';
import type { Cancel, Clock } from '../clock.ts';
import type { Logger } from '../log.ts';
import {
  NODE_HEALTH_ANNOTATION,
  NODE_HEALTH_LABEL,
  NODE_HEALTH_LEASE_SECONDS,
  type NodeHealthEntry,
  type NodeHealthReport,
  nodeHealthLeaseName,
  parseNodeHealthReport,
} from '../model/node-health-report.ts';
import { statusCodeOf } from './clients.ts';
import { describeError } from './watched-cache.ts';

/** LeaseBody is the part of a Lease the publisher writes. */
export interface LeaseBody {
  readonly apiVersion: 'coordination.k8s.io/v1';
  readonly kind: 'Lease';
  readonly metadata: {
    readonly name: string;
    readonly namespace: string;
    readonly labels: Readonly<Record<string, string>>;
    readonly annotations: Readonly<Record<string, string>>;
  };
  readonly spec: { readonly holderIdentity: string; readonly leaseDurationSeconds: number; readonly renewTime: string };
}

/** HealthLeaseApi is the two calls the publisher makes; both reject with the client's error. */
export interface HealthLeaseApi {
  patch(body: LeaseBody): Promise<void>;
  create(body: LeaseBody): Promise<void>;
}

const MERGE = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** healthLeaseApi is the HealthLeaseApi over coordination.k8s.io/v1. */
export function healthLeaseApi(kubeConfig: KubeConfig): HealthLeaseApi {
  const api = kubeConfig.makeApiClient(CoordinationV1Api);
  return {
    patch: async (body) => {
      await api.patchNamespacedLease({ name: body.metadata.name, namespace: body.metadata.namespace, body }, MERGE);
    },
    create: async (body) => {
      // renewTime is already a MicroTime string, which the client's serializer passes through.
      await api.createNamespacedLease({ namespace: body.metadata.namespace, body: body as unknown as V1Lease });
    },
  };
}

/** microTime writes ms since the epoch as a MicroTime (six fractional digits, as the API server requires). */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/Z$/, '000Z');
}

/** leaseBody is the Lease carrying `report`, renewed at `nowMs`. */
export function leaseBody(name: string, namespace: string, report: NodeHealthReport, nowMs: number): LeaseBody {
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: {
      name,
      namespace,
      labels: { [NODE_HEALTH_LABEL]: 'true', 'app.kubernetes.io/component': 'speaker' },
      annotations: { [NODE_HEALTH_ANNOTATION]: JSON.stringify(report) },
    },
    spec: { holderIdentity: report.node, leaseDurationSeconds: NODE_HEALTH_LEASE_SECONDS, renewTime: microTime(nowMs) },
  };
}

/** NodeHealthPublisherDeps: where to write, the clock, the log. */
export interface NodeHealthPublisherDeps {
  readonly api: HealthLeaseApi;
  readonly namespace: string;
  readonly node: string;
  readonly clock: Clock;
  readonly logger: Logger;
  /** retryMs is the first retry delay after a failed write, doubled up to 30 s (default 1000). */
  readonly retryMs?: number;
}

/** NodeHealthPublisher: see the file comment. */
export class NodeHealthPublisher {
  readonly #d: NodeHealthPublisherDeps;
  readonly #name: string | undefined;
  #wanted: NodeHealthReport | undefined;
  // JSON of the report last written successfully
  #written: string | undefined;
  #writing: Promise<void> | undefined;
  #cancelTimer: Cancel = () => {};
  #failures = 0;
  #stopped = false;

  constructor(deps: NodeHealthPublisherDeps) {
    this.#d = deps;
    this.#name = nodeHealthLeaseName(deps.node);
    if (this.#name === undefined) deps.logger.warn({ node: deps.node }, 'node name too long for a health Lease');
  }

  /** publish makes `report` the one to show; written at once when it differs from the last written. */
  publish(report: NodeHealthReport): void {
    if (this.#stopped || this.#name === undefined) return;
    this.#wanted = report;
    if (JSON.stringify(report) === this.#written) return;
    this.#kick(); // at once, even while backing off; a failure keeps doubling the delay
  }

  /** idle resolves when no write is in flight (tests). */
  async idle(): Promise<void> {
    while (this.#writing) await this.#writing;
  }

  /** stop writes an empty report (a stopping speaker is in no election) and stops renewing. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#cancelTimer();
    await this.idle();
    this.#stopped = true;
    if (this.#name === undefined || this.#written === undefined) return;
    const empty: NodeHealthReport = { node: this.#d.node, routers: [] };
    if (JSON.stringify(empty) === this.#written) return;
    await this.#write(empty).catch((err) =>
      this.#d.logger.warn({ err: describeError(err) }, 'health Lease not cleared on stop'),
    );
  }

  #kick(): void {
    this.#cancelTimer();
    if (this.#writing) return; // the running write looks at #wanted again when it ends
    this.#writing = this.#once().finally(() => {
      this.#writing = undefined;
    });
  }

  async #once(): Promise<void> {
    while (!this.#stopped && this.#wanted !== undefined) {
      const report = this.#wanted;
      const json = JSON.stringify(report);
      try {
        await this.#write(report);
        if (this.#failures > 0) this.#d.logger.info({ node: this.#d.node }, 'health Lease written again');
        this.#failures = 0;
        this.#written = json;
      } catch (err) {
        this.#failures++;
        const delay = Math.min(30_000, (this.#d.retryMs ?? 1000) * 2 ** (this.#failures - 1));
        if (this.#failures === 1 || delay === 30_000) {
          this.#d.logger.warn({ err: describeError(err), retryMs: delay }, 'health Lease write failed');
        }
        this.#schedule(delay);
        return;
      }
      if (JSON.stringify(this.#wanted) === json) break;
    }
    // Renew a report that holds findings before it goes stale; an empty one needs no freshness.
    if (this.#wanted && this.#wanted.routers.length > 0) this.#schedule((NODE_HEALTH_LEASE_SECONDS * 1000) / 3);
  }

  #schedule(delayMs: number): void {
    if (this.#stopped) return;
    this.#cancelTimer();
    this.#cancelTimer = this.#d.clock.setTimer(() => this.#kick(), delayMs, { background: true });
  }

  async #write(report: NodeHealthReport): Promise<void> {
    const body = leaseBody(this.#name!, this.#d.namespace, report, this.#d.clock.wallNow());
    try {
      await this.#d.api.patch(body);
    } catch (err) {
      if (statusCodeOf(err) !== 404) throw err;
      try {
        await this.#d.api.create(body);
      } catch (err2) {
        // 409: created meanwhile (a restarted speaker racing its predecessor's last write): patch it after all.
        if (statusCodeOf(err2) !== 409) throw err2;
        await this.#d.api.patch(body);
      }
    }
  }
}

interface ListedLease {
  metadata?: { annotations?: Record<string, string> };
  spec?: { holderIdentity?: string; leaseDurationSeconds?: number; renewTime?: unknown };
}

function timeOf(v: unknown): number {
  if (v instanceof Date) return v.getTime();
  const t = typeof v === 'string' ? Date.parse(v) : Number.NaN;
  return Number.isNaN(t) ? 0 : t;
}

/** nodeHealthEntries reads listed Leases; a Lease whose annotation is no report, or names another node, is skipped. */
export function nodeHealthEntries(items: readonly ListedLease[]): NodeHealthEntry[] {
  const out: NodeHealthEntry[] = [];
  for (const l of items) {
    const report = parseNodeHealthReport(l.metadata?.annotations?.[NODE_HEALTH_ANNOTATION]);
    if (report === undefined || report.node !== l.spec?.holderIdentity) continue;
    const renewTime = timeOf(l.spec?.renewTime);
    out.push({ report, renewTime, expiresAt: renewTime + (l.spec?.leaseDurationSeconds ?? 0) * 1000 });
  }
  return out;
}

/** listNodeHealth lists the speakers' health Leases of `namespace`; it throws the client's error. */
export async function listNodeHealth(kubeConfig: KubeConfig, namespace: string): Promise<NodeHealthEntry[]> {
  const api = kubeConfig.makeApiClient(CoordinationV1Api);
  const list = await api.listNamespacedLease({ namespace, labelSelector: NODE_HEALTH_LABEL });
  return nodeHealthEntries(list.items as ListedLease[]);
}
