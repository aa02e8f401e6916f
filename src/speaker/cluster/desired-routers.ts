/**
 * The virtual routers this node should run, from a cluster snapshot: a pure function every speaker evaluates on the
 * same data, so all of them agree on each router's members, priorities and tuning without talking to each other.
 *
 * 1. VIPs are grouped by (family, VRID), the VRID being what the controller recorded in `metal-vrrp.io/vrids`; the
 *    router key is `${family}/${vrid}` (stable for the router's life, and the rendezvous-hash key).
 * 2. A router's candidate nodes are the nodes eligible for all of its VIPs. Routers carry several VIPs only past 255
 *    VIPs per family; if their eligible sets share no node, the union is used and SPLIT_ELIGIBILITY is reported (one
 *    VRRP election cannot serve disjoint node sets). Past 254 candidates, pinned nodes and the 254 − pins best by
 *    rendezvous rank are kept, so priorities stay distinct in 1..254.
 * 3. Priorities come from routerPriorities for all routers at once: orders balanced over each router's members (the
 *    nodes that would be eligible if every node were Ready and none carried the exclude label, so a node going
 *    NotReady or drained moves only the VIPs it mastered, to their rank-2 nodes, and the others keep their
 *    priorities), on a ladder spaced for the pool's interval, with the pool's pins. Members matching the
 *    L2Advertisements' preferredNodeSelectors rank first, by score (model/preferred-nodes.ts: weights summed over the
 *    selectors and advertisements of the router's pools, MetalLB's rule); the order above ranks nodes of one score.
 *    Scores read labels only, so a node going NotReady still moves only its own VIPs. The tuning is the pool's (several pools on one router with different tunings: the first pool by
 *    name wins, TUNING_CONFLICT is reported).
 * 4. This node runs the router when it is a candidate and has an interface for it: within the L2Advertisement
 *    `interfaces` if they limit it, the interface whose subnet holds a VIP, else the default route's interface.
 * 5. Unicast pools send adverts to the other candidates' InternalIPs of the router's family.
 * 5b. Routers accept adverts only from Nodes' InternalIPs (candidateSources, see router-spec.ts and sourcesOf); IPv6
 *     adverts come from link-local addresses, tied to a candidate by their Ethernet source (runtime/receive-filter.ts).
 * 5c. A pool with `metal-vrrp.io/auth-secret` gets that Secret's keys (vrrp/auth.ts); without usable keys its routers
 *     do not run (AUTH_SECRET_INVALID), rather than run unauthenticated beside authenticated peers.
 *
 * 6. Each router is then planned once into a complete RouterSpec (router-spec.ts: the interface's advert source, the
 *    IPv6 virtual link-local, validated engine config); the runtime runs specs as they are.
 *
 * diffRouters turns desired vs running into steps: stop (the runtime delivers `shutdown`, so a master resigns with
 * priority 0 and the next node takes over after Skew_Time), restart (the interface moved), reconfigure (live, through
 * the engine's `configure` event), start.
 */

import type { Family } from '../../../vrrp/advert.ts';
import { inSubnet, parseIp } from '../../../vrrp/ip.ts';
import { rankNodes, routerPriorities } from '../../../vrrp/priority.ts';
import type { RouterConfigChanges } from '../../../vrrp/router-config.ts';
import { PRIORITY_MAX, PRIORITY_MIN } from '../../../vrrp/router-config.ts';
import { type CodedError, codedError, type ErrorCode } from '../../errors.ts';
import { type AuthKeys, sameAuthKeys } from '../../model/auth-secret.ts';
import {
  type ClusterSnapshot,
  EXCLUDE_LABEL,
  familyOf,
  type NodeView,
  type ServiceView,
  serviceKeyOf,
} from '../../model/cluster-snapshot.ts';
import { sameHealthTuning } from '../../model/health-checks.ts';
import type { LocalNode } from '../../model/local-node.ts';
import { type PoolTuning, sameGratuitous, tuningOf } from '../../model/pool-tuning.ts';
import { preferenceScores } from '../../model/preferred-nodes.ts';
import { parseServiceVrids } from '../../model/service-vrids.ts';
import {
  planRouterSpec,
  type RankedNode,
  type RouterKey,
  type RouterSpec,
  type RouterStep,
  routerKey,
} from '../router-spec.ts';

import { eligibleNodes } from './eligibility.ts';

export type { RankedNode, RouterKey, RouterSpec, RouterStep } from '../router-spec.ts';

/** RouterGroup is one virtual router as the whole cluster sees it (the same on every node). */
export interface RouterGroup {
  readonly key: RouterKey;
  readonly family: Family;
  readonly vrid: number;
  /** vips in address order, canonical text. */
  readonly vips: readonly string[];
  /** services: "namespace/name" of the Services whose VIPs the router carries, sorted. */
  readonly services: readonly string[];
  /** pools holding the VIPs, sorted; the tuning is the first's. */
  readonly pools: readonly string[];
  readonly tuning: PoolTuning;
  /**
   * ranking: candidates best first; ranking[0] is the expected master while it is alive. A node with a
   * preferredNodeSelectors score carries it as `preference`.
   */
  readonly ranking: readonly RankedNode[];
  /** interfaces: candidate -> interfaces the L2Advertisements limit it to ([] = no limit). */
  readonly interfaces: ReadonlyMap<string, readonly string[]>;
}

/** DecisionProblem is one finding for a log line, a metric and, where it names a Service or pool, an Event. */
export interface DecisionProblem {
  readonly error: CodedError;
  /** service: "namespace/name", when the problem is about one Service. */
  readonly service?: string;
  readonly key?: RouterKey;
  readonly vip?: string;
}

interface Member {
  readonly service: ServiceView;
  readonly vip: string;
}

const ipValue = (ip: string): bigint => parseIp(ip)?.value ?? 0n;
const byAddress = (a: string, b: string) => {
  const x = ipValue(a);
  const y = ipValue(b);
  return x < y ? -1 : x > y ? 1 : 0;
};
const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function problem(code: ErrorCode, detail: string, at: Omit<DecisionProblem, 'error'> = {}): DecisionProblem {
  return { error: codedError(code, detail), ...at };
}

/** sameTuning compares the fields a router runs with (the VRID range is the controller's concern). */
function sameTuning(a: PoolTuning, b: PoolTuning): boolean {
  if (a.pinnedPriorities.size !== b.pinnedPriorities.size) return false;
  for (const [n, p] of a.pinnedPriorities) if (b.pinnedPriorities.get(n) !== p) return false;
  return (
    a.advertIntervalCs === b.advertIntervalCs &&
    a.preempt === b.preempt &&
    a.preemptDelayMs === b.preemptDelayMs &&
    sameGratuitous(a.gratuitous, b.gratuitous) &&
    a.peers === b.peers &&
    a.authSecret === b.authSecret &&
    a.placement === b.placement &&
    sameHealthTuning(a.health, b.health)
  );
}

/**
 * limitCandidates keeps every pinned node and as many unpinned ones, highest preference score then best rendezvous
 * rank first, as there are priorities left after the pins (nodePriorities reserves a pinned value even when its node
 * is absent).
 */
function limitCandidates(
  key: string,
  nodes: readonly string[],
  pins: ReadonlyMap<string, number>,
  preference: ReadonlyMap<string, number>,
): string[] {
  const free = PRIORITY_MAX - PRIORITY_MIN + 1 - pins.size;
  const unpinned = nodes.filter((n) => !pins.has(n));
  if (unpinned.length <= free) return [...nodes];
  // Array.prototype.sort is stable: rendezvous order within one score.
  const best = rankNodes(key, unpinned).sort((a, b) => (preference.get(b) ?? 0) - (preference.get(a) ?? 0));
  const kept = new Set([...nodes.filter((n) => pins.has(n)), ...best.slice(0, free)]);
  return nodes.filter((n) => kept.has(n));
}

/** mergeInterfaces: [] (no limit) when any member is unlimited, else the union. */
function mergeInterfaces(lists: readonly (readonly string[] | undefined)[]): readonly string[] {
  if (lists.some((l) => l === undefined || l.length === 0)) return [];
  return [...new Set(lists.flatMap((l) => l ?? []))].sort(byText);
}

/** routerGroups computes every router of the cluster from the snapshot: the same answer on every node. */
export function routerGroups(snapshot: ClusterSnapshot): {
  readonly groups: readonly RouterGroup[];
  readonly problems: readonly DecisionProblem[];
} {
  const problems: DecisionProblem[] = [];
  // router key -> members
  const members = new Map<RouterKey, Member[]>();
  const services = [...snapshot.services].sort((a, b) => byText(serviceKeyOf(a), serviceKeyOf(b)));
  for (const service of services) {
    const svc = serviceKeyOf(service);
    const parsed =
      service.vridAnnotation === undefined
        ? { error: 'annotation not written yet' }
        : parseServiceVrids(service.vridAnnotation);
    if ('error' in parsed) {
      problems.push(problem('INVALID_VRID_ANNOTATION', `${svc}: ${parsed.error}`, { service: svc }));
      continue;
    }
    for (const vip of service.vips) {
      const vrid = parsed.vrids.get(vip);
      if (vrid === undefined) {
        problems.push(problem('INVALID_VRID_ANNOTATION', `${svc}: no VRID for ${vip}`, { service: svc, vip }));
        continue;
      }
      const key = routerKey(familyOf(vip), vrid);
      const list = members.get(key) ?? [];
      list.push({ service, vip });
      members.set(key, list);
    }
  }

  // Pass 1: each router's VIPs, pools, tuning, candidates (eligible now) and members (the stable set the balanced
  // ranking is computed over, so a node going NotReady or drained moves only its own VIPs).
  interface Pending {
    readonly key: RouterKey;
    readonly list: readonly Member[];
    readonly family: Family;
    readonly vrid: number;
    readonly eligibility: readonly ReturnType<typeof eligibleNodes>[];
    readonly pools: readonly string[];
    readonly tuning: PoolTuning;
    readonly candidates: readonly string[];
    readonly members: readonly string[];
    /** preference: member -> preferredNodeSelectors score, members scoring 0 left out. */
    readonly preference: ReadonlyMap<string, number>;
  }
  // Members: as eligible, but as if every node were Ready, with its network available and without the exclude label:
  // a node that goes down or is drained leaves the candidates, not the members, so only the VIPs it mastered move.
  const available = (n: NodeView): NodeView => {
    if (n.ready && !n.networkUnavailable && !Object.hasOwn(n.labels, EXCLUDE_LABEL)) return n;
    const { [EXCLUDE_LABEL]: _, ...labels } = n.labels;
    return { ...n, ready: true, networkUnavailable: false, labels };
  };
  const allReady = { ...snapshot, nodes: snapshot.nodes.map(available) };
  const pending: Pending[] = [];
  for (const key of [...members.keys()].sort(byText)) {
    const list = members.get(key)!;
    const family = familyOf(list[0]!.vip);
    const vrid = Number(key.slice(key.indexOf('/') + 1));
    const eligibility = list.map((m) => eligibleNodes(m.service, m.vip, snapshot));
    const pools = [...new Set(eligibility.flatMap((e) => (e.pool === undefined ? [] : [e.pool])))].sort(byText);
    const tunings = pools.map((p) => tuningOf(snapshot.tunings, p));
    const tuning = tunings[0] ?? tuningOf(snapshot.tunings, undefined);
    if (tunings.some((t) => !sameTuning(t, tuning))) {
      problems.push(problem('TUNING_CONFLICT', `${key}: pools ${pools.join(', ')}; using ${pools[0]}'s`, { key }));
    }
    let nodes = common(eligibility.map((e) => e.nodes));
    if (nodes.length === 0) {
      const union = [...new Set(eligibility.flatMap((e) => e.nodes))].sort(byText);
      if (union.length > 0) {
        problems.push(problem('SPLIT_ELIGIBILITY', `${key}: ${list.map((m) => m.vip).join(', ')}`, { key }));
        nodes = union;
      }
    }
    const possible = list.map((m) => eligibleNodes(m.service, m.vip, allReady).nodes);
    const shared = common(possible);
    const memberSet = [...new Set([...(shared.length > 0 ? shared : possible.flat()), ...nodes])].sort(byText);
    // The advertisements of the router's pools, each once; scored on the nodes' own labels (not `available`'s).
    const ads = snapshot.l2Advertisements.filter((a) => a.pools.some((p) => pools.includes(p)));
    const inMembers = new Set(memberSet);
    const preference = preferenceScores(
      ads,
      snapshot.nodes.filter((n) => inMembers.has(n.name)),
    );
    const candidates = limitCandidates(key, nodes, tuning.pinnedPriorities, preference);
    pending.push({ key, list, family, vrid, eligibility, pools, tuning, candidates, members: memberSet, preference });
  }

  // Pass 2: priorities for all routers at once, balanced over their members (vrrp/placement.ts).
  const ranked = routerPriorities(
    pending.map((p) => ({
      key: p.key,
      members: p.members,
      candidates: p.candidates,
      pinned: p.tuning.pinnedPriorities,
      weight: new Set(p.list.map((m) => m.vip)).size,
      intervalCs: p.tuning.advertIntervalCs,
      placement: p.tuning.placement,
      preference: p.preference,
    })),
  );
  const groups: RouterGroup[] = [];
  for (const { key, list, family, vrid, eligibility, pools, tuning, candidates, preference } of pending) {
    const result = ranked.get(key);
    // Pins are validated by parsePoolTuning, names deduplicated by eligibleNodes and candidates limited above, so
    // this should not fail; if it does, the router is left out and reported rather than run with wrong priorities.
    if (result === undefined || 'error' in result) {
      const why = result === undefined ? 'no result' : `${result.error.code}: ${result.error.message}`;
      problems.push(problem('PRIORITY_FAILED', `${key}: ${why}`, { key }));
      continue;
    }
    const interfaces = new Map<string, readonly string[]>();
    for (const node of candidates)
      interfaces.set(node, mergeInterfaces(eligibility.map((e) => e.interfaces.get(node))));
    groups.push(
      Object.freeze({
        key,
        family,
        vrid,
        vips: Object.freeze([...new Set(list.map((m) => m.vip))].sort(byAddress)),
        services: Object.freeze([...new Set(list.map((m) => serviceKeyOf(m.service)))].sort(byText)),
        pools: Object.freeze(pools),
        tuning,
        ranking: Object.freeze(
          [...result.priorities].map(([node, priority]) => {
            const score = preference.get(node);
            return Object.freeze(score === undefined ? { node, priority } : { node, priority, preference: score });
          }),
        ),
        interfaces,
      }),
    );
  }
  return { groups, problems };
}

/** common is the nodes present in every list (the first list's order). */
function common(lists: readonly (readonly string[])[]): string[] {
  return lists.reduce<string[]>((acc, l, i) => (i === 0 ? [...l] : acc.filter((n) => l.includes(n))), []);
}

/**
 * chooseInterface picks where this node runs a router: among the allowed interfaces (all when `allowed` is empty)
 * that hold an address of the family, the one whose subnet holds a VIP (first by name if several); else, with no
 * limit, the default route's interface; else, with a limit, the first allowed interface with an address of the family.
 */
export function chooseInterface(
  local: LocalNode,
  family: Family,
  vips: readonly string[],
  allowed: readonly string[],
): string | undefined {
  const ok = (ifname: string) => allowed.length === 0 || allowed.includes(ifname);
  const usable = local.addresses.filter((a) => ok(a.ifname) && familyOf(a.address) === family);
  const onLink = usable
    .filter((a) => vips.some((vip) => inSubnet(vip, a.address, a.prefixLength)))
    .map((a) => a.ifname)
    .sort(byText);
  if (onLink[0] !== undefined) return onLink[0];
  const fallback = local.defaultInterface?.[family];
  if (fallback !== undefined && ok(fallback)) return fallback;
  if (allowed.length > 0) return usable.map((a) => a.ifname).sort(byText)[0];
  return undefined;
}

/** DesiredResult is the routers this node should run (router key -> spec) and what went wrong on the way. */
export interface DesiredResult {
  readonly routers: ReadonlyMap<RouterKey, RouterSpec>;
  readonly groups: readonly RouterGroup[];
  readonly problems: readonly DecisionProblem[];
}

/**
 * desiredRouters computes and plans this node's routers. `internalIps` of the other nodes come from the snapshot; a
 * router for which this node has no interface is left out with NO_INTERFACE (the others run it without us), one
 * whose interface cannot send its adverts with NO_SOURCE. Unicast pools advertise to the peers' InternalIPs of the
 * router's family, IPv6 included (the socket layer sends IPv6 unicast adverts from the link-local source).
 */
export function desiredRouters(snapshot: ClusterSnapshot, local: LocalNode): DesiredResult {
  const { groups, problems: groupProblems } = routerGroups(snapshot);
  const problems = [...groupProblems];
  const ipsOf = new Map(snapshot.nodes.map((n) => [n.name, n.internalIps]));
  const routers = new Map<RouterKey, RouterSpec>();
  for (const g of groups) {
    const me = g.ranking.find((r) => r.node === local.name);
    if (!me) continue;
    const ifname = chooseInterface(local, g.family, g.vips, g.interfaces.get(local.name) ?? []);
    if (ifname === undefined) {
      problems.push(problem('NO_INTERFACE', `${g.key} on node ${local.name}: ${g.vips.join(', ')}`, { key: g.key }));
      continue;
    }
    let peers: string[] = [];
    const unreachablePeers: string[] = [];
    if (g.tuning.peers === 'unicast') {
      for (const r of g.ranking) {
        if (r.node === local.name) continue;
        const ips = (ipsOf.get(r.node) ?? []).filter((ip) => familyOf(ip) === g.family);
        if (ips.length === 0) unreachablePeers.push(r.node);
        else peers.push(...ips);
      }
      peers = [...new Set(peers)].sort(byAddress);
      unreachablePeers.sort(byText);
    }
    const candidateSources = sourcesOf(g, ipsOf);
    let auth: AuthKeys | undefined;
    if (g.tuning.authSecret !== undefined) {
      // Fail closed: a router whose pool asks for authentication never runs without it (it would split the election).
      const found = snapshot.authSecrets?.get(g.tuning.authSecret);
      if (found === undefined || 'error' in found) {
        const why = found === undefined ? `Secret ${g.tuning.authSecret} not found` : found.error;
        problems.push(problem('AUTH_SECRET_INVALID', `${g.key}: ${why}`, { key: g.key }));
        continue;
      }
      auth = found.keys;
    }
    const planned = planRouterSpec(
      {
        vrid: g.vrid,
        family: g.family,
        priority: me.priority,
        advertIntervalCs: g.tuning.advertIntervalCs,
        preempt: g.tuning.preempt,
        preemptDelayMs: g.tuning.preemptDelayMs,
        vips: g.vips,
        interface: ifname,
        peerMode: g.tuning.peers,
        peers,
        unreachablePeers,
        gratuitous: g.tuning.gratuitous,
        services: g.services,
        pools: g.pools,
        ranking: g.ranking,
        candidateSources,
        ...(auth === undefined ? {} : { auth }),
      },
      local.sources.get(ifname) ?? {},
    );
    if ('errors' in planned) {
      problems.push(problem('NO_SOURCE', planned.errors.join('; '), { key: g.key }));
      continue;
    }
    routers.set(g.key, planned.spec);
  }
  return { routers, groups, problems };
}

/**
 * sourcesOf is where a router's adverts may come from: its candidates' InternalIPs of the family. IPv4: the speaker
 * sends from the interface's first address, which on the nodes we support is the InternalIP. IPv6: adverts come from
 * link-local addresses no Node object lists (RFC 5798 §5.1.2.1); the socket names the candidate whose InternalIP the
 * kernel resolved to the advert's Ethernet source (`fromPeer`). A router with a candidate lacking an address of the
 * family gets no check ([]), since that candidate's source cannot be known and dropping it would split the election.
 */
/**
 * sourcesOf lists the addresses a router accepts adverts from: every Node's InternalIPs of its family, not only the
 * candidates'. A node that stops being a candidate (its Local endpoint gone, excluded, cordoned by a health check)
 * resigns with a priority-0 advert at the moment the others drop it from their ranking; that advert must still count,
 * or the next node waits Master_Down_Interval instead of Skew_Time. A candidate without an address of the family turns
 * the check off ([]): its source cannot be known.
 */
function sourcesOf(g: RouterGroup, ipsOf: ReadonlyMap<string, readonly string[]>): string[] {
  const ofFamily = (ips: readonly string[] | undefined) => (ips ?? []).filter((ip) => familyOf(ip) === g.family);
  if (g.ranking.some((r) => ofFamily(ipsOf.get(r.node)).length === 0)) return [];
  return [...new Set([...ipsOf.values()].flatMap(ofFamily))].sort(byAddress);
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * diffRouters lists the steps from `running` (the spec each running router was last given) to `desired`: stops first
 * (so a VIP moving between routers is released before it is claimed), then restarts, reconfigures and starts, each by
 * key. Changes to services, pools or ranking alone need no step: the runtime keeps `desired` as the new running map
 * after applying the steps.
 */
export function diffRouters(
  desired: ReadonlyMap<RouterKey, RouterSpec>,
  running: ReadonlyMap<RouterKey, RouterSpec>,
): RouterStep[] {
  const stops: RouterStep[] = [];
  const restarts: RouterStep[] = [];
  const reconfigures: RouterStep[] = [];
  const starts: RouterStep[] = [];
  for (const key of [...running.keys()].sort(byText)) {
    if (!desired.has(key)) stops.push({ op: 'stop', key, resign: true });
  }
  for (const key of [...desired.keys()].sort(byText)) {
    const want = desired.get(key)!;
    const have = running.get(key);
    if (!have) {
      starts.push({ op: 'start', key, spec: want });
      continue;
    }
    // A new source address (the interface's address changed) needs new sockets, as a new interface does.
    if (have.interface !== want.interface || have.config.primaryAddress !== want.config.primaryAddress) {
      restarts.push({ op: 'restart', key, spec: want, from: have.interface });
      continue;
    }
    const h = have.config;
    const w = want.config;
    const configure: { -readonly [K in keyof RouterConfigChanges]: RouterConfigChanges[K] } = {};
    if (h.priority !== w.priority) configure.priority = w.priority;
    if (h.advertIntervalCs !== w.advertIntervalCs) configure.advertIntervalCs = w.advertIntervalCs;
    if (h.preempt !== w.preempt) configure.preempt = w.preempt;
    if (h.preemptDelayMs !== w.preemptDelayMs) configure.preemptDelayMs = w.preemptDelayMs;
    if (!sameList(h.addresses, w.addresses)) configure.addresses = w.addresses;
    const transport = have.peerMode !== want.peerMode || !sameList(have.peers, want.peers);
    const gratuitous = !sameGratuitous(have.gratuitous, want.gratuitous);
    const sources = !sameList(have.candidateSources, want.candidateSources) || !sameAuthKeys(have.auth, want.auth);
    if (Object.keys(configure).length > 0 || transport || gratuitous || sources) {
      reconfigures.push({ op: 'reconfigure', key, spec: want, configure, transport, gratuitous });
    }
  }
  return [...stops, ...restarts, ...reconfigures, ...starts];
}
