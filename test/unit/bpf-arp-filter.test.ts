// arpRequestFilter (src/net/frames/bpf.ts) run by a small classic-BPF interpreter over real frames: the kernel keeps
// ARP requests for the listed targets only. The interpreter covers the opcodes the filters use (ld w/h/b abs, the
// packet-type ancillary load, jeq k, ret k) and fails on any other, so a filter using more cannot pass unnoticed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ARP_OP, arpFrame } from '../../src/net/frames/arp.ts';
import { arpRequestFilter, type BpfInstruction, encodeBpf } from '../../src/net/frames/bpf.ts';

const SKF_AD_PKTTYPE = 0xfffff000 + 4;

/** runBpf returns the bytes the program keeps of `frame` received with packet type `pktType` (0: dropped). */
function runBpf(program: readonly BpfInstruction[], frame: Buffer, pktType: number): number {
  let a = 0;
  for (let pc = 0; pc < program.length; ) {
    const ins = program[pc]!;
    switch (ins.code) {
      case 0x20: // ld w abs
        if (ins.k === SKF_AD_PKTTYPE) a = pktType;
        else if (ins.k + 4 > frame.length) return 0;
        else a = frame.readUInt32BE(ins.k);
        pc++;
        break;
      case 0x28: // ld h abs
        if (ins.k + 2 > frame.length) return 0;
        a = frame.readUInt16BE(ins.k);
        pc++;
        break;
      case 0x15: // jeq k
        pc += 1 + (a === ins.k >>> 0 ? ins.jt : ins.jf);
        break;
      case 0x06: // ret k
        return ins.k;
      default:
        throw new Error(`opcode 0x${ins.code.toString(16)} not interpreted`);
    }
  }
  throw new Error('fell off the end of the program');
}

const MAC = '02:00:00:00:00:01';
const BROADCAST = 'ff:ff:ff:ff:ff:ff';
const request = (target: string) =>
  arpFrame(BROADCAST, MAC, {
    op: ARP_OP.request,
    senderMac: MAC,
    senderIp: '10.0.0.254',
    targetMac: '00:00:00:00:00:00',
    targetIp: target,
  })!;

test('keeps incoming ARP requests for the listed targets, drops requests for others', () => {
  const prog = arpRequestFilter(['10.0.0.100', '10.0.0.101', 'fd00::1', 'not an ip']);
  assert.ok(runBpf(prog, request('10.0.0.100'), 1) > 0);
  assert.ok(runBpf(prog, request('10.0.0.101'), 0) > 0);
  assert.equal(runBpf(prog, request('10.0.0.102'), 1), 0);
  assert.equal(runBpf(prog, request('10.0.0.1'), 1), 0);
});

test('drops replies (opcode 2) and our own outgoing copies', () => {
  const prog = arpRequestFilter(['10.0.0.100']);
  const reply = arpFrame(MAC, MAC, {
    op: ARP_OP.reply,
    senderMac: MAC,
    senderIp: '10.0.0.254',
    targetMac: MAC,
    targetIp: '10.0.0.100',
  })!;
  assert.equal(runBpf(prog, reply, 1), 0);
  assert.equal(runBpf(prog, request('10.0.0.100'), 4), 0, 'PACKET_OUTGOING');
});

test('no target keeps nothing; 255 targets still fit the 8-bit jumps and the kernel limit', () => {
  assert.equal(runBpf(arpRequestFilter([]), request('10.0.0.100'), 1), 0);
  const many = Array.from({ length: 255 }, (_, i) => `10.0.${i >> 8}.${i & 255}`);
  const prog = arpRequestFilter(many);
  assert.ok(prog.length <= 4096);
  for (const ins of prog) assert.ok(ins.jt <= 255 && ins.jf <= 255, JSON.stringify(ins));
  assert.ok(runBpf(prog, request('10.0.0.0'), 1) > 0);
  assert.ok(runBpf(prog, request('10.0.0.254'), 1) > 0);
  assert.equal(runBpf(prog, request('10.0.1.0'), 1), 0);
  assert.equal(encodeBpf(prog).length, prog.length * 8);
});
