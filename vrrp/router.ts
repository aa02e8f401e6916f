/**
 * One VRRPv3 virtual router as a pure state machine (RFC 5798 §6.4, as revised by RFC 9568 §6.4).
 *
 * `step(state, event, now)` takes the current state, one event and the time in ms, and returns the next state, the
 * actions the caller must carry out (send an advert, announce or withdraw the VIPs, log), and the router's single
 * deadline (backup: Master_Down_Timer; master: Adver_Timer). Nothing here does I/O or reads a clock; the caller arms
 * one timer for the deadline and delivers `{ type: 'timer' }` when it comes.
 *
 * Choices where the RFC leaves room, or where metal-vrrp departs from a plain reading:
 * - An advert for another VRID is ignored with reason 'vrid-mismatch' rather than trusted to the caller's demux; an
 *   advert from our own primary address (multicast loopback) is ignored, so a master never answers itself (§6.4.3).
 * - §7.1: an address list or interval that differs from ours is reported with a `mismatch` action and the advert is
 *   still processed (the RFC says log, rate-limited; the caller rate-limits). A VIP set rolled out node by node must
 *   not cause elections.
 * - RFC 9568 §6.4.3: a master that hears a lower-priority advert discards it but sends an advert at once. Because
 *   metal-vrrp answers ARP with node MACs (no virtual MAC), the sender may have poisoned ARP caches with a gratuitous
 *   ARP, so the master also emits `announce` (keepalived's garp_lower_prio_rep).
 * - Preempt delay follows keepalived's `preempt_delay`: see `backupOnAdvert`.
 * - Priority 255 (owner) is refused by config, so Initialize always leads to Backup (§6.4.1's owner branch is unused).
 */

import type { Advert } from './advert.ts';
import {
  compareAddresses,
  PRIORITY_SHUTDOWN,
  type RouterConfig,
  type RouterConfigChanges,
  sameAddressSet,
  validateRouterConfig,
} from './router-config.ts';
import { centisecondsToMs, masterDownIntervalMs, skewTimeMs } from './timing.ts';

/** Peer is another router as its adverts show it: source address and priority. */
export interface Peer {
  readonly address: string;
  readonly priority: number;
}

/** InitializeState: not taking part, waiting for startup (§6.4.1). */
export interface InitializeState {
  readonly kind: 'initialize';
  readonly config: RouterConfig;
}

/** TimerCause records what last armed the Master_Down_Timer, to name the reason when it fires. */
export type TimerCause = 'startup' | 'advert' | 'priority-zero';

/** BackupState: watching the master (§6.4.2). */
export interface BackupState {
  readonly kind: 'backup';
  readonly config: RouterConfig;
  /** masterDownAt is when the Master_Down_Timer fires (ms). */
  readonly masterDownAt: number;
  /** masterAdverIntervalCs is Master_Adver_Interval: our own interval until a master's advert teaches us its own. */
  readonly masterAdverIntervalCs: number;
  /** master is the router whose adverts we last heard, accepted or (preempting) discarded. */
  readonly master: Peer | undefined;
  readonly timerCause: TimerCause;
  /** preempting is true while we discard a lower-priority master's adverts (§6.4.2, Preempt_Mode true). */
  readonly preempting: boolean;
  /**
   * preemptHoldUntil is the end of the preempt delay window: undefined when no window is open (none configured,
   * or closed by a higher-priority advert); a past time once it has run out.
   */
  readonly preemptHoldUntil: number | undefined;
}

/** MasterState: forwarding for the VIPs and advertising (§6.4.3). */
export interface MasterState {
  readonly kind: 'master';
  readonly config: RouterConfig;
  /** nextAdvertAt is when the Adver_Timer fires (ms). */
  readonly nextAdvertAt: number;
}

/** RouterState is the virtual router's state, a discriminated union on `kind` (§6.4). */
export type RouterState = InitializeState | BackupState | MasterState;

/** RouterEvent is one input to step(). */
export type RouterEvent =
  | { readonly type: 'startup' }
  | { readonly type: 'shutdown' }
  /** timer: the deadline from the last step has come (early deliveries are ignored). */
  | { readonly type: 'timer' }
  /** advert: a decoded advert; `from` is the IP source address, canonical text. */
  | { readonly type: 'advert'; readonly from: string; readonly advert: Advert }
  | { readonly type: 'configure'; readonly changes: RouterConfigChanges };

/** MasterReason says why a backup took over. */
export type MasterReason =
  | 'no-master' // no advert heard since startup
  | 'master-down' // the master fell silent for Master_Down_Interval
  | 'priority-zero' // the master resigned with a priority-0 advert; we waited Skew_Time
  | 'preempt'; // we discarded a lower-priority master's adverts until our timer fired

/** BackupReason says why a router became backup. */
export type BackupReason = 'startup' | 'higher-priority' | 'higher-address';

/** IGNORE_REASONS lists why an advert is discarded, so metrics can pre-register one label per reason. */
export const IGNORE_REASONS = [
  'vrid-mismatch', // not this router's VRID
  'not-running', // Initialize state: the router is stopped
  'bad-source', // the source address does not parse in the router's family
  'own-address', // our own advert looped back
  'lower-priority', // backup with Preempt_Mode, or master: the sender has a lower priority (§6.4.2, §6.4.3)
  'lower-address', // master: equal priority, the sender's primary address is lower (§6.4.3)
] as const;

/** IgnoreReason is one of IGNORE_REASONS. */
export type IgnoreReason = (typeof IGNORE_REASONS)[number];

/** SendAdvert asks the caller to send an advert with these fields (the VRID is the router's). */
export interface SendAdvert {
  readonly type: 'send-advert';
  readonly priority: number;
  readonly intervalCs: number;
  readonly addresses: readonly string[];
}

/** RouterAction is one output of step(): things for the caller to do or record, in order. */
export type RouterAction =
  | SendAdvert
  /** become-master: start answering ARP/NDP for the addresses and send gratuitous ARP / unsolicited NA (§6.4.2). */
  | { readonly type: 'become-master'; readonly reason: MasterReason }
  /** become-backup: do not answer for the addresses (§6.4.2). */
  | { readonly type: 'become-backup'; readonly reason: BackupReason; readonly master?: Peer }
  /** resign: the router left the election (shutdown, §6.4.2/§6.4.3); `was` is the state it left. */
  | { readonly type: 'resign'; readonly was: 'backup' | 'master' }
  /** announce: still master, send gratuitous ARP / unsolicited NA again: a lower-priority router claimed the VIPs. */
  | { readonly type: 'announce'; readonly reason: 'lower-priority-master'; readonly from: string }
  | { readonly type: 'ignore'; readonly reason: IgnoreReason; readonly from: string }
  /** mismatch: §7.1 "SHOULD log": the advert differs from our config in this field; it was processed anyway. */
  | {
      readonly type: 'mismatch';
      readonly field: 'addresses' | 'interval';
      readonly from: string;
      readonly ours: string;
      readonly theirs: string;
    }
  | { readonly type: 'config-rejected'; readonly errors: readonly string[] };

/** StepResult is the next state, the actions to carry out, and the one deadline to arm (undefined: none). */
export interface StepResult {
  readonly state: RouterState;
  readonly actions: readonly RouterAction[];
  readonly deadline: number | undefined;
}

/** initialRouterState is a router in Initialize, ready for `startup`; `config` should come from validateRouterConfig. */
export function initialRouterState(config: RouterConfig): InitializeState {
  return { kind: 'initialize', config };
}

/** deadlineOf is the single deadline a state needs: Master_Down_Timer in backup, Adver_Timer in master. */
export function deadlineOf(state: RouterState): number | undefined {
  if (state.kind === 'backup') return state.masterDownAt;
  if (state.kind === 'master') return state.nextAdvertAt;
  return undefined;
}

function result(state: RouterState, actions: readonly RouterAction[] = []): StepResult {
  return { state, actions, deadline: deadlineOf(state) };
}

function advertFrom(config: RouterConfig, priority = config.priority): SendAdvert {
  return { type: 'send-advert', priority, intervalCs: config.advertIntervalCs, addresses: config.addresses };
}

/** step applies one event at time `now` (ms) and returns the next state, actions and deadline. */
export function step(state: RouterState, event: RouterEvent, now: number): StepResult {
  switch (event.type) {
    case 'startup':
      return onStartup(state, now);
    case 'shutdown':
      return onShutdown(state);
    case 'timer':
      return onTimer(state, now);
    case 'advert':
      return onAdvert(state, event.from, event.advert, now);
    case 'configure':
      return onConfigure(state, event.changes, now);
  }
}

/** onStartup: §6.4.1, Initialize → Backup with Master_Down_Timer = Master_Down_Interval from our own interval. */
function onStartup(state: RouterState, now: number): StepResult {
  if (state.kind !== 'initialize') return result(state);
  const config = state.config;
  const backup: BackupState = {
    kind: 'backup',
    config,
    masterAdverIntervalCs: config.advertIntervalCs,
    masterDownAt: now + masterDownIntervalMs(config.priority, config.advertIntervalCs),
    master: undefined,
    timerCause: 'startup',
    preempting: false,
    preemptHoldUntil: config.preemptDelayMs > 0 ? now + config.preemptDelayMs : undefined,
  };
  return result(backup, [{ type: 'become-backup', reason: 'startup' }]);
}

/** onShutdown: backup cancels its timer (§6.4.2); master sends priority 0 first (§6.4.3). Both go to Initialize. */
function onShutdown(state: RouterState): StepResult {
  if (state.kind === 'initialize') return result(state);
  const next = initialRouterState(state.config);
  if (state.kind === 'backup') return result(next, [{ type: 'resign', was: 'backup' }]);
  return result(next, [advertFrom(state.config, PRIORITY_SHUTDOWN), { type: 'resign', was: 'master' }]);
}

function onTimer(state: RouterState, now: number): StepResult {
  if (state.kind === 'backup') {
    if (now < state.masterDownAt) return result(state);
    // §6.4.2 Master_Down_Timer fires: send an advert, announce the addresses (the caller, on become-master),
    // set Adver_Timer to Advertisement_Interval, become master.
    const config = state.config;
    const master: MasterState = {
      kind: 'master',
      config,
      nextAdvertAt: now + centisecondsToMs(config.advertIntervalCs),
    };
    return result(master, [advertFrom(config), { type: 'become-master', reason: masterReason(state) }]);
  }
  if (state.kind === 'master') {
    if (now < state.nextAdvertAt) return result(state);
    // §6.4.3 Adver_Timer fires: send an advert, reset the timer.
    const next: MasterState = { ...state, nextAdvertAt: now + centisecondsToMs(state.config.advertIntervalCs) };
    return result(next, [advertFrom(state.config)]);
  }
  return result(state);
}

function masterReason(state: BackupState): MasterReason {
  if (state.timerCause === 'priority-zero') return 'priority-zero';
  if (state.preempting) return 'preempt';
  return state.timerCause === 'startup' ? 'no-master' : 'master-down';
}

function onAdvert(state: RouterState, from: string, advert: Advert, now: number): StepResult {
  const config = state.config;
  if (advert.vrid !== config.vrid) return result(state, [{ type: 'ignore', reason: 'vrid-mismatch', from }]);
  if (state.kind === 'initialize') return result(state, [{ type: 'ignore', reason: 'not-running', from }]);
  const order = compareAddresses(from, config.primaryAddress, config.family);
  if (order === undefined) return result(state, [{ type: 'ignore', reason: 'bad-source', from }]);
  if (order === 0) return result(state, [{ type: 'ignore', reason: 'own-address', from }]);
  const notes = mismatches(config, from, advert);
  const next =
    state.kind === 'backup'
      ? backupOnAdvert(state, from, advert, now)
      : masterOnAdvert(state, from, advert, order > 0, now);
  return notes.length === 0 ? next : { ...next, actions: [...notes, ...next.actions] };
}

/** mismatches are the §7.1 checks that log but do not discard: Max Advertise Interval and the address list. */
function mismatches(config: RouterConfig, from: string, advert: Advert): RouterAction[] {
  const out: RouterAction[] = [];
  if (advert.maxAdvertIntervalCs !== config.advertIntervalCs) {
    const ours = `${config.advertIntervalCs}cs`;
    out.push({ type: 'mismatch', field: 'interval', from, ours, theirs: `${advert.maxAdvertIntervalCs}cs` });
  }
  if (!sameAddressSet(config.addresses, advert.addresses)) {
    const ours = config.addresses.join(',');
    out.push({ type: 'mismatch', field: 'addresses', from, ours, theirs: advert.addresses.join(',') });
  }
  return out;
}

/**
 * backupOnAdvert is §6.4.2 "If an ADVERTISEMENT is received", with keepalived's preempt_delay:
 * - priority 0: Master_Down_Timer = Skew_Time;
 * - Preempt_Mode false, or priority ≥ ours, or a preempt delay window open: accept — learn Master_Adver_Interval,
 *   recompute Skew_Time and Master_Down_Interval (RFC 9568 adds the skew step), reset the timer;
 * - otherwise discard, so our timer runs out and we take over (preemption).
 *
 * Preempt delay (keepalived vrrp_state_backup): a window of preemptDelayMs opens at startup. While it is open a
 * lower-priority master is followed as if Preempt_Mode were false. An advert at or above our priority closes the window;
 * the next lower-priority advert after that opens a new one. Once a window has run out, lower adverts are discarded.
 * A silent link is not affected: with no master at all, the Master_Down_Timer still fires as usual.
 */
function backupOnAdvert(state: BackupState, from: string, advert: Advert, now: number): StepResult {
  const config = state.config;
  if (advert.priority === PRIORITY_SHUTDOWN) {
    const masterDownAt = now + skewTimeMs(config.priority, state.masterAdverIntervalCs);
    return result({ ...state, masterDownAt, master: undefined, timerCause: 'priority-zero', preempting: false });
  }
  const peer: Peer = { address: from, priority: advert.priority };
  const delay = config.preemptDelayMs;
  const holding = delay > 0 && (state.preemptHoldUntil === undefined || now < state.preemptHoldUntil);
  if (!config.preempt || advert.priority >= config.priority || holding) {
    let preemptHoldUntil = state.preemptHoldUntil;
    if (delay > 0) {
      if (advert.priority >= config.priority) preemptHoldUntil = undefined;
      else if (preemptHoldUntil === undefined) preemptHoldUntil = now + delay;
    }
    const interval = advert.maxAdvertIntervalCs;
    return result({
      ...state,
      masterAdverIntervalCs: interval,
      masterDownAt: now + masterDownIntervalMs(config.priority, interval),
      master: peer,
      timerCause: 'advert',
      preempting: false,
      preemptHoldUntil,
    });
  }
  return result({ ...state, master: peer, preempting: true }, [{ type: 'ignore', reason: 'lower-priority', from }]);
}

/**
 * masterOnAdvert is §6.4.3 "If an ADVERTISEMENT is received":
 * - priority 0: send an advert at once and reset the Adver_Timer;
 * - higher priority, or equal priority from a higher primary address: become backup, learning the sender's interval;
 * - otherwise discard, and (RFC 9568) send an advert at once to assert mastership to the sender.
 */
function masterOnAdvert(
  state: MasterState,
  from: string,
  advert: Advert,
  higherAddress: boolean,
  now: number,
): StepResult {
  const config = state.config;
  if (advert.priority === PRIORITY_SHUTDOWN) {
    const next: MasterState = { ...state, nextAdvertAt: now + centisecondsToMs(config.advertIntervalCs) };
    return result(next, [advertFrom(config)]);
  }
  const higher = advert.priority > config.priority;
  if (higher || (advert.priority === config.priority && higherAddress)) {
    const master: Peer = { address: from, priority: advert.priority };
    const interval = advert.maxAdvertIntervalCs;
    const backup: BackupState = {
      kind: 'backup',
      config,
      masterAdverIntervalCs: interval,
      masterDownAt: now + masterDownIntervalMs(config.priority, interval),
      master,
      timerCause: 'advert',
      preempting: false,
      preemptHoldUntil: undefined,
    };
    return result(backup, [{ type: 'become-backup', reason: higher ? 'higher-priority' : 'higher-address', master }]);
  }
  const reason: IgnoreReason = advert.priority < config.priority ? 'lower-priority' : 'lower-address';
  return result(state, [
    { type: 'ignore', reason, from },
    advertFrom(config),
    { type: 'announce', reason: 'lower-priority-master', from },
  ]);
}

/**
 * onConfigure changes a running router without an election of its own: a new priority, interval or preempt setting
 * applies from the next advert sent or received, so a master whose priority drops stays master until a higher advert
 * arrives, and a backup whose priority rises takes over only by the §6.4.2 rules (discarding the now-lower master's
 * adverts, with Preempt_Mode, until its timer fires). A master moves its Adver_Timer earlier when the interval shrinks.
 */
function onConfigure(state: RouterState, changes: RouterConfigChanges, now: number): StepResult {
  const checked = validateRouterConfig({ ...state.config, ...changes });
  if ('errors' in checked) return result(state, [{ type: 'config-rejected', errors: checked.errors }]);
  const config = checked.config;
  if (state.kind === 'master') {
    const nextAdvertAt = Math.min(state.nextAdvertAt, now + centisecondsToMs(config.advertIntervalCs));
    return result({ ...state, config, nextAdvertAt });
  }
  return result({ ...state, config });
}
