/**
 * Ethernet II framing (IEEE 802.3 with the EtherType interpretation, RFC 894) and MAC address helpers.
 * MACs are lower-case colon text in every public type ("02:00:00:00:00:01").
 */

/** ETHERTYPE names the EtherTypes metal-vrrp sends and receives. */
export const ETHERTYPE = { ipv4: 0x0800, arp: 0x0806, ipv6: 0x86dd } as const;

/** ETHERNET_HEADER_LENGTH is destination, source and EtherType: 6 + 6 + 2 bytes. */
export const ETHERNET_HEADER_LENGTH = 14;

/** MIN_FRAME_LENGTH is the shortest frame without FCS (60 bytes); shorter ones are padded with zeros on encode. */
export const MIN_FRAME_LENGTH = 60;

/** BROADCAST_MAC is the all-ones destination of ARP requests and announcements (RFC 826). */
export const BROADCAST_MAC = 'ff:ff:ff:ff:ff:ff';

/** ZERO_MAC is the target hardware address of ARP requests and announcements (RFC 5227 §2.3). */
export const ZERO_MAC = '00:00:00:00:00:00';

const MAC_TEXT = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;

/** macBytes parses "aa:bb:cc:dd:ee:ff" (either case) into 6 bytes, or undefined. */
export function macBytes(text: string): Buffer | undefined {
  return MAC_TEXT.test(text) ? Buffer.from(text.replaceAll(':', ''), 'hex') : undefined;
}

/** formatMac renders 6 bytes at `offset` as lower-case colon text; the caller has checked the length. */
export function formatMac(buf: Uint8Array, offset = 0): string {
  const out: string[] = [];
  for (let i = 0; i < 6; i++) out.push(buf[offset + i]!.toString(16).padStart(2, '0'));
  return out.join(':');
}

/** isMulticastMac tells a group address: the I/G bit, lowest bit of the first octet (broadcast included). */
export function isMulticastMac(buf: Uint8Array, offset = 0): boolean {
  return (buf[offset]! & 1) === 1;
}

/** ipv4MulticastMac maps an IPv4 group to 01:00:5e + its low 23 bits (RFC 1112 §6.4); 224.0.0.18 → 01:00:5e:00:00:12. */
export function ipv4MulticastMac(group: Uint8Array): string {
  return formatMac(Buffer.from([0x01, 0x00, 0x5e, group[1]! & 0x7f, group[2]!, group[3]!]));
}

/** ipv6MulticastMac maps an IPv6 group to 33:33 + its low 32 bits (RFC 2464 §7); ff02::12 → 33:33:00:00:00:12. */
export function ipv6MulticastMac(group: Uint8Array): string {
  return formatMac(Buffer.from([0x33, 0x33, group[12]!, group[13]!, group[14]!, group[15]!]));
}

/** EthernetFrame is the decoded 14-byte header; `payload` is a view of the rest, padding included. */
export interface EthernetFrame {
  readonly dst: string;
  readonly src: string;
  readonly ethertype: number;
  readonly payload: Buffer;
}

/** EthernetDecode is a frame or why it is not one. */
export type EthernetDecode =
  | ({ readonly ok: true } & EthernetFrame)
  | { readonly ok: false; readonly reason: 'truncated' };

/** decodeEthernet splits a frame as received from an AF_PACKET SOCK_RAW socket (no preamble, no FCS). */
export function decodeEthernet(frame: Buffer): EthernetDecode {
  if (frame.length < ETHERNET_HEADER_LENGTH) return { ok: false, reason: 'truncated' };
  return {
    ok: true,
    dst: formatMac(frame, 0),
    src: formatMac(frame, 6),
    ethertype: frame.readUInt16BE(12),
    payload: frame.subarray(ETHERNET_HEADER_LENGTH),
  };
}

/**
 * encodeEthernet lays out a frame for AF_PACKET SOCK_RAW, zero-padded to MIN_FRAME_LENGTH; the NIC adds the FCS.
 * Returns undefined when a MAC does not parse.
 */
export function encodeEthernet(dst: string, src: string, ethertype: number, payload: Uint8Array): Buffer | undefined {
  const d = macBytes(dst);
  const s = macBytes(src);
  if (d === undefined || s === undefined) return undefined;
  const frame = Buffer.alloc(Math.max(MIN_FRAME_LENGTH, ETHERNET_HEADER_LENGTH + payload.length));
  d.copy(frame, 0);
  s.copy(frame, 6);
  frame.writeUInt16BE(ethertype, 12);
  frame.set(payload, ETHERNET_HEADER_LENGTH);
  return frame;
}
