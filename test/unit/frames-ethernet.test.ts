import assert from 'node:assert/strict';
import { endianness } from 'node:os';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  formatIpv6,
  ipv4Bytes,
  ipv6Bytes,
  isSolicitedNodeMulticast,
  solicitedNodeMulticast,
} from '../../src/net/frames/address.ts';
import { encodeBpf, ipv6Filter, notOutgoingFilter } from '../../src/net/frames/bpf.ts';
import {
  decodeEthernet,
  encodeEthernet,
  formatMac,
  ipv4MulticastMac,
  ipv6MulticastMac,
  isMulticastMac,
  macBytes,
} from '../../src/net/frames/ethernet.ts';
import { canonicalAddress } from '../../vrrp/ip.ts';

describe('ethernet', () => {
  test('encodeEthernet lays out dst, src, ethertype and pads to 60 bytes', () => {
    const frame = encodeEthernet('ff:ff:ff:ff:ff:ff', '02:00:00:00:00:0a', 0x0806, Buffer.from([1, 2, 3]));
    assert.ok(frame);
    assert.equal(frame.length, 60);
    assert.equal(frame.subarray(0, 17).toString('hex'), 'ffffffffffff02000000000a0806010203');
    assert.ok(frame.subarray(17).every((b) => b === 0));
  });

  test('encodeEthernet keeps long payloads whole and refuses bad MACs', () => {
    assert.equal(encodeEthernet('02:00:00:00:00:01', '02:00:00:00:00:02', 0x86dd, Buffer.alloc(100))?.length, 114);
    assert.equal(encodeEthernet('02:00:00:00:00', '02:00:00:00:00:02', 0x86dd, Buffer.alloc(1)), undefined);
  });

  test('decodeEthernet reads the header and refuses short frames', () => {
    const d = decodeEthernet(Buffer.from('3333000000120200000000aa86dd6000', 'hex'));
    assert.deepEqual(d.ok && { dst: d.dst, src: d.src, ethertype: d.ethertype, payload: d.payload.toString('hex') }, {
      dst: '33:33:00:00:00:12',
      src: '02:00:00:00:00:aa',
      ethertype: 0x86dd,
      payload: '6000',
    });
    assert.deepEqual(decodeEthernet(Buffer.alloc(13)), { ok: false, reason: 'truncated' });
  });

  test('MAC text round-trips and is lower case', () => {
    assert.equal(formatMac(macBytes('02:AB:cd:00:00:0F')!), '02:ab:cd:00:00:0f');
    for (const bad of ['', '02:ab:cd:00:00', '02:ab:cd:00:00:0g', '02-ab-cd-00-00-0f', '02:ab:cd:00:00:0f:']) {
      assert.equal(macBytes(bad), undefined, bad);
    }
  });

  test('multicast MACs follow RFC 1112 §6.4 and RFC 2464 §7', () => {
    assert.equal(ipv4MulticastMac(ipv4Bytes('224.0.0.18')!), '01:00:5e:00:00:12');
    assert.equal(ipv4MulticastMac(ipv4Bytes('239.129.2.3')!), '01:00:5e:01:02:03'); // high bit of octet 2 dropped
    assert.equal(ipv6MulticastMac(ipv6Bytes('ff02::12')!), '33:33:00:00:00:12');
    assert.equal(ipv6MulticastMac(ipv6Bytes('ff02::1:ff00:100')!), '33:33:ff:00:01:00');
    assert.ok(isMulticastMac(macBytes('33:33:00:00:00:01')!));
    assert.ok(!isMulticastMac(macBytes('02:00:00:00:00:01')!));
  });
});

describe('addresses', () => {
  test('IPv4 parsing takes four-part decimal only', () => {
    assert.equal(ipv4Bytes('10.0.0.1')?.toString('hex'), '0a000001');
    for (const bad of ['10.1', '0x0a.0.0.1', '10.0.0.256', '', 'fd00::1']) assert.equal(ipv4Bytes(bad), undefined, bad);
  });

  test('IPv6 text is RFC 5952 canonical', () => {
    const cases: Array<[string, string]> = [
      ['FD00:0:0:0:0:0:0:100', 'fd00::100'],
      ['fe80:0000::0a', 'fe80::a'],
      ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // first of two equal runs (§4.2.3)
      ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // a lone zero group stays (§4.2.2)
      ['::ffff:10.0.0.1', '::ffff:10.0.0.1'], // mixed form for IPv4-mapped (§5)
    ];
    for (const [input, want] of cases) assert.equal(canonicalAddress(input, 'ipv6'), want, input);
    assert.equal(ipv6Bytes('fe80::1%eth0'), undefined);
    assert.equal(canonicalAddress('nope', 'ipv6'), undefined);
  });

  test('solicited-node group keeps the low 24 bits (RFC 4291 §2.7.1)', () => {
    const group = solicitedNodeMulticast(ipv6Bytes('fd00::12:3456')!);
    assert.equal(formatIpv6(group), 'ff02::1:ff12:3456');
    assert.ok(isSolicitedNodeMulticast(group));
    assert.ok(!isSolicitedNodeMulticast(ipv6Bytes('ff02::1')!));
  });
});

describe('bpf', () => {
  const le = endianness() === 'LE';
  test('notOutgoingFilter drops PACKET_OUTGOING and keeps the rest (8 bytes each)', {
    skip: !le && 'big-endian host',
  }, () => {
    const prog = encodeBpf(notOutgoingFilter());
    // struct sock_filter {u16 code; u8 jt; u8 jf; u32 k}, little-endian:
    // ld [SKF_AD_OFF + SKF_AD_PKTTYPE]; jeq #4 jt 1 jf 0; ret #0x40000; ret #0
    const want = ['20000000' + '04f0ffff', '15000100' + '04000000', '06000000' + '00000400', '06000000' + '00000000'];
    assert.equal(prog.toString('hex'), want.join(''));
  });

  test('ipv6Filter jumps every mismatch to the final drop', () => {
    const prog = ipv6Filter(58, 135);
    assert.equal(prog.length, 10);
    const drop = prog.length - 1;
    assert.deepEqual(prog[drop], { code: 6, jt: 0, jf: 0, k: 0 });
    prog.forEach((ins, i) => {
      if (ins.code !== 0x15) return;
      const target = i === 1 ? i + 1 + ins.jt : i + 1 + ins.jf;
      assert.equal(target, drop, `instruction ${i}`);
    });
    assert.deepEqual(
      prog.filter((i) => i.code === 0x15).map((i) => i.k),
      [4, 0x86dd, 58, 135],
    );
    assert.equal(ipv6Filter(112).length, 8);
  });
});

test('decodeEthernet never throws on arbitrary bytes', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
      decodeEthernet(Buffer.from(bytes));
    }),
  );
});
