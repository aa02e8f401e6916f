/**
 * Hand-built ARP requests and Neighbor Solicitations from a client (02:00:00:00:00:63, 10.0.0.99 / fe80::63), and a
 * random unicast MAC, for the tests that feed neighbour responders (the native thread's and the XDP program's).
 */
import assert from 'node:assert/strict';
import { ARP_OP, arpFrame } from '../../src/net/frames/arp.ts';
import { BROADCAST_MAC, ZERO_MAC } from '../../src/net/frames/ethernet.ts';
import { neighborSolicitationFrame } from '../../src/net/frames/ndp.ts';
import type { FuzzRng } from './fuzz.ts';

/** arpRequest asks who has `target`, broadcast unless `dst` names the Ethernet destination. */
export function arpRequest(
  target: string,
  o: { sender?: string; senderMac?: string; op?: number; dst?: string } = {},
): Buffer {
  const senderMac = o.senderMac ?? '02:00:00:00:00:63';
  const f = arpFrame(o.dst ?? BROADCAST_MAC, senderMac, {
    op: o.op ?? ARP_OP.request,
    senderMac,
    senderIp: o.sender ?? '10.0.0.99',
    targetMac: ZERO_MAC,
    targetIp: target,
  });
  assert.ok(f);
  return f;
}

/** solicitation is a Neighbor Solicitation for `target` with a source link-layer address option. */
export function solicitation(
  target: string,
  o: { src?: string; hopLimit?: number; srcMac?: string; dstMac?: string } = {},
): Buffer {
  const f = neighborSolicitationFrame({
    srcMac: o.srcMac ?? '02:00:00:00:00:63',
    src: o.src ?? 'fe80::63',
    target,
    ...(o.hopLimit === undefined ? {} : { hopLimit: o.hopLimit }),
    ...(o.dstMac === undefined ? {} : { dstMac: o.dstMac }),
  });
  assert.ok(f);
  return f;
}

/** randomMac is a locally administered unicast MAC. */
export function randomMac(rng: FuzzRng): string {
  return [0x02, ...rng.bytes(5)].map((b) => b.toString(16).padStart(2, '0')).join(':');
}
