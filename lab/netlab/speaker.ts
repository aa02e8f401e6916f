// speaker.ts — run our speaker (`metal-vrrp speaker --config …`) as a real process inside a lab node, with its JSON
// log lines collected, a way to wait for a log line, signals by exact pid, and /metrics scraped with curl from
// inside the node. Used by the speaker network tests, the failover benchmark and the lab.
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { run, spawnIn } from './exec.ts';
import { imageNodeFlags } from './image-flags.ts';
import type { LabHost } from './netns.ts';

/** REPO is the checkout root: the speaker runs from bin/metal-vrrp.js there. */
export const REPO = fileURLToPath(new URL('../..', import.meta.url));

/** RouterOptions is one virtual router of a speaker config. */
export interface RouterOptions {
  readonly vrid: number;
  readonly priority: number;
  readonly vips: readonly string[];
  readonly advertIntervalMs?: number;
  readonly preempt?: boolean;
}

/** SpeakerOptions is what speakerConfigYaml writes; defaults: 100 ms interval, 3 announcements 100 ms apart. */
export interface SpeakerOptions {
  readonly routers: readonly RouterOptions[];
  readonly advertIntervalMs?: number;
  readonly gratuitous?: { readonly count: number; readonly spacingMs: number; readonly refreshMs?: number };
  readonly unicastPeers?: readonly string[];
  /** auth: base64 keys of authenticated adverts (README "Authenticated adverts"); absent: plain VRRPv3. */
  readonly auth?: { readonly key: string; readonly previousKey?: string };
  readonly metricsPort?: number;
  readonly logLevel?: string;
  /** xdpAnswers: the file's `xdpAnswers:` (off | auto | native | generic); absent: not written (off). */
  readonly xdpAnswers?: string;
}

/** speakerConfigYaml renders the standalone config (see src/speaker/standalone-config.ts). Pure. */
export function speakerConfigYaml(host: LabHost, opts: SpeakerOptions): string {
  const g = opts.gratuitous ?? { count: 3, spacingMs: 100 };
  const lines = [
    `interface: ${host.ifname}`,
    `advertInterval: ${opts.advertIntervalMs ?? 100}ms`,
    `gratuitous: { count: ${g.count}, spacing: ${g.spacingMs}ms${g.refreshMs === undefined ? '' : `, refresh: ${g.refreshMs === 0 ? 0 : `${g.refreshMs}ms`}`} }`,
    `metrics: { address: 0.0.0.0, port: ${opts.metricsPort ?? 7472} }`,
  ];
  if (opts.xdpAnswers !== undefined) lines.push(`xdpAnswers: ${opts.xdpAnswers}`);
  if (opts.unicastPeers?.length) lines.push(`unicastPeers: [${opts.unicastPeers.map((p) => `"${p}"`).join(', ')}]`);
  if (opts.auth) {
    const prev = opts.auth.previousKey === undefined ? '' : `, previousKey: "${opts.auth.previousKey}"`;
    lines.push(`auth: { key: "${opts.auth.key}"${prev} }`);
  }
  lines.push('routers:');
  for (const r of opts.routers) {
    const extra = [
      r.advertIntervalMs === undefined ? '' : `, advertInterval: ${r.advertIntervalMs}ms`,
      r.preempt === undefined ? '' : `, preempt: ${r.preempt}`,
    ].join('');
    lines.push(
      `  - { vrid: ${r.vrid}, priority: ${r.priority}, vips: [${r.vips.map((v) => `"${v}"`).join(', ')}]${extra} }`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** LogLine is one parsed JSON log line of the speaker (`t` is when the harness read it, epoch ms). */
export type LogLine = Record<string, unknown> & { readonly t: number };

/** SpeakerProcess is a running speaker. */
export interface SpeakerProcess {
  readonly host: LabHost;
  readonly child: ChildProcess;
  readonly logs: LogLine[];
  /** waitForLog resolves with the first line (already seen or future) matching `pred`, or rejects after timeoutMs. */
  waitForLog(pred: (l: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** signal sends a signal by exact pid and resolves once the process has exited (for SIGTERM / SIGKILL). */
  kill(signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** metrics scrapes /metrics from inside the node. */
  metrics(): Promise<string>;
  readonly port: number;
}

/**
 * startSpeaker writes the config under /run/metal-vrrp-lab/<ns>/ and starts the speaker in the host's namespace
 * (recorded in the lab's pid file), resolving once it logs "speaker started". Stderr is kept for error messages.
 */
export async function startSpeaker(host: LabHost, opts: SpeakerOptions, timeoutMs = 15_000): Promise<SpeakerProcess> {
  const dir = `/run/metal-vrrp-lab/${host.ns}`;
  mkdirSync(dir, { recursive: true });
  const file = `${dir}/speaker.yaml`;
  writeFileSync(file, speakerConfigYaml(host, opts));
  const argv = ['--config', file, '--node-name', host.name];
  if (opts.logLevel) argv.push('--log-level', opts.logLevel);
  return startSpeakerProcess(host, argv, opts.metricsPort ?? 7472, 'speaker started', timeoutMs);
}

/**
 * startSpeakerProcess runs `metal-vrrp speaker ARGS` in the host's namespace (recorded in the lab's pid file) and
 * resolves once it logs `readyMsg`; the Kubernetes-mode tests pass their own flags and ready line. Node runs with
 * `nodeArgs`, by default the image's flags (image-flags.ts), so the speaker's garbage collector behaves as deployed.
 */
export async function startSpeakerProcess(
  host: LabHost,
  args: readonly string[],
  port: number,
  readyMsg: string,
  timeoutMs = 15_000,
  nodeArgs: readonly string[] = imageNodeFlags(`${REPO}Dockerfile`),
): Promise<SpeakerProcess> {
  const argv = [process.execPath, ...nodeArgs, `${REPO}bin/metal-vrrp.js`, 'speaker', ...args];
  const child = spawnIn(host.ns, argv, { cwd: REPO });
  const logs: LogLine[] = [];
  const waiters = new Set<{ pred: (l: LogLine) => boolean; resolve: (l: LogLine) => void }>();
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  onLogLines(child, (line) => {
    logs.push(line);
    for (const w of waiters) {
      if (w.pred(line)) {
        waiters.delete(w);
        w.resolve(line);
      }
    }
  });
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const waitForLog = (pred: (l: LogLine) => boolean, ms = 10_000): Promise<LogLine> => {
    const seen = logs.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const w = {
        pred,
        resolve: (l: LogLine) => {
          clearTimeout(timer);
          resolve(l);
        },
      };
      const timer = setTimeout(() => {
        waiters.delete(w);
        reject(new Error(`${host.name}: no such log line within ${ms} ms; stderr: ${stderr.slice(-2000)}`));
      }, ms);
      waiters.add(w);
    });
  };
  const started = waitForLog((l) => l['msg'] === readyMsg, timeoutMs);
  const failed = exited.then(([code]) => {
    throw new Error(`speaker in ${host.ns} exited ${code}: ${stderr.slice(-2000)} ${JSON.stringify(logs.slice(-3))}`);
  });
  await Promise.race([started, failed]);
  failed.catch(() => {}); // a later exit is the test's business
  return {
    host,
    child,
    logs,
    port,
    waitForLog,
    async kill(signal) {
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
        process.kill(child.pid, signal);
      }
      const [code, sig] = await exited;
      return { code, signal: sig };
    },
    async metrics() {
      const res = await run(host.ns, ['curl', '-s', '-m', '2', `http://127.0.0.1:${port}/metrics`]);
      if (res.code !== 0) throw new Error(`scraping ${host.name}: curl exited ${res.code} ${res.stderr}`);
      return res.stdout;
    },
  };
}

/** onLogLines calls fn with each JSON log line a child prints on stdout (other lines are skipped), stamped with
 * the time the harness read it. */
export function onLogLines(child: ChildProcess, fn: (line: LogLine) => void): void {
  let buf = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const text = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      let line: LogLine;
      try {
        line = { ...(JSON.parse(text) as Record<string, unknown>), t: Date.now() };
      } catch {
        continue;
      }
      fn(line);
    }
  });
}

/** transitionsTotal sums every metal_vrrp_transitions_total series (one per VRID, target state and reason). */
export function transitionsTotal(text: string): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('metal_vrrp_transitions_total{')) total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

/** metricValue reads one sample from Prometheus text: the first series of `name` whose labels include `labels`. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const want = Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`));
    if (want) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

/** isStateChange matches the log line of a router of `family` entering `to`. */
export function isStateChange(to: string, family?: 'ipv4' | 'ipv6') {
  return (l: LogLine) => l['to'] === to && (family === undefined || l['family'] === family);
}
