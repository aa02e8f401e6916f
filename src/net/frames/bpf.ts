/**
 * Classic BPF socket filters (Linux Documentation/networking/filter.rst) that let the kernel drop, before any copy to
 * JavaScript, the frames a packet socket never answers: our own outgoing copies and IPv6 traffic of other protocols.
 * They only thin the stream; the JavaScript checks stay complete, so a missing filter changes counts, not behaviour.
 */

import { endianness } from 'node:os';

/** BpfInstruction is one `struct sock_filter`: opcode, jump-if-true, jump-if-false (relative), constant. */
export interface BpfInstruction {
  readonly code: number;
  readonly jt: number;
  readonly jf: number;
  readonly k: number;
}

const LD_W_ABS = 0x20; // BPF_LD | BPF_W | BPF_ABS
const LD_H_ABS = 0x28; // BPF_LD | BPF_H | BPF_ABS
const LD_B_ABS = 0x30; // BPF_LD | BPF_B | BPF_ABS
const JEQ_K = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
const RET_K = 0x06; // BPF_RET | BPF_K
const SKF_AD_PKTTYPE = 0xfffff000 + 4; // SKF_AD_OFF (-0x1000) + SKF_AD_PKTTYPE, as an unsigned 32-bit constant
const PACKET_OUTGOING = 4;
const ACCEPT = 0x40000; // bytes to keep: more than any frame

/** encodeBpf lays instructions out as the kernel reads them: 8 bytes each, in host byte order. */
export function encodeBpf(program: readonly BpfInstruction[]): Buffer {
  const buf = Buffer.alloc(program.length * 8);
  const le = endianness() === 'LE';
  for (const [i, ins] of program.entries()) {
    const at = i * 8;
    if (le) buf.writeUInt16LE(ins.code, at);
    else buf.writeUInt16BE(ins.code, at);
    buf[at + 2] = ins.jt;
    buf[at + 3] = ins.jf;
    if (le) buf.writeUInt32LE(ins.k >>> 0, at + 4);
    else buf.writeUInt32BE(ins.k >>> 0, at + 4);
  }
  return buf;
}

/** rejectAllFilter drops every frame: a socket that only sends (the announcements beside the native responder). */
export function rejectAllFilter(): BpfInstruction[] {
  return [{ code: RET_K, jt: 0, jf: 0, k: 0 }];
}

/** notOutgoingFilter drops PACKET_OUTGOING copies and keeps everything else (the ARP socket's filter). */
export function notOutgoingFilter(): BpfInstruction[] {
  return [
    { code: LD_W_ABS, jt: 0, jf: 0, k: SKF_AD_PKTTYPE },
    { code: JEQ_K, jt: 1, jf: 0, k: PACKET_OUTGOING },
    { code: RET_K, jt: 0, jf: 0, k: ACCEPT },
    { code: RET_K, jt: 0, jf: 0, k: 0 },
  ];
}

/**
 * ipv6Filter keeps incoming IPv6 frames whose first Next Header (Ethernet offset 20) is `nextHeader` and, when
 * `icmpType` is given, whose first payload byte (offset 54, the ICMPv6 type) is that value.
 */
export function ipv6Filter(nextHeader: number, icmpType?: number): BpfInstruction[] {
  const tail =
    icmpType === undefined
      ? []
      : [
          { code: LD_B_ABS, jt: 0, jf: 0, k: 54 },
          { code: JEQ_K, jt: 0, jf: 0, k: icmpType },
        ];
  // Every JEQ falls through on match and jumps to the final "drop" on mismatch; fix up jf once the length is known.
  const body: BpfInstruction[] = [
    { code: LD_W_ABS, jt: 0, jf: 0, k: SKF_AD_PKTTYPE },
    { code: JEQ_K, jt: 0, jf: 0, k: PACKET_OUTGOING }, // jt -> drop, patched below
    { code: LD_H_ABS, jt: 0, jf: 0, k: 12 },
    { code: JEQ_K, jt: 0, jf: 0, k: 0x86dd },
    { code: LD_B_ABS, jt: 0, jf: 0, k: 20 },
    { code: JEQ_K, jt: 0, jf: 0, k: nextHeader },
    ...tail,
    { code: RET_K, jt: 0, jf: 0, k: ACCEPT },
    { code: RET_K, jt: 0, jf: 0, k: 0 },
  ];
  const dropAt = body.length - 1;
  return body.map((ins, i) => {
    if (ins.code !== JEQ_K) return ins;
    const toDrop = dropAt - i - 1;
    return i === 1 ? { ...ins, jt: toDrop } : { ...ins, jf: toDrop };
  });
}

/**
 * ipv4Filter keeps incoming IPv4 frames whose protocol (Ethernet offset 23) is `protocol`; our own outgoing copies
 * are dropped, as in ipv6Filter.
 */
export function ipv4Filter(protocol: number): BpfInstruction[] {
  return [
    { code: LD_W_ABS, jt: 0, jf: 0, k: SKF_AD_PKTTYPE },
    { code: JEQ_K, jt: 5, jf: 0, k: PACKET_OUTGOING },
    { code: LD_H_ABS, jt: 0, jf: 0, k: 12 },
    { code: JEQ_K, jt: 0, jf: 3, k: 0x0800 },
    { code: LD_B_ABS, jt: 0, jf: 0, k: 23 },
    { code: JEQ_K, jt: 0, jf: 1, k: protocol },
    { code: RET_K, jt: 0, jf: 0, k: ACCEPT },
    { code: RET_K, jt: 0, jf: 0, k: 0 },
  ];
}

/** ARP_OPER_OFFSET / ARP_TARGET_IP_OFFSET: the ARP opcode and target protocol address in an Ethernet frame. */
const ARP_OPER_OFFSET = 20;
const ARP_TARGET_IP_OFFSET = 38;

/**
 * arpRequestFilter keeps incoming ARP requests (opcode 1) whose target IPv4 address is one of `targets` (dotted
 * quads; others are ignored) and drops every other frame in the kernel: our own outgoing copies, replies, and
 * requests for any other address. The ARP responder narrows its socket to the VIPs this node masters with it, so an
 * ARP flood for other addresses, or for VIPs another node masters, never wakes the speaker's event loop. Two
 * instructions per target (equal: fall through to accept; else skip it), so any count fits the 8-bit jumps.
 */
export function arpRequestFilter(targets: readonly string[]): BpfInstruction[] {
  const words = [...new Set(targets.map(ipv4Word).filter((w): w is number => w !== undefined))];
  const tests = words.flatMap((k) => [
    { code: JEQ_K, jt: 0, jf: 1, k },
    { code: RET_K, jt: 0, jf: 0, k: ACCEPT },
  ]);
  // The header's mismatches jump to an early drop, so no jump spans the list of targets.
  return [
    { code: LD_W_ABS, jt: 0, jf: 0, k: SKF_AD_PKTTYPE },
    { code: JEQ_K, jt: 2, jf: 0, k: PACKET_OUTGOING },
    { code: LD_H_ABS, jt: 0, jf: 0, k: ARP_OPER_OFFSET },
    { code: JEQ_K, jt: 1, jf: 0, k: 1 },
    { code: RET_K, jt: 0, jf: 0, k: 0 },
    { code: LD_W_ABS, jt: 0, jf: 0, k: ARP_TARGET_IP_OFFSET },
    ...tests,
    { code: RET_K, jt: 0, jf: 0, k: 0 },
  ];
}

/** ipv4Word is a dotted quad as the 32-bit value BPF_LD|BPF_W loads (network byte order); undefined if not one. */
function ipv4Word(ip: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (!m) return undefined;
  const b = m.slice(1).map(Number);
  if (b.some((x) => x > 255)) return undefined;
  return ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
}
