// double-answers.ts — read a capture of the client's wire for moments when two nodes answered ARP for one VIP at once
// (issue 15: "no two MACs answer for one VIP"). Pure: the rows come from startTshark with ARP_WIRE_FIELDS.

/** ARP_WIRE_FIELDS are the tshark fields doubleAnswers reads, in this order. */
export const ARP_WIRE_FIELDS = [
  'frame.time_epoch',
  'arp.opcode',
  'arp.src.hw_mac',
  'arp.src.proto_ipv4',
  'arp.dst.proto_ipv4',
] as const;

/** DoubleAnswer is a span of consecutive ARP requests of the client each answered by more than one MAC. */
export interface DoubleAnswer {
  readonly vip: string;
  /** at: when the first such request was sent (epoch ms); ms: from it to the last reply of the last such request. */
  readonly at: number;
  readonly ms: number;
  readonly requests: number;
  /** macs: who answered during the span, named by `nameOf`. */
  readonly macs: readonly string[];
}

/**
 * doubleAnswers reads the client's wire per VIP: each ARP request the client (`client`, its IPv4 address) sent opens
 * a window that its next request closes; a window holding replies from two MACs means two nodes answered for the VIP
 * at once. Consecutive such windows form one span.
 */
export function doubleAnswers(
  rows: readonly string[][],
  client: string,
  vips: readonly string[],
  nameOf: (mac: string) => string = (mac) => mac,
): DoubleAnswer[] {
  const out: DoubleAnswer[] = [];
  for (const vip of vips) {
    let window: { at: number; last: number; macs: Set<string> } | undefined;
    let span: { at: number; last: number; requests: number; macs: Set<string> } | undefined;
    const flush = () => {
      if (span) out.push({ vip, at: span.at, ms: span.last - span.at, requests: span.requests, macs: [...span.macs] });
      span = undefined;
    };
    const close = () => {
      if (!window) return;
      if (window.macs.size < 2) return flush();
      span ??= { at: window.at, last: window.last, requests: 0, macs: new Set() };
      span.last = window.last;
      span.requests++;
      for (const m of window.macs) span.macs.add(nameOf(m));
    };
    for (const [time, op, mac, src, dst] of rows) {
      const t = Number(time) * 1000;
      if (op === '1' && src === client && dst === vip) {
        close();
        window = { at: t, last: t, macs: new Set() };
      } else if (op === '2' && src === vip && dst === client && window && mac) {
        window.macs.add(mac);
        window.last = t;
      }
    }
    close();
    flush();
  }
  return out;
}
