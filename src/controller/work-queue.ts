/**
 * KeyedQueue runs an async handler per key with client-go workqueue's guarantees: a key waits at most once in the
 * queue however often it is added, is never handled twice at the same time, and a key added while being handled
 * runs again afterwards (so the last change is always seen). Up to `concurrency` different keys run at once.
 * The queue starts paused: the controller fills it while it rebuilds state, then starts it.
 */
import { type Cancel, type Clock, realClock } from '../clock.ts';
import type { Logger } from '../log.ts';

/** KeyedQueueDeps: the handler and how many keys may run at once. */
export interface KeyedQueueDeps {
  readonly handler: (key: string) => Promise<void>;
  readonly concurrency: number;
  readonly logger: Logger;
  /** clock times addAfter (default the process clock). */
  readonly clock?: Clock;
}

/** KeyedQueue: see the file comment. */
export class KeyedQueue {
  private readonly deps: KeyedQueueDeps;
  private readonly waiting = new Set<string>(); // insertion-ordered
  private readonly running = new Set<string>();
  private readonly again = new Set<string>(); // added while running
  private readonly delayed = new Map<string, Cancel>(); // key -> cancel of its addAfter timer
  private paused = true;
  private stopped = false;
  private idleWaiters: (() => void)[] = [];
  private finished: (() => void)[] = []; // stop() waiting for a running handler to end

  constructor(deps: KeyedQueueDeps) {
    this.deps = deps;
  }

  /** add queues a key (a no-op when it already waits). */
  add(key: string): void {
    if (this.stopped) return;
    if (this.running.has(key)) this.again.add(key);
    else this.waiting.add(key);
    this.pump();
  }

  /** addAfter queues a key after `ms`; an earlier pending addAfter of the same key is kept. */
  addAfter(key: string, ms: number): void {
    if (this.stopped || this.delayed.has(key)) return;
    const cancel = (this.deps.clock ?? realClock).setTimer(
      () => {
        this.delayed.delete(key);
        this.add(key);
      },
      ms,
      { background: true },
    );
    this.delayed.set(key, cancel);
  }

  /** start lets queued keys run. */
  start(): void {
    this.paused = false;
    this.pump();
  }

  /** stop drops everything queued and resolves once the handlers already running have finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.waiting.clear();
    this.again.clear();
    for (const cancel of this.delayed.values()) cancel();
    this.delayed.clear();
    this.settle();
    while (this.running.size > 0) await new Promise<void>((resolve) => this.finished.push(resolve));
  }

  /** size is how many keys wait or run (delayed ones not counted). */
  get size(): number {
    return this.waiting.size + this.running.size;
  }

  /** idle resolves when no key waits or runs. */
  idle(): Promise<void> {
    if (this.size === 0 || this.stopped) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private pump(): void {
    if (this.paused) return;
    while (!this.stopped && this.running.size < this.deps.concurrency) {
      const key = this.waiting.values().next().value;
      if (key === undefined) break;
      this.waiting.delete(key);
      this.running.add(key);
      void this.run(key);
    }
    this.settle();
  }

  private async run(key: string): Promise<void> {
    try {
      await this.deps.handler(key);
    } catch (err) {
      this.deps.logger.error({ key, err: err instanceof Error ? err.message : String(err) }, 'handler failed');
    }
    this.running.delete(key);
    const finished = this.finished;
    this.finished = [];
    for (const f of finished) f();
    if (this.again.delete(key) && !this.stopped) this.waiting.add(key);
    this.pump();
  }

  private settle(): void {
    if (this.size > 0 && !this.stopped) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}
