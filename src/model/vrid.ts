/**
 * Virtual Router IDs as the model knows them: 1..255 per family (RFC 5798 §5.2.3, §5), the range a pool narrows them
 * to, and how many VIPs one router may carry. Handing them out is the controller's (vrid-allocator.ts).
 */
import type { Family } from '../../vrrp/advert.ts';
import type { CodedError } from '../errors.ts';

/** VridRange is an inclusive range of VRIDs; pools narrow it with the `metal-vrrp.io/vrid-range` annotation. */
export interface VridRange {
  readonly lo: number;
  readonly hi: number;
}

/**
 * MAX_VIPS_PER_VRID caps how many VIPs one router may carry. IPv4: the advert's 8-bit Count IPvX Addr field (RFC 5798
 * §5.2.5). IPv6: 40 B IPv6 header + 8 B VRRP header + 16 B per address must fit the IPv6 minimum MTU of 1280 B
 * (RFC 8200 §5) so an advert is never fragmented: (1280 - 48) / 16 = 77.
 */
export const MAX_VIPS_PER_VRID: Readonly<Record<Family, number>> = Object.freeze({ ipv4: 255, ipv6: 77 });

/** VridResult is a VRID or why none could be given. */
export type VridResult =
  | { readonly ok: true; readonly vrid: number }
  | { readonly ok: false; readonly error: CodedError };

/** isVrid says whether n is a valid VRID. */
export function isVrid(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 255;
}
