/**
 * HealthMonitor keeps this node's own health (issue 13): it runs the probes the pools ask for (one ProbeLoop per
 * distinct ProbeSpec), keeps the carrier verdict of every watched interface (fed by net/link-watch.ts), and remembers
 * since when the node is cordoned. The ClusterSpeaker tells it what to watch on each reconcile (`update`), reads
 * `current()` to adjust its routers (health-adjust.ts), and is called back (`onChange`) whenever a verdict flips, so a
 * failing check acts at once rather than at the next API event.
 *
 * The metric metal_vrrp_health_check_up{check, interface} shows each check: 1 up (or no result yet), 0 failed.
 * Probe checks carry their URL and an empty interface; interface checks carry check="interface" and the ifname.
 */
import type { Cancel, Clock } from '../clock.ts';
import type { Logger } from '../log.ts';
import type { LinkState } from '../net/link-watch.ts';
import type { CheckState, CheckStatus } from './check-state.ts';
import type { CheckVerdict, NodeHealth, ProbeSpec, WantedChecks } from './health-adjust.ts';
import { type ProbeFn, ProbeLoop } from './probe-loop.ts';

/** HealthGauge is the part of a prom-client Gauge the monitor sets. */
export interface HealthGauge {
  set(labels: { check: string; interface: string }, value: number): void;
  remove(labels: { check: string; interface: string }): void;
}

/** HealthMonitorDeps: the clock, the probe edge, the change callback, and where to show state. */
export interface HealthMonitorDeps {
  readonly clock: Clock;
  readonly probe: ProbeFn;
  /** onChange hears every flip of a verdict (the speaker reconciles). */
  readonly onChange: () => void;
  readonly logger: Logger;
  readonly gauge?: HealthGauge;
  /** linkHoldMs keeps a returning carrier counted as down this long (default DEFAULT_LINK_HOLD_MS; see linkChanged). */
  readonly linkHoldMs?: number;
  /** debounceMs gathers flips that come together (several probes, a link and its probes) into one call (default 0). */
  readonly debounceMs?: number;
}

/** DEFAULT_LINK_HOLD_MS: a returning carrier must hold this long before the node stands for election at its rank. */
export const DEFAULT_LINK_HOLD_MS = 1000;

/** HealthSpec is what the speaker asks the monitor to watch, from one reconcile. */
export interface HealthSpec {
  readonly wanted: WantedChecks;
  readonly cordoned: boolean;
  /** address is this node's own address the probes go to; no probe runs without one. */
  readonly address: string | undefined;
}

/** HealthSource is what the ClusterSpeaker needs of the monitor. */
export interface HealthSource {
  update(spec: HealthSpec): void;
  current(): NodeHealth;
}

/** HealthMonitor: see the file comment. */
export class HealthMonitor implements HealthSource {
  readonly #deps: HealthMonitorDeps;
  // probe key -> running loop (with the address it probes)
  readonly #loops = new Map<string, { loop: ProbeLoop; address: string; url: string }>();
  // ifname -> carrier verdict
  readonly #links = new Map<string, CheckVerdict>();
  // ifname -> cancels the hold of a carrier that came back
  readonly #linkHolds = new Map<string, Cancel>();
  #watchedLinks: readonly string[] = [];
  #cordonedSince: number | undefined;
  #cancelNotify: Cancel | undefined;
  #stopped = false;

  constructor(deps: HealthMonitorDeps) {
    this.#deps = deps;
  }

  update(spec: HealthSpec): void {
    if (this.#stopped) return;
    const d = this.#deps;
    if (spec.cordoned && this.#cordonedSince === undefined) this.#cordonedSince = d.clock.now();
    if (!spec.cordoned) this.#cordonedSince = undefined;
    for (const ifname of this.#watchedLinks) {
      if (!spec.wanted.links.includes(ifname)) d.gauge?.remove({ check: 'interface', interface: ifname });
    }
    this.#watchedLinks = spec.wanted.links;
    for (const ifname of this.#watchedLinks) this.#showLink(ifname);
    const wanted = new Map(
      spec.address === undefined ? [] : spec.wanted.probes.map((p) => [p.key, p] as [string, ProbeSpec]),
    );
    for (const [key, running] of this.#loops) {
      if (wanted.has(key) && running.address === spec.address) continue;
      running.loop.stop();
      this.#loops.delete(key);
      if (![...this.#loops.values()].some((l) => l.url === running.url)) {
        d.gauge?.remove({ check: running.url, interface: '' });
      }
    }
    for (const [key, p] of wanted) {
      if (this.#loops.has(key) || spec.address === undefined) continue;
      const loop = new ProbeLoop({
        spec: p,
        host: spec.address,
        clock: d.clock,
        probe: d.probe,
        onChange: (s, state, previous) => this.#probeChanged(s, state, previous),
      });
      this.#loops.set(key, { loop, address: spec.address, url: p.target.url });
      d.gauge?.set({ check: p.target.url, interface: '' }, 1);
      loop.start();
    }
  }

  /**
   * linkChanged takes a change from the LinkWatch. Any interface's change reconciles, watched or not: an interface
   * that lost its carrier also drops out of the places a router may run (local-addresses.ts), so its return must
   * bring the router back at once, not at the next rescan. A first sight of an up interface is no news.
   *
   * Carrier back is held as down for linkHoldMs (the link's "rise"): the router returns at once but at the resign
   * priority, while the switch port starts forwarding and the node hears the current master; only then does its
   * priority return, as a backup, so the pool's preempt-delay governs the take-back. Without the hold, a node that
   * hears nobody for Master_Down_Interval after its link returns makes itself master and, having the higher
   * priority, takes the VIP back at once.
   */
  linkChanged(state: LinkState): void {
    if (this.#stopped) return;
    const before = this.#links.get(state.ifname);
    const held = this.#linkHolds.get(state.ifname);
    const status = state.up ? 'up' : 'down';
    if (!state.up && held) {
      held();
      this.#linkHolds.delete(state.ifname);
    }
    if (before?.status === status || (state.up && held)) return;
    const now = this.#deps.clock.now();
    const log = () =>
      this.#deps.logger.info(
        { interface: state.ifname, up: state.up, detail: state.detail },
        'interface health changed',
      );
    if (state.up && before !== undefined) {
      // Back up after a failure: reconcile now (the router may return, still resigned), count it up after the hold.
      const holdMs = this.#deps.linkHoldMs ?? DEFAULT_LINK_HOLD_MS;
      this.#links.set(state.ifname, { ...before, detail: `carrier back, held ${holdMs}ms` });
      this.#linkHolds.set(
        state.ifname,
        this.#deps.clock.setTimer(
          () => {
            this.#linkHolds.delete(state.ifname);
            this.#links.set(state.ifname, { status: 'up', since: this.#deps.clock.now(), detail: state.detail });
            if (this.#watchedLinks.includes(state.ifname)) this.#showLink(state.ifname);
            log();
            this.#notify();
          },
          holdMs,
          { background: true },
        ),
      );
      this.#notify();
      return;
    }
    this.#links.set(state.ifname, { status, since: now, detail: state.detail });
    if (this.#watchedLinks.includes(state.ifname)) this.#showLink(state.ifname);
    if (before === undefined && state.up) return;
    log();
    this.#notify();
  }

  current(): NodeHealth {
    const probes = new Map<string, CheckVerdict>();
    for (const [key, { loop }] of this.#loops) probes.set(key, loop.state);
    const links = new Map<string, CheckVerdict>();
    for (const ifname of this.#watchedLinks) {
      const v = this.#links.get(ifname);
      if (v) links.set(ifname, v);
    }
    return { links, probes, cordonedSince: this.#cordonedSince };
  }

  stop(): void {
    this.#stopped = true;
    this.#cancelNotify?.();
    for (const cancel of this.#linkHolds.values()) cancel();
    this.#linkHolds.clear();
    for (const { loop } of this.#loops.values()) loop.stop();
    this.#loops.clear();
  }

  #showLink(ifname: string): void {
    const v = this.#links.get(ifname);
    this.#deps.gauge?.set({ check: 'interface', interface: ifname }, v?.status === 'down' ? 0 : 1);
  }

  #probeChanged(spec: ProbeSpec, state: CheckState, previous: CheckStatus): void {
    if (this.#stopped) return;
    const url = spec.target.url;
    // Pools sharing a URL with different settings run separate loops: the URL shows down while any of them is.
    const down = [...this.#loops.values()].some((l) => l.url === url && l.loop.state.status === 'down');
    this.#deps.gauge?.set({ check: url, interface: '' }, down ? 0 : 1);
    this.#deps.logger.info({ check: url, status: state.status, detail: state.detail }, 'health check changed');
    // A first verdict of up is no news: nothing was held against the node.
    if (previous === 'unknown' && state.status === 'up') return;
    this.#notify();
  }

  #notify(): void {
    if (this.#cancelNotify) return;
    this.#cancelNotify = this.#deps.clock.setTimer(() => {
      this.#cancelNotify = undefined;
      if (!this.#stopped) this.#deps.onChange();
    }, this.#deps.debounceMs ?? 0);
  }
}
