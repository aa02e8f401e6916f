/**
 * bfd-peers-many.ts — the far end for bench/bfd-cpu.ts when N > 1: one process playing N BFD peers, one per local
 * address (FRR's bfdd keys single-hop sessions by peer address, so it cannot hold N sessions towards one address).
 * Each address gets a UDP socket on 3784 and one on a source port, TTL 255, and its own BfdPeers. Receive is plain
 * node:dgram (no TTL check): this process is load, not the thing measured.
 *
 *   node --import tsx bench/bfd-peers-many.ts --peer 10.203.0.1 --local 10.203.1.1 --local 10.203.1.2 …
 */
import dgram from 'node:dgram';
import { parseArgs } from 'node:util';
import { realClock } from '../src/clock.ts';
import { silentLogger } from '../src/log.ts';
import { BfdPeers } from '../src/net/bfd-peers.ts';
import { DeadlineScheduler } from '../src/speaker/runtime/scheduler.ts';

const { values } = parseArgs({
  options: { peer: { type: 'string' }, local: { type: 'string', multiple: true, default: [] } },
});
const peer = values.peer!;
const bind = (s: dgram.Socket, address: string, port: number) =>
  new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.bind({ address, port }, () => resolve());
  });

for (const [i, local] of values.local.entries()) {
  const rx = dgram.createSocket('udp4');
  const tx = dgram.createSocket('udp4');
  await bind(rx, local, 3784);
  await bind(tx, local, 49152 + i);
  tx.setTTL(255);
  const peers = new BfdPeers({
    clock: realClock,
    deadlines: (onDue) => new DeadlineScheduler({ clock: realClock, onDue }),
    logger: silentLogger(),
    onChange: () => {},
    transport: { send: (to, bytes) => tx.send(bytes, 3784, to) },
  });
  rx.on('message', (msg, rinfo) => peers.receive(rinfo.address, msg));
  peers.add(peer);
}
process.stdout.write(`${JSON.stringify({ event: 'ready', peers: values.local.length })}\n`);
process.on('SIGTERM', () => process.exit(0));
