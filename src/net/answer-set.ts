/**
 * AnswerSet turns "the VIPs mastered here now" (the speaker's `answering` hook hears the whole list after every change)
 * into the few additions and removals the native responder's table needs, so a burst of a hundred takeovers costs a
 * hundred small updates, not a hundred copies of the table. Pure: no socket, no addon.
 */

/** AnswerChange is what to add to and remove from the table, as canonical text, each family of `families` only. */
export interface AnswerChange {
  readonly adds: readonly string[];
  readonly removes: readonly string[];
}

/** AnswerFamilies picks the addresses one responder answers for: IPv4 (ARP) and / or IPv6 (NDP). */
export interface AnswerFamilies {
  readonly ipv4: boolean;
  readonly ipv6: boolean;
}

export class AnswerSet {
  readonly #families: AnswerFamilies;
  #current = new Set<string>(); // VIPs in the table now

  constructor(families: AnswerFamilies) {
    this.#families = families;
  }

  /** apply records `vips` as the new whole set (other families ignored) and returns how it differs from the last. */
  apply(vips: readonly string[]): AnswerChange {
    const next = new Set<string>();
    for (const vip of vips) if (vip.includes(':') ? this.#families.ipv6 : this.#families.ipv4) next.add(vip);
    const adds: string[] = [];
    const removes: string[] = [];
    for (const vip of next) if (!this.#current.has(vip)) adds.push(vip);
    for (const vip of this.#current) if (!next.has(vip)) removes.push(vip);
    this.#current = next;
    return { adds, removes };
  }

  /** has says whether `vip` is answered for now. */
  has(vip: string): boolean {
    return this.#current.has(vip);
  }

  /** size is the number of VIPs answered for now. */
  get size(): number {
    return this.#current.size;
  }
}
