// bfd-node.ts — one BFD speaker for the network tests, run inside a namespace:
//   node --import tsx test/net/bfd-node.ts --local 10.0.0.1 --ifname eth0 --peer 10.0.0.2 [--peer …]
//     [--tx-ms 10] [--rx-ms 10] [--mult 3]
// Prints JSON lines on stdout: {"event":"ready",…} once the sockets are open, then {"event":"up"|"down",…} with
// `at` in wall-clock ms (Date.now, comparable with the test process), and a {"event":"stats"} line on SIGUSR2.
// Exits on SIGTERM after taking its sessions AdminDown.
import { parseArgs } from 'node:util';
import { realClock } from '../../src/clock.ts';
import { silentLogger } from '../../src/log.ts';
import { BfdPeers } from '../../src/net/bfd-peers.ts';
import { BfdSocket } from '../../src/net/bfd-socket.ts';
import { DeadlineScheduler } from '../../src/speaker/runtime/scheduler.ts';

const { values } = parseArgs({
  options: {
    local: { type: 'string' },
    ifname: { type: 'string', default: 'eth0' },
    peer: { type: 'string', multiple: true, default: [] },
    'tx-ms': { type: 'string', default: '10' },
    'rx-ms': { type: 'string', default: '10' },
    mult: { type: 'string', default: '3' },
  },
});
const out = (o: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(o)}\n`);
const local = values.local!;
const family = local.includes(':') ? 'ipv6' : 'ipv4';
const frameDrops = new Map<string, number>();

let peers: BfdPeers | undefined;
const socket = await BfdSocket.open({
  family,
  localAddress: local,
  ifname: values.ifname,
  onPacket: (frame) => peers?.receive(frame.source, frame.payload),
  onDrop: (reason) => frameDrops.set(reason, (frameDrops.get(reason) ?? 0) + 1),
  onError: (err) => out({ event: 'error', message: err.message }),
});
peers = new BfdPeers({
  transport: socket,
  clock: realClock,
  deadlines: (onDue) => new DeadlineScheduler({ clock: realClock, onDue }),
  logger: silentLogger(),
  timing: {
    desiredMinTxUs: Number(values['tx-ms']) * 1000,
    requiredMinRxUs: Number(values['rx-ms']) * 1000,
    detectMult: Number(values.mult),
  },
  onChange: (peer, change) => out({ event: change.up ? 'up' : 'down', peer, at: Date.now(), ...change }),
});
for (const p of values.peer) peers.add(p);
out({ event: 'ready', sourcePort: socket.sourcePort, pid: process.pid });

process.on('SIGUSR2', () => {
  const sessions = values.peer.map((p) => {
    const s = peers?.session(p);
    return { peer: p, state: s?.state, local: s?.config.localDiscriminator, remote: s?.remoteDiscriminator };
  });
  out({
    event: 'stats',
    sessions,
    drops: Object.fromEntries(peers?.drops ?? []),
    frameDrops: Object.fromEntries(frameDrops),
    cpu: process.cpuUsage(),
    uptimeMs: process.uptime() * 1000,
  });
});
process.on('SIGTERM', async () => {
  peers?.stop(); // AdminDown to every peer
  await socket.close(); // after those packets have left
  process.exit(0);
});
