/**
 * The one decision both neighbour responders make for a received frame (ARP, RFC 826; NDP, RFC 4861 §7.2.4): drop
 * our own and other hosts' frames, let the family's codec read the request, ask whether the target is ours, and let
 * the codec build the reply. Every frame not answered gets a drop reason, as MetalLB's responders return one.
 */

/** PACKET_OTHERHOST and PACKET_OUTGOING are sll_pkttype values (linux/if_packet.h). */
const PACKET_OTHERHOST = 3;
const PACKET_OUTGOING = 4;

/** NEIGHBOR_DROP_REASONS are the reasons every family shares; a codec adds its own. */
export const NEIGHBOR_DROP_REASONS = [
  'own-frame', // PACKET_OUTGOING, or sent from our own MAC
  'other-host', // unicast to another MAC, seen only in promiscuous mode (PACKET_OTHERHOST)
  'malformed', // the frame cannot be read as the family's request (or our own reply could not be built)
  'not-ours', // shouldAnswer said no: not a VIP this node masters on this interface
] as const;

/** NeighborDropReason is one of NEIGHBOR_DROP_REASONS. */
export type NeighborDropReason = (typeof NEIGHBOR_DROP_REASONS)[number];

/** NeighborContext is what the decision needs of the responder: our MAC, the interface and the VIP predicate. */
export interface NeighborContext {
  readonly mac: string;
  readonly ifname: string;
  shouldAnswer(ip: string, ifname: string): boolean;
}

/** Drop is a frame not answered, with its reason. */
export interface Drop<R extends string> {
  readonly answer: false;
  readonly reason: R;
  readonly detail?: string;
}

/** ParsedRequest is a request the codec read (its target address and what the reply needs), or a drop. */
export type ParsedRequest<Q, R extends string> =
  | { readonly ok: true; readonly target: string; readonly request: Q }
  | ({ readonly ok: false } & Omit<Drop<R>, 'answer'>);

/** BuiltReply is the reply frame and the facts worth reporting about it, or why it could not be built. */
export type BuiltReply<A> =
  | { readonly ok: true; readonly reply: Buffer; readonly facts: A }
  | { ok: false; detail: string };

/** NeighborCodec is one family's part: read a request (after the shared checks), build the reply for its target. */
export interface NeighborCodec<C extends NeighborContext, Q, R extends string, A> {
  parse(frame: Buffer, ctx: C): ParsedRequest<Q, R | NeighborDropReason>;
  reply(request: Q, target: string, ctx: C): BuiltReply<A>;
}

/** NeighborOutcome is the reply to send (the VIP asked for, the codec's facts, the frame) or a drop. */
export type NeighborOutcome<R extends string, A> =
  | ({ readonly answer: true; readonly ip: string; readonly reply: Buffer } & A)
  | Drop<R | NeighborDropReason>;

/** answerNeighbor: see the file comment. Never throws on any frame (the codecs return, never throw). */
export function answerNeighbor<C extends NeighborContext, Q, R extends string, A>(
  codec: NeighborCodec<C, Q, R, A>,
  frame: Buffer,
  pktType: number,
  ctx: C,
): NeighborOutcome<R, A> {
  if (pktType === PACKET_OUTGOING) return { answer: false, reason: 'own-frame' };
  if (pktType === PACKET_OTHERHOST) return { answer: false, reason: 'other-host' };
  const parsed = codec.parse(frame, ctx);
  if (!parsed.ok) {
    const { ok: _, ...drop } = parsed;
    return { answer: false, ...drop };
  }
  if (!ctx.shouldAnswer(parsed.target, ctx.ifname)) return { answer: false, reason: 'not-ours', detail: parsed.target };
  const built = codec.reply(parsed.request, parsed.target, ctx);
  if (!built.ok) return { answer: false, reason: 'malformed', detail: built.detail };
  return { answer: true, ip: parsed.target, ...built.facts, reply: built.reply };
}
