/**
 * LinkWatch follows the carrier and operational state of network interfaces as the kernel announces them over
 * rtnetlink (RTM_NEWLINK / RTM_DELLINK), through `ip -o monitor link`: event-driven, no polling. Node has no netlink
 * socket of its own, and iproute2 is on every node the speaker runs on (it is what the speaker's own tests use).
 * The state is read once at start (`ip -o link show`) and after every restart of the monitor, since events may have
 * been missed while it was down.
 *
 * An interface is up when its flags hold UP and LOWER_UP (carrier) and its operstate (RFC 2863) is UP, or UNKNOWN
 * for drivers that do not report one. The kernel's linkwatch may hold a carrier event back for up to a second
 * (net/core/link_watch.c rate limit), so a change is seen within about a second.
 */
import { type ChildProcess, spawn as nodeSpawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Cancel, Clock } from '../clock.ts';
import type { Logger } from '../log.ts';

/** LinkState is one interface's state as the kernel last announced it. */
export interface LinkState {
  readonly ifname: string;
  /** up: administratively up with carrier and an operstate of UP (or UNKNOWN). */
  readonly up: boolean;
  /** carrier: LOWER_UP is set. */
  readonly carrier: boolean;
  /** operstate: RFC 2863 state as iproute2 prints it (UP, DOWN, LOWERLAYERDOWN, UNKNOWN, ...), or DELETED. */
  readonly operstate: string;
  /** detail is a short text for status and logs, e.g. "carrier down (LOWERLAYERDOWN)". */
  readonly detail: string;
}

const LINE = /^(Deleted )?\d+:\s+([^:@\s]+)(?:@\S+)?:\s+<([^>]*)>.*?\sstate\s+(\S+)/;

/** parseLinkLine reads one line of `ip -o link show` or `ip -o monitor link`; undefined for other lines. */
export function parseLinkLine(line: string): LinkState | undefined {
  const m = LINE.exec(line.replace(/^\[[A-Z]+\]\s*/, ''));
  if (!m) return undefined;
  const ifname = m[2]!;
  if (m[1] !== undefined)
    return { ifname, up: false, carrier: false, operstate: 'DELETED', detail: 'interface deleted' };
  const flags = new Set(m[3]!.split(','));
  const operstate = m[4]!;
  const carrier = flags.has('LOWER_UP');
  const admin = flags.has('UP');
  const up = admin && carrier && (operstate === 'UP' || operstate === 'UNKNOWN');
  const detail = up
    ? 'up'
    : !admin
      ? `administratively down (${operstate})`
      : !carrier
        ? `carrier down (${operstate})`
        : `operstate ${operstate}`;
  return { ifname, up, carrier, operstate, detail };
}

/** SpawnFn starts `ip` with arguments; tests pass a fake that replays lines. */
export type SpawnFn = (args: readonly string[]) => Pick<ChildProcess, 'stdout' | 'on' | 'kill'>;

/** LinkWatchDeps: `onChange` hears every change of a watched interface's `up` (and the first state of each). */
export interface LinkWatchDeps {
  readonly onChange: (state: LinkState) => void;
  readonly logger: Logger;
  readonly clock: Clock;
  /** netns runs `ip -n NETNS` (tests and the lab); the speaker watches its own namespace. */
  readonly netns?: string;
  readonly spawn?: SpawnFn;
  /** restartMs waits before restarting a monitor that exited (default 1000). */
  readonly restartMs?: number;
}

/** READ_TIMEOUT_MS bounds one `ip -o link show`. */
const READ_TIMEOUT_MS = 2000;

const defaultSpawn: SpawnFn = (args) => nodeSpawn('ip', [...args], { stdio: ['ignore', 'pipe', 'ignore'] });

/** LinkWatch: see the file comment. Watches every interface; `state(ifname)` answers for any of them. */
export class LinkWatch {
  readonly #deps: LinkWatchDeps;
  // ifname -> last state
  readonly #states = new Map<string, LinkState>();
  #monitor: Pick<ChildProcess, 'stdout' | 'on' | 'kill'> | undefined;
  #restart: Cancel | undefined;
  #stopped = false;

  constructor(deps: LinkWatchDeps) {
    this.#deps = deps;
  }

  /** start launches the monitor, then reads the current state; resolves once that state is known. */
  async start(): Promise<void> {
    this.#launch();
    await this.#readAll();
  }

  /** state is an interface's last known state; undefined when never seen (missing interface). */
  state(ifname: string): LinkState | undefined {
    return this.#states.get(ifname);
  }

  /** stop ends the monitor process and any pending restart. */
  stop(): void {
    this.#stopped = true;
    this.#restart?.();
    this.#monitor?.kill('SIGTERM');
    this.#monitor = undefined;
  }

  #args(...rest: string[]): string[] {
    return [...(this.#deps.netns ? ['-n', this.#deps.netns] : []), '-o', ...rest];
  }

  #launch(): void {
    const spawn = this.#deps.spawn ?? defaultSpawn;
    const child = spawn(this.#args('monitor', 'link'));
    this.#monitor = child;
    if (child.stdout) createInterface({ input: child.stdout }).on('line', (line) => this.#line(line));
    child.on('error', (err) => this.#deps.logger.warn({ err: String(err) }, 'link monitor failed to start'));
    child.on('exit', (code) => {
      if (this.#stopped || this.#monitor !== child) return;
      this.#monitor = undefined;
      const ms = this.#deps.restartMs ?? 1000;
      this.#deps.logger.warn({ code, restartMs: ms }, 'link monitor exited; restarting');
      this.#restart = this.#deps.clock.setTimer(
        () => {
          if (this.#stopped) return;
          this.#launch();
          void this.#readAll();
        },
        ms,
        { background: true },
      );
    });
  }

  /** readAll reads every interface once (`ip -o link show`), so missed events are made up for. */
  async #readAll(): Promise<void> {
    const spawn = this.#deps.spawn ?? defaultSpawn;
    const child = spawn(this.#args('link', 'show'));
    const lines: string[] = [];
    if (child.stdout) createInterface({ input: child.stdout }).on('line', (l) => lines.push(l));
    // Bounded: a hung `ip` must not hold the speaker's start (the monitor's events still arrive).
    await new Promise<void>((resolve) => {
      const cancel = this.#deps.clock.setTimer(
        () => {
          this.#deps.logger.warn({ timeoutMs: READ_TIMEOUT_MS }, 'ip link show did not finish; going on without it');
          child.kill('SIGKILL');
          resolve();
        },
        READ_TIMEOUT_MS,
        { background: true },
      );
      const done = () => {
        cancel();
        resolve();
      };
      child.on('close', done);
      child.on('error', done);
    });
    if (this.#stopped) return;
    for (const l of lines) this.#line(l);
  }

  #line(line: string): void {
    const next = parseLinkLine(line);
    if (!next) return;
    const before = this.#states.get(next.ifname);
    this.#states.set(next.ifname, next);
    if (before?.up !== next.up) this.#deps.onChange(next);
  }
}
