/**
 * ProbeLoop runs one probe (a ProbeSpec from wantedChecks) every interval and folds each result into the check's
 * rise/fall state (check-state.ts). One probe is in flight at a time: the next starts one interval after the previous
 * one began, or when it ends if it ran longer (it cannot: the timeout is at most the interval). The first probe runs
 * at start, so a check has a verdict within one timeout.
 */
import type { Cancel, Clock } from '../clock.ts';
import { type CheckResult, type CheckState, type CheckStatus, initialCheckState, recordResult } from './check-state.ts';
import type { ProbeSpec } from './health-adjust.ts';

/** ProbeFn runs one probe of `spec` against `host`; it must resolve, never reject (net/health-probe.ts probeOnce). */
export type ProbeFn = (spec: ProbeSpec, host: string) => Promise<CheckResult>;

/** ProbeLoopDeps: `onChange` hears each status change of the check (and the first verdict). */
export interface ProbeLoopDeps {
  readonly spec: ProbeSpec;
  /** host is this node's address the probe goes to. */
  readonly host: string;
  readonly clock: Clock;
  readonly probe: ProbeFn;
  /** onChange hears each status change, with the status before it ('unknown' for the first verdict). */
  readonly onChange: (spec: ProbeSpec, state: CheckState, previous: CheckStatus) => void;
}

/** ProbeLoop: see the file comment. */
export class ProbeLoop {
  readonly #deps: ProbeLoopDeps;
  #state: CheckState;
  #cancel: Cancel | undefined;
  #stopped = false;

  constructor(deps: ProbeLoopDeps) {
    this.#deps = deps;
    this.#state = initialCheckState(deps.clock.now());
  }

  get state(): CheckState {
    return this.#state;
  }

  start(): void {
    void this.#run();
  }

  stop(): void {
    this.#stopped = true;
    this.#cancel?.();
    this.#cancel = undefined;
  }

  async #run(): Promise<void> {
    if (this.#stopped) return;
    const d = this.#deps;
    const began = d.clock.now();
    let result: CheckResult;
    try {
      result = await d.probe(d.spec, d.host);
    } catch (err) {
      result = { ok: false, detail: `probe failed: ${String(err)}` };
    }
    if (this.#stopped) return;
    const now = d.clock.now();
    const previous = this.#state.status;
    const next = recordResult(this.#state, result, now, d.spec);
    this.#state = next.state;
    if (next.changed) d.onChange(d.spec, next.state, previous);
    const wait = Math.max(0, began + d.spec.intervalMs - now);
    this.#cancel = d.clock.setTimer(() => void this.#run(), wait, { background: true });
  }
}
