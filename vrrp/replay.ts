/**
 * ReplayGuard rejects authenticated adverts whose counter is not above the last one accepted from the same sender
 * for the same router (auth.ts): a recorded advert re-sent later, even bit for bit, is refused. Senders take the
 * counter from wall-clock microseconds, bumped when equal, so it keeps rising across their restarts. A receiver
 * that restarts has no memory and accepts the first advert it hears from each sender; the genuine sender's next
 * advert (one interval later) raises the bar above every recording. Pure: no time, no I/O.
 */
export class ReplayGuard {
  // `${router}|${sender}` -> highest counter accepted
  readonly #last = new Map<string, bigint>();
  readonly #limit: number;

  /** limit bounds the senders remembered (only MAC-verified adverts reach the guard, so only key holders add). */
  constructor(limit = 4096) {
    this.#limit = limit;
  }

  /** accept records `counter` from `sender` for `router` and says whether it is fresh. */
  accept(router: string, sender: string, counter: bigint): boolean {
    const key = `${router}|${sender}`;
    const last = this.#last.get(key);
    if (last !== undefined && counter <= last) return false;
    if (last === undefined && this.#last.size >= this.#limit) this.#last.clear();
    this.#last.set(key, counter);
    return true;
  }

  /** forget drops what is known of a router (it stopped running here). */
  forget(router: string): void {
    for (const key of this.#last.keys()) if (key.startsWith(`${router}|`)) this.#last.delete(key);
  }
}

/**
 * nextCounter is a sender's next counter: wall-clock microseconds, or one more than the last when the clock has not
 * moved on (or stepped back), so counters strictly increase.
 */
export function nextCounter(last: bigint, wallMs: number): bigint {
  const now = BigInt(Math.floor(wallMs * 1000));
  return now > last ? now : last + 1n;
}
