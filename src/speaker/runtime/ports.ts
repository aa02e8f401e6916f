/**
 * The speaker's narrow view of the wire: one advert channel per family and one announcer per family. The real ones
 * wrap src/net (net-ports.ts); unit tests pass fakes, so the runtime is driven without sockets.
 */

import type { Advert, Family } from '../../../vrrp/advert.ts';
import type { AuthKey } from '../../../vrrp/auth.ts';
import type { ReceivedAdvert } from '../../net/frames/vrrp.ts';

/** SendOutcome is whether an advert left, with a human detail when it did not. */
export type SendOutcome = { readonly ok: true } | { readonly ok: false; readonly detail: string };

/** AdvertSeal signs one advert (vrrp/auth.ts): the router's key and the sender's next counter. */
export interface AdvertSeal {
  readonly key: AuthKey;
  readonly counter: bigint;
}

/**
 * AdvertChannel sends adverts of one family: to the VRRP group, or to a unicast peer `to`; signed under `seal` for a
 * router with authentication. Synchronous (the real one queues the frame for a batched send at the end of the turn):
 * no Promise per advert. Never throws.
 */
export interface AdvertChannel {
  send(advert: Advert, to?: string, seal?: AdvertSeal): SendOutcome;
  /** watchPeers: a router's unicast peers, so the channel can resolve them before it sends or hears them. */
  watchPeers?(peers: readonly string[]): void;
  /** knowsPeer: the MAC of `address` is known (or it is ours), so an advert's Ethernet source can be tied to it. */
  knowsPeer?(address: string): boolean;
  /**
   * hush: later adverts byte-for-byte equal to `received` (which this channel handed over) are no longer handed
   * over, only counted (heardAgain); one per VRID, a new one replaces it. False when the channel cannot (then every
   * advert still comes). The speaker hushes an advert its backup followed, and asks heardAgain before each event of
   * that router, so the engine steps the last repeat at the time it came (speaker.ts, deferRepeat).
   */
  hush?(received: ReceivedAdvert, watchMs?: number): boolean;
  /** unhush: every advert of this VRID is handed over again. */
  unhush?(vrid: number): void;
  /**
   * heardAgain: repeats of the VRID's hushed advert left out since the last ask, and how long ago the last came (ms,
   * measured by the channel on the monotonic clock; the speaker subtracts it from its own now).
   */
  heardAgain?(vrid: number): { readonly count: number; readonly ageMs: number } | undefined;
  /**
   * due: the hushed VRIDs whose last repeat is older than the `watchMs` given to hush, less `aheadMs` (and those with
   * no repeat since hush): the only ones whose Master_Down_Timer may come within `aheadMs`, when `watchMs` is the
   * router's Master_Down_Interval. Undefined (or absent) when the channel cannot tell. The speaker's sweep looks at
   * these only, and keeps the other hushed routers out of its timer heap (speaker.ts, sweepHushed).
   */
  due?(aheadMs: number): readonly number[] | undefined;
  /** flush hands the adverts queued so far to the kernel now, not at the end of the turn (a takeover batch). */
  flush?(): void;
}

/** AnnounceRequest: `count` frames per VIP `spacingMs` apart; `signal` cancels the rest. */
export interface AnnounceRequest {
  readonly count: number;
  readonly spacingMs: number;
  readonly signal: AbortSignal;
}

/** AnnounceOutcome counts the frames sent; `ok` false with a detail when it stopped short (cancelled included). */
export interface AnnounceOutcome {
  readonly ok: boolean;
  readonly frames: number;
  readonly detail?: string;
}

/** Announcer sends gratuitous ARP (IPv4) or unsolicited NAs (IPv6) for one VIP. Never rejects. */
export interface Announcer {
  announce(ip: string, request: AnnounceRequest): Promise<AnnounceOutcome>;
  /** announceNow sends one round for every VIP of `ips` at once, in one batch (optional; a takeover batch uses it). */
  announceNow?(ips: readonly string[]): AnnounceOutcome;
}

/** SpeakerPorts are the channels of the families the speaker's routers use. */
export interface SpeakerPorts {
  readonly adverts: Partial<Record<Family, AdvertChannel>>;
  readonly announcers: Partial<Record<Family, Announcer>>;
  /**
   * answering hears the VIPs mastered here after every change, before any announcement of them: the responders may
   * narrow their kernel filters to them (optional).
   */
  answering?(vips: readonly string[]): void;
}
