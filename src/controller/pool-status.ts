/**
 * PoolStatusPublisher keeps each IPAddressPool's status (assignedIPv4/IPv6, availableIPv4/IPv6, as MetalLB writes
 * them) and the per-pool metrics in step with the allocator. Changes are coalesced: a burst of allocations costs one
 * status write per pool, a short moment later, and a pool whose counters did not change is not written at all.
 */
import { type Cancel, type Clock, realClock } from '../clock.ts';
import type { ObjectKey, PoolStatus, StatusWriter } from '../k8s/status-writer.ts';
import type { Logger } from '../log.ts';
import type { ControllerMetrics } from '../metrics.ts';
import type { Allocator } from './allocator.ts';

/** PoolStatusDeps: what to read, where to write. */
export interface PoolStatusDeps {
  readonly allocator: Allocator;
  readonly status: StatusWriter;
  readonly metrics: ControllerMetrics;
  readonly logger: Logger;
  readonly namespace: string;
  /** pools lists the valid pools now. */
  readonly pools: () => readonly string[];
  /** delayMs is how long changes are gathered before a write (default 50). */
  readonly delayMs?: number;
  /** clock times the coalescing (default the process clock). */
  readonly clock?: Clock;
}

const FAMILIES = [
  ['ipv4', 'assignedIPv4', 'availableIPv4'],
  ['ipv6', 'assignedIPv6', 'availableIPv6'],
] as const;

/** PoolStatusPublisher: see the file comment. */
export class PoolStatusPublisher {
  private readonly deps: PoolStatusDeps;
  private readonly written = new Map<string, string>(); // pool -> JSON of the status last written
  private readonly exported = new Set<string>(); // pools with metric series
  private cancelTimer: Cancel | undefined; // set while a publish is pending
  private running: Promise<void> = Promise.resolve();
  private failures = 0;

  constructor(deps: PoolStatusDeps) {
    this.deps = deps;
  }

  /** schedule asks for a publish soon; calls in between are merged. */
  schedule(delayMs = this.deps.delayMs ?? 50): void {
    if (this.cancelTimer) return;
    this.cancelTimer = (this.deps.clock ?? realClock).setTimer(
      () => {
        this.cancelTimer = undefined;
        this.running = this.running.then(() => this.publish());
      },
      delayMs,
      { background: true },
    );
  }

  /** flush publishes now and resolves when done. */
  async flush(): Promise<void> {
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    this.running = this.running.then(() => this.publish());
    await this.running;
  }

  /** invalidate forgets what was written, so every pool is written again (a pool may have been re-created). */
  invalidate(): void {
    this.written.clear();
  }

  /** stop cancels a pending publish. */
  stop(): void {
    this.cancelTimer?.();
    this.cancelTimer = undefined;
  }

  private async publish(): Promise<void> {
    const { allocator, metrics } = this.deps;
    const pools = this.deps.pools();
    for (const gone of [...this.exported].filter((p) => !pools.includes(p))) {
      for (const [family] of FAMILIES) {
        metrics.poolAddresses.remove({ pool: gone, family });
        metrics.poolInUse.remove({ pool: gone, family });
      }
      this.exported.delete(gone);
      this.written.delete(gone);
    }
    let failed = false;
    for (const pool of pools) {
      const u = allocator.usage(pool);
      if (!u) continue;
      const status: PoolStatus = {
        assignedIPv4: u.assignedV4,
        assignedIPv6: u.assignedV6,
        availableIPv4: u.availableV4,
        availableIPv6: u.availableV6,
      };
      for (const [family, assigned, available] of FAMILIES) {
        metrics.poolAddresses.set({ pool, family }, status[assigned] + status[available]);
        metrics.poolInUse.set({ pool, family }, status[assigned]);
      }
      this.exported.add(pool);
      const text = JSON.stringify(status);
      if (this.written.get(pool) === text) continue;
      const key: ObjectKey = { namespace: this.deps.namespace, name: pool };
      try {
        await this.deps.status.setPoolStatus(key, status);
        this.written.set(pool, text);
      } catch (err) {
        failed = true;
        this.deps.logger.warn(
          { pool, err: err instanceof Error ? err.message : String(err) },
          'pool status write failed',
        );
      }
    }
    if (failed) {
      this.schedule(Math.min(30_000, 250 * 2 ** this.failures++));
    } else {
      this.failures = 0;
    }
  }
}
