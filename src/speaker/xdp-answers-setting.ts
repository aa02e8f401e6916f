/**
 * XdpAnswers is the `--xdp-answers` flag and the standalone file's `xdpAnswers:`: whether ARP/NDP answers for the
 * VIPs mastered here come from an XDP program on the interface (src/net/xdp-responder.ts), and in which mode.
 * Off by default: attaching XDP to a node's NIC can clash with a CNI's own XDP program (README, "XDP answers").
 * `auto` runs it in the driver when the driver has XDP, else generic; `native` and `generic` insist on one.
 */

/** XDP_ANSWERS are the values, `off` first (the default). */
export const XDP_ANSWERS = ['off', 'auto', 'native', 'generic'] as const;
export type XdpAnswers = (typeof XDP_ANSWERS)[number];

/** parseXdpAnswers reads a flag or file value; anything else is an error, never a default. */
export function parseXdpAnswers(value: unknown): { readonly value: XdpAnswers } | { readonly error: string } {
  return typeof value === 'string' && (XDP_ANSWERS as readonly string[]).includes(value)
    ? { value: value as XdpAnswers }
    : { error: `${JSON.stringify(value)} is not one of ${XDP_ANSWERS.join(', ')}` };
}
