/**
 * SimLan: nodes running virtual routers on one simulated Ethernet segment, on a virtual clock.
 *
 * Each node runs one router per VRID (each VIP). A sent advert reaches every other node's router with the same VRID and
 * family after `delayMs` plus uniform jitter in [0, jitterMs), unless lost (probability `lossRate`, drawn per receiver)
 * or cut by a partition. Time advances only through runUntil/runFor, from one queued event (router deadline or packet
 * arrival) to the next. Given the same nodes, options, seed and calls, a run is identical.
 */

import type { Advert } from '../advert.ts';
import { initialRouterState, type RouterEvent, type RouterState, step } from '../router.ts';
import type { RouterConfig, RouterConfigChanges } from '../router-config.ts';
import { validateRouterConfig } from '../router-config.ts';
import { EventQueue, seededRandom } from './clock.ts';

/** SimNodeSpec is one node: a name and the routers it runs (at most one per VRID). */
export interface SimNodeSpec {
  readonly name: string;
  readonly routers: readonly RouterConfig[];
}

/** LinkOptions shape the segment's delivery. */
export interface LinkOptions {
  /** delayMs is the fixed one-way delay (default 0). */
  readonly delayMs?: number;
  /** jitterMs adds a uniform random delay in [0, jitterMs) per packet and receiver (default 0). */
  readonly jitterMs?: number;
  /** lossRate is the probability that one receiver misses one packet (default 0). */
  readonly lossRate?: number;
}

/** LanOptions are the link options plus the PRNG seed. */
export interface LanOptions extends LinkOptions {
  readonly seed?: number;
}

/** ControlAction is an operator action on the simulation. */
export type ControlAction = 'start' | 'crash' | 'restart' | 'shutdown' | 'partition' | 'heal';

/** TraceEntry is one line of the timeline: a router changing state, or a control action. */
export type TraceEntry =
  | {
      readonly at: number;
      readonly kind: 'transition';
      readonly node: string;
      readonly vrid: number;
      readonly to: 'master' | 'backup' | 'initialize';
      readonly reason: string;
    }
  | {
      readonly at: number;
      readonly kind: 'control';
      readonly action: ControlAction;
      readonly nodes: readonly string[];
    };

/** LanStats counts adverts: sent by routers, delivered to routers, and lost or cut on the way. */
export interface LanStats {
  sent: number;
  delivered: number;
  dropped: number;
}

interface SimRouter {
  state: RouterState;
  // The deadline a timer event is queued for; events carrying an older generation are stale.
  armedAt: number | undefined;
  generation: number;
  lastHeardAt: number | undefined;
}

interface SimNode {
  readonly name: string;
  // vrid -> router
  readonly routers: Map<number, SimRouter>;
  crashed: boolean;
}

type SimEvent =
  | { readonly kind: 'timer'; readonly node: string; readonly vrid: number; readonly generation: number }
  | {
      readonly kind: 'deliver';
      readonly node: string;
      readonly from: SimNode;
      readonly advert: Advert;
      readonly source: string;
    };

/** SimLan is the simulated segment; see the module comment. Misuse (unknown node, bad config) throws: it is a test tool. */
export class SimLan {
  readonly trace: TraceEntry[] = [];
  readonly stats: LanStats = { sent: 0, delivered: 0, dropped: 0 };
  readonly #queue = new EventQueue<SimEvent>();
  readonly #random: () => number;
  // name -> node, in the order given
  readonly #nodes = new Map<string, SimNode>();
  // node name -> partition group; empty when the segment is whole
  readonly #group = new Map<string, number>();
  #link: Required<LinkOptions>;
  #now = 0;

  constructor(nodes: readonly SimNodeSpec[], options: LanOptions = {}) {
    this.#random = seededRandom(options.seed ?? 1);
    this.#link = { delayMs: 0, jitterMs: 0, lossRate: 0 };
    this.setLink(options);
    for (const spec of nodes) {
      if (this.#nodes.has(spec.name)) throw new Error(`node ${spec.name} defined twice`);
      const routers = new Map<number, SimRouter>();
      for (const input of spec.routers) {
        const checked = validateRouterConfig(input);
        if ('errors' in checked) throw new Error(`node ${spec.name} vrid ${input.vrid}: ${checked.errors.join('; ')}`);
        if (routers.has(input.vrid)) throw new Error(`node ${spec.name} runs vrid ${input.vrid} twice`);
        const state = initialRouterState(checked.config);
        routers.set(input.vrid, { state, armedAt: undefined, generation: 0, lastHeardAt: undefined });
      }
      this.#nodes.set(spec.name, { name: spec.name, routers, crashed: false });
    }
  }

  /** now is the virtual time in ms. */
  get now(): number {
    return this.#now;
  }

  /** setLink changes delay, jitter or loss from now on. */
  setLink(options: LinkOptions): void {
    const link = { ...this.#link, ...definedOnly(options) };
    if (!(link.delayMs >= 0 && link.jitterMs >= 0 && link.lossRate >= 0 && link.lossRate <= 1)) {
      throw new Error(`bad link options ${JSON.stringify(options)}`);
    }
    this.#link = link;
  }

  /** start sends `startup` to every router of the named nodes (default: all nodes). */
  start(names: readonly string[] = [...this.#nodes.keys()]): void {
    this.#control('start', names);
    for (const name of names) this.#each(this.#node(name), { type: 'startup' });
  }

  /** crash silences a node: it sends and receives nothing, its timers stop; its routers' states freeze. */
  crash(name: string): void {
    this.#control('crash', [name]);
    this.#node(name).crashed = true;
  }

  /** shutdown stops a node gracefully: each master sends priority 0 (§6.4.3) and every router goes to Initialize. */
  shutdown(name: string): void {
    this.#control('shutdown', [name]);
    this.#each(this.#node(name), { type: 'shutdown' });
  }

  /** restart brings a crashed or shut-down node back: fresh routers (same configs) receive `startup`. */
  restart(name: string): void {
    this.#control('restart', [name]);
    const node = this.#node(name);
    node.crashed = false;
    for (const router of node.routers.values()) {
      router.state = initialRouterState(router.state.config);
      router.lastHeardAt = undefined;
      router.armedAt = undefined;
      router.generation++;
    }
    this.#each(node, { type: 'startup' });
  }

  /** partition splits the segment: nodes hear only nodes of their own group; unlisted nodes are isolated. */
  partition(groups: readonly (readonly string[])[]): void {
    this.#control('partition', groups.flat());
    this.#group.clear();
    groups.forEach((group, i) => {
      for (const name of group) {
        this.#node(name);
        this.#group.set(name, i);
      }
    });
    let lone = groups.length;
    for (const name of this.#nodes.keys()) if (!this.#group.has(name)) this.#group.set(name, lone++);
  }

  /** heal joins the segment again. */
  heal(): void {
    this.#control('heal', []);
    this.#group.clear();
  }

  /**
   * inject puts an advert on the wire from a host that runs no router here (a foreign VRRP router, or an attacker):
   * every live node running `advert.vrid` in the source's family receives it after the link delay. Partitions do not
   * apply (the host sits on every side); loss does.
   */
  inject(source: string, advert: Advert): void {
    this.stats.sent++;
    const family = source.includes(':') ? 'ipv6' : 'ipv4';
    const { delayMs, jitterMs, lossRate } = this.#link;
    const from: SimNode = { name: `host ${source}`, routers: new Map(), crashed: false };
    for (const node of this.#nodes.values()) {
      const router = node.routers.get(advert.vrid);
      if (!router || router.state.config.family !== family) continue;
      if (node.crashed || (lossRate > 0 && this.#random() < lossRate)) {
        this.stats.dropped++;
        continue;
      }
      const at = this.#now + delayMs + (jitterMs > 0 ? this.#random() * jitterMs : 0);
      this.#queue.push(at, { kind: 'deliver', node: node.name, from, advert, source });
    }
  }

  /**
   * peerDown tells one node, now, that the router at `address` is gone (a liveness signal such as a BFD session
   * timing out, RFC 5880): every router of the node receives `peer-down` with `holdMs`. Each node is told on its own
   * schedule, as each backup's own session detects the loss; the simulation does not model the session.
   */
  peerDown(name: string, address: string, holdMs = 0): void {
    this.#each(this.#node(name), { type: 'peer-down', address, holdMs });
  }

  /** configure reconfigures one router in place (no restart). */
  configure(name: string, vrid: number, changes: RouterConfigChanges): void {
    const node = this.#node(name);
    this.#apply(node, vrid, this.#router(node, vrid), { type: 'configure', changes });
  }

  /** runUntil serves every event due up to `time`, in order, then sets the clock to `time`. */
  runUntil(time: number): void {
    if (time < this.#now) throw new Error(`cannot run back from ${this.#now} to ${time}`);
    for (let at = this.#queue.peekTime(); at !== undefined && at <= time; at = this.#queue.peekTime()) {
      const { item } = this.#queue.pop()!;
      this.#now = at;
      this.#serve(item);
    }
    this.#now = time;
  }

  /** runFor advances the clock by `ms`. */
  runFor(ms: number): void {
    this.runUntil(this.#now + ms);
  }

  /** stateOf is the state of a node's router for `vrid`. */
  stateOf(name: string, vrid: number): RouterState {
    return this.#router(this.#node(name), vrid).state;
  }

  /** masters lists the live nodes whose router for `vrid` is master. */
  masters(vrid: number): string[] {
    const out: string[] = [];
    for (const node of this.#nodes.values()) {
      if (!node.crashed && node.routers.get(vrid)?.state.kind === 'master') out.push(node.name);
    }
    return out;
  }

  /** lastHeardAt is when a node's router for `vrid` last received an advert (accepted or not). */
  lastHeardAt(name: string, vrid: number): number | undefined {
    return this.#router(this.#node(name), vrid).lastHeardAt;
  }

  #node(name: string): SimNode {
    const node = this.#nodes.get(name);
    if (!node) throw new Error(`no node ${name}`);
    return node;
  }

  #router(node: SimNode, vrid: number): SimRouter {
    const router = node.routers.get(vrid);
    if (!router) throw new Error(`node ${node.name} runs no vrid ${vrid}`);
    return router;
  }

  #control(action: ControlAction, nodes: readonly string[]): void {
    this.trace.push({ at: this.#now, kind: 'control', action, nodes: [...nodes] });
  }

  #each(node: SimNode, event: RouterEvent): void {
    if (node.crashed) return;
    for (const [vrid, router] of node.routers) this.#apply(node, vrid, router, event);
  }

  #serve(event: SimEvent): void {
    const node = this.#node(event.node);
    if (event.kind === 'timer') {
      const router = node.routers.get(event.vrid)!;
      if (node.crashed || event.generation !== router.generation) return;
      router.armedAt = undefined;
      this.#apply(node, event.vrid, router, { type: 'timer' });
      return;
    }
    const router = node.routers.get(event.advert.vrid);
    // A packet already on the wire arrives even if its sender crashed since; a partition cuts it (an injected one,
    // from a host outside the simulation, is never cut).
    const injected = !this.#nodes.has(event.from.name);
    if (!router || node.crashed || (!injected && !this.#connected(event.from.name, node.name))) {
      this.stats.dropped++;
      return;
    }
    this.stats.delivered++;
    router.lastHeardAt = this.#now;
    this.#apply(node, event.advert.vrid, router, { type: 'advert', from: event.source, advert: event.advert });
  }

  #apply(node: SimNode, vrid: number, router: SimRouter, event: RouterEvent): void {
    const result = step(router.state, event, this.#now);
    router.state = result.state;
    for (const action of result.actions) {
      if (action.type === 'send-advert') {
        const advert: Advert = {
          vrid,
          priority: action.priority,
          maxAdvertIntervalCs: action.intervalCs,
          addresses: action.addresses,
        };
        this.#broadcast(node, result.state.config, advert);
      } else if (action.type === 'become-master' || action.type === 'become-backup') {
        const to = action.type === 'become-master' ? 'master' : 'backup';
        this.trace.push({ at: this.#now, kind: 'transition', node: node.name, vrid, to, reason: action.reason });
      } else if (action.type === 'resign') {
        const reason = `shutdown from ${action.was}`;
        this.trace.push({ at: this.#now, kind: 'transition', node: node.name, vrid, to: 'initialize', reason });
      }
    }
    if (result.deadline !== router.armedAt) {
      router.generation++;
      router.armedAt = result.deadline;
      if (result.deadline !== undefined) {
        this.#queue.push(result.deadline, { kind: 'timer', node: node.name, vrid, generation: router.generation });
      }
    }
  }

  #broadcast(sender: SimNode, config: RouterConfig, advert: Advert): void {
    this.stats.sent++;
    const { delayMs, jitterMs, lossRate } = this.#link;
    for (const node of this.#nodes.values()) {
      if (node === sender) continue;
      const router = node.routers.get(advert.vrid);
      if (!router || router.state.config.family !== config.family) continue;
      if (node.crashed || !this.#connected(sender.name, node.name) || (lossRate > 0 && this.#random() < lossRate)) {
        this.stats.dropped++;
        continue;
      }
      const at = this.#now + delayMs + (jitterMs > 0 ? this.#random() * jitterMs : 0);
      this.#queue.push(at, { kind: 'deliver', node: node.name, from: sender, advert, source: config.primaryAddress });
    }
  }

  #connected(a: string, b: string): boolean {
    return this.#group.size === 0 || this.#group.get(a) === this.#group.get(b);
  }
}

function definedOnly(options: LinkOptions): LinkOptions {
  return Object.fromEntries(Object.entries(options).filter(([k, v]) => v !== undefined && k !== 'seed'));
}
