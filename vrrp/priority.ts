/**
 * Per-VIP node priorities by rendezvous (highest-random-weight) hashing.
 *
 * Every node scores every virtual router with a hash of (router key, node name); the best score gets the best priority.
 * Each router therefore has its own node order, routers spread evenly over nodes, and removing a node changes only the
 * routers it led (the others keep their order), which is what makes VRRP failover move only a dead node's VIPs.
 * Priorities are distinct, so the election never falls back to the address tie-break (RFC 9568 §6.4.3), and they
 * stay in the backup range 1..254 (§5.2.4). The hash is our own, fixed forever: every speaker must compute the same
 * order, whatever its process, platform or version.
 */

import { PRIORITY_MAX, PRIORITY_MIN } from './router-config.ts';

/** PRIORITY_ERRORS lists the codes nodePriorities may return. */
export const PRIORITY_ERRORS = [
  'INVALID_NODE', // a node name is empty or not a string
  'DUPLICATE_NODE', // the same node name appears twice
  'PINNED_OUT_OF_RANGE', // a pinned priority is not an integer in 1..254
  'PINNED_CONFLICT', // two nodes are pinned to the same priority
  'TOO_MANY_NODES', // more nodes than distinct priorities left
] as const;

/** PriorityErrorCode is one of PRIORITY_ERRORS. */
export type PriorityErrorCode = (typeof PRIORITY_ERRORS)[number];

/** PriorityError names what is wrong with the input. */
export interface PriorityError {
  readonly code: PriorityErrorCode;
  readonly message: string;
}

/** PriorityResult maps node → priority (best first), or the first error found. */
export type PriorityResult = { readonly priorities: ReadonlyMap<string, number> } | { readonly error: PriorityError };

const utf8 = new TextEncoder();

/** fmix32 is MurmurHash3's finalizer: every input bit flips each output bit with probability ≈ 1/2. */
function fmix32(h: number): number {
  let x = h;
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

/**
 * hrwScore is the rendezvous weight of `node` for `routerKey`: a 53-bit integer (exact in a double). Two 32-bit lanes
 * run over the UTF-8 bytes — FNV-1a and a second multiply-xor lane with another multiplier — then are crossed and
 * finished with fmix32. The key is length-prefixed so ("ab", "c") and ("a", "bc") hash differently.
 */
export function hrwScore(routerKey: string, node: string): number {
  const bytes = utf8.encode(`${routerKey.length}:${routerKey}:${node}`);
  let a = 0x811c9dc5; // FNV-1a offset basis
  let b = 0x6a09e667; // second lane: fractional bits of √2
  for (const x of bytes) {
    a = Math.imul(a ^ x, 0x01000193); // FNV prime
    b = Math.imul(b ^ x, 0x5bd1e995); // MurmurHash2 multiplier
  }
  const hi = fmix32(a ^ Math.imul(b, 0x9e3779b1));
  const lo = fmix32(b ^ hi);
  return (hi >>> 11) * 2 ** 32 + lo;
}

/** rankNodes orders nodes best first for `routerKey`: highest score, ties (astronomically rare) by name. */
export function rankNodes(routerKey: string, nodes: readonly string[]): string[] {
  const scored = nodes.map((node) => ({ node, score: hrwScore(routerKey, node) }));
  scored.sort((x, y) => y.score - x.score || (x.node < y.node ? -1 : x.node > y.node ? 1 : 0));
  return scored.map((s) => s.node);
}

function fail(code: PriorityErrorCode, message: string): PriorityResult {
  return { error: { code, message } };
}

/**
 * nodePriorities gives each node a distinct priority for one virtual router: the HRW order mapped onto 254, 253, …
 * Pinned nodes keep their pinned priority, and no other node receives a pinned value, whether or not the pinned node
 * is present, so a pinned node leaving does not renumber the others. Pins for absent nodes are otherwise ignored.
 */
export function nodePriorities(
  routerKey: string,
  nodes: readonly string[],
  pinned: ReadonlyMap<string, number> = new Map(),
): PriorityResult {
  const seen = new Set<string>();
  for (const node of nodes) {
    if (typeof node !== 'string' || node === '') return fail('INVALID_NODE', `node name ${JSON.stringify(node)}`);
    if (seen.has(node)) return fail('DUPLICATE_NODE', `node ${node} is listed twice`);
    seen.add(node);
  }
  const limit = PRIORITY_MAX - PRIORITY_MIN + 1;
  if (nodes.length > limit) return fail('TOO_MANY_NODES', `${nodes.length} nodes, at most ${limit} priorities`);
  // priority -> pinned node
  const taken = new Map<number, string>();
  for (const [node, priority] of pinned) {
    if (!Number.isInteger(priority) || priority < PRIORITY_MIN || priority > PRIORITY_MAX) {
      return fail('PINNED_OUT_OF_RANGE', `node ${node} pinned to ${priority}, want ${PRIORITY_MIN}..${PRIORITY_MAX}`);
    }
    const other = taken.get(priority);
    if (other !== undefined)
      return fail('PINNED_CONFLICT', `nodes ${other} and ${node} are both pinned to ${priority}`);
    taken.set(priority, node);
  }
  const free: number[] = [];
  for (let p = PRIORITY_MAX; p >= PRIORITY_MIN; p--) if (!taken.has(p)) free.push(p);
  const unpinned = nodes.filter((n) => !pinned.has(n));
  if (unpinned.length > free.length) {
    return fail('TOO_MANY_NODES', `${unpinned.length} unpinned nodes, ${free.length} priorities left after pins`);
  }
  const out = new Map<string, number>();
  rankNodes(routerKey, unpinned).forEach((node, i) => {
    out.set(node, free[i]!);
  });
  for (const node of nodes) {
    const p = pinned.get(node);
    if (p !== undefined) out.set(node, p);
  }
  const sorted = [...out].sort((x, y) => y[1] - x[1]);
  return { priorities: new Map(sorted) };
}
