/**
 * planEffects turns the engine's actions for one router into the ordered things the speaker does on the wire and
 * in its books. Pure, so the order rules are tested without sockets:
 * - leaving master (become-backup, resign) stops answering first, then cancels announcements still in progress,
 *   before anything else happens: only a master ever answers for its VIPs;
 * - becoming master sends the advert the engine asks for first (§6.4.2 "Send an ADVERTISEMENT"), then starts
 *   answering, then announces (gratuitous ARP / unsolicited NA), as keepalived does;
 * - adverts go to the VRRP group, or with unicast peers to each peer of the router's family.
 */

import type { Advert } from '../../../vrrp/advert.ts';
import { familyOf } from '../../../vrrp/ip.ts';
import type { BackupReason, DropReason, IgnoreReason, MasterReason, Peer, RouterAction } from '../../../vrrp/router.ts';
import type { RouterConfig } from '../../../vrrp/router-config.ts';
import type { StateName } from '../router-spec.ts';

/** Effect is one thing the speaker must do for a router, in order. */
export type Effect =
  /** send: an advert to `to` (undefined: the VRRP multicast group). */
  | { readonly kind: 'send'; readonly advert: Advert; readonly to: string | undefined }
  /** answer: start (true) or stop (false) answering ARP/NDP for the router's VIPs. */
  | { readonly kind: 'answer'; readonly on: boolean }
  /** announce: gratuitous ARP / unsolicited NA for every VIP of the router. */
  | { readonly kind: 'announce' }
  /** cancel-announce: stop announcements of this router still in progress. */
  | { readonly kind: 'cancel-announce' }
  | {
      readonly kind: 'transition';
      readonly to: StateName;
      readonly reason: MasterReason | BackupReason | 'shutdown';
      readonly master?: Peer;
    }
  | { readonly kind: 'ignored'; readonly reason: IgnoreReason; readonly from: string }
  /** invalid: the engine dropped an advert as invalid for the router (§7.1 address list); counted like a bad packet. */
  | {
      readonly kind: 'invalid';
      readonly reason: DropReason;
      readonly from: string;
      readonly ours: string;
      readonly theirs: string;
    }
  | {
      readonly kind: 'mismatch';
      readonly field: 'addresses' | 'interval';
      readonly from: string;
      readonly ours: string;
      readonly theirs: string;
    }
  | { readonly kind: 'config-rejected'; readonly errors: readonly string[] };

/** EffectOptions: unicast peers (any family; only the router's own family is used). */
export interface EffectOptions {
  readonly unicastPeers: readonly string[];
}

/** planEffects maps the engine's actions for `router` to effects; see the file comment for the order rules. */
export function planEffects(
  router: { readonly config: RouterConfig },
  actions: readonly RouterAction[],
  opts: EffectOptions,
): Effect[] {
  const family = router.config.family;
  const peers = opts.unicastPeers.filter((p) => familyOf(p) === family);
  const destinations: (string | undefined)[] = peers.length > 0 ? peers : [undefined];
  const first: Effect[] = [];
  const out: Effect[] = [];
  for (const action of actions) {
    switch (action.type) {
      case 'send-advert': {
        const advert: Advert = {
          vrid: router.config.vrid,
          priority: action.priority,
          maxAdvertIntervalCs: action.intervalCs,
          addresses: action.addresses,
        };
        for (const to of destinations) out.push({ kind: 'send', advert, to });
        break;
      }
      case 'become-master':
        out.push(
          { kind: 'answer', on: true },
          { kind: 'transition', to: 'master', reason: action.reason },
          { kind: 'announce' },
        );
        break;
      case 'become-backup':
        first.push({ kind: 'answer', on: false }, { kind: 'cancel-announce' });
        out.push({
          kind: 'transition',
          to: 'backup',
          reason: action.reason,
          ...(action.master === undefined ? {} : { master: action.master }),
        });
        break;
      case 'resign':
        first.push({ kind: 'answer', on: false }, { kind: 'cancel-announce' });
        out.push({ kind: 'transition', to: 'initialize', reason: 'shutdown' });
        break;
      case 'announce':
        out.push({ kind: 'announce' });
        break;
      case 'ignore':
        out.push({ kind: 'ignored', reason: action.reason, from: action.from });
        break;
      case 'drop':
        out.push({
          kind: 'invalid',
          reason: action.reason,
          from: action.from,
          ours: action.ours,
          theirs: action.theirs,
        });
        break;
      case 'mismatch':
        out.push({
          kind: 'mismatch',
          field: action.field,
          from: action.from,
          ours: action.ours,
          theirs: action.theirs,
        });
        break;
      case 'config-rejected':
        out.push({ kind: 'config-rejected', errors: action.errors });
        break;
    }
  }
  return [...first, ...out];
}
