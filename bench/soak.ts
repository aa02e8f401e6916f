/**
 * Soak benchmark: do speakers at a short advert interval ever fail over without a failure? Three of our speakers run
 * one IPv4 router at `--interval` ms (default 20) with rendezvous-style priorities 254/253/252 on the lab LAN; after
 * convergence nothing is touched for `--minutes` (default 10), and every transition to master counts as a false
 * failover. Prints the count per minute, the master's advert rate and the invalid packets counted; asserts nothing.
 * Needs root (network namespaces).
 *
 *   npm run bench:soak -- [--minutes 10] [--interval 20]
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { buildLab, teardownByPrefix } from '../lab/netlab/netns.ts';
import { metricValue, type SpeakerProcess, startSpeaker } from '../lab/netlab/speaker.ts';
import { masterDownIntervalMs } from '../vrrp/timing.ts';

const PREFIX = 'mvsoak';
const VRID = 71;
const { values } = parseArgs({
  options: { minutes: { type: 'string', default: '10' }, interval: { type: 'string', default: '20' } },
});
const MINUTES = Number(values.minutes);
const INTERVAL_MS = Number(values.interval);

const sum = (text: string, name: string, labels: Record<string, string>) => {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) {
      total += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return total;
};

async function main(): Promise<void> {
  await teardownByPrefix(PREFIX);
  const lab = await buildLab({ prefix: PREFIX, nodes: 3 });
  const speakers: SpeakerProcess[] = [];
  try {
    const priorities = [254, 253, 252];
    for (const [i, host] of lab.nodes.entries()) {
      speakers.push(
        await startSpeaker(host, {
          advertIntervalMs: INTERVAL_MS,
          routers: [{ vrid: VRID, priority: priorities[i]!, vips: [lab.vipsV4[0]!] }],
        }),
      );
    }
    await sleep(Math.max(2000, 10 * INTERVAL_MS));
    const before = await Promise.all(speakers.map((s) => s.metrics()));
    const masters0 = before.map((t) => sum(t, 'metal_vrrp_transitions_total', { to: 'master' }));
    const sent0 = sum(before[0]!, 'metal_vrrp_adverts_sent_total', {});
    const started = Date.now();
    console.log(
      `soak: 3 speakers, ${INTERVAL_MS} ms interval (Master_Down_Interval of the best backup ` +
        `${masterDownIntervalMs(253, INTERVAL_MS / 10).toFixed(1)} ms), ${MINUTES} min, machine load ${(await loadavg()).trim()}`,
    );
    for (let m = 1; m <= MINUTES; m++) {
      await sleep(60_000);
      const now = await Promise.all(speakers.map((s) => s.metrics()));
      const extra = now.map((t, i) => sum(t, 'metal_vrrp_transitions_total', { to: 'master' }) - masters0[i]!);
      console.log(`  minute ${m}: false failovers so far ${extra.reduce((a, b) => a + b, 0)} (${extra.join('/')})`);
    }
    const after = await Promise.all(speakers.map((s) => s.metrics()));
    const extra = after.map((t, i) => sum(t, 'metal_vrrp_transitions_total', { to: 'master' }) - masters0[i]!);
    const sent = sum(after[0]!, 'metal_vrrp_adverts_sent_total', {}) - sent0;
    const minutes = (Date.now() - started) / 60_000;
    console.log(`result: ${extra.reduce((a, b) => a + b, 0)} false failovers in ${minutes.toFixed(1)} min`);
    console.log(
      `        master sent ${sent} adverts (${(sent / (minutes * 60)).toFixed(1)}/s, ideal ${1000 / INTERVAL_MS}/s)`,
    );
    console.log(
      `        invalid packets counted: ${after.map((t) => metricValue(t, 'metal_vrrp_invalid_packets_total') ?? 0).join('/')}`,
    );
  } finally {
    for (const s of speakers) await s.kill('SIGKILL').catch(() => {});
    await lab.teardown();
  }
}

async function loadavg(): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  return (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ');
}

await main();
