/**
 * VipTable records which VIPs this node masters: the set the ARP and NDP responders consult for every request.
 * A VIP belongs to exactly one router; it is answered for while that router is master, and from the moment the
 * router leaves master it is not (RFC 5798 §6.4.3: a master that becomes backup stops answering at once).
 */

import type { RouterKey, RouterSpec } from '../router-spec.ts';

export class VipTable {
  // router key -> its VIPs
  readonly #vipsOf = new Map<RouterKey, readonly string[]>();
  // VIP -> router key, for the VIPs currently mastered here
  readonly #mastered = new Map<string, RouterKey>();

  constructor(routers: readonly Pick<RouterSpec, 'key' | 'vips'>[]) {
    for (const r of routers) this.#vipsOf.set(r.key, r.vips);
  }

  /** setRouter records (or replaces) the VIPs of router `key`; mastership is set apart with setMaster. */
  setRouter(key: RouterKey, vips: readonly string[]): void {
    this.#vipsOf.set(key, vips);
  }

  /** removeRouter forgets router `key`: its VIPs stop being answered for at once. */
  removeRouter(key: RouterKey): void {
    this.setMaster(key, false);
    this.#vipsOf.delete(key);
  }

  /** setMaster marks every VIP of `key` as mastered (true) or not (false); returns the VIPs concerned. */
  setMaster(key: RouterKey, master: boolean): readonly string[] {
    const vips = this.#vipsOf.get(key) ?? [];
    for (const vip of vips) {
      if (master) this.#mastered.set(vip, key);
      else if (this.#mastered.get(vip) === key) this.#mastered.delete(vip);
    }
    return vips;
  }

  /** isMastered says whether `ip` (canonical text) is a VIP of a router this node masters. */
  isMastered(ip: string): boolean {
    return this.#mastered.has(ip);
  }

  /** mastered lists the VIPs mastered here, for status output. */
  mastered(): string[] {
    return [...this.#mastered.keys()];
  }
}
