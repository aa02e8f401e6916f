/**
 * Speaker runs the engine's virtual routers of one interface: it feeds them received adverts and timer events,
 * carries out what they decide (send adverts, answer or stop answering ARP/NDP, announce takeovers) through its
 * ports, and keeps metrics and logs. All decisions are the engine's (vrrp/router.ts) or pure helpers here
 * (receive-filter.ts, effects.ts); this class only sequences them. Time comes from the injected clock.
 */

import type { Advert, Family } from '../../../vrrp/advert.ts';
import type { AuthKey } from '../../../vrrp/auth.ts';
import { nextCounter, ReplayGuard } from '../../../vrrp/replay.ts';
import {
  deadlineOf,
  initialRouterState,
  type RouterAction,
  type RouterEvent,
  type RouterState,
  type SendAdvert,
  step,
} from '../../../vrrp/router.ts';
import type { RouterConfigChanges } from '../../../vrrp/router-config.ts';
import { masterDownIntervalMs } from '../../../vrrp/timing.ts';
import type { Cancel, Clock } from '../../clock.ts';
import type { Logger } from '../../log.ts';
import type { SpeakerMetrics } from '../../metrics.ts';
import type { ReceivedAdvert, VrrpReceive } from '../../net/frames/vrrp.ts';
import { type RouterKey, type RouterSpec, routerKey, type StateName, serviceLabel } from '../router-spec.ts';
import { type Keyring, keyringOf } from './auth-keyring.ts';
import { type Effect, planEffects } from './effects.ts';
import type { AdvertSeal, SpeakerPorts } from './ports.ts';
import { RateLimiter } from './rate-limit.ts';
import { classifyReceive, INVALID_REASONS, type ReceiveFilterContext } from './receive-filter.ts';
import { DeadlineScheduler } from './scheduler.ts';
import { TakeoverBatches } from './takeover-batch.ts';
import { VipTable } from './vip-table.ts';

/** SpeakerDeps are the speaker's collaborators; see the file comment. */
export interface SpeakerDeps {
  readonly ifname: string;
  readonly nodeName: string;
  readonly routers: readonly RouterSpec[];
  readonly ports: SpeakerPorts;
  readonly clock: Clock;
  readonly metrics: SpeakerMetrics;
  readonly logger: Logger;
  /** unicastPeers: accept adverts only from these (standalone mode; each spec says where its adverts go). */
  readonly unicastPeers?: readonly string[];
  /** shouldAnswer narrows answering further (e.g. a Service with no local endpoint); mastership is checked first. */
  readonly shouldAnswer?: (ip: string, ifname: string) => boolean;
  /** onTransition hears every state change of a router (Kubernetes mode writes status and Events from it). */
  readonly onTransition?: (key: RouterKey, to: StateName, reason: string) => void;
}

/** RouterStatus is one router as `status` and readiness see it. */
export interface RouterStatus {
  readonly key: RouterKey;
  readonly vrid: number;
  readonly family: Family;
  readonly priority: number;
  readonly state: StateName;
  readonly vips: readonly string[];
  readonly master?: string;
}

const STATE_NUMBER: Record<StateName, number> = { initialize: 0, backup: 1, master: 2 };
const MISMATCH_LOG_WINDOW_MS = 60_000; // also for invalid packets
const SEND_ERROR_LOG_WINDOW_MS = 10_000;
const STOP_SEND_TIMEOUT_MS = 1000;
/** TAKEOVER_IO_ROUNDS bounds how many event-loop rounds a takeover waits while received packets keep arriving. */
const TAKEOVER_IO_ROUNDS = 1024;

/**
 * TIMER_SLICE: routers stepped per timer callback before the loop may read sockets. ARP / NDP answers no longer wait
 * for the loop (the addon's answering thread), so every router due at once is stepped in one run and its adverts leave
 * in one batch: a backup then wakes once per interval, not once per slice (bench:speaker-load: backup 5.9 → 5.0 %).
 */
const TIMER_SLICE = 512;

/**
 * SWEEP_MS: how often the hushed backups whose Master_Down_Timer comes before the next sweep take in their left-out
 * repeats (see sweep); SWEEP_AHEAD_MS widens that window, so a sweep running a little late still meets them first.
 */
const SWEEP_MS = 100;
const SWEEP_AHEAD_MS = 30;
/** Takeover is one router's transition to master inside a batch: its effects wait for the batch's phases. */
interface Takeover {
  readonly slot: RouterSlot;
  readonly effects: readonly Effect[];
  readonly before: StateName;
  readonly now: number;
}

interface RouterSlot {
  router: RouterSpec;
  state: RouterState;
  readonly log: Logger;
  /** announce cancels the announcements in progress. */
  announce: AbortController;
  /**
   * Adverts sent and received since the counters were last flushed (metrics addFlush): plain numbers, since they
   * are bumped every advert interval and a labelled inc hashes its labels each time.
   */
  sent: number;
  received: number;
  /** counterLabels: this router's labels of the adverts counters. */
  readonly counterLabels: { readonly vrid: string; readonly family: Family };
  /** keyring: the router's keys when its adverts are authenticated (spec.auth). */
  keyring: Keyring | undefined;
  /** generation changes with every change of state; a takeover's deferred answering checks it is still current. */
  generation: number;
  /** advertisers: source address -> when its last advert with a priority above 0 arrived (ms). */
  readonly advertisers: Map<string, number>;
  /**
   * A backup's repeat of the advert it last stepped, deferred (see #receiveRepeat): `heard` is that advert as the
   * socket handed it on, `after` the state its step left (with no actions), `repeatAt` when a repeat last came
   * while the state was still `after` (undefined: none waiting).
   */
  /** advertMemo: the effects of the last lone send-advert action (see effectsOf). */
  advertMemo:
    | { readonly router: RouterSpec; readonly action: SendAdvert; readonly effects: readonly Effect[] }
    | undefined;
  heard: ReceivedAdvert | undefined;
  after: RouterState | undefined;
  repeatAt: number | undefined;
  /** hushed: `heard`, when the advert channel leaves its repeats out and only counts them (see hush). */
  hushed: ReceivedAdvert | undefined;
  /** parked: hushed and out of the scheduler, while the channel says its master is heard (see sweepHushed). */
  parked: boolean;
}

export class Speaker {
  readonly #deps: SpeakerDeps;
  readonly #slots = new Map<RouterKey, RouterSlot>(); // router key -> its state and helpers
  readonly #routerKeys = new Set<RouterKey>(); // the keys of #slots, as the receive filter reads them
  readonly #candidateSources = new Map<RouterKey, ReadonlySet<string>>(); // router key -> sources it accepts
  readonly #vips: VipTable;
  readonly #scheduler: DeadlineScheduler<RouterKey>;
  readonly #filter: ReceiveFilterContext;
  readonly #limiter = new RateLimiter(MISMATCH_LOG_WINDOW_MS);
  readonly #sendErrors = new RateLimiter(SEND_ERROR_LOG_WINDOW_MS);
  readonly #invalidLog = new RateLimiter(MISMATCH_LOG_WINDOW_MS);
  readonly #pending = new Set<Promise<unknown>>(); // sends and announcements in flight
  readonly #replay = new ReplayGuard();
  #counter = 0n; // the last counter this node signed with, shared by all its routers (vrrp/replay.ts)
  #started = false;
  #stopped = false;
  #received = 0; // packets handed to receive(), so a deferred takeover knows whether I/O is still draining
  #lastActions = 0; // how many actions the last step returned (see noteHeard)
  readonly #takeovers = new Map<RouterKey, Cancel>(); // router key -> its takeover waiting for pending I/O
  #sweep: Cancel | undefined; // the sweep timer, armed while a router is hushed
  readonly #hushed = new Set<RouterSlot>(); // the routers whose channel leaves their master's repeats out
  readonly #batches: TakeoverBatches;
  /** collect: while a batch steps its routers, their takeovers are gathered here instead of applied one by one. */
  #collect: Takeover[] | undefined;
  /** deferred: the books of the last batch (logs, metrics, onTransition), run before any later step. */
  #deferred: (() => void) | undefined;
  #cancelDeferred: Cancel | undefined;
  readonly #removeCollector: () => void;
  readonly #removeFlush: () => void;

  constructor(deps: SpeakerDeps) {
    this.#deps = deps;
    this.#vips = new VipTable(deps.routers);
    this.#scheduler = new DeadlineScheduler<RouterKey>({
      clock: deps.clock,
      onDue: (key) => this.#due(key),
      slice: TIMER_SLICE,
    });
    this.#batches = new TakeoverBatches({
      clock: deps.clock,
      received: () => this.#received,
      run: (keys) => this.#takeOverBatch(keys),
    });
    this.#filter = {
      routers: this.#routerKeys,
      unicastPeers: new Set(deps.unicastPeers ?? []),
      candidateSources: this.#candidateSources,
      resolved: (family, address) => this.#deps.ports.adverts[family]?.knowsPeer?.(address) ?? false,
    };
    for (const router of deps.routers) this.#addSlot(router);
    this.#removeCollector = deps.metrics.addCollector(() => this.#collectMastersSeen());
    this.#removeFlush = deps.metrics.addFlush(() => {
      for (const slot of this.#slots.values()) {
        this.#fold(slot);
        this.#flushCounts(slot);
      }
    });
    for (const family of ['ipv4', 'ipv6'] as const) {
      for (const reason of INVALID_REASONS) deps.metrics.invalidPackets.inc({ family, reason }, 0);
    }
  }

  /** started is true between start() and stop(): the routers take part in elections. */
  get started(): boolean {
    return this.#started && !this.#stopped;
  }

  /** start moves every router from Initialize to Backup (RFC 5798 §6.4.1). */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    for (const key of this.#slots.keys()) this.#step(key, { type: 'startup' });
  }

  /** receive takes one packet from a VRRP socket: an advert or a drop. Never throws for a bad packet. */
  receive(r: VrrpReceive): void {
    if (!this.started) return;
    this.#received++;
    const decision = classifyReceive(r, this.#filter);
    const m = this.#deps.metrics;
    switch (decision.kind) {
      case 'own':
        return;
      case 'invalid':
        m.invalidPackets.inc({ family: r.family, reason: decision.reason });
        // Counted every time; logged once a minute per sender and reason, so a flood cannot flood the log.
        if (this.#invalidLog.allow(`${r.family}/${decision.reason}/${r.from}`, this.#deps.clock.now())) {
          const vrid = r.ok ? r.advert.vrid : undefined;
          this.#deps.logger.warn(
            {
              family: r.family,
              reason: decision.reason,
              detail: decision.detail,
              from: r.from,
              ...(vrid === undefined ? {} : { vrid }),
              interface: this.#deps.ifname,
            },
            decision.reason === 'not-a-candidate'
              ? `VRRP advert for VRID ${vrid} from ${r.from}, which is not a candidate node: dropped`
              : 'invalid VRRP packet dropped',
          );
        }
        return;
      case 'unknown-router':
        this.#deps.logger.debug({ router: decision.key }, 'advert for a router not run here');
        return;
      case 'deliver': {
        if (!r.ok) return; // classifyReceive delivers only adverts; this narrows the type
        const slot = this.#slots.get(decision.key);
        if (slot?.keyring !== undefined) {
          // The socket verified the MAC (authKeysFor); only the counter is left: a replay carries an old one.
          const fresh = r.auth !== undefined && this.#replay.accept(decision.key, r.from, r.auth.counter);
          if (!fresh) {
            const reason = r.auth === undefined ? 'auth-missing' : 'auth-replay';
            m.invalidPackets.inc({ family: r.family, reason });
            if (this.#invalidLog.allow(`${r.family}/${reason}/${r.from}`, this.#deps.clock.now())) {
              slot.log.warn({ reason, from: r.from, counter: String(r.auth?.counter) }, 'invalid VRRP packet dropped');
            }
            return;
          }
        }
        const now = this.#deps.clock.now();
        if (slot) slot.received++;
        if (slot && r.from !== slot.router.config.primaryAddress) {
          // Only a master sends adverts (RFC 5798 §6.4.3); priority 0 is one resigning.
          if (r.advert.priority > 0) slot.advertisers.set(r.from, now);
          else slot.advertisers.delete(r.from);
        }
        if (r.checksumMode === 'no-pseudo-header') m.legacyChecksum.inc({ vrid: String(r.advert.vrid) });
        if (slot && this.#deferRepeat(slot, r, now)) return;
        this.#step(decision.key, { type: 'advert', from: r.from, advert: r.advert });
        if (slot) this.#noteHeard(slot, r);
      }
    }
  }

  /**
   * peerDown delivers a liveness signal (a BFD session to `address` timed out) to every router of this interface;
   * the engine acts only in a backup whose master is `address` (vrrp/router.ts, `peer-down`). Returns how many
   * routers were following that master. `holdOf` gives each following router's rank-ordered hold (speaker/
   * liveness-hold.ts); without it every router waits Skew_Time alone.
   */
  peerDown(address: string, holdOf?: (router: RouterSpec) => number): number {
    if (!this.started) return 0;
    let following = 0;
    // hold -> the routers waiting that long, and their latest Master_Down_Timer (see takeover-batch.ts)
    const groups = new Map<number, { keys: RouterKey[]; at: number }>();
    for (const [key, slot] of this.#slots) {
      if (slot.state.kind !== 'backup' || slot.state.master?.address !== address) continue;
      following++;
      const holdMs = holdOf?.(slot.router) ?? 0;
      this.#step(key, { type: 'peer-down', address, holdMs });
      const s = slot.state;
      if (s.kind !== 'backup' || s.timerCause !== 'liveness') continue;
      const group = groups.get(holdMs) ?? { keys: [], at: s.masterDownAt };
      group.keys.push(key);
      group.at = Math.max(group.at, s.masterDownAt);
      groups.set(holdMs, group);
    }
    for (const { keys, at } of groups.values()) {
      for (const key of keys) this.#scheduler.set(key, undefined); // the batch owns their timers now
      this.#batches.add(keys, at);
    }
    return following;
  }

  /** shouldAnswer is the responders' predicate: a VIP of a router mastered here, and the injected check agrees. */
  shouldAnswer(ip: string, ifname: string): boolean {
    if (ifname !== this.#deps.ifname || !this.#vips.isMastered(ip)) return false;
    return this.#deps.shouldAnswer?.(ip, ifname) ?? true;
  }

  /** authKeysFor is the sockets' question: the keys adverts of this router must carry, undefined when unauthenticated. */
  authKeysFor(family: Family, vrid: number): readonly AuthKey[] | undefined {
    return this.#slots.get(routerKey(family, vrid))?.keyring?.accept;
  }

  /** status lists every router's state. */
  status(): RouterStatus[] {
    return [...this.#slots.values()].map((s) => {
      const master = s.state.kind === 'backup' ? s.state.master?.address : undefined;
      return {
        key: s.router.key,
        vrid: s.router.config.vrid,
        family: s.router.config.family,
        priority: s.router.config.priority,
        state: s.state.kind,
        vips: s.router.vips,
        ...(master === undefined ? {} : { master }),
      };
    });
  }

  /** stateOf is the engine state of one router, undefined when it does not run here. */
  stateOf(key: RouterKey): StateName | undefined {
    return this.#slots.get(key)?.state.kind;
  }

  /** addRouter runs one more router (started at once when the speaker runs); false when the key already runs. */
  addRouter(router: RouterSpec): boolean {
    if (this.#stopped || this.#slots.has(router.key)) return false;
    this.#addSlot(router);
    if (this.#started) this.#step(router.key, { type: 'startup' });
    return true;
  }

  /**
   * removeRouter leaves one election as stop() does for all: a master sends priority 0 and stops answering at
   * once, so a backup takes over after Skew_Time. The other routers are not touched.
   */
  removeRouter(key: RouterKey): boolean {
    const slot = this.#slots.get(key);
    if (!slot) return false;
    if (this.started) this.#step(key, { type: 'shutdown' });
    this.#unhush(slot);
    this.#batches.leave(key);
    this.#takeovers.get(key)?.();
    this.#takeovers.delete(key);
    slot.announce.abort();
    this.#scheduler.set(key, undefined);
    this.#vips.removeRouter(key);
    this.#deps.ports.answering?.(this.#vips.mastered());
    this.#flushCounts(slot);
    this.#slots.delete(key);
    this.#routerKeys.delete(key);
    this.#candidateSources.delete(key);
    this.#replay.forget(key);
    const { vrid, family } = slot.router.config;
    for (const vip of slot.router.vips) this.#dropVipGauge(slot, vip);
    this.#deps.metrics.routerState.set({ vrid: String(vrid), family, interface: this.#deps.ifname }, 0);
    this.#deps.metrics.mastersSeen.remove({ vrid: String(vrid), family, interface: this.#deps.ifname });
    return true;
  }

  /**
   * reconfigureRouter changes a running router without an election of its own (the engine's `configure` event): a
   * new priority or interval applies from the next advert. A master that gains VIPs answers and announces them at
   * once; VIPs it loses stop being answered at once. `configure` holds the engine fields that differ from the running
   * spec (the planner's diff); everything else (peers, announcements, Services) is taken from `spec`. Returns the
   * engine's objection, if any.
   */
  reconfigureRouter(spec: RouterSpec, configure: RouterConfigChanges): string | undefined {
    const key = spec.key;
    const slot = this.#slots.get(key);
    if (!slot) return `router ${key} does not run here`;
    if (Object.keys(configure).length > 0) {
      this.#replayRepeat(slot);
      const res = step(slot.state, { type: 'configure', changes: configure }, this.#deps.clock.now());
      const rejected = res.actions.find((a) => a.type === 'config-rejected');
      if (rejected?.type === 'config-rejected') return rejected.errors.join('; ');
      slot.state = res.state;
      slot.parked = false;
      this.#scheduler.set(key, res.deadline);
      if (slot.state !== slot.after) this.#unhush(slot); // a repeat must be stepped afresh (see deferRepeat)
    }
    if (serviceLabel(spec) !== serviceLabel(slot.router))
      for (const vip of slot.router.vips) this.#dropVipGauge(slot, vip);
    const before = slot.router.vips;
    const vips = spec.vips;
    const vipsChanged = vips.length !== before.length || vips.some((v, i) => v !== before[i]);
    slot.router = Object.freeze({ ...spec, config: slot.state.config });
    this.#unhush(slot); // sources, peers or keys may have changed: the next advert is classified afresh
    this.#setSources(spec);
    slot.keyring = spec.auth === undefined ? undefined : keyringOf(spec.auth);
    this.#watchPeers(slot.router);
    if (vipsChanged) {
      const master = slot.state.kind === 'master';
      if (master) this.#vips.setMaster(key, false);
      this.#vips.setRouter(key, vips);
      if (master) this.#vips.setMaster(key, true);
      if (master) this.#deps.ports.answering?.(this.#vips.mastered());
      for (const vip of before) if (!vips.includes(vip)) this.#dropVipGauge(slot, vip);
      for (const vip of vips) this.#vipGauge(slot, vip).set(master ? 1 : 0);
      if (master && vips.some((v) => !before.includes(v))) this.#announce(slot);
    }
    return undefined;
  }

  /**
   * stop leaves every election: masters send priority 0 (RFC 5798 §6.4.3) so a backup takes over after Skew_Time,
   * every router stops answering at once, and announcements are cancelled. Resolves once the adverts have been
   * handed to the kernel (or STOP_SEND_TIMEOUT_MS passed). The caller closes the sockets afterwards.
   */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    if (this.#started) for (const key of this.#slots.keys()) this.#step(key, { type: 'shutdown' });
    this.#stopped = true;
    this.#scheduler.stop();
    this.#sweep?.();
    this.#sweep = undefined;
    this.#batches.stop();
    this.#runDeferred();
    this.#removeCollector();
    for (const slot of this.#slots.values()) this.#flushCounts(slot);
    this.#removeFlush();
    for (const cancel of this.#takeovers.values()) cancel();
    this.#takeovers.clear();
    let cancel: Cancel = () => {};
    const timeout = new Promise<void>((resolve) => {
      cancel = this.#deps.clock.setTimer(resolve, STOP_SEND_TIMEOUT_MS);
    });
    await Promise.race([Promise.allSettled([...this.#pending]), timeout]);
    cancel();
  }

  /**
   * watchPeers has the channel resolve the MACs of the router's unicast peers and, for IPv6, of its candidates, whose
   * link-local advert sources only their MACs tie to a Node (receive-filter.ts).
   */
  #watchPeers(router: RouterSpec): void {
    const { family } = router.config;
    const watch = family === 'ipv6' ? [...new Set([...router.peers, ...router.candidateSources])] : router.peers;
    if (watch.length > 0) this.#deps.ports.adverts[family]?.watchPeers?.(watch);
  }

  #addSlot(router: RouterSpec): void {
    const deps = this.#deps;
    this.#watchPeers(router);
    const { vrid, family } = router.config;
    this.#slots.set(router.key, {
      router,
      state: initialRouterState(router.config),
      log: deps.logger.child({ vrid, family, interface: deps.ifname }),
      announce: new AbortController(),
      sent: 0,
      received: 0,
      counterLabels: { vrid: String(vrid), family },
      keyring: router.auth === undefined ? undefined : keyringOf(router.auth),
      advertisers: new Map(),
      generation: 0,
      advertMemo: undefined,
      heard: undefined,
      after: undefined,
      repeatAt: undefined,
      hushed: undefined,
      parked: false,
    });
    this.#routerKeys.add(router.key);
    this.#setSources(router);
    this.#vips.setRouter(router.key, router.vips);
    for (const vip of router.vips) this.#vipGauge(this.#slots.get(router.key)!, vip).set(0);
    deps.metrics.routerState.set({ vrid: String(vrid), family, interface: deps.ifname }, 0);
  }

  #setSources(router: RouterSpec): void {
    if (router.candidateSources.length === 0) this.#candidateSources.delete(router.key);
    else this.#candidateSources.set(router.key, new Set(router.candidateSources));
  }

  /**
   * mastersSeen counts the routers acting as master for one router, as this node sees them: every source whose
   * adverts (priority above 0) arrived within Master_Down_Interval, since only a master advertises, plus this node
   * when master. Two masters that hear each other settle within one advert (RFC 5798 §6.4.3); two that cannot hear
   * each other show here on any node that hears both, within one advert interval. After a regular hand-over the old
   * master's last advert keeps counting until Master_Down_Interval has passed.
   */
  mastersSeen(key: RouterKey): number | undefined {
    const slot = this.#slots.get(key);
    if (!slot) return undefined;
    if (slot.state.kind === 'initialize') return 0;
    const { priority, advertIntervalCs } = slot.state.config;
    this.#fold(slot);
    const since = this.#deps.clock.now() - masterDownIntervalMs(priority, advertIntervalCs);
    for (const [from, at] of slot.advertisers) if (at < since) slot.advertisers.delete(from);
    return slot.advertisers.size + (slot.state.kind === 'master' ? 1 : 0);
  }

  /** flushCounts adds a router's adverts counted since the last flush to the metrics. */
  #flushCounts(slot: RouterSlot): void {
    const m = this.#deps.metrics;
    if (slot.sent > 0) m.advertsSent.inc(slot.counterLabels, slot.sent);
    if (slot.received > 0) m.advertsReceived.inc(slot.counterLabels, slot.received);
    slot.sent = 0;
    slot.received = 0;
  }

  #collectMastersSeen(): void {
    for (const [key, slot] of this.#slots) {
      const { vrid, family } = slot.router.config;
      this.#deps.metrics.mastersSeen.set(
        { vrid: String(vrid), family, interface: this.#deps.ifname },
        this.mastersSeen(key) ?? 0,
      );
    }
  }

  /**
   * due delivers a router's timer. A master's Adver_Timer runs at once. A backup's Master_Down_Timer first lets the
   * adverts already waiting in the sockets in: after an event-loop stall (start-up, CPU contention) the timer runs
   * before the packets queued meanwhile, and a backup would take over from a master whose adverts sit unread, two
   * masters until it reads them. The takeover waits one loop round at a time while packets keep arriving (each
   * socket yields one packet per round), then steps the timer; an advert read meanwhile has moved the deadline,
   * and the engine ignores the early timer.
   */
  #due(key: RouterKey): void {
    const slot = this.#slots.get(key);
    if (slot !== undefined) this.#fold(slot);
    if (slot !== undefined && slot.repeatAt !== undefined) {
      // A deferred repeat moves the Master_Down_Timer later: step it, and when the timer is not due any more, wait
      // for the new deadline (the usual case: a backup hearing its master is woken once per Master_Down_Interval).
      this.#replayRepeat(slot);
      const deadline = deadlineOf(slot.state);
      const now = this.#deps.clock.now();
      if (deadline !== undefined && deadline > now) {
        if (this.#watched(slot) && deadline > now + SWEEP_MS + SWEEP_AHEAD_MS) {
          this.#scheduler.set(key, undefined); // parked until the channel names it (see sweepHushed)
          slot.parked = true;
        } else this.#scheduler.set(key, deadline);
        return;
      }
    }
    const afterIo = this.#deps.clock.afterPendingIo?.bind(this.#deps.clock);
    if (slot?.state.kind !== 'backup' || !afterIo) {
      this.#step(key, { type: 'timer' });
      return;
    }
    let rounds = 0;
    const wait = (seen: number) => {
      this.#takeovers.set(
        key,
        afterIo(() => {
          if (this.#received !== seen && ++rounds < TAKEOVER_IO_ROUNDS) return wait(this.#received);
          this.#takeovers.delete(key);
          this.#step(key, { type: 'timer' });
        }),
      );
    };
    wait(this.#received);
  }

  /**
   * deferRepeat takes a backup's repeat of the advert it last stepped without stepping it: a master sends the same
   * advert every interval, and for a backup that followed it (no actions), stepping it again only moves the
   * Master_Down_Timer later. The repeat's time is kept and the advert is stepped at that time before the router's
   * next event of any kind (its timer included; see replayRepeat), which leaves the engine exactly where stepping
   * each repeat would have: stepping the same advert twice from the state its first step left is the same as
   * stepping it once, later, as long as the engine's decision does not depend on the time between them. The one
   * such decision is the preempt delay window (vrrp/router.ts backupOnAdvert: a lower-priority master is followed
   * until the window runs out), so routers with a preempt delay step every advert.
   */
  #deferRepeat(slot: RouterSlot, r: ReceivedAdvert, now: number): boolean {
    if (slot.heard !== r || slot.after !== slot.state || this.#stopped) return false;
    slot.repeatAt = now;
    return true;
  }

  /** noteHeard records an advert just stepped, when a repeat of it may be deferred (see deferRepeat). */
  #noteHeard(slot: RouterSlot, r: ReceivedAdvert): void {
    const ok = slot.state.kind === 'backup' && slot.state.config.preemptDelayMs === 0 && this.#lastActions === 0;
    if (slot.hushed !== undefined && (slot.hushed !== r || !ok)) this.#unhush(slot);
    if (slot.heard !== (ok ? r : undefined)) slot.repeatAt = undefined; // stepped already (see replayRepeat)
    slot.heard = ok ? r : undefined;
    slot.after = ok ? slot.state : undefined;
    if (ok && slot.hushed === undefined && this.#hushable(slot, r) && slot.state.kind === 'backup') {
      const watchMs = masterDownIntervalMs(slot.state.config.priority, slot.state.masterAdverIntervalCs);
      if (this.#deps.ports.adverts[r.family]?.hush?.(r, watchMs) === true) {
        slot.hushed = r;
        this.#hushed.add(slot);
        slot.log.debug({ from: r.from, priority: r.advert.priority }, 'repeats of the followed advert hushed');
      }
      if (slot.hushed !== undefined && this.#sweep === undefined) this.#armSweep();
    }
  }

  #armSweep(): void {
    this.#sweep = this.#deps.clock.setTimer(() => this.#sweepHushed(), SWEEP_MS, { background: true });
  }

  /**
   * sweepHushed takes in, every SWEEP_MS, the left-out repeats of each hushed backup whose Master_Down_Timer would
   * come before the next sweep, so while its master is heard that timer never fires: hundreds of routers cost one
   * wake-up per sweep instead of one per router every Master_Down_Interval (each at its own moment). Folding early is
   * stepping the last repeat at its own time, as the timer would (see fold); a router whose master fell silent keeps
   * its deadline and its timer fires on time.
   *
   * With a channel that watches (due: it knows each hushed router's Master_Down_Interval and when its last repeat
   * came), the sweep looks only at the routers it names, and a router whose deadline lies past the next sweep is
   * parked: out of the scheduler, nothing stepped, until the channel names it (its master fell silent for
   * Master_Down_Interval less the look-ahead) or another event steps it. A sweep is then one call per family while
   * every master is heard. Parked timers cannot fire late for the sweep's sake: a parked deadline lies at least
   * SWEEP_AHEAD_MS past the next sweep, and a sweep held up until after it means the loop was busy all that time,
   * when the timer would have waited as long.
   */
  #sweepHushed(): void {
    this.#sweep = undefined;
    if (this.#stopped || this.#hushed.size === 0) return;
    const aheadMs = SWEEP_MS + SWEEP_AHEAD_MS;
    const horizon = this.#deps.clock.now() + aheadMs;
    for (const family of ['ipv4', 'ipv6'] as const) {
      const due = this.#deps.ports.adverts[family]?.due?.(aheadMs);
      if (due === undefined) {
        for (const slot of this.#hushed) if (slot.router.config.family === family) this.#look(slot, horizon, false);
        continue;
      }
      for (const vrid of due) {
        const slot = this.#slots.get(routerKey(family, vrid));
        if (slot?.hushed !== undefined) this.#look(slot, horizon, true);
      }
    }
    if (this.#hushed.size > 0) this.#armSweep();
  }

  /**
   * look folds a hushed router's repeats when its deadline comes before `horizon` (watched: the channel named it),
   * and gives the scheduler its new deadline; a watched router whose deadline moved past `horizon` is parked.
   */
  #look(slot: RouterSlot, horizon: number, watched: boolean): void {
    const before = deadlineOf(slot.state);
    if (!watched && (before === undefined || before > horizon)) return;
    this.#replayRepeat(slot);
    const after = deadlineOf(slot.state);
    if (watched && after !== undefined && after > horizon) {
      if (!slot.parked) this.#scheduler.set(slot.router.key, undefined);
      slot.parked = true;
    } else if (slot.parked) this.#unpark(slot, after);
    else if (after !== before) this.#scheduler.set(slot.router.key, after, true);
  }

  /** watched: the router's channel names its hushed routers that need a look (see sweepHushed). */
  #watched(slot: RouterSlot): boolean {
    return slot.hushed !== undefined && this.#deps.ports.adverts[slot.router.config.family]?.due !== undefined;
  }

  /**
   * hushable: the repeats of `r` may be left out by the channel (only counted; see fold): the receive decision for
   * its bytes cannot change while the router's spec stays (reconfigureRouter unhushes). Not for authenticated routers
   * (every advert carries a new counter, so a repeat is a replay, counted as invalid), nor for an advert accepted by
   * its MAC (an IPv6 link-local source tied to a candidate or peer by the neighbour table, which may change) or
   * because candidate MACs are still unresolved (receive-filter.ts).
   */
  #hushable(slot: RouterSlot, r: ReceivedAdvert): boolean {
    if (slot.keyring !== undefined || r.auth !== undefined || r.fromPeer !== undefined) return false;
    const peers = this.#filter.unicastPeers;
    if (peers.size > 0 && !peers.has(r.from)) return false;
    const allowed = this.#candidateSources.get(slot.router.key);
    return allowed === undefined || allowed.size === 0 || allowed.has(r.from);
  }

  /**
   * fold takes in the repeats of the hushed advert that the channel left out since the last ask, as deferRepeat
   * takes a repeat handed over: counted as received, the sender seen as advertising, the last one's time kept to be
   * stepped (replayRepeat). The channel left them out only while the router stayed in the state that advert left
   * (every other step unhushes first), so stepping the last one then is what stepping each would have done.
   */
  #fold(slot: RouterSlot): void {
    const r = slot.hushed;
    if (r === undefined) return;
    const again = this.#deps.ports.adverts[r.family]?.heardAgain?.(r.advert.vrid);
    if (again === undefined || again.count === 0) return;
    const at = this.#deps.clock.now() - Math.max(0, again.ageMs);
    slot.received += again.count;
    if (r.advert.priority > 0 && r.from !== slot.router.config.primaryAddress) slot.advertisers.set(r.from, at);
    if (r.checksumMode === 'no-pseudo-header')
      this.#deps.metrics.legacyChecksum.inc({ vrid: String(r.advert.vrid) }, again.count);
    slot.repeatAt = Math.max(slot.repeatAt ?? Number.NEGATIVE_INFINITY, at);
  }

  /** unhush takes in what the channel left out, then has it hand over every advert of the router again. */
  #unhush(slot: RouterSlot): void {
    const r = slot.hushed;
    if (r === undefined) return;
    this.#fold(slot);
    slot.hushed = undefined;
    this.#hushed.delete(slot);
    this.#deps.ports.adverts[r.family]?.unhush?.(r.advert.vrid);
    this.#unpark(slot, deadlineOf(slot.state));
  }

  /** unpark puts a parked router's deadline back in the scheduler (a stale one is early: due() replays first). */
  #unpark(slot: RouterSlot, deadline: number | undefined): void {
    if (!slot.parked) return;
    slot.parked = false;
    this.#scheduler.set(slot.router.key, deadline, true);
  }

  /** replayRepeat steps a deferred repeat at the time it arrived (see deferRepeat), before any other event. */
  #replayRepeat(slot: RouterSlot): void {
    this.#fold(slot);
    const at = slot.repeatAt;
    const heard = slot.heard;
    if (at === undefined || heard === undefined) return;
    slot.repeatAt = undefined;
    this.#stepAt(slot, { type: 'advert', from: heard.from, advert: heard.advert }, at);
    this.#noteHeard(slot, heard);
  }

  #step(key: RouterKey, event: RouterEvent): void {
    const slot = this.#slots.get(key);
    if (!slot || this.#stopped) return;
    this.#replayRepeat(slot);
    this.#stepAt(slot, event, this.#deps.clock.now());
    // Another event moved the router on: its master's next repeat must be stepped afresh (see deferRepeat).
    if (event.type !== 'advert' && slot.hushed !== undefined && slot.state !== slot.after) this.#unhush(slot);
  }

  #stepAt(slot: RouterSlot, event: RouterEvent, now: number): void {
    const key = slot.router.key;
    if (this.#deferred !== undefined) this.#runDeferred(); // the last batch's books come before anything later
    this.#batches.leave(key);
    const res = step(slot.state, event, now);
    this.#lastActions = res.actions.length;
    const before = slot.state.kind;
    slot.state = res.state;
    if (res.state.kind !== before) slot.generation++;
    slot.parked = false;
    this.#scheduler.set(key, res.deadline);
    if (res.actions.length === 0) return;
    const effects = this.#effectsOf(slot, res.actions);
    if (before !== 'master' && res.state.kind === 'master') {
      if (this.#collect !== undefined) this.#collect.push({ slot, effects, before, now });
      else this.#takeOver(slot, effects, before, now);
      return;
    }
    for (const effect of effects) this.#apply(slot, effect, before, now);
  }

  /**
   * effectsOf is planEffects, remembered for a master's steady advert: the same single send-advert action every
   * interval gives the same effects (the same Advert object, which the advert channel recognises and sends as the
   * frame it built before).
   */
  #effectsOf(slot: RouterSlot, actions: readonly RouterAction[]): readonly Effect[] {
    const a = actions[0];
    if (actions.length !== 1 || a?.type !== 'send-advert') {
      return planEffects(slot.router, actions, { unicastPeers: slot.router.peers });
    }
    const memo = slot.advertMemo;
    if (
      memo?.router === slot.router &&
      memo.action.priority === a.priority &&
      memo.action.intervalCs === a.intervalCs &&
      memo.action.addresses === a.addresses
    ) {
      return memo.effects;
    }
    const effects = planEffects(slot.router, actions, { unicastPeers: slot.router.peers });
    slot.advertMemo = { router: slot.router, action: a, effects };
    return effects;
  }

  /**
   * takeOver applies a transition to master in RFC 5798 §6.4.2's order: the advert first, then ARP / NDP. Adverts
   * leave synchronously (one sendmmsg on the packet socket), so by the time answering and gratuitous ARP start the
   * advert is in the kernel and the old master, if alive, hears of the new one no later than a client does.
   */
  #takeOver(slot: RouterSlot, effects: readonly Effect[], before: StateName, now: number): void {
    for (const effect of effects) if (effect.kind === 'send') this.#apply(slot, effect, before, now);
    for (const effect of effects) if (effect.kind !== 'send') this.#apply(slot, effect, before, now);
  }

  /**
   * takeOverBatch steps the Master_Down_Timer of routers told by one liveness signal (takeover-batch.ts) and applies
   * their takeovers in phases, §6.4.2's order kept for each: every advert, handed to the kernel in one batch; then
   * answering for every VIP (one filter update); then the first gratuitous ARP / unsolicited NA of every VIP. Logs,
   * metrics and onTransition (status, Events) run after, in a timer of 0 ms, or before any later step.
   */
  #takeOverBatch(keys: readonly RouterKey[]): void {
    if (this.#stopped) return;
    const started = this.#deps.clock.now();
    const taken: Takeover[] = [];
    this.#collect = taken;
    try {
      for (const key of keys) this.#step(key, { type: 'timer' });
    } finally {
      this.#collect = undefined;
    }
    if (taken.length === 0) return;
    for (const t of taken) for (const e of t.effects) if (e.kind === 'send') this.#apply(t.slot, e, t.before, t.now);
    for (const channel of Object.values(this.#deps.ports.adverts)) channel?.flush?.();
    for (const t of taken) {
      for (const e of t.effects) if (e.kind === 'answer') this.#vips.setMaster(t.slot.router.key, e.on);
    }
    this.#deps.ports.answering?.(this.#vips.mastered());
    // The first announcement round of every VIP in one batch per family; the later rounds start from the books.
    const announced = new Set<RouterSlot>(); // routers whose first round left here
    const sent: string[] = [];
    for (const family of ['ipv4', 'ipv6'] as const) {
      const announcer = this.#deps.ports.announcers[family];
      const slots = taken
        .filter((t) => t.slot.router.config.family === family && t.effects.some((e) => e.kind === 'announce'))
        .map((t) => t.slot)
        .filter((slot) => slot.router.gratuitous.count >= 1);
      if (announcer?.announceNow === undefined || slots.length === 0) continue;
      const outcome = announcer.announceNow(slots.flatMap((slot) => slot.router.vips));
      sent.push(`${family} ${outcome.frames}${outcome.ok ? '' : ` (${outcome.detail})`}`);
      this.#deps.metrics.gratuitousSent.inc({ family, interface: this.#deps.ifname }, outcome.frames);
      for (const slot of slots) announced.add(slot);
    }
    for (const t of taken) {
      if (!announced.has(t.slot)) for (const e of t.effects) if (e.kind === 'announce') this.#announce(t.slot);
    }
    const tookMs = Math.round((this.#deps.clock.now() - started) * 100) / 100;
    this.#deps.logger.info(
      { interface: this.#deps.ifname, routers: taken.length, tookMs, gratuitous: sent.join(', ') },
      'liveness takeover batch',
    );
    const books = () => {
      for (const t of taken) {
        for (const e of t.effects) {
          if (e.kind === 'answer') for (const vip of t.slot.router.vips) this.#vipGauge(t.slot, vip).set(e.on ? 1 : 0);
          else if (e.kind === 'announce') {
            if (announced.has(t.slot)) this.#announce(t.slot, true);
          } else if (e.kind !== 'send') this.#apply(t.slot, e, t.before, t.now);
        }
      }
    };
    this.#deferred = books;
    const cancel = this.#deps.clock.setTimer(() => this.#runDeferred(), 0);
    this.#cancelDeferred = cancel;
  }

  /** runDeferred runs the books of the last batch now, once. */
  #runDeferred(): void {
    const books = this.#deferred;
    this.#deferred = undefined;
    this.#cancelDeferred?.();
    this.#cancelDeferred = undefined;
    books?.();
  }

  #apply(slot: RouterSlot, effect: Effect, before: StateName, now: number): void {
    const { router, log } = slot;
    const { vrid, family } = router.config;
    const m = this.#deps.metrics;
    switch (effect.kind) {
      case 'send':
        this.#send(slot, effect.advert, effect.to, now);
        return;
      case 'answer':
        this.#vips.setMaster(router.key, effect.on);
        this.#deps.ports.answering?.(this.#vips.mastered());
        for (const vip of router.vips) this.#vipGauge(slot, vip).set(effect.on ? 1 : 0);
        return;
      case 'announce':
        this.#announce(slot);
        return;
      case 'cancel-announce':
        slot.announce.abort();
        return;
      case 'transition': {
        m.transitions.inc({ vrid: String(vrid), family, to: effect.to, reason: effect.reason });
        m.routerState.set({ vrid: String(vrid), family, interface: this.#deps.ifname }, STATE_NUMBER[effect.to]);
        const fields = {
          from: before,
          to: effect.to,
          reason: effect.reason,
          priority: router.config.priority,
          ...(effect.master === undefined
            ? {}
            : { master: effect.master.address, masterPriority: effect.master.priority }),
        };
        // One line per VIP, so a search for a VIP finds every change of its master.
        for (const vip of router.vips) log.info({ ...fields, vip }, `${vip} ${before} -> ${effect.to}`);
        this.#deps.onTransition?.(router.key, effect.to, effect.reason);
        return;
      }
      case 'ignored':
        log.debug({ reason: effect.reason, from: effect.from }, 'advert ignored');
        return;
      case 'invalid':
        m.invalidPackets.inc({ family, reason: effect.reason });
        if (this.#invalidLog.allow(`${family}/${effect.reason}/${effect.from}`, now)) {
          log.warn(
            { reason: effect.reason, from: effect.from, ours: effect.ours, theirs: effect.theirs },
            'invalid VRRP packet dropped',
          );
        }
        return;
      case 'mismatch':
        if (this.#limiter.allow(`${router.key}/${effect.field}/${effect.from}`, now)) {
          log.warn(
            { field: effect.field, from: effect.from, ours: effect.ours, theirs: effect.theirs },
            'advert differs from our configuration (RFC 5798 §7.1); processed anyway',
          );
        }
        return;
      case 'config-rejected':
        log.error({ errors: effect.errors }, 'router configuration change rejected');
        return;
    }
  }

  #send(slot: RouterSlot, advert: Advert, to: string | undefined, now: number): void {
    const { family } = slot.router.config;
    const channel = this.#deps.ports.adverts[family];
    if (!channel) return;
    let seal: AdvertSeal | undefined;
    if (slot.keyring !== undefined) {
      this.#counter = nextCounter(this.#counter, this.#deps.clock.wallNow());
      seal = { key: slot.keyring.send, counter: this.#counter };
    }
    const outcome = channel.send(advert, to, seal);
    if (outcome.ok) slot.sent++;
    else if (this.#sendErrors.allow(slot.router.key, now)) {
      slot.log.warn({ to: to ?? 'multicast', detail: outcome.detail, priority: advert.priority }, 'advert not sent');
    }
  }

  /**
   * announce starts the takeover announcement (gratuitous ARP / unsolicited NA: `count` rounds `spacingMs` apart),
   * replacing one in progress, then, while the router stays master, one more round every `refreshMs` (keepalived's
   * garp_master_refresh). Leaving master aborts the signal, which cancels both.
   */
  #announce(slot: RouterSlot, firstSent = false): void {
    slot.announce.abort(); // a new announcement replaces one in progress
    slot.announce = new AbortController();
    const { count, spacingMs } = slot.router.gratuitous;
    if (count < 1) return;
    if (!firstSent) {
      this.#announceRound(slot, count, slot.announce.signal);
      return;
    }
    // The first round left with a takeover batch (announceNow): the rest follow `spacingMs` after it.
    const signal = slot.announce.signal;
    const cancel = this.#deps.clock.setTimer(
      () => {
        if (!signal.aborted && !this.#stopped && slot.state.kind === 'master')
          this.#announceRound(slot, count - 1, signal);
      },
      count > 1 ? spacingMs : 0,
      { background: true },
    );
    signal.addEventListener('abort', cancel, { once: true });
  }

  #announceRound(slot: RouterSlot, count: number, signal: AbortSignal): void {
    const announcer = this.#deps.ports.announcers[slot.router.config.family];
    if (!announcer) return;
    const { spacingMs, refreshMs } = slot.router.gratuitous;
    for (const vip of count > 0 ? slot.router.vips : []) {
      const done = announcer.announce(vip, { count, spacingMs, signal }).then((outcome) => {
        const labels = { family: slot.router.config.family, interface: this.#deps.ifname };
        this.#deps.metrics.gratuitousSent.inc(labels, outcome.frames);
        if (!outcome.ok && !signal.aborted) slot.log.warn({ vip, detail: outcome.detail }, 'announcement cut short');
      });
      this.#track(done);
    }
    if (refreshMs <= 0) return;
    const cancel = this.#deps.clock.setTimer(
      () => {
        if (signal.aborted || this.#stopped || slot.state.kind !== 'master') return;
        if (slot.router.gratuitous.count >= 1) this.#announceRound(slot, 1, signal);
      },
      refreshMs,
      { background: true },
    );
    signal.addEventListener('abort', cancel, { once: true });
  }

  #track(p: Promise<unknown>): void {
    this.#pending.add(p);
    void p.finally(() => this.#pending.delete(p));
  }

  /** dropVipGauge removes a VIP's series (its labels change, or the router goes): no stale 0/1 lingers. */
  #dropVipGauge(slot: RouterSlot, vip: string): void {
    const { vrid, family } = slot.router.config;
    const labels = { vip, vrid: String(vrid), family, node: this.#deps.nodeName, service: serviceLabel(slot.router) };
    this.#deps.metrics.vipMaster.remove(labels);
  }

  #vipGauge(slot: RouterSlot, vip: string) {
    const { vrid, family } = slot.router.config;
    return this.#deps.metrics.vipMaster.labels({
      vip,
      vrid: String(vrid),
      family,
      node: this.#deps.nodeName,
      service: serviceLabel(slot.router),
    });
  }
}
