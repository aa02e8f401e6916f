// ArpResponder.announceNow: one round of gratuitous ARP (request and reply form) for many VIPs in one batch, the
// frames built once per VIP (a takeover batch sends them for a hundred VIPs in one sendmmsg).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ArpResponder } from '../../src/net/arp-responder.ts';
import { gratuitousArp } from '../../src/net/frames/arp.ts';
import type { FrameSocket } from '../../src/net/packet-socket.ts';

const MAC = '02:00:00:00:00:02';

function responder(socket: Partial<FrameSocket>) {
  const s: FrameSocket = {
    send: () => ({ ok: true, bytes: 42 }),
    addMembership: () => {},
    dropMembership: () => {},
    close: () => {},
    ...socket,
  };
  return new ArpResponder({
    ifname: 'eth0',
    interfaceInfo: { name: 'eth0', index: 2, mac: MAC, ipv4: ['10.0.0.2'], ipv6: [], linkLocal: undefined },
    shouldAnswer: () => false,
    openSocket: () => s,
  });
}

test('announceNow sends both forms of every VIP in one batch, in order, with the same frames each time', () => {
  const batches: (readonly Buffer[])[] = [];
  const arp = responder({
    sendBatch: (frames) => {
      batches.push(frames);
      return { ok: true, sent: frames.length };
    },
  });
  assert.deepEqual(arp.announceNow(['10.0.0.5', '10.0.0.6']), { ok: true, frames: 4 });
  assert.equal(batches.length, 1);
  const expected = ['10.0.0.5', '10.0.0.6'].flatMap((ip) => [
    gratuitousArp(MAC, ip, 'request'),
    gratuitousArp(MAC, ip, 'reply'),
  ]);
  assert.deepEqual(batches[0], expected);
  arp.announceNow(['10.0.0.6']);
  assert.equal(batches[1]![0], batches[0]![2], 'the frames of a VIP are built once');
  arp.stop();
});

test('announceNow reports a refused batch and a bad address; without sendBatch it sends one by one', () => {
  const refused = responder({ sendBatch: () => ({ ok: false, sent: 1, code: 'ENOBUFS', message: 'no buffer' }) });
  assert.deepEqual(refused.announceNow(['10.0.0.5']), {
    ok: false,
    reason: 'send-failed',
    detail: 'no buffer',
    frames: 1,
  });
  assert.equal(refused.announceNow(['not-an-ip']).ok, false);
  refused.stop();
  let sent = 0;
  const single = responder({
    send: () => {
      sent++;
      return { ok: true, bytes: 42 };
    },
  });
  assert.deepEqual(single.announceNow(['10.0.0.5', '10.0.0.7']), { ok: true, frames: 4 });
  assert.equal(sent, 4);
  single.stop();
});
