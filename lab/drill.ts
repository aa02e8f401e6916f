// drill.ts — the failover drill, seen from the client: who answers ARP/NDP for each VIP, a hard node loss (switch
// port down + speaker SIGKILL: a speaker killed alone leaves kube-proxy's datapath up, which would hide the
// failover), a graceful SIGTERM (priority 0), then both nodes back and the VIPs returning to them (preempt), then a
// failed health check (issue 13): kube-proxy's check turned on for the pools, the master's :10256 made unreachable
// (health-drill.ts), its VIPs moving to the next node within Skew_Time + one check interval + the probe timeout,
// `metal-vrrp status` naming the node and the check meanwhile, and the VIPs coming back once the check recovers.
//
// Two views of each event, both from the client:
// - the datapath: `ping -i 0.005` to one VIP the node mastered. Its gap is the longest silence between replies
//   around the event minus ping's normal spacing: the time traffic was lost. It moves with the client's neighbour
//   entry, i.e. with gratuitous ARP; after a graceful stop the old node still forwards (kube-proxy) until then.
// - ARP: the harness's prober sends a broadcast ARP request every 10 ms to every VIP, replies stamped by the
//   kernel: who answers, and when the new master first answers (takeover). After a graceful stop this shows
//   Skew_Time, the window in which nobody answers ARP for the VIP (RFC 5798 §6.4.2).
import { setTimeout as sleep } from 'node:timers/promises';
import {
  annotatePools,
  breakKubeProxyHealth,
  ensureKubeProxyHealth,
  HEALTH_CHECK_NAME,
  restoreKubeProxyHealth,
} from './health-drill.ts';
import type { Lab } from './netlab/netns.ts';
import { type ArpProbeResult, arpProbe, type PingProbeResult, startArpProbe, startPingProbe } from './netlab/probe.ts';
import { type LabNode, METALLB_NAMESPACE, type RunPlan } from './plan.ts';
import { type ManagedProcess, restart } from './processes.ts';
import { statusCommand } from './report.ts';

/** PROBE_INTERVAL_MS between the client's ARP probes during the drill. */
export const PROBE_INTERVAL_MS = 10;

/** DrillDeps: `speakers[i]` runs on plan.nodes[i] and is replaced when the drill restarts it. */
export interface DrillDeps {
  readonly lab: Lab;
  readonly plan: RunPlan;
  readonly advertIntervalMs: number;
  readonly speakers: ManagedProcess[];
  readonly vips: readonly string[];
  readonly say: (line: string) => void;
  readonly waitSpeakerReady: (i: number) => Promise<void>;
  /** onProbes hears every VIP's ARP/NDP answers around an event at `at` (epoch ms): the SVG timeline's input. */
  readonly onProbes?: (node: string, at: number, probes: readonly ArpProbeResult[]) => void;
}

/** Masters maps each VIP to the MACs that answered the client's ARP/NDP probes (exactly one when healthy). */
export type Masters = ReadonlyMap<string, readonly string[]>;

/** probeMasters asks, for every VIP in parallel, which MACs answer (probes every 20 ms for durationMs). */
export async function probeMasters(lab: Lab, vips: readonly string[], durationMs = 300): Promise<Masters> {
  const results = await Promise.all(vips.map((vip) => arpProbe(lab, vip, { intervalMs: 20, durationMs })));
  return new Map(results.map((r) => [r.vip, distinct(r.answers.filter((a) => a.kind === 'reply').map((a) => a.mac))]));
}

/** waitMasters polls probeMasters until every VIP has exactly one answering MAC and `accept` agrees. */
export async function waitMasters(
  lab: Lab,
  vips: readonly string[],
  timeoutMs: number,
  accept: (m: Masters) => boolean = () => true,
): Promise<{ masters: Masters; ok: boolean; ms: number }> {
  const t0 = Date.now();
  for (;;) {
    const masters = await probeMasters(lab, vips);
    const single = [...masters.values()].every((macs) => macs.length === 1);
    if (single && accept(masters)) return { masters, ok: true, ms: Date.now() - t0 };
    if (Date.now() - t0 > timeoutMs) return { masters, ok: false, ms: Date.now() - t0 };
    await sleep(200);
  }
}

/** PING_INTERVAL_MS: ping keeps 5 ms when asked for it (it does not keep 10 ms; see probe.ts). */
export const PING_INTERVAL_MS = 5;

/** FailoverMeasure is one event's effect on one VIP, as ARP shows it. */
export interface FailoverMeasure {
  readonly vip: string;
  readonly from: string; // node name
  readonly to: string | null;
  readonly arpSilenceMs: number | null; // last ARP reply from the old MAC → first from the new one
  readonly takeoverMs: number | null; // event → first ARP reply from the new MAC
}

/**
 * PingGap is the datapath's view of an event: `gapMs` = `silenceMs` − `spacingMs`, the traffic lost. `lost` counts the
 * pings sent inside the longest silence that never got a reply (the sequence numbers between the replies around it),
 * so it agrees with the gap: ping sends every `spacingMs` while it gets replies but only every 10 ms while one is
 * missing (its MININTERVAL, see probe.ts), hence `lostSpacingMs` = silence / (lost + 1), the spacing inside the gap.
 */
export interface PingGap {
  readonly vip: string;
  readonly silenceMs: number;
  readonly spacingMs: number;
  readonly gapMs: number;
  readonly lost: number;
  readonly lostSpacingMs: number;
}

/** DoubleAnswer is a window in which two nodes answered the client's ARP/NDP probes for one VIP. */
export interface DoubleAnswer {
  readonly vip: string;
  /** fromMs / toMs: epoch ms of the first and last answer inside the window. */
  readonly fromMs: number;
  readonly toMs: number;
  readonly macs: readonly string[];
}

/** DrillEvent is the result of a hard loss or a graceful stop. */
export interface DrillEvent {
  readonly node: string;
  readonly vips: readonly FailoverMeasure[];
  readonly ping: PingGap | null;
  readonly othersMoved: readonly string[]; // VIPs of other nodes that changed master (should be none)
  /** doubleAnswers: every window, around the event, in which two nodes answered for one VIP (should be none). */
  readonly doubleAnswers: readonly DoubleAnswer[];
}

/** HealthEvent is the health act: the event as the client saw it, what status said meanwhile, and the way back. */
export interface HealthEvent extends DrillEvent {
  /** check names the failed check as the speaker and `metal-vrrp status` do. */
  readonly check: string;
  /** responders: nodes where nothing served :10256, so the lab's responder was started there. */
  readonly responders: readonly string[];
  /** status: the HEALTH notes `metal-vrrp status -o json` gave for the drilled VIP while the check failed. */
  readonly status: readonly { node: string; effect: string; checks: readonly string[] }[] | null;
  readonly statusError: string | null;
  /** backOk: every VIP back on its master of before the act after the check recovered (rise, then preempt). */
  readonly backOk: boolean;
  readonly backMs: number;
}

/** DrillResult is the whole drill. */
export interface DrillResult {
  readonly hard: DrillEvent;
  readonly graceful: DrillEvent;
  readonly preemptBackOk: boolean;
  readonly preemptBackMs: number;
  readonly mastersAfter: Record<string, string | null>;
  /** health: the failed-check act (null when the VIPs were not back on their masters to start it from). */
  readonly health: HealthEvent | null;
}

/** runDrill plays the three acts against the initial masters `before` (VIP → single MAC). */
export async function runDrill(deps: DrillDeps, before: Masters): Promise<DrillResult> {
  const { plan, vips, say } = deps;
  const macNode = new Map(plan.nodes.map((n) => [n.host.mac, n] as const));
  const current = new Map([...before].map(([vip, macs]) => [vip, macs[0] ?? ''] as const));
  const v4 = vips.filter((v) => !v.includes(':'));
  const target = v4.find((v) => macNode.has(current.get(v) ?? '')) ?? vips[0];
  if (target === undefined) throw new Error('drill: no VIP to drill on');
  const hardNode = macNode.get(current.get(target) ?? '');
  if (!hardNode) throw new Error(`drill: no node answers for ${target}`);
  const mdi = masterDownMs(deps.advertIntervalMs);
  const settleMs = Math.max(1500, mdi * 2 + 500);

  // Act 1: hard loss of the node that masters `target`.
  say(`hard loss of ${hardNode.nodeName} (master of ${target}): switch port down + speaker SIGKILL`);
  const hard = await measure(deps, current, target, hardNode, settleMs, async () => {
    const i = plan.nodes.indexOf(hardNode);
    deps.speakers[i]!.signal('SIGKILL');
    await deps.lab.setLinkDown(hardNode.host);
  });
  reportEvent(say, hard);

  // Act 2: graceful stop of the node that now masters `target` (another node).
  const gracefulNode = macNode.get(current.get(target) ?? '');
  if (!gracefulNode || gracefulNode === hardNode) throw new Error(`drill: nobody took over ${target}`);
  say(`graceful stop of ${gracefulNode.nodeName} (now master of ${target}): SIGTERM`);
  const gi = plan.nodes.indexOf(gracefulNode);
  const graceful = await measure(deps, current, target, gracefulNode, settleMs, async () => {
    deps.speakers[gi]!.signal('SIGTERM');
  });
  if (!(await deps.speakers[gi]!.waitExit(5000))) say(`  (speaker ${gracefulNode.nodeName} still running 5 s later)`);
  else say(`  speaker ${gracefulNode.nodeName} exited (${deps.speakers[gi]!.exitText()})`);
  reportEvent(say, graceful);

  // Act 3: both nodes back; every VIP should return to the master it had at the start (preempt).
  say(`restoring ${hardNode.nodeName} (port up) and restarting both speakers`);
  const hi = plan.nodes.indexOf(hardNode);
  await deps.lab.setLinkUp(hardNode.host);
  deps.speakers[hi] = restart(deps.speakers[hi]!);
  deps.speakers[gi] = restart(deps.speakers[gi]!);
  const t0 = Date.now();
  await Promise.all([deps.waitSpeakerReady(hi), deps.waitSpeakerReady(gi)]);
  const back = await waitMasters(deps.lab, vips, Math.max(15_000, mdi * 20), (m) =>
    vips.every((v) => m.get(v)?.[0] === before.get(v)?.[0]),
  );
  const preemptBackMs = Date.now() - t0;
  const mastersAfter = Object.fromEntries(
    vips.map((v) => {
      const macs = back.masters.get(v) ?? [];
      return [v, macs.length === 1 ? (macNode.get(macs[0]!)?.nodeName ?? macs[0]!) : null] as const;
    }),
  );
  say(
    back.ok
      ? `every VIP is back on its first master ${(preemptBackMs / 1000).toFixed(1)} s after the restart (preempt)`
      : `VIPs NOT back on their first masters after ${(preemptBackMs / 1000).toFixed(1)} s: ${JSON.stringify(mastersAfter)}`,
  );
  // Act 4: a failed health check on the node that masters `target` again.
  const health = back.ok ? await healthAct(deps, back.masters, target) : null;
  if (!back.ok) say('health act skipped: the VIPs are not back on their first masters');
  return { hard, graceful, preemptBackOk: back.ok, preemptBackMs, mastersAfter, health };
}

/** HEALTH_TIMING is the pools' health timing the act runs with: the annotations' defaults (interval, timeout). */
const HEALTH_TIMING = { intervalMs: 1000, timeoutMs: 500, rise: 3 } as const;

/**
 * healthAct turns kube-proxy's check on for every pool (serving :10256 where nothing does), lets it pass everywhere,
 * then makes the master of `target` lose it and measures the move; while it fails, `metal-vrrp status -o json` must
 * name that node and the check for the VIP; then the check recovers and the VIPs return (rise, then preempt).
 */
async function healthAct(deps: DrillDeps, masters: Masters, target: string): Promise<HealthEvent> {
  const { lab, plan, vips, say } = deps;
  const macNode = new Map(plan.nodes.map((n) => [n.host.mac, n] as const));
  const responders = await ensureKubeProxyHealth(plan.nodes.map((n) => n.host));
  say(
    responders.length > 0
      ? `kube-proxy health: nothing served :10256 on ${responders.join(', ')}; the lab's responder does now`
      : 'kube-proxy health: :10256/healthz answers on every node',
  );
  const pools = await annotatePools(plan.adminKubeconfig, METALLB_NAMESPACE, {
    'metal-vrrp.io/kube-proxy-health': 'true',
  });
  say(
    `pools ${pools.join(', ')}: metal-vrrp.io/kube-proxy-health=true (probe every ${HEALTH_TIMING.intervalMs} ms, ` +
      `timeout ${HEALTH_TIMING.timeoutMs} ms, fall 1, rise ${HEALTH_TIMING.rise}: the defaults)`,
  );
  // Every speaker starts its probe on the pool change; a first good result moves nothing.
  await sleep(2 * HEALTH_TIMING.intervalMs);
  const same = (m: Masters) => vips.every((v) => m.get(v)?.[0] === masters.get(v)?.[0]);
  const settled = await waitMasters(lab, vips, 10_000, same);
  if (!settled.ok) say('  (the VIPs moved when the check was turned on)');
  const current = new Map([...settled.masters].map(([vip, macs]) => [vip, macs[0] ?? ''] as const));
  const node = macNode.get(current.get(target) ?? '');
  if (!node) throw new Error(`drill: no node answers for ${target} before the health act`);
  say(
    `health: ${node.nodeName} (master of ${target}) fails kube-proxy's check: nft drops TCP :10256 in ${node.host.ns}`,
  );
  const mdi = masterDownMs(deps.advertIntervalMs);
  const settleMs = HEALTH_TIMING.intervalMs + HEALTH_TIMING.timeoutMs + mdi + 1000;
  const ev = await measure(deps, current, target, node, settleMs, () => breakKubeProxyHealth(node.host.ns));
  // Still failing: what does the operator's command say?
  const st = await statusCommand(plan, true);
  let status: HealthEvent['status'] = null;
  let statusError: string | null = st.error;
  if (st.text !== null) {
    try {
      const items = (JSON.parse(st.text) as { items: { vip: string; health?: StatusHealth[] }[] }).items;
      status = (items.find((i) => i.vip === target)?.health ?? []).map((h) => ({
        node: h.node,
        effect: h.effect,
        checks: h.checks.map((c) => c.check),
      }));
    } catch (err) {
      statusError = `unreadable status JSON: ${(err as Error).message}`;
    }
  }
  reportEvent(say, ev);
  say(
    status === null
      ? `  metal-vrrp status: ${statusError}`
      : `  metal-vrrp status, HEALTH of ${target}: ${
          status.map((h) => `${h.node}:${h.effect}(${h.checks.join(';')})`).join(',') || '<none>'
        }`,
  );
  say(
    `restoring ${node.nodeName}'s kube-proxy health (rule removed); it serves again after ${HEALTH_TIMING.rise} good probes`,
  );
  await restoreKubeProxyHealth(node.host.ns);
  const t0 = Date.now();
  const back = await waitMasters(lab, vips, 15_000 + HEALTH_TIMING.rise * HEALTH_TIMING.intervalMs, same);
  const backMs = Date.now() - t0;
  say(
    back.ok
      ? `every VIP is back on its master ${(backMs / 1000).toFixed(1)} s after the check recovered (rise, then preempt)`
      : `VIPs NOT back ${(backMs / 1000).toFixed(1)} s after the check recovered`,
  );
  return { ...ev, check: HEALTH_CHECK_NAME, responders, status, statusError, backOk: back.ok, backMs };
}

/** StatusHealth is the part of a `metal-vrrp status -o json` health note the drill reads. */
interface StatusHealth {
  readonly node: string;
  readonly effect: string;
  readonly checks: readonly { readonly check: string }[];
}

/** measure probes every VIP (and pings `pingVip`) around `act`, then works out who took over from `node`.
 * Updates `current` (VIP → MAC) to the masters at the end. */
async function measure(
  deps: DrillDeps,
  current: Map<string, string>,
  pingVip: string,
  node: LabNode,
  settleMs: number,
  act: () => Promise<void>,
): Promise<DrillEvent> {
  const { lab, vips } = deps;
  const probes = await Promise.all(
    vips.map((v) => startArpProbe(lab, v, { intervalMs: PROBE_INTERVAL_MS, maxDurationMs: 60_000 })),
  );
  const ping = await startPingProbe(lab, pingVip, { intervalMs: PING_INTERVAL_MS, maxDurationMs: 60_000 });
  // A random point of the advert cycle, or every run would land at the same phase (NETLAB-NOTES).
  await sleep(300 + Math.random() * deps.advertIntervalMs);
  const t0 = Date.now();
  await act();
  await sleep(settleMs);
  const results = await Promise.all(probes.map((p) => p.stop()));
  const pingRes = await ping.stop();
  deps.onProbes?.(node.nodeName, t0, results);
  const macNode = new Map(deps.plan.nodes.map((n) => [n.host.mac, n.nodeName] as const));
  const doubles = results
    .flatMap((r) => doubleAnswers(r))
    .map((d) => ({ ...d, macs: d.macs.map((m) => macNode.get(m) ?? m) }));
  const measures: FailoverMeasure[] = [];
  const othersMoved: string[] = [];
  for (const r of results) {
    const was = current.get(r.vip);
    const m = analyse(r, t0, node.host.mac);
    if (was === node.host.mac) {
      const to = m.newMac ? (macNode.get(m.newMac) ?? m.newMac) : null;
      measures.push({ vip: r.vip, from: node.nodeName, to, arpSilenceMs: m.gapMs, takeoverMs: m.takeoverMs });
    } else if (m.macsAfter.some((mac) => mac !== was)) {
      othersMoved.push(r.vip);
    }
    const last = m.lastMac;
    if (last) current.set(r.vip, last);
  }
  return { node: node.nodeName, vips: measures, ping: pingGap(pingRes, t0), othersMoved, doubleAnswers: doubles };
}

/**
 * doubleAnswers finds the windows in which two MACs answered one VIP: the prober sends one request every
 * `intervalMs`, so replies from two MACs less than one interval apart answer the same request (or two requests in a
 * row, both served while the other node also served); consecutive such pairs merge into one window.
 */
export function doubleAnswers(r: ArpProbeResult): DoubleAnswer[] {
  const replies = r.answers.filter((a) => a.kind === 'reply').sort((a, b) => a.t - b.t);
  const out: { vip: string; fromMs: number; toMs: number; macs: Set<string> }[] = [];
  for (let i = 1; i < replies.length; i++) {
    const a = replies[i - 1]!;
    const b = replies[i]!;
    if (a.mac === b.mac || b.t - a.t >= r.intervalMs) continue;
    const last = out.at(-1);
    if (last && a.t - last.toMs < r.intervalMs) {
      last.toMs = b.t;
      last.macs.add(a.mac).add(b.mac);
    } else out.push({ vip: r.vip, fromMs: a.t, toMs: b.t, macs: new Set([a.mac, b.mac]) });
  }
  return out.map((w) => ({ ...w, macs: [...w.macs].sort() }));
}

/** pingGap is the longest silence between consecutive ping replies from just before the event on, less ping's
 * median spacing; null when ping got no reply on one side of the event (nothing to measure against). */
export function pingGap(r: PingProbeResult, t0: number): PingGap | null {
  const replies = [...r.replies].sort((a, b) => a.t - b.t);
  const i0 = replies.findIndex((x) => x.t >= t0);
  if (i0 < 1 || r.effectiveIntervalMs === null) return null;
  let silenceMs = 0;
  let lost = 0;
  for (let i = i0; i < replies.length; i++) {
    const ms = replies[i]!.t - replies[i - 1]!.t;
    if (ms <= silenceMs) continue;
    silenceMs = ms;
    lost = Math.max(0, replies[i]!.seq - replies[i - 1]!.seq - 1);
  }
  const spacingMs = r.effectiveIntervalMs;
  const lostSpacingMs = silenceMs / (lost + 1);
  return { vip: r.vip, silenceMs, spacingMs, gapMs: Math.max(0, silenceMs - spacingMs), lost, lostSpacingMs };
}

/** analyse reads one VIP's probe answers around an event at t0 that removed `oldMac`. */
export function analyse(
  r: ArpProbeResult,
  t0: number,
  oldMac: string,
): {
  newMac: string | null;
  gapMs: number | null;
  takeoverMs: number | null;
  lastMac: string | null;
  macsAfter: string[];
} {
  const replies = r.answers.filter((a) => a.kind === 'reply');
  const after = replies.filter((a) => a.t >= t0);
  const firstNew = after.find((a) => a.mac !== oldMac);
  const lastOld = firstNew ? [...replies].reverse().find((a) => a.mac === oldMac && a.t <= firstNew.t) : undefined;
  return {
    newMac: firstNew?.mac ?? null,
    gapMs: firstNew && lastOld ? firstNew.t - lastOld.t : null,
    takeoverMs: firstNew ? firstNew.t - t0 : null,
    lastMac: replies.at(-1)?.mac ?? null,
    macsAfter: distinct(after.map((a) => a.mac)),
  };
}

/** masterDownMs is Master_Down_Interval for the lowest useful backup priority: 3 × interval + Skew_Time, with
 * Skew_Time < interval (RFC 5798 §6.1), so 4 × interval bounds it. */
export function masterDownMs(advertIntervalMs: number): number {
  return 4 * advertIntervalMs;
}

function reportEvent(say: (line: string) => void, e: DrillEvent): void {
  if (e.ping) {
    const p = e.ping;
    say(
      `  client traffic to ${p.vip} (ping every ${p.spacingMs.toFixed(1)} ms): gap ${p.gapMs.toFixed(1)} ms ` +
        `(longest silence ${p.silenceMs.toFixed(1)} ms: ` +
        (p.lost === 0
          ? 'no ping lost in it)'
          : `${p.lost} pings lost in it, ping sending every ${p.lostSpacingMs.toFixed(1)} ms while unanswered)`),
    );
  } else say('  client traffic: no ping replies on both sides of the event');
  for (const m of e.vips) {
    const tk =
      m.takeoverMs === null
        ? 'no takeover seen'
        : `new master answers ARP/NDP ${m.takeoverMs.toFixed(1)} ms after the event`;
    say(`  ${m.vip}: ${m.from} → ${m.to ?? '?'}: ${tk}`);
  }
  say(e.othersMoved.length === 0 ? '  VIPs of other nodes did not move' : `  also moved: ${e.othersMoved.join(', ')}`);
  say(
    e.doubleAnswers.length === 0
      ? '  no moment in which two nodes answered for one VIP'
      : `  TWO NODES ANSWERED: ${e.doubleAnswers.map(describeDouble).join('; ')}`,
  );
}

/** describeDouble prints a window of two answerers: VIP, nodes, and how long. */
export function describeDouble(d: DoubleAnswer): string {
  return `${d.vip} by ${d.macs.join('+')} for ${(d.toMs - d.fromMs).toFixed(1)} ms`;
}

function distinct(xs: readonly string[]): string[] {
  return [...new Set(xs)];
}
