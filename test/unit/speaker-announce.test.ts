// Announcements on takeover (src/net ArpResponder / NdpResponder) with a fake socket and a fake sleep: the count and
// spacing asked for, and cancellation of one announcement by its own signal (a router that became backup).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ArpResponder } from '../../src/net/arp-responder.ts';
import type { InterfaceInfo } from '../../src/net/interface-info.ts';
import { NdpResponder } from '../../src/net/ndp-responder.ts';
import type { FrameSocket } from '../../src/net/packet-socket.ts';

const info: InterfaceInfo = {
  name: 'eth0',
  index: 2,
  mac: '02:00:00:00:00:01',
  ipv4: ['10.0.0.1'],
  ipv6: ['fe80::1'],
  linkLocal: 'fe80::1',
};

function fakes() {
  const sent: Buffer[] = [];
  const socket: FrameSocket = {
    send: (frame) => {
      sent.push(frame);
      return { ok: true, bytes: frame.length };
    },
    addMembership: () => {},
    dropMembership: () => {},
    close: () => {},
  };
  const sleeps: number[] = [];
  // A sleep that returns at once, or rejects when its signal is (or gets) aborted.
  const sleep = async (ms: number, signal: AbortSignal) => {
    sleeps.push(ms);
    if (signal.aborted) throw new Error('aborted');
    await Promise.resolve();
    if (signal.aborted) throw new Error('aborted');
  };
  return { sent, socket, sleeps, sleep };
}

test('ArpResponder.announce: count rounds of request + reply, spacing between them', async () => {
  const f = fakes();
  const arp = new ArpResponder({
    ifname: 'eth0',
    interfaceInfo: info,
    shouldAnswer: () => false,
    openSocket: () => f.socket,
    sleep: f.sleep,
  });
  const res = await arp.announce('10.0.0.100', { count: 3, spacingMs: 100 });
  assert.deepEqual(res, { ok: true, frames: 6 });
  assert.deepEqual(f.sleeps, [100, 100]);
  assert.equal(f.sent.length, 6);
});

test('ArpResponder.announce: its own signal stops it; another announcement goes on', async () => {
  const f = fakes();
  const arp = new ArpResponder({
    ifname: 'eth0',
    interfaceInfo: info,
    shouldAnswer: () => false,
    openSocket: () => f.socket,
    sleep: f.sleep,
  });
  const ctl = new AbortController();
  const cancelled = arp.announce('10.0.0.100', { count: 5, spacingMs: 10, signal: ctl.signal });
  const other = arp.announce('10.0.0.101', { count: 2, spacingMs: 10 });
  ctl.abort();
  const [a, b] = await Promise.all([cancelled, other]);
  assert.equal(a.ok, false);
  assert.equal(a.ok === false && a.reason, 'stopped');
  assert.equal(a.frames, 2, 'the first round went out before the abort');
  assert.deepEqual(b, { ok: true, frames: 4 });
});

test('NdpResponder.announce: count unsolicited NAs; an aborted signal stops before the next', async () => {
  const f = fakes();
  const ndp = new NdpResponder({
    ifname: 'eth0',
    interfaceInfo: info,
    shouldAnswer: () => false,
    openSocket: () => f.socket,
    sleep: f.sleep,
  });
  assert.deepEqual(await ndp.announce('fd00::100', { count: 3, spacingMs: 50 }), { ok: true, frames: 3 });
  const ctl = new AbortController();
  const p = ndp.announce('fd00::100', { count: 3, spacingMs: 50, signal: ctl.signal });
  ctl.abort();
  const res = await p;
  assert.equal(res.ok, false);
  assert.equal(res.frames, 1);
});
