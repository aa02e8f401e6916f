/**
 * ReconcileCoalescer turns a stream of "something changed" pokes into few reconciles. A change waits `delayMs` so a
 * burst (a rollout, a re-list) is read in one go, and a run starts no sooner than `minSpacingMs` after the previous
 * one began, so a steady stream of API updates (thousands a minute) costs at most 1000 / minSpacingMs reconciles a
 * second instead of one per update. Nothing is dropped: every poke is followed by a run that starts after it, at most
 * max(delayMs, minSpacingMs) later, and the run reads the latest state, so a real change takes effect within that
 * bound however busy the API is. Driven by the injected Clock (fake in tests).
 */
import type { Cancel, Clock } from '../../clock.ts';

/** ReconcileCoalescerDeps: the clock, the two delays and what to run. */
export interface ReconcileCoalescerDeps {
  readonly clock: Clock;
  /** delayMs gathers a burst: a poke after a quiet spell runs this much later. */
  readonly delayMs: number;
  /** minSpacingMs is the least time between the starts of two runs. */
  readonly minSpacingMs: number;
  readonly run: () => void;
}

/** ReconcileCoalescer: see the file comment. */
export class ReconcileCoalescer {
  readonly #deps: ReconcileCoalescerDeps;
  #timer: Cancel | undefined;
  #lastRun = Number.NEGATIVE_INFINITY;
  #stopped = false;

  constructor(deps: ReconcileCoalescerDeps) {
    this.#deps = deps;
  }

  /** poke says something changed: a run is due, unless one is already armed (it will read this change too). */
  poke(): void {
    if (this.#stopped || this.#timer !== undefined) return;
    const { clock, delayMs, minSpacingMs } = this.#deps;
    const now = clock.now();
    const at = Math.max(now + delayMs, this.#lastRun + minSpacingMs);
    this.#timer = clock.setTimer(() => {
      this.#timer = undefined;
      if (this.#stopped) return;
      this.#lastRun = clock.now();
      this.#deps.run();
    }, at - now);
  }

  /** pending: a run is armed. */
  get pending(): boolean {
    return this.#timer !== undefined;
  }

  /** stop cancels an armed run; later pokes do nothing. */
  stop(): void {
    this.#stopped = true;
    this.#timer?.();
    this.#timer = undefined;
  }
}
