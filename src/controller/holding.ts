/**
 * The allocator's records and the rules over them that need no allocator state: who holds which address, MetalLB's
 * sharing rules (checkSharing/sharingOK), and the public shapes of results. Split from allocator.ts to keep the class
 * about choosing addresses.
 */
import type { Family } from '../../vrrp/advert.ts';
import { type CodedError, codedError } from '../errors.ts';
import { usableCount } from '../model/ip-range.ts';
import type { Pool } from '../model/pool.ts';
import { type AllocationRequest, backendKey, portKey } from '../model/request.ts';

/** AssignResult is the outcome of assign/restore: the addresses (primary family first), their pool and VRIDs. */
export type AssignResult =
  | {
      readonly ok: true;
      readonly ips: readonly string[];
      readonly pool: string;
      /** vrids[i] is the virtual router id of ips[i], in that address's family. */
      readonly vrids: readonly number[];
    }
  | { readonly ok: false; readonly error: CodedError };

/** Assignment is one Service's holding; `pool` is null when no single valid pool owns its addresses any more. */
export interface Assignment {
  readonly key: string;
  readonly ips: readonly string[];
  readonly pool: string | null;
  readonly vrids: readonly number[];
}

/** Orphan is an assignment the current pools no longer justify; the reconciler decides whether to move it. */
export interface Orphan extends Assignment {
  /** reason: IP_NOT_IN_POOL (address left every pool, or its addresses are split) or POOL_NOT_ALLOWED. */
  readonly reason: CodedError;
}

/**
 * PoolUsage counts addresses of one pool, as in IPAddressPool status. Numbers, not BigInt: status is JSON and metrics
 * are floats; counts past 2^53-1 (any IPv6 prefix of /75 or larger) saturate there, as MetalLB saturates at MaxInt64.
 */
export interface PoolUsage {
  readonly assignedV4: number;
  readonly assignedV6: number;
  readonly availableV4: number;
  readonly availableV6: number;
}

/** IpState is one address in use and who uses it; every user shares the same sharing and backend keys. */
export interface IpState {
  readonly family: Family;
  readonly value: bigint;
  readonly text: string;
  pool: string | null;
  sharing: string;
  backend: string;
  readonly users: Set<string>;
  readonly ports: Map<string, string>; // port key -> service key
  readonly vrid: number;
}

/** Holding is what one service key holds. */
export interface Holding {
  readonly states: readonly IpState[];
  request: AllocationRequest;
  sharing: string;
  backend: string;
  ports: readonly string[];
}

/** Claim is the sharing identity of a request, computed once per call. */
export interface Claim {
  readonly key: string;
  readonly sharing: string;
  readonly backend: string;
  readonly ports: readonly string[];
}

/** byText orders strings by code unit, the same on every machine (no locale). */
export const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** sharingError says why `claim` may not use these addresses alongside their other users (MetalLB's checkSharing). */
export function sharingError(claim: Claim, states: readonly IpState[]): CodedError | undefined {
  for (const s of states) {
    const others = [...s.users].filter((u) => u !== claim.key).sort(byText);
    if (others.length === 0) continue;
    const who = `${s.text} (used by ${others.join(', ')})`;
    if (s.sharing === '') return codedError('IP_IN_USE', `${who}, which does not allow sharing`);
    if (claim.sharing === '') return codedError('IP_IN_USE', `${who}; ${claim.key} sets no allow-shared-ip`);
    if (s.sharing !== claim.sharing) {
      return codedError('SHARING_KEY_CONFLICT', `${who} shares as "${s.sharing}", ${claim.key} as "${claim.sharing}"`);
    }
    if (s.backend !== claim.backend) {
      return codedError('SHARING_BACKEND_CONFLICT', `${who} has ${s.backend}, ${claim.key} has ${claim.backend}`);
    }
    for (const p of claim.ports) {
      const owner = s.ports.get(p);
      if (owner !== undefined && owner !== claim.key) return codedError('PORT_IN_USE', `${p} on ${s.text} by ${owner}`);
    }
  }
  return undefined;
}

/** claimOf computes a request's sharing identity. */
export function claimOf(key: string, req: AllocationRequest): Claim {
  const ports = [...new Set(req.ports.map(portKey))];
  return { key, sharing: req.sharingKey ?? '', backend: backendKey(req), ports };
}

/** capacityOf counts a pool's usable addresses per family. */
export function capacityOf(p: Pool): Record<Family, bigint> {
  const c = { ipv4: 0n, ipv6: 0n };
  for (const r of p.ranges) c[r.family] += usableCount(r, p.avoidBuggyIPs);
  return c;
}

/** toAssignment is the public view of a holding. */
export function toAssignment(key: string, h: Holding): Assignment {
  return { key, ips: h.states.map((s) => s.text), pool: holdingPool(h), vrids: h.states.map((s) => s.vrid) };
}

/** holdingPool is the pool of a holding: the one pool owning all its addresses, or null. */
export function holdingPool(h: Holding): string | null {
  const first = h.states[0]?.pool ?? null;
  return h.states.every((s) => s.pool === first) ? first : null;
}
