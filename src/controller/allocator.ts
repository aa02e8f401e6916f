/**
 * The address allocator: MetalLB's in-memory bookkeeper, one step further — it sees no Kubernetes types at all, only
 * opaque service keys ("ns/name") and plain AllocationRequests, and never calls anything. It decides which addresses
 * (and which VRRP virtual router ids) a Service holds; the reconciler writes the outcome to the API.
 */
import type { Family } from '../../vrrp/advert.ts';
import { formatIp, type IpAddress, parseIp } from '../../vrrp/ip.ts';
import { type CodedError, codedError } from '../errors.ts';
import { firstUsable, type IpRange, isBuggy, rangeContains, toSafeNumber } from '../model/ip-range.ts';
import type { Pool } from '../model/pool.ts';
import {
  type AllocationRequest,
  admits,
  autoPools,
  comparePriority,
  type Wanted,
  wantedFor,
} from '../model/request.ts';
import {
  type Assignment,
  type AssignResult,
  byText,
  type Claim,
  capacityOf,
  claimOf,
  type Holding,
  holdingPool,
  type IpState,
  type Orphan,
  type PoolUsage,
  sharingError,
  toAssignment,
} from './holding.ts';
import { VridAllocator } from './vrid-allocator.ts';

export type { AllocationRequest, IpFamilyPolicy, ServicePort } from '../model/request.ts';
export type { Assignment, AssignResult, Orphan, PoolUsage } from './holding.ts';

type Pick = { readonly addrs: readonly IpAddress[] } | { readonly error: CodedError };

const fail = (error: CodedError): AssignResult => ({ ok: false, error });

/** AssignOptions: keepOnFailure puts a holding that no longer fits back when no new allocation succeeds. */
export interface AssignOptions {
  readonly keepOnFailure?: boolean;
}

/** Allocator tracks pools and assignments. All methods are synchronous and deterministic. */
export class Allocator {
  private pools: readonly Pool[] = []; // by name
  private byName = new Map<string, Pool>();
  private byPriority: readonly Pool[] = [];
  private capacity = new Map<string, Record<Family, bigint>>(); // pool -> usable addresses per family
  private readonly inPool = new Map<string, Record<Family, number>>(); // pool -> addresses in use per family
  private readonly held = new Map<string, Holding>(); // service key -> holding
  private readonly ips: Record<Family, Map<bigint, IpState>> = { ipv4: new Map(), ipv6: new Map() };
  // range -> every address of the range below this one is in use (or avoided): where a non-sharing scan starts.
  private readonly hints = new Map<IpRange, bigint>();
  private readonly vrids = new VridAllocator();

  /**
   * setPools replaces the pools. Assignments are kept and re-homed to whichever pool now holds their addresses;
   * those no pool justifies any more are returned as orphans (MetalLB unassigns them, and the Service gets a new
   * address on its next sync: an address change the user did not ask for. Keeping them lets the reconciler report
   * first and decide). Orphaned addresses stay reserved, so nobody else is given them meanwhile.
   */
  setPools(pools: readonly Pool[]): readonly Orphan[] {
    this.pools = [...pools].sort((a, b) => byText(a.name, b.name));
    this.byName = new Map(this.pools.map((p) => [p.name, p]));
    this.byPriority = [...this.pools].sort(comparePriority);
    this.capacity = new Map(this.pools.map((p) => [p.name, capacityOf(p)]));
    this.hints.clear();
    this.inPool.clear();
    for (const family of ['ipv4', 'ipv6'] as const) {
      for (const s of this.ips[family].values()) {
        s.pool = this.poolOf(s);
        this.count(s, 1);
      }
    }
    return this.orphaned();
  }

  /**
   * assign gives `key` addresses for `request`, or says why not. A key that already holds addresses which still fit
   * the request keeps them (ports and sharing key are updated in place when the sharing partners allow). If they no
   * longer fit (pool annotation or requested addresses changed, pool gone or no longer admitting, sharing now
   * clashes, a family the pools cannot serve) the old holding is dropped and a new allocation tried; if that fails
   * the Service holds nothing, as in MetalLB (its convergeBalancer clears the state, then allocates). With
   * `keepOnFailure` the old holding is put back instead: an explicit choice, see the controller's
   * --keep-address-on-failure flag.
   */
  assign(key: string, request: AllocationRequest, opts: AssignOptions = {}): AssignResult {
    const old = this.held.get(key);
    const prior = old && this.snapshot(key, old);
    const w = wantedFor(request);
    if ('error' in w) {
      if (!opts.keepOnFailure) this.release(key);
      return fail(w.error);
    }
    const claim = claimOf(key, request);
    if (old && this.fits(old, request, w.wanted) && sharingError(claim, old.states) === undefined) {
      this.updateInPlace(old, request, claim);
      this.widen(key, old, w.wanted, claim);
      return this.result(key);
    }
    this.release(key);
    const pick = this.pick(request, w.wanted, claim);
    const err = 'error' in pick ? pick.error : this.commit(claim, request, pick.addrs, []);
    if (err === undefined) return this.result(key);
    if (prior && opts.keepOnFailure) this.commit(prior.claim, prior.request, prior.addrs, prior.vrids);
    return fail(err);
  }

  /** requestOf is the request `key` was last assigned for, if it holds anything. */
  requestOf(key: string): AllocationRequest | undefined {
    return this.held.get(key)?.request;
  }

  /**
   * restore records an assignment found in Service status at startup, with the VRIDs recorded beside it when known.
   * It never moves anything: the addresses must lie in one pool that admits the Service and be shareable with what
   * was restored before; otherwise it fails with the reason, and the reconciler decides (report, then reassign).
   * Whether the addresses still match the Service's wishes is assign's business, called after.
   */
  restore(
    key: string,
    ips: readonly string[],
    request: AllocationRequest,
    recordedVrids: readonly number[] = [],
  ): AssignResult {
    const addrs: IpAddress[] = [];
    for (const text of ips) {
      const ip = parseIp(text.trim());
      if (!ip) return fail(codedError('INVALID_SERVICE', `status address "${text}" is not an IP`));
      if (addrs.some((a) => a.family === ip.family))
        return fail(codedError('FAMILY_MISMATCH', `two ${ip.family} in status`));
      addrs.push(ip);
    }
    if (addrs.length === 0) return fail(codedError('INVALID_SERVICE', 'no address to restore'));
    const texts = addrs.map((a) => formatIp(a.family, a.value));
    const old = this.held.get(key);
    if (old) {
      const same = old.states.length === texts.length && old.states.every((s) => texts.includes(s.text));
      if (same) return this.result(key);
      const had = old.states.map((s) => s.text).join(', ');
      return fail(codedError('RESTORE_CONFLICT', `${key} holds ${had}, status says ${texts.join(', ')}`));
    }
    const claim = claimOf(key, request);
    const err =
      this.checkRequested(addrs, request, undefined, claim) ?? this.commit(claim, request, addrs, recordedVrids);
    return err === undefined ? this.result(key) : fail(err);
  }

  /** release frees whatever `key` holds; the addresses return to their pool when their last user goes. */
  release(key: string): boolean {
    const h = this.held.get(key);
    if (!h) return false;
    this.held.delete(key);
    for (const s of h.states) {
      s.users.delete(key);
      for (const p of h.ports) if (s.ports.get(p) === key) s.ports.delete(p);
      if (s.users.size > 0) continue;
      this.ips[s.family].delete(s.value);
      this.count(s, -1);
      this.vrids.release(s.family, s.text);
      this.lowerHint(s);
    }
    return true;
  }

  /** usage reports a pool's counters, or undefined for a pool the allocator does not know. */
  usage(pool: string): PoolUsage | undefined {
    const cap = this.capacity.get(pool);
    if (!cap) return undefined;
    const used = this.inPool.get(pool) ?? { ipv4: 0, ipv6: 0 };
    return {
      assignedV4: used.ipv4,
      assignedV6: used.ipv6,
      availableV4: toSafeNumber(cap.ipv4 - BigInt(used.ipv4)),
      availableV6: toSafeNumber(cap.ipv6 - BigInt(used.ipv6)),
    };
  }

  /** get returns what `key` holds, if anything. */
  get(key: string): Assignment | undefined {
    const h = this.held.get(key);
    return h && toAssignment(key, h);
  }

  /** assignments lists every holding, sorted by key. */
  assignments(): readonly Assignment[] {
    return [...this.held.keys()].sort(byText).map((k) => toAssignment(k, this.held.get(k) as Holding));
  }

  /** orphaned lists the holdings the current pools do not justify, sorted by key. */
  orphaned(): readonly Orphan[] {
    const out: Orphan[] = [];
    for (const a of this.assignments()) {
      const pool = a.pool === null ? undefined : this.byName.get(a.pool);
      const req = (this.held.get(a.key) as Holding).request;
      if (!pool) out.push({ ...a, reason: codedError('IP_NOT_IN_POOL', `${a.ips.join(', ')} of ${a.key}`) });
      else if (!admits(pool, req))
        out.push({ ...a, reason: codedError('POOL_NOT_ALLOWED', `${a.key} in ${pool.name}`) });
    }
    return out;
  }

  /** fits says whether a holding still satisfies a request, so that keeping it is right. */
  private fits(h: Holding, req: AllocationRequest, w: Wanted): boolean {
    const pool = holdingPool(h);
    const p = pool === null ? undefined : this.byName.get(pool);
    if (!p || !admits(p, req)) return false;
    if (req.pool !== undefined && req.pool !== pool) return false;
    if (w.requested.length > 0) {
      if (w.requested.length !== h.states.length || !h.states.every((s) => w.requested.includes(s.text))) return false;
    }
    if (!h.states.every((s) => w.families.includes(s.family))) return false;
    return !w.all || w.families.every((f) => h.states.some((s) => s.family === f));
  }

  /** updateInPlace moves a holding to a new request's ports and keys without touching its addresses or VRIDs. */
  private updateInPlace(h: Holding, req: AllocationRequest, claim: Claim): void {
    for (const s of h.states) {
      for (const p of h.ports) if (s.ports.get(p) === claim.key) s.ports.delete(p);
      for (const p of claim.ports) s.ports.set(p, claim.key);
      if (s.users.size === 1) {
        s.sharing = claim.sharing;
        s.backend = claim.backend;
      }
    }
    Object.assign(h, { request: req, sharing: claim.sharing, backend: claim.backend, ports: claim.ports });
  }

  /** widen adds the missing family to a PreferDualStack holding when its pool now has one (MetalLB does the same). */
  private widen(key: string, h: Holding, w: Wanted, claim: Claim): void {
    if (w.all || w.requested.length > 0 || h.states.length !== 1 || w.families.length !== 2) return;
    const have = h.states[0] as IpState;
    const pool = this.byName.get(have.pool ?? '');
    const missing = w.families.find((f) => f !== have.family) as Family;
    const v = pool && this.freeIn(pool, missing, claim);
    if (v === undefined) return;
    const prior = this.snapshot(key, h);
    this.release(key);
    const both = [...prior.addrs, { family: missing, value: v }];
    const order = both.sort((a, b) => w.families.indexOf(a.family) - w.families.indexOf(b.family));
    const vrids = order.map((a) => (a.family === have.family ? have.vrid : 0));
    if (this.commit(claim, h.request, order, vrids) !== undefined) {
      this.commit(prior.claim, prior.request, prior.addrs, prior.vrids);
    }
  }

  /** pick chooses addresses for a fresh allocation: requested ones, else from the named pool, else by auto-assign. */
  private pick(req: AllocationRequest, w: Wanted, claim: Claim): Pick {
    if (req.pool !== undefined && !this.byName.has(req.pool)) return { error: codedError('UNKNOWN_POOL', req.pool) };
    if (w.requested.length > 0) {
      const addrs = w.requested.map((t) => parseIp(t) as IpAddress);
      const err = this.checkRequested(addrs, req, req.pool, claim);
      return err ? { error: err } : { addrs };
    }
    if (req.pool !== undefined) {
      const p = this.byName.get(req.pool) as Pool;
      if (!admits(p, req)) return { error: codedError('POOL_NOT_ALLOWED', `${claim.key} in ${p.name}`) };
      return this.fromPools([p], w, claim);
    }
    const pools = autoPools(this.byPriority, req);
    if (pools.length === 0) {
      return { error: codedError('NO_ELIGIBLE_POOL', `no autoAssign pool admits ${claim.key}`) };
    }
    return this.fromPools(pools, w, claim);
  }

  /** checkRequested validates explicit addresses: one pool holds them all, admits the request, and sharing fits. */
  private checkRequested(addrs: readonly IpAddress[], req: AllocationRequest, want: string | undefined, claim: Claim) {
    const texts = addrs.map((a) => formatIp(a.family, a.value));
    const pools = addrs.map((a) => this.poolOf(a));
    const lost = texts.filter((_, i) => pools[i] === null);
    if (lost.length > 0) return codedError('IP_NOT_IN_POOL', `${lost.join(', ')} (buggy .0/.255 count as outside)`);
    const pool = pools[0] as string;
    if (pools.some((p) => p !== pool))
      return codedError('IP_NOT_IN_POOL', `${texts.join(', ')} are in different pools`);
    if (want !== undefined && want !== pool)
      return codedError('IP_NOT_IN_POOL', `${texts.join(', ')} not in pool ${want}`);
    if (!admits(this.byName.get(pool) as Pool, req)) return codedError('POOL_NOT_ALLOWED', `${claim.key} in ${pool}`);
    const states = addrs.flatMap((a) => this.ips[a.family].get(a.value) ?? []);
    return sharingError(claim, states);
  }

  /**
   * fromPools takes addresses from the first pool, in order, that serves every wanted family. PreferDualStack settles,
   * failing that, for the first pool with the primary family, then the first with the secondary (MetalLB's
   * findBestPoolForService). NO_ELIGIBLE_POOL when no pool has the families at all, else POOL_EXHAUSTED.
   */
  private fromPools(pools: readonly Pool[], w: Wanted, claim: Claim): Pick {
    let fallback: IpAddress[] | undefined;
    let fallbackRank = Number.POSITIVE_INFINITY;
    let couldServe = false;
    for (const p of pools) {
      const has = w.families.filter((f) => p.ranges.some((r) => r.family === f));
      couldServe ||= w.all ? has.length === w.families.length : has.length > 0;
      const found: IpAddress[] = [];
      for (const family of has) {
        const value = this.freeIn(p, family, claim);
        if (value !== undefined) found.push({ family, value });
      }
      if (found.length === w.families.length) return { addrs: found };
      if (!w.all && found.length > 0) {
        const first = found[0] as IpAddress;
        const rank = w.families.indexOf(first.family);
        if (rank < fallbackRank) [fallback, fallbackRank] = [[first], rank];
      }
    }
    if (fallback) return { addrs: fallback };
    const names = pools.map((p) => p.name).join(', ');
    if (!couldServe) return { error: codedError('NO_ELIGIBLE_POOL', `none of ${names} has ${w.families.join('+')}`) };
    return { error: codedError('POOL_EXHAUSTED', names) };
  }

  /** freeIn finds the first usable address of a family in a pool for this claim (O(used), see firstUsable). */
  private freeIn(pool: Pool, family: Family, claim: Claim): bigint | undefined {
    const map = this.ips[family];
    const shares = claim.sharing !== '';
    for (const r of pool.ranges) {
      if (r.family !== family) continue;
      const from = shares ? r.first : (this.hints.get(r) ?? r.first);
      const v = firstUsable(
        r,
        pool.avoidBuggyIPs,
        (x) => map.has(x),
        (x) => shares && sharingError(claim, [map.get(x) as IpState]) === undefined,
        from,
      );
      if (!shares) this.hints.set(r, v ?? r.last + 1n);
      if (v !== undefined) return v;
    }
    return undefined;
  }

  /**
   * commit records a holding. VRIDs for addresses new to the allocator are acquired first (recorded ones preferred),
   * so a VRID failure leaves no trace. Callers have checked sharing.
   */
  private commit(claim: Claim, req: AllocationRequest, addrs: readonly IpAddress[], recorded: readonly number[]) {
    const fresh: IpState[] = [];
    for (const [i, a] of addrs.entries()) {
      if (this.ips[a.family].has(a.value)) continue;
      const text = formatIp(a.family, a.value);
      const pool = this.poolOf(a);
      const range = (pool !== null && this.byName.get(pool)?.vridRange) || { lo: 1, hi: 255 };
      const got = this.vrids.acquire(a.family, text, range, recorded[i]);
      if (!got.ok) {
        for (const s of fresh) this.vrids.release(s.family, s.text);
        return got.error;
      }
      const { sharing, backend } = claim;
      fresh.push({ ...a, text, pool, sharing, backend, users: new Set(), ports: new Map(), vrid: got.vrid });
    }
    for (const s of fresh) {
      this.ips[s.family].set(s.value, s);
      this.count(s, 1);
    }
    const states = addrs.map((a) => this.ips[a.family].get(a.value) as IpState);
    for (const s of states) {
      s.users.add(claim.key);
      for (const p of claim.ports) s.ports.set(p, claim.key);
    }
    this.held.set(claim.key, {
      states,
      request: req,
      sharing: claim.sharing,
      backend: claim.backend,
      ports: claim.ports,
    });
    return undefined;
  }

  /** snapshot captures a holding so it can be re-committed exactly (same addresses, same VRIDs) after a failed move. */
  private snapshot(key: string, h: Holding) {
    return {
      claim: { key, sharing: h.sharing, backend: h.backend, ports: h.ports },
      request: h.request,
      addrs: h.states.map((s) => ({ family: s.family, value: s.value })),
      vrids: h.states.map((s) => s.vrid),
    };
  }

  /** result reports what `key` holds as a successful AssignResult. */
  private result(key: string): AssignResult {
    const h = this.held.get(key) as Holding;
    const a = toAssignment(key, h);
    return { ok: true, ips: a.ips, pool: a.pool ?? '', vrids: a.vrids };
  }

  /** poolOf finds the pool owning an address; an avoided .0/.255 is outside its pool, as in MetalLB's poolFor. */
  private poolOf(ip: IpAddress): string | null {
    for (const p of this.pools) {
      if (p.avoidBuggyIPs && isBuggy(ip.family, ip.value)) continue;
      if (p.ranges.some((r) => rangeContains(r, ip))) return p.name;
    }
    return null;
  }

  /** count adjusts a pool's in-use counter for an address entering (+1) or leaving (-1). */
  private count(s: IpState, delta: 1 | -1): void {
    if (s.pool === null) return;
    const c = this.inPool.get(s.pool) ?? { ipv4: 0, ipv6: 0 };
    c[s.family] += delta;
    this.inPool.set(s.pool, c);
  }

  /** lowerHint keeps the watermark invariant when an address below it becomes free. */
  private lowerHint(s: IpState): void {
    const pool = s.pool === null ? undefined : this.byName.get(s.pool);
    for (const r of pool?.ranges ?? []) {
      const h = this.hints.get(r);
      if (h !== undefined && h > s.value && rangeContains(r, s)) this.hints.set(r, s.value);
    }
  }
}
