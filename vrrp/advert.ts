/**
 * Shared vocabulary of the VRRPv3 engine (RFC 5798, updated by RFC 9568).
 * Every module in vrrp/ speaks these types; nothing here does I/O.
 */

/** Family is the address family a virtual router runs over: VRRPv3 keeps IPv4 and IPv6 routers apart (RFC 5798 §5). */
export type Family = 'ipv4' | 'ipv6';

/**
 * Advert is one decoded VRRPv3 advertisement (RFC 5798 §5.2).
 * Addresses are canonical text (dotted quad, RFC 5952 for IPv6) so they compare with `===`.
 */
export interface Advert {
  /** Virtual Router Identifier, 1..255 (§5.2.3). */
  readonly vrid: number;
  /** Sender's priority, 0..255; 0 means the master resigns (§5.2.4). */
  readonly priority: number;
  /** Max Advertise Interval in centiseconds, 12 bits: 1..4095 on the wire (§5.2.7). */
  readonly maxAdvertIntervalCs: number;
  /** The virtual addresses the router protects, all of the router's family (§5.2.9). */
  readonly addresses: readonly string[];
}

/** PseudoHeader names what the checksum covers besides the VRRP packet itself (RFC 5798 §5.2.8). */
export interface PseudoHeader {
  readonly family: Family;
  /** Source address of the IP packet that carries (or will carry) the advert. */
  readonly source: string;
  /** Destination: 224.0.0.18 / ff02::12 for multicast, or a unicast peer. */
  readonly destination: string;
}

/** VRRP_MULTICAST is the destination group of adverts per family (RFC 5798 §5.1.1.2, §5.1.2.2). */
export const VRRP_MULTICAST: Readonly<Record<Family, string>> = { ipv4: '224.0.0.18', ipv6: 'ff02::12' };

/** VRRP_PROTOCOL is the IP protocol / next header number of VRRP (RFC 5798 §5.1.1.4). */
export const VRRP_PROTOCOL = 112;

/** VRRP_TTL is the only TTL / hop limit a receiver accepts (RFC 5798 §5.1.1.3, §7.1). */
export const VRRP_TTL = 255;
