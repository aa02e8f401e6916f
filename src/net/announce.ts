/**
 * announceRounds is the loop both takeover announcements share (gratuitous ARP, RFC 5227 §2.3; unsolicited NA,
 * RFC 4861 §7.2.6): `count` rounds `spacingMs` apart, the first at once, stopped by `signal` between rounds or by
 * the first frame that cannot be sent. The caller says what one round sends.
 */

import type { SendResult } from './packet-socket.ts';

/** Sleep waits `ms` or rejects when `signal` aborts; injected so tests need not wait. */
export type Sleep = (ms: number, signal: AbortSignal) => Promise<void>;

/** AnnounceResult counts the frames sent, or says why the announcement stopped short. */
export type AnnounceResult =
  | { readonly ok: true; readonly frames: number }
  | {
      readonly ok: false;
      readonly reason: 'bad-address' | 'bad-options' | 'stopped' | 'send-failed';
      readonly detail: string;
      readonly frames: number;
    };

/** AnnounceRounds: the schedule and the frames of one round (undefined: a frame could not be built). */
export interface AnnounceRounds {
  readonly count: number;
  readonly spacingMs: number;
  readonly signal: AbortSignal;
  readonly sleep: Sleep;
  readonly frames: readonly (Buffer | undefined)[];
  readonly send: (frame: Buffer) => SendResult;
}

/** validRounds says whether count and spacing describe a finite schedule. */
export function validRounds(count: number, spacingMs: number): boolean {
  return Number.isInteger(count) && count >= 1 && spacingMs >= 0;
}

/** announceRounds: see the file comment. */
export async function announceRounds(o: AnnounceRounds): Promise<AnnounceResult> {
  let frames = 0;
  for (let round = 0; round < o.count; round++) {
    if (round > 0) {
      try {
        await o.sleep(o.spacingMs, o.signal);
      } catch {
        return { ok: false, reason: 'stopped', detail: `after ${round} rounds`, frames };
      }
    }
    if (o.signal.aborted) return { ok: false, reason: 'stopped', detail: `after ${round} rounds`, frames };
    for (const frame of o.frames) {
      const sent = frame === undefined ? undefined : o.send(frame);
      if (sent === undefined || !sent.ok) {
        return { ok: false, reason: 'send-failed', detail: sent?.message ?? 'frame not built', frames };
      }
      frames++;
    }
  }
  return { ok: true, frames };
}
