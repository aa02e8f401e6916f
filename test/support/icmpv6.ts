/** Test helper for hand-mutated NDP frames. */
import { upperLayerChecksum } from '../../src/net/frames/ipv6.ts';
import { ICMPV6 } from '../../src/net/frames/ndp.ts';

/** fixIcmpv6 rewrites the ICMPv6 checksum of an Ethernet + IPv6 frame for what its header says now. */
export function fixIcmpv6(buf: Buffer): void {
  if (buf.length < 14 + 40) return;
  const end = Math.min(14 + 40 + buf.readUInt16BE(14 + 4), buf.length);
  const icmp = buf.subarray(54, end);
  if (icmp.length < 4) return;
  icmp.writeUInt16BE(0, 2);
  icmp.writeUInt16BE(upperLayerChecksum(buf.subarray(22, 38), buf.subarray(38, 54), ICMPV6, icmp), 2);
}
