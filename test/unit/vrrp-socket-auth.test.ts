// VrrpSocket with authenticated routers, on a fake packet socket with the addon's repeat table: the frame caches of
// both directions must not serve a sealed advert (each carries its own counter) nor let a received authenticated
// frame skip verification.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ReceivedAdvert, VrrpDrop } from '../../src/net/frames/vrrp.ts';
import { vrrpIpv4Frame } from '../../src/net/frames/vrrp.ts';
import type { InterfaceInfo } from '../../src/net/interface-info.ts';
import type { FrameSocket, PacketSocketOptions } from '../../src/net/packet-socket.ts';
import { VrrpSocket } from '../../src/net/vrrp-socket.ts';
import { hmacSha256 } from '../../src/speaker/runtime/auth-keyring.ts';
import type { Advert } from '../../vrrp/advert.ts';
import { type AuthKey, authKey } from '../../vrrp/auth.ts';

const OURS = '02:00:00:00:00:01';
const PEER = '02:00:00:00:00:02';
const info: InterfaceInfo = { name: 'eth0', index: 2, mac: OURS, ipv4: ['10.0.0.1'], ipv6: [], linkLocal: undefined };
const ADVERT: Advert = { vrid: 7, priority: 200, maxAdvertIntervalCs: 10, addresses: ['10.0.0.100'] };
const KEY_A = authKey(hmacSha256(Buffer.from('key A: thirty-two bytes of secret')));
const KEY_B = authKey(hmacSha256(Buffer.from('key B: thirty-two bytes of secret')));

/** rig opens a VrrpSocket on a fake socket; `keys` is what authKeys answers for VRID 7 (undefined: plain router). */
function rig() {
  const state: { keys: readonly AuthKey[] | undefined } = { keys: [KEY_A] };
  const sent: Buffer[] = [];
  const got: (ReceivedAdvert | VrrpDrop)[] = [];
  let onFrame: PacketSocketOptions['onFrame'] = () => {};
  let repeats: PacketSocketOptions['repeats'];
  const fake: FrameSocket = {
    send: (frame) => {
      sent.push(frame);
      return { ok: true, bytes: frame.length };
    },
    addMembership: () => {},
    dropMembership: () => {},
    close: () => {},
  };
  const socket = new VrrpSocket({
    family: 'ipv4',
    ifname: 'eth0',
    interfaceInfo: info,
    onAdvert: (r) => void got.push(r),
    onDrop: (r) => void got.push(r),
    authKeys: (_family, vrid) => (vrid === 7 ? state.keys : undefined),
    openPacketSocket: (o) => {
      onFrame = o.onFrame;
      repeats = o.repeats;
      return fake;
    },
    neighbors: {
      lookup: () => undefined,
      known: () => false,
      watch: () => {},
      peerOf: () => undefined,
      size: 0,
      close: () => {},
    },
  });
  // As the addon's repeat table does: a frame seen before comes back as its slot, without its bytes.
  const slots = new Map<string, number>(); // frame bytes (latin1) -> slot
  const receive = (frame: Buffer) => {
    const key = frame.toString('latin1');
    const slot = slots.get(key);
    if (slot !== undefined && repeats !== undefined) return repeats.onRepeat(slot);
    slots.set(key, slots.size);
    onFrame(frame, 0, repeats === undefined ? undefined : slots.size - 1);
  };
  return { socket, sent, got, state, receive };
}

/** peerFrame is an advert from the peer 10.0.0.2, signed under `key` with `counter` when given. */
function peerFrame(key?: AuthKey, counter = 1n): Buffer {
  const built = vrrpIpv4Frame(
    ADVERT,
    { srcMac: PEER, src: '10.0.0.2' },
    key === undefined ? undefined : { key, counter },
  );
  assert.ok(built.ok);
  return built.bytes;
}

test('sealed adverts are built afresh for every send (own counter each); plain ones come from the frame cache', () => {
  const { socket, sent } = rig();
  assert.equal(socket.send(ADVERT, undefined, { key: KEY_A, counter: 10n }).ok, true);
  assert.equal(socket.send(ADVERT, undefined, { key: KEY_A, counter: 11n }).ok, true);
  assert.equal(socket.send(ADVERT).ok, true);
  assert.equal(socket.send(ADVERT).ok, true);
  socket.flush();
  assert.equal(sent.length, 4);
  assert.notDeepEqual(sent[0], sent[1], 'two counters, two frames');
  assert.equal(sent[0]!.length, 14 + 20 + 8 + 4 + 48, 'Ethernet, IPv4, advert of one address, 48-byte trailer');
  assert.equal(sent[2], sent[3], 'the plain advert is the cached frame');
  socket.stop();
});

test('a received authenticated frame is verified every time: a key rotated out refuses a frame accepted before', () => {
  const { socket, got, state, receive } = rig();
  const frame = peerFrame(KEY_A, 5n);
  receive(frame);
  receive(frame); // a replay: the socket hands it on verified; the speaker's ReplayGuard refuses counter 5 again
  assert.deepEqual(
    got.map((r) => (r.ok ? `ok ${r.auth?.counter}` : r.reason)),
    ['ok 5', 'ok 5'],
  );
  assert.notEqual(got[0], got[1], 'not served from the receive cache');
  state.keys = [KEY_B];
  receive(frame);
  assert.equal(got[2]?.ok === false && got[2].reason, 'auth-unknown-key');
  socket.stop();
});

test('a plain advert cached while its router was plain is refused once the router requires authentication', () => {
  const { socket, got, state, receive } = rig();
  state.keys = undefined;
  const frame = peerFrame();
  receive(frame);
  receive(frame);
  assert.deepEqual(
    got.map((r) => r.ok),
    [true, true],
  );
  assert.equal(got[0], got[1], 'plain adverts are served from the receive cache');
  state.keys = [KEY_A];
  receive(frame);
  assert.equal(got[2]?.ok === false && got[2].reason, 'auth-missing');
  socket.stop();
});
