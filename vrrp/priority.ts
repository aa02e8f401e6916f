/**
 * Per-VIP node priorities: an order of the nodes per virtual router, mapped onto a ladder of priorities.
 *
 * The order: rendezvous (highest-random-weight) hashing scores every node for a router with a hash of (router key,
 * node name), best first. For many routers at once, placement.ts balances the orders over the nodes (routerPriorities
 * below); for one router alone the balanced order is its rendezvous order (nodePriorities). The hash is our own,
 * fixed forever: every speaker must compute the same order, whatever its process, platform or version.
 *
 * The ladder: priorities are distinct, so the election never falls back to the address tie-break (RFC 9568 §6.4.3),
 * and stay in the backup range 1..254 (§5.2.4). They are spaced so that the Skew_Times ((256 − priority) × interval
 * / 256, §6.1) of consecutive ranks differ by at least DEFAULT_SKEW_GAP_MS: with 254, 253, 252 at 100 ms the next two
 * backups fire 0.39 ms apart, closer than an advert travels between two busy speakers, and both become master. The
 * gap costs failover time: the rank-2 node waits (gap − 1) × interval / 256 longer, ≈ 3.9 ms at 100 ms (see
 * priorityLadder). With many nodes the top ranks keep the full gap and the deepest ranks fall back to steps of 1.
 */

import { balancedOrders } from './placement.ts';
import { rankNodes } from './rendezvous.ts';
import { PRIORITY_MAX, PRIORITY_MIN } from './router-config.ts';
import { centisecondsToMs, DEFAULT_ADVERT_INTERVAL_CS } from './timing.ts';

export { hrwScore, rankNodes } from './rendezvous.ts';

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

function fail(code: PriorityErrorCode, message: string): { readonly error: PriorityError } {
  return { error: { code, message } };
}

/** DEFAULT_SKEW_GAP_MS is the least Skew_Time difference between consecutive ranks that priorityLadder aims for. */
export const DEFAULT_SKEW_GAP_MS = 4;

/** LadderOptions: the router's Advertisement_Interval (default 10 cs) and the Skew_Time gap to aim for. */
export interface LadderOptions {
  readonly intervalCs?: number;
  readonly skewGapMs?: number;
}

/**
 * priorityStep is the priority difference that makes Skew_Times differ by `skewGapMs` at `intervalCs`:
 * ceil(gap × 256 / interval), at least 1. 11 at 100 ms (4.3 ms), 2 at 1 s (7.8 ms), 103 at 10 ms (4.0 ms).
 */
export function priorityStep(intervalCs: number, skewGapMs = DEFAULT_SKEW_GAP_MS): number {
  return Math.max(1, Math.ceil((skewGapMs * 256) / centisecondsToMs(intervalCs)));
}

/**
 * priorityLadder picks `count` priorities, best first, from `free` (distinct values, highest first; default
 * 254..1): consecutive ranks `priorityStep` apart while the values last, then 1 apart, so every rank fits and the
 * top ranks, which race on the first failure, keep the full gap. Undefined when `free` has fewer than `count` values.
 */
export function priorityLadder(
  count: number,
  options: LadderOptions = {},
  free: readonly number[] = DEFAULT_FREE,
): number[] | undefined {
  if (count > free.length) return undefined;
  if (count === 0) return [];
  const step = priorityStep(options.intervalCs ?? DEFAULT_ADVERT_INTERVAL_CS, options.skewGapMs);
  const spare = free.length - count; // index steps beyond 1 per gap that are left to spend
  const wide = step > 1 ? Math.min(count - 1, Math.floor(spare / (step - 1))) : count - 1;
  const out: number[] = [];
  let at = 0;
  for (let rank = 0; rank < count; rank++) {
    out.push(free[at]!);
    at += rank < wide ? step : 1;
  }
  return out;
}

const DEFAULT_FREE: readonly number[] = Array.from(
  { length: PRIORITY_MAX - PRIORITY_MIN + 1 },
  (_, i) => PRIORITY_MAX - i,
);

/** LadderInput is one router's nodes, pins and ladder options. */
interface LadderInput {
  readonly routerKey: string;
  readonly nodes: readonly string[];
  readonly pinned: ReadonlyMap<string, number>;
  readonly options: LadderOptions;
}

/** checkNodes validates the node list and the pins, and returns the free priorities (highest first) or an error. */
function checkNodes(input: LadderInput): { readonly free: number[] } | { readonly error: PriorityError } {
  const { nodes, pinned } = input;
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
  const free = DEFAULT_FREE.filter((p) => !taken.has(p));
  const unpinned = nodes.filter((n) => !pinned.has(n)).length;
  if (unpinned > free.length) {
    return fail('TOO_MANY_NODES', `${unpinned} unpinned nodes, ${free.length} priorities left after pins`);
  }
  return { free };
}

/**
 * ladderPriorities maps `order` (the router's nodes best first, pinned ones included or not) onto the ladder: pinned
 * nodes keep their pinned priority, the others take ladder values in order from the values no pin holds.
 */
function ladderPriorities(input: LadderInput, order: readonly string[], free: readonly number[]): PriorityResult {
  const { nodes, pinned } = input;
  const present = new Set(nodes);
  const unpinned = order.filter((n) => present.has(n) && !pinned.has(n));
  const ladder = priorityLadder(unpinned.length, input.options, free);
  if (ladder === undefined) return fail('TOO_MANY_NODES', `${unpinned.length} nodes, ${free.length} priorities left`);
  const out = new Map<string, number>();
  unpinned.forEach((node, i) => {
    out.set(node, ladder[i]!);
  });
  for (const node of nodes) {
    const p = pinned.get(node);
    if (p !== undefined) out.set(node, p);
  }
  const sorted = [...out].sort((x, y) => y[1] - x[1]);
  return { priorities: new Map(sorted) };
}

/**
 * nodePriorities gives each node a distinct priority for one virtual router: its rendezvous order mapped onto
 * priorityLadder (254 first). Pinned nodes keep their pinned priority, and no other node receives a pinned value,
 * whether or not the pinned node is present, so a pinned node leaving does not renumber the others. Pins for absent
 * nodes are otherwise ignored. For many routers at once, use routerPriorities, which balances them.
 */
export function nodePriorities(
  routerKey: string,
  nodes: readonly string[],
  pinned: ReadonlyMap<string, number> = new Map(),
  options: LadderOptions = {},
): PriorityResult {
  const input = { routerKey, nodes, pinned, options };
  const checked = checkNodes(input);
  if ('error' in checked) return checked;
  return ladderPriorities(input, rankNodes(routerKey, nodes), checked.free);
}

/** RouterPriorityInput is one router for routerPriorities. */
export interface RouterPriorityInput {
  readonly key: string;
  /** members: the stable node set the orders are balanced over (placement.ts), e.g. eligible nodes, ready or not. */
  readonly members: readonly string[];
  /** candidates: the members that run the router now and get a priority (default: all members). */
  readonly candidates?: readonly string[];
  readonly pinned?: ReadonlyMap<string, number>;
  /** weight: the router's share of a node's load, e.g. its VIP count (default 1). */
  readonly weight?: number;
  readonly intervalCs?: number;
  /**
   * placement: 'balanced' places the router with the others of its member set under bounded loads (placement.ts);
   * 'rendezvous' (the default) orders its members by rendezvous hashing alone, so adding or removing other routers
   * (Services) never changes its order.
   */
  readonly placement?: Placement;
  /**
   * preference: node -> score (L2Advertisement preferredNodeSelectors weights, summed). Members rank by score, highest
   * first; within one score the placement above orders them. A member absent from the map scores 0. The scores must
   * depend on the members' labels only (not on readiness), so a node loss still moves only the routers it led.
   */
  readonly preference?: ReadonlyMap<string, number>;
}

/** Placement is how a router's node order is chosen; see RouterPriorityInput. */
export type Placement = 'rendezvous' | 'balanced';

/** scoreOf is a node's preference score for one router (0 when it matches no preferred selector). */
const scoreOf = (r: RouterPriorityInput, node: string): number => r.preference?.get(node) ?? 0;

/**
 * preferredOrders orders every router's members: by preference score, highest first (MetalLB's preferredNodeSelectors:
 * score descending, its hash as the tie-break), and within one score by the router's placement over the members of
 * that score alone. Balanced routers are placed tier by tier: for each score, the routers having members of that
 * score are balanced together over those members (balancedOrders groups them by member set), so the preferred nodes
 * share the masterships of the routers that prefer them. Without preferences every member scores 0: one tier, the
 * orders of before.
 */
function preferredOrders(routers: readonly RouterPriorityInput[]): Map<string, string[]> {
  // score -> the routers' members of that score, for balancedOrders
  const tiers = new Map<number, { key: string; members: string[]; weight?: number }[]>();
  // router key -> its distinct scores, highest first
  const scoresOf = new Map<string, number[]>();
  for (const r of routers) {
    const byScore = new Map<number, string[]>();
    for (const node of r.members) {
      const s = scoreOf(r, node);
      byScore.set(s, [...(byScore.get(s) ?? []), node]);
    }
    scoresOf.set(
      r.key,
      [...byScore.keys()].sort((a, b) => b - a),
    );
    if (r.placement !== 'balanced') continue;
    for (const [s, members] of byScore) {
      const list = tiers.get(s) ?? [];
      list.push({ key: r.key, members, ...(r.weight === undefined ? {} : { weight: r.weight }) });
      tiers.set(s, list);
    }
  }
  // score -> router key -> order of its members of that score
  const placed = new Map<number, Map<string, string[]>>();
  for (const [s, list] of tiers) placed.set(s, balancedOrders(list));
  const out = new Map<string, string[]>();
  for (const r of routers) {
    const order: string[] = [];
    for (const s of scoresOf.get(r.key) ?? []) {
      const tier = r.members.filter((n) => scoreOf(r, n) === s);
      order.push(...(r.placement === 'balanced' ? (placed.get(s)?.get(r.key) ?? tier) : rankNodes(r.key, tier)));
    }
    out.set(r.key, order);
  }
  return out;
}

/**
 * routerPriorities gives every router its candidates' priorities: the balanced order over its members
 * (placement.ts's balancedOrders) mapped onto priorityLadder at the router's interval, each candidate keeping the
 * value of its rank among the members. So a member that is not a candidate now (down, drained) changes nobody's
 * priority: the next node of the order is already the best candidate, and no backup's Skew_Time shifts while it takes
 * over. With preferences, the order is by score first (preferredOrders). Candidates that are not members go last, in
 * rendezvous order. When the members outnumber the priorities, the
 * ladder runs over the candidates alone. Deterministic for the same input set.
 */
export function routerPriorities(
  routers: readonly RouterPriorityInput[],
  skewGapMs = DEFAULT_SKEW_GAP_MS,
): Map<string, PriorityResult> {
  const orders = preferredOrders(routers);
  const out = new Map<string, PriorityResult>();
  for (const r of routers) {
    const nodes = r.candidates ?? r.members;
    const input: LadderInput = {
      routerKey: r.key,
      nodes,
      pinned: r.pinned ?? new Map(),
      options: { skewGapMs, ...(r.intervalCs === undefined ? {} : { intervalCs: r.intervalCs }) },
    };
    const checked = checkNodes(input);
    if ('error' in checked) {
      out.set(r.key, checked);
      continue;
    }
    const order = orders.get(r.key) ?? [];
    const inOrder = new Set(order);
    const outsiders = rankNodes(
      r.key,
      nodes.filter((n) => !inOrder.has(n)),
    );
    const full = [...order, ...outsiders];
    const ranked = full.filter((n) => !input.pinned.has(n));
    const byMembers = ladderPriorities({ ...input, nodes: ranked }, full, checked.free);
    if ('error' in byMembers) {
      out.set(r.key, ladderPriorities(input, full, checked.free));
      continue;
    }
    const keep = new Set(nodes);
    const values = new Map<string, number>();
    for (const [node, p] of byMembers.priorities) if (keep.has(node)) values.set(node, p);
    for (const node of nodes) {
      const p = input.pinned.get(node);
      if (p !== undefined) values.set(node, p);
    }
    out.set(r.key, { priorities: new Map([...values].sort((x, y) => y[1] - x[1])) });
  }
  return out;
}
