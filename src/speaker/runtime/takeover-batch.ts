/**
 * TakeoverBatches holds the routers that one liveness signal (a BFD session to their master timed out) moved to a
 * takeover, so they are taken over together in one synchronous run instead of one timer callback each. A dead node
 * masters a hundred VIPs or more; taken over one by one, each takeover yields to the event loop (the scheduler's
 * slices, the wait for pending I/O), and on a loaded machine every yield can cost a scheduling delay, so the last
 * VIP was answered 70–240 ms after the first. In one run, the adverts leave in one batch, then the gratuitous ARPs.
 *
 * Each batch fires at the latest Master_Down_Timer of its routers: no router claims before its own Skew_Time plus
 * hold (vrrp/router.ts `peer-down`), and none later than the slowest of its batch (the Skew_Times of one rank differ
 * by a few ms). The speaker groups routers by hold, so ranks are never merged. Before the run, the packets already
 * waiting in the sockets are read (a few loop rounds at most, as a single backup's timer does in speaker.ts): an
 * advert from the master that is in fact alive moves that router out of the batch, and it stays backup.
 */

import type { Cancel, Clock } from '../../clock.ts';
import type { RouterKey } from '../router-spec.ts';

/** BATCH_IO_ROUNDS bounds the loop rounds a batch waits while received packets keep arriving. */
export const BATCH_IO_ROUNDS = 8;

/** TakeoverBatchesDeps: the clock, the speaker's received-packet count, and what runs a batch. */
export interface TakeoverBatchesDeps {
  readonly clock: Clock;
  /** received counts the packets handed to the speaker so far: unchanged over a loop round, the sockets are drained. */
  readonly received: () => number;
  /** run takes over the routers of one batch that are still in it, in one synchronous run. */
  readonly run: (keys: readonly RouterKey[]) => void;
}

interface Batch {
  readonly keys: RouterKey[];
  readonly at: number;
  cancel: Cancel | undefined;
}

/** TakeoverBatches: see the file comment. */
export class TakeoverBatches {
  readonly #deps: TakeoverBatchesDeps;
  readonly #owner = new Map<RouterKey, Batch>(); // router key -> the batch waiting to take it over
  readonly #batches = new Set<Batch>();

  constructor(deps: TakeoverBatchesDeps) {
    this.#deps = deps;
  }

  /** size is the number of routers waiting in batches. */
  get size(): number {
    return this.#owner.size;
  }

  /** add puts `keys` in a new batch that runs at `at` (ms on the clock); a key in another batch moves to this one. */
  add(keys: readonly RouterKey[], at: number): void {
    if (keys.length === 0) return;
    const batch: Batch = { keys: [...keys], at, cancel: undefined };
    for (const key of keys) this.#owner.set(key, batch);
    this.#batches.add(batch);
    this.#arm(batch);
  }

  /** arm waits for the batch's time; a timer that fires early (Node rounds to whole ms) waits again. */
  #arm(batch: Batch): void {
    const clock = this.#deps.clock;
    batch.cancel = clock.setTimer(() => {
      if (clock.now() < batch.at) this.#arm(batch);
      else this.#due(batch);
    }, batch.at - clock.now());
  }

  /** leave takes a router out of its batch: another event decided its state (an advert, a removal). */
  leave(key: RouterKey): void {
    if (this.#owner.size > 0) this.#owner.delete(key);
  }

  /** has says whether `key` waits in a batch. */
  has(key: RouterKey): boolean {
    return this.#owner.has(key);
  }

  /** stop cancels every batch. */
  stop(): void {
    for (const b of this.#batches) b.cancel?.();
    this.#batches.clear();
    this.#owner.clear();
  }

  #due(batch: Batch): void {
    const afterIo = this.#deps.clock.afterPendingIo?.bind(this.#deps.clock);
    if (!afterIo) {
      this.#run(batch);
      return;
    }
    let rounds = 0;
    const wait = (seen: number): void => {
      batch.cancel = afterIo(() => {
        const now = this.#deps.received();
        if (now !== seen && ++rounds < BATCH_IO_ROUNDS) wait(now);
        else this.#run(batch);
      });
    };
    wait(this.#deps.received());
  }

  #run(batch: Batch): void {
    batch.cancel = undefined;
    this.#batches.delete(batch);
    const keys: RouterKey[] = [];
    for (const key of batch.keys) {
      if (this.#owner.get(key) !== batch) continue;
      this.#owner.delete(key);
      keys.push(key);
    }
    if (keys.length > 0) this.#deps.run(keys);
  }
}
