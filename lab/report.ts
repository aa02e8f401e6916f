// report.ts — what the lab shows: progress lines while it sets up, tables (the real `metal-vrrp status` output and
// the client's own view of who answers ARP/NDP), the Prometheus metrics the drill left, and the --json result.

import type { DoubleAnswer, DrillResult, HealthEvent } from './drill.ts';
import { run } from './netlab/exec.ts';
import { CLI, METRICS_PORT, type RunPlan } from './plan.ts';

/** LabResult is the --json output. `spread` counts the VIPs each node masters as the client sees it (who answers
 * ARP/NDP). In `drill`, `*GapMs` is the client's traffic loss: the longest silence of a 5 ms ping to the drilled VIP
 * around the event minus ping's normal spacing; `*TakeoverMs` is event → first ARP/NDP answer from the new master
 * (the largest over the VIPs the node held); `gracefulArpSilenceMs` is the longest time nobody answered ARP/NDP for a
 * VIP of the gracefully stopped node (Skew_Time when the priority-0 hand-over works, Master_Down_Interval when not: the
 * ping gap cannot show it, the old node's datapath keeps forwarding). `doubleAnswers` (start-up and drill) lists every
 * window in which two nodes answered for one VIP. `statusAgrees`: ServiceL2Status names those masters (null: none).
 * `drill.health` is the failed-check act (HealthFacts).
 * `--json` prints this on stdout (use `npm run -s lab -- --json`: npm's banner goes to stdout otherwise);
 * `--json-file PATH` writes it to PATH and leaves stdout to the human output. */
export interface LabResult {
  readonly ok: boolean;
  readonly error: string | null;
  readonly prefix: string;
  readonly nodes: readonly { name: string; namespace: string; mac: string; ipv4: string }[];
  readonly advertIntervalMs: number;
  readonly services: readonly {
    name: string;
    namespace: string;
    vips: readonly string[];
    masters: (string | null)[];
    curl: (string | null)[];
  }[];
  readonly spread: Readonly<Record<string, number>>;
  readonly statusAgrees: boolean | null;
  readonly statusCommand: string | null;
  readonly startup: { readonly doubleAnswers: readonly DoubleAnswer[] };
  readonly drill: {
    readonly hardNode: string;
    readonly hardGapMs: number | null;
    readonly hardTakeoverMs: number | null;
    readonly gracefulNode: string;
    readonly gracefulGapMs: number | null;
    readonly gracefulTakeoverMs: number | null;
    readonly gracefulArpSilenceMs: number | null;
    readonly doubleAnswers: readonly DoubleAnswer[];
    readonly othersMoved: readonly string[];
    readonly preemptBackOk: boolean;
    readonly preemptBackMs: number;
    readonly health: HealthFacts | null;
    readonly detail: DrillResult;
  } | null;
  readonly logs: string;
}

/**
 * HealthFacts is the drill's health act (issue 13): kube-proxy's check turned on for the pools, then `node`, master of
 * the drilled VIP, made to fail it. `takeoverMs` is the break → first ARP/NDP answer from the new master (the largest
 * over the node's VIPs): probe phase + probe timeout + Skew_Time; `gapMs` the client's traffic loss (ping), small since
 * the node's datapath still forwards; `arpSilenceMs` the longest time nobody answered ARP/NDP for one of its VIPs.
 * `statusHealth` is what `metal-vrrp status -o json` said of the drilled VIP meanwhile (null: it failed), and
 * `statusShowsHealth` whether that names the node with the check. `backOk`: every VIP back on its master after the
 * check recovered (rise, then preempt).
 */
export interface HealthFacts {
  readonly node: string;
  readonly check: string;
  readonly takeoverMs: number | null;
  readonly gapMs: number | null;
  readonly arpSilenceMs: number | null;
  readonly statusShowsHealth: boolean;
  readonly statusHealth: HealthEvent['status'];
  readonly doubleAnswers: readonly DoubleAnswer[];
  readonly othersMoved: readonly string[];
  readonly backOk: boolean;
  readonly backMs: number;
}

/** healthFacts reads the health act for the --json result. */
export function healthFacts(e: HealthEvent | null): HealthFacts | null {
  if (e === null) return null;
  const worst = (xs: readonly (number | null)[]) =>
    xs.length === 0 || xs.some((x) => x === null) ? null : Math.max(...(xs as number[]));
  return {
    node: e.node,
    check: e.check,
    takeoverMs: worst(e.vips.map((v) => v.takeoverMs)),
    gapMs: e.ping?.gapMs ?? null,
    arpSilenceMs: worst(e.vips.map((v) => v.arpSilenceMs)),
    statusShowsHealth: (e.status ?? []).some((h) => h.node === e.node && h.checks.includes(e.check)),
    statusHealth: e.status,
    doubleAnswers: e.doubleAnswers,
    othersMoved: e.othersMoved,
    backOk: e.backOk,
    backMs: e.backMs,
  };
}

/** LAB_T0_ENV carries the outer process's start time to the inner one, so progress times count from `npm run lab`. */
export const LAB_T0_ENV = 'METAL_VRRP_LAB_T0';

/** Progress prints timestamped lines: on stdout for people, on stderr under --json (stdout is the result). */
export class Progress {
  readonly #t0: number;
  readonly #out: NodeJS.WriteStream;

  /** t0 is when the lab started (run.ts passes it to the inner process in LAB_T0_ENV). */
  constructor(json: boolean, t0 = Number(process.env[LAB_T0_ENV]) || Date.now()) {
    this.#out = json ? process.stderr : process.stdout;
    this.#t0 = t0;
  }

  /** step announces a stage of the set-up or the drill. */
  step(line: string): void {
    const s = ((Date.now() - this.#t0) / 1000).toFixed(1).padStart(5);
    this.#out.write(`[${s}s] ${line}\n`);
  }

  /** say prints a line as is (tables, drill details). */
  say(line: string): void {
    this.#out.write(`${line}\n`);
  }
}

/** renderTable aligns columns, kubectl-style: upper-case header, two spaces between columns. */
export function renderTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [header.map((h) => h.toUpperCase()), ...rows];
  const widths = header.map((_, c) => Math.max(...all.map((r) => (r[c] ?? '').length)));
  return all
    .map((r) =>
      r
        .map((cell, c) => cell.padEnd(widths[c] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** statusCommand runs `metal-vrrp status --kubeconfig …` (the lab's inner process is in the client namespace,
 * next to the API server). Returns its output, or null with the reason when the command is not there / fails. */
export async function statusCommand(
  plan: RunPlan,
  json = false,
): Promise<{ text: string; error: null } | { text: null; error: string }> {
  const argv = [process.execPath, CLI, 'status', '--kubeconfig', plan.adminKubeconfig, ...(json ? ['-o', 'json'] : [])];
  const res = await run(null, argv, { timeoutMs: 30_000 });
  if (res.code !== 0)
    return { text: null, error: (res.stderr.trim() || res.stdout.trim()).split('\n').slice(-3).join(' | ') };
  return { text: res.stdout.trimEnd(), error: null };
}

/** Sample is one Prometheus sample. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** parseMetrics reads the Prometheus text exposition format (samples only; comments skipped). */
export function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[4]) });
  }
  return out;
}

/** scrape fetches http://host:7472/metrics; null when nothing answers. */
export async function scrape(host: string): Promise<Sample[] | null> {
  try {
    const res = await fetch(`http://${host}:${METRICS_PORT}/metrics`, { signal: AbortSignal.timeout(3000) });
    if (!res.ok) return null;
    return parseMetrics(await res.text());
  } catch {
    return null;
  }
}

/** DRILL_METRICS are the series that tell the drill's story. */
export const DRILL_METRICS = [
  'metal_vrrp_vip_master',
  'metal_vrrp_transitions_total',
  'metal_vrrp_health_check_up',
  'metal_vrrp_gratuitous_sent_total',
  'metal_vrrp_arp_replies_total',
  'metal_vrrp_ndp_replies_total',
  'metal_vrrp_allocations_total',
  'metal_vrrp_pool_addresses_in_use',
];

/** formatSamples prints the non-zero samples of the drill's metrics, one per line (transitions: to master only). */
export function formatSamples(who: string, samples: readonly Sample[]): string[] {
  return (
    samples
      // Transitions to backup at start-up are every router's first step: only takeovers, and the health act's
      // resignations (to backup, reason health), tell the drill's story. A check's gauge shows while it is 1 (up).
      .filter(
        (s) =>
          DRILL_METRICS.includes(s.name) &&
          (s.value !== 0 || s.name === 'metal_vrrp_health_check_up') &&
          (s.labels['to'] !== 'backup' || s.labels['reason'] === 'health'),
      )
      .map((s) => {
        const labels = Object.entries(s.labels)
          .map(([k, v]) => `${k}="${v}"`)
          .join(',');
        return `  ${who.padEnd(10)} ${s.name}{${labels}} ${s.value}`;
      })
  );
}
