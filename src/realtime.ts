/**
 * Real-time scheduling for the speaker's event loop (`--realtime-priority N`), through the small addon
 * native/realtime.c (build/Release/realtime.node, built with the AF_PACKET addon by binding.gyp).
 *
 * Why: the event loop runs the VRRP adverts, the BFD sessions and the ARP / NDP answers. On a busy node the normal
 * scheduler (CFS) can leave it runnable but waiting for tens of milliseconds; a BFD peer then misses Detect Mult
 * packets and declares this node dead (a false takeover), and a takeover or an answer comes late. SCHED_RR runs
 * the loop ahead of every normal task, as keepalived's `vrrp_rt_priority` does for its VRRP process.
 *
 * What it risks: a real-time thread that spins starves the node's normal tasks on its CPU, bounded only by the
 * kernel's RT throttling (kernel.sched_rt_runtime_us: by default 950 ms of every second, leaving 5 % to the rest).
 * Only the main thread is raised (libuv's pool and V8's helpers stay normal), with SCHED_RESET_ON_FORK. Needs
 * CAP_SYS_NICE (or an RLIMIT_RTPRIO at least N); without it the speaker runs at normal priority and says so once.
 */

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** REALTIME_ADDON_PATH is where node-gyp puts the addon, relative to the repository (or installed package) root. */
export const REALTIME_ADDON_PATH = join('build', 'Release', 'realtime.node');

/** REALTIME_PRIORITY_MAX is SCHED_RR's highest priority on Linux; 0 means normal scheduling. */
export const REALTIME_PRIORITY_MAX = 99;

/** SchedulerState is the calling thread's policy and real-time priority (0 for normal policies). */
export interface SchedulerState {
  readonly policy: 'other' | 'fifo' | 'rr' | 'batch' | 'idle' | 'unknown';
  readonly priority: number;
}

interface RealtimeAddon {
  setRealtime(priority: number): void;
  scheduler(): SchedulerState;
}

/** RealtimeOutcome: the thread runs SCHED_RR now, or why not (`EPERM`: no CAP_SYS_NICE; `not-built`: no addon). */
export type RealtimeOutcome =
  | { readonly ok: true; readonly state: SchedulerState }
  | { readonly ok: false; readonly code: string; readonly detail: string };

/** parseRealtimePriority reads the flag: an integer in 0..99 (0: off). */
export function parseRealtimePriority(value: unknown): { readonly value: number } | { readonly error: string } {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > REALTIME_PRIORITY_MAX) {
    return { error: `${JSON.stringify(value)} is not an integer in 0..${REALTIME_PRIORITY_MAX} (0: off)` };
  }
  return { value: n };
}

/** findRealtimeAddon walks up from this file's folder to the first folder holding REALTIME_ADDON_PATH. */
function findRealtimeAddon(from: string = dirname(fileURLToPath(import.meta.url))): string | undefined {
  for (let dir = from, i = 0; i < 8; i++, dir = dirname(dir)) {
    const candidate = join(dir, REALTIME_ADDON_PATH);
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) break;
  }
  return undefined;
}

/** setRealtimePriority puts the calling thread under SCHED_RR at `priority` (0: back to normal). Never throws. */
export function setRealtimePriority(priority: number): RealtimeOutcome {
  const path = findRealtimeAddon();
  if (path === undefined) return { ok: false, code: 'not-built', detail: `${REALTIME_ADDON_PATH} not found` };
  try {
    const addon = createRequire(import.meta.url)(path) as RealtimeAddon;
    addon.setRealtime(priority);
    return { ok: true, state: addon.scheduler() };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return { ok: false, code: e.code ?? 'load-failed', detail: e.message };
  }
}
