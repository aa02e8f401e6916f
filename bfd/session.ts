/**
 * One BFD session in asynchronous mode as a pure state machine (RFC 5880 §6.2, §6.8; single hop per RFC 5881).
 *
 * `step(session, event, now, random)` takes the session, one event, the time in ms and a uniform random source in
 * [0, 1) for the §6.8.7 jitter, and returns the next session, the actions for the caller (send a packet, report up or
 * down, count a drop) and the session's single deadline: the earlier of the next periodic transmission and the
 * Detection Time. Nothing here does I/O or reads a clock; the caller arms one timer and delivers `{ type: 'timer' }`.
 *
 * Choices where the RFC leaves room:
 * - Active role only (§6.1): we always send, so a peer may be passive. No Demand mode, no Echo function (we send
 *   Required Min Echo RX Interval 0), no authentication: a packet with the A bit is dropped (§6.8.6).
 * - A packet is sent at once on every state change (and the periodic schedule restarts from it), so bring-up takes
 *   three packets' flight time instead of up to three slow (1 s) intervals. FRR's bfdd does the same.
 * - A poll started while another is outstanding shares its Final (§6.8.3 allows "a single BFD Control packet");
 *   only interval changes by `configure` while Up can cause that.
 */

import { type ControlPacket, DIAG, type SessionStateName } from './packet.ts';
import { type SessionConfig, validateSessionConfig } from './session-config.ts';
import { advertisedMinTxUs, detectionTimeMs, jitteredMs, transmitIntervalUs } from './timing.ts';

/** Session is the RFC 5880 §6.8.1 state variables of one session plus its two timers. */
export interface Session {
  readonly config: SessionConfig;
  /** state is bfd.SessionState. */
  readonly state: SessionStateName;
  /** localDiag is bfd.LocalDiag: our reason for the last state change, sent in every packet. */
  readonly localDiag: number;
  readonly remoteState: SessionStateName;
  /** remoteDiscriminator is bfd.RemoteDiscr: 0 until heard, and again after a Detection Time of silence. */
  readonly remoteDiscriminator: number;
  /** remoteMinRxUs is bfd.RemoteMinRxInterval: initialized to 1 (§6.8.1). */
  readonly remoteMinRxUs: number;
  /** remoteDesiredMinTxUs is the last received Desired Min TX Interval, for the Detection Time (§6.8.4). */
  readonly remoteDesiredMinTxUs: number;
  readonly remoteDetectMult: number;
  /** remoteDemand is bfd.RemoteDemandMode (§6.8.1). */
  readonly remoteDemand: boolean;
  /** desiredMinTxUs is bfd.DesiredMinTxInterval as we advertise it: ≥ 1 s while not Up (§6.8.3). */
  readonly desiredMinTxUs: number;
  /** requiredMinRxUs is bfd.RequiredMinRxInterval as we advertise it. */
  readonly requiredMinRxUs: number;
  /** txBasisUs is the DesiredMinTxInterval our schedule uses: an increase while Up waits for the Final (§6.8.3). */
  readonly txBasisUs: number;
  /** detectBasisUs is the RequiredMinRxInterval our Detection Time uses: a decrease while Up waits for the Final. */
  readonly detectBasisUs: number;
  /** polling: a Poll Sequence is outstanding, so periodic packets carry P until a Final arrives (§6.5). */
  readonly polling: boolean;
  readonly lastTxAt: number | undefined;
  /** nextTxAt is the next periodic transmission (ms), undefined while periodic sending must stop (§6.8.7). */
  readonly nextTxAt: number | undefined;
  /** detectAt is when the Detection Time runs out (ms), undefined until a packet is received (§6.8.4). */
  readonly detectAt: number | undefined;
}

/** DownReason says why an Up session went down. */
export type DownReason =
  | 'detect-timeout' // no packet for a Detection Time (§6.8.4): diag 1
  | 'neighbor-down' // the peer says Down: it stopped hearing us (§6.8.6): diag 3
  | 'admin-down'; // the peer says AdminDown (diag 3), or we were disabled (diag 7) (§6.8.6, §6.8.16)

/** DROP_REASONS lists why a decoded packet is discarded by the session (the rest of §6.8.6 is in the codec). */
export const DROP_REASONS = [
  'your-discriminator-mismatch', // "If the Your Discriminator field is nonzero … If no session is found"
  'authentication-not-in-use', // "If the A bit is set and no authentication is in use (bfd.AuthType is zero)"
  'admin-down', // "If bfd.SessionState is AdminDown: Discard the packet"
] as const;

/** DropReason is one of DROP_REASONS. */
export type DropReason = (typeof DROP_REASONS)[number];

/** SessionEvent is one input to step(). */
export type SessionEvent =
  /** timer: the deadline from the last step has come (early deliveries change nothing). */
  | { readonly type: 'timer' }
  /** packet: a Control packet that passed decodeControl and the RFC 5881 checks (TTL 255). */
  | { readonly type: 'packet'; readonly packet: ControlPacket }
  /** admin-down / admin-up: §6.8.16 administrative control. */
  | { readonly type: 'admin-down' }
  | { readonly type: 'admin-up' }
  /** configure: new intervals or Detect Mult for a running session (§6.8.3). */
  | { readonly type: 'configure'; readonly changes: Partial<Omit<SessionConfig, 'localDiscriminator'>> };

/** SessionAction is one output of step(), in order. */
export type SessionAction =
  | { readonly type: 'send'; readonly packet: ControlPacket }
  | { readonly type: 'state'; readonly from: SessionStateName; readonly to: SessionStateName; readonly diag: number }
  | { readonly type: 'up' }
  | { readonly type: 'down'; readonly reason: DownReason; readonly diag: number }
  | { readonly type: 'drop'; readonly reason: DropReason; readonly detail: string }
  | { readonly type: 'config-rejected'; readonly errors: readonly string[] };

/** StepResult is the next session, the actions to carry out, and the one deadline to arm (undefined: none). */
export interface StepResult {
  readonly session: Session;
  readonly actions: readonly SessionAction[];
  readonly deadline: number | undefined;
}

/** Random is a uniform source in [0, 1): Math.random at the edge, a seeded PRNG in tests. */
export type Random = () => number;

/**
 * newSession is a session in Down (bfd.SessionState's initial value, §6.8.1) whose first packet is due at `now`.
 * `config` should come from validateSessionConfig.
 */
export function newSession(config: SessionConfig, now: number): Session {
  const desired = advertisedMinTxUs(config.desiredMinTxUs, false);
  return {
    config,
    state: 'down',
    localDiag: DIAG.none,
    remoteState: 'down',
    remoteDiscriminator: 0,
    remoteMinRxUs: 1,
    remoteDesiredMinTxUs: 0,
    remoteDetectMult: 0,
    remoteDemand: false,
    desiredMinTxUs: desired,
    requiredMinRxUs: config.requiredMinRxUs,
    txBasisUs: desired,
    detectBasisUs: config.requiredMinRxUs,
    polling: false,
    lastTxAt: undefined,
    nextTxAt: now,
    detectAt: undefined,
  };
}

/** deadlineOf is the session's one deadline: the earlier of the next transmission and the Detection Time. */
export function deadlineOf(s: Session): number | undefined {
  if (s.nextTxAt === undefined) return s.detectAt;
  if (s.detectAt === undefined) return s.nextTxAt;
  return Math.min(s.nextTxAt, s.detectAt);
}

/** step applies one event at time `now` (ms) and returns the next session, actions and deadline. */
export function step(s: Session, event: SessionEvent, now: number, random: Random): StepResult {
  const actions: SessionAction[] = [];
  let next: Session;
  switch (event.type) {
    case 'timer':
      next = onTimer(s, now, random, actions);
      break;
    case 'packet':
      next = onPacket(s, event.packet, now, random, actions);
      break;
    case 'admin-down':
      next =
        s.state === 'admin-down'
          ? s
          : sendNow(
              changeState(s, 'admin-down', DIAG.administrativelyDown, 'admin-down', actions),
              now,
              random,
              actions,
            );
      break;
    case 'admin-up':
      // §6.8.16 "If enabling session: Set bfd.SessionState to Down".
      next =
        s.state === 'admin-down'
          ? sendNow(changeState(s, 'down', s.localDiag, undefined, actions), now, random, actions)
          : s;
      break;
    case 'configure':
      next = onConfigure(s, event.changes, now, random, actions);
      break;
  }
  return { session: next, actions, deadline: deadlineOf(next) };
}

/** packetOf is what we send now (§6.8.7): our state and timers; D, A, M and C clear; no Echo. */
export function packetOf(s: Session, bits: { readonly poll: boolean; readonly final: boolean }): ControlPacket {
  return {
    diag: s.localDiag,
    state: s.state,
    poll: bits.poll,
    final: bits.final,
    controlPlaneIndependent: false,
    authenticationPresent: false,
    demand: false,
    multipoint: false,
    detectMult: s.config.detectMult,
    myDiscriminator: s.config.localDiscriminator,
    yourDiscriminator: s.remoteDiscriminator,
    desiredMinTxUs: s.desiredMinTxUs,
    requiredMinRxUs: s.requiredMinRxUs,
    requiredMinEchoRxUs: 0,
  };
}

/**
 * periodicAllowed is §6.8.7: no periodic packets while bfd.RemoteMinRxInterval is zero, nor while Demand mode is
 * active on the remote system and no Poll Sequence is being sent.
 */
function periodicAllowed(s: Session): boolean {
  if (s.remoteMinRxUs === 0) return false;
  return !(s.remoteDemand && s.state === 'up' && s.remoteState === 'up' && !s.polling);
}

/** sent records a periodic transmission at `now` and schedules the next one, jittered (§6.8.7). */
function sent(s: Session, now: number, random: Random, actions: SessionAction[]): Session {
  actions.push({ type: 'send', packet: packetOf(s, { poll: s.polling, final: false }) });
  const interval = transmitIntervalUs(s.txBasisUs, s.remoteMinRxUs);
  return { ...s, lastTxAt: now, nextTxAt: now + jitteredMs(interval, s.config.detectMult, random()) };
}

/** sendNow sends at once after a state change and restarts the periodic schedule from it, where sending is allowed. */
function sendNow(s: Session, now: number, random: Random, actions: SessionAction[]): Session {
  return periodicAllowed(s) ? sent(s, now, random, actions) : { ...s, nextTxAt: undefined };
}

/**
 * changeState moves to `to` with diag, reports it, and applies §6.8.3: leaving Up puts bfd.DesiredMinTxInterval back
 * to at least 1 s at once (no poll: the session is not Up); entering Up lowers it to the configured value at once
 * (only an increase must wait) and starts a Poll Sequence to tell the peer.
 */
function changeState(
  s: Session,
  to: SessionStateName,
  diag: number,
  downReason: DownReason | undefined,
  actions: SessionAction[],
): Session {
  const from = s.state;
  const desired = advertisedMinTxUs(s.config.desiredMinTxUs, to === 'up');
  let next: Session = { ...s, state: to, localDiag: diag };
  if (to === 'up') {
    next = { ...next, desiredMinTxUs: desired, txBasisUs: Math.min(s.txBasisUs, desired) };
    if (desired !== s.desiredMinTxUs) next = { ...next, polling: true };
  } else if (from === 'up') {
    next = {
      ...next,
      desiredMinTxUs: desired,
      txBasisUs: desired,
      detectBasisUs: s.config.requiredMinRxUs,
      requiredMinRxUs: s.config.requiredMinRxUs,
      polling: false,
    };
  }
  actions.push({ type: 'state', from, to, diag });
  if (to === 'up') actions.push({ type: 'up' });
  else if (from === 'up' && downReason !== undefined) actions.push({ type: 'down', reason: downReason, diag });
  return next;
}

function onTimer(s: Session, now: number, random: Random, actions: SessionAction[]): Session {
  let next = s;
  let changed = false;
  if (next.detectAt !== undefined && now >= next.detectAt) {
    // §6.8.1: bfd.RemoteDiscr "MUST be set to zero" after a Detection Time without a packet, whatever the state.
    next = { ...next, detectAt: undefined, remoteDiscriminator: 0, remoteState: 'down' };
    if (next.state === 'init' || next.state === 'up') {
      // §6.8.4: Init or Up, and a Detection Time passed: Down with diag 1 (Control Detection Time Expired).
      next = changeState(next, 'down', DIAG.controlDetectionTimeExpired, 'detect-timeout', actions);
      changed = true;
    }
  }
  if (changed) return sendNow(next, now, random, actions);
  if (next.nextTxAt !== undefined && now >= next.nextTxAt) {
    return periodicAllowed(next) ? sent(next, now, random, actions) : { ...next, nextTxAt: undefined };
  }
  return next;
}

function onPacket(s: Session, p: ControlPacket, now: number, random: Random, actions: SessionAction[]): Session {
  // §6.8.6, the checks that need the session; the packet-only ones are in decodeControl.
  if (p.yourDiscriminator !== 0 && p.yourDiscriminator !== s.config.localDiscriminator) {
    const detail = `your discriminator ${p.yourDiscriminator}, ours is ${s.config.localDiscriminator}`;
    actions.push({ type: 'drop', reason: 'your-discriminator-mismatch', detail });
    return s;
  }
  if (p.authenticationPresent) {
    actions.push({ type: 'drop', reason: 'authentication-not-in-use', detail: 'A bit set; no authentication in use' });
    return s;
  }
  const before = transmitIntervalUs(s.txBasisUs, s.remoteMinRxUs);
  let next: Session = {
    ...s,
    remoteDiscriminator: p.myDiscriminator,
    remoteState: p.state,
    remoteDemand: p.demand,
    remoteMinRxUs: p.requiredMinRxUs,
    remoteDesiredMinTxUs: p.desiredMinTxUs,
    remoteDetectMult: p.detectMult,
  };
  // "If a Poll Sequence is being transmitted by the local system and the Final (F) bit in the received packet is
  // set, the Poll Sequence MUST be terminated": the peer has our new intervals, so the held-back values apply (§6.8.3).
  if (p.final && next.polling) {
    next = { ...next, polling: false, txBasisUs: next.desiredMinTxUs, detectBasisUs: next.requiredMinRxUs };
  }
  // §6.8.4: Update the Detection Time (the packet counts as received unless discarded below, and then the session
  // is AdminDown, where the timer only clears bfd.RemoteDiscr).
  next = { ...next, detectAt: now + detectionTimeMs(p.detectMult, next.detectBasisUs, p.desiredMinTxUs) };
  if (next.state === 'admin-down') {
    actions.push({ type: 'drop', reason: 'admin-down', detail: 'session is AdminDown' });
    return next;
  }

  const from = next.state;
  if (p.state === 'admin-down') {
    if (from !== 'down') next = changeState(next, 'down', DIAG.neighborSignaledDown, 'admin-down', actions);
  } else if (from === 'down') {
    if (p.state === 'down') next = changeState(next, 'init', next.localDiag, undefined, actions);
    else if (p.state === 'init') next = changeState(next, 'up', next.localDiag, undefined, actions);
  } else if (from === 'init') {
    if (p.state === 'init' || p.state === 'up') next = changeState(next, 'up', next.localDiag, undefined, actions);
  } else if (p.state === 'down') {
    next = changeState(next, 'down', DIAG.neighborSignaledDown, 'neighbor-down', actions);
  }

  if (p.poll) {
    // "send a BFD Control packet to the remote system with the Poll (P) bit clear, and the Final (F) bit set",
    // "without respect to the transmission timer" (§6.8.7): an extra packet, the periodic schedule stays.
    actions.push({ type: 'send', packet: packetOf(next, { poll: false, final: true }) });
  }
  if (next.state !== from) return sendNow(next, now, random, actions);
  return reschedule(next, before, now, random);
}

/**
 * reschedule keeps the periodic schedule valid after the peer's Required Min RX changed (§6.8.3): a smaller
 * interval is honoured at once ("cannot wait longer than the new interval between the previous packet transmission
 * and the next one"); sending resumes when it had stopped (RemoteMinRx was 0, or remote Demand mode ended) and stops
 * when it must (§6.8.7).
 */
function reschedule(s: Session, beforeUs: number, now: number, random: Random): Session {
  if (!periodicAllowed(s)) return s.nextTxAt === undefined ? s : { ...s, nextTxAt: undefined };
  if (s.nextTxAt === undefined) return { ...s, nextTxAt: now };
  const interval = transmitIntervalUs(s.txBasisUs, s.remoteMinRxUs);
  if (interval >= beforeUs || s.lastTxAt === undefined) return s;
  const due = Math.max(now, s.lastTxAt + jitteredMs(interval, s.config.detectMult, random()));
  return due < s.nextTxAt ? { ...s, nextTxAt: due } : s;
}

/**
 * onConfigure applies new timers (§6.8.3): while Up, a change of either advertised interval starts a Poll Sequence;
 * an increased DesiredMinTx and a decreased RequiredMinRx wait for its Final; everything else applies at once.
 */
function onConfigure(
  s: Session,
  changes: Partial<Omit<SessionConfig, 'localDiscriminator'>>,
  now: number,
  random: Random,
  actions: SessionAction[],
): Session {
  const checked = validateSessionConfig({ ...s.config, ...changes, localDiscriminator: s.config.localDiscriminator });
  if ('errors' in checked) {
    actions.push({ type: 'config-rejected', errors: checked.errors });
    return s;
  }
  const config = checked.config;
  const up = s.state === 'up';
  const desired = advertisedMinTxUs(config.desiredMinTxUs, up);
  const required = config.requiredMinRxUs;
  const changed = desired !== s.desiredMinTxUs || required !== s.requiredMinRxUs;
  const polling = s.polling || (up && changed);
  const next: Session = {
    ...s,
    config,
    desiredMinTxUs: desired,
    requiredMinRxUs: required,
    txBasisUs: up && desired > s.txBasisUs ? s.txBasisUs : desired,
    detectBasisUs: up && required < s.detectBasisUs ? s.detectBasisUs : required,
    polling,
  };
  // §6.5: the poll rides on the scheduled periodic packets; "additional packets MUST NOT be sent".
  return reschedule(next, transmitIntervalUs(s.txBasisUs, s.remoteMinRxUs), now, random);
}
