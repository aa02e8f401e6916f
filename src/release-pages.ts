/**
 * Start-up page release for the speaker (issue 16), through the small addon native/release_pages.c
 * (build/Release/release_pages.node, built with the other addons by binding.gyp).
 *
 * Why: a Node process maps the whole node binary, and start-up reads tens of MB of it once — the dynamic linker's
 * symbol tables, V8's start-up snapshot, the compilers while the module graph loads — which then stay resident
 * although the running speaker never touches them again; glibc's malloc keeps the freed start-up allocations too.
 * Some time after the speaker is up, releaseStartupPages drops the process's mappings of the read-only, file-backed
 * pages (madvise MADV_DONTNEED: they stay in the page cache, shared, and any page still in use comes back on its
 * next access as a minor fault) and trims malloc's free pages. What the steady state reads returns within seconds;
 * the rest stays out. Nothing is locked or unmapped.
 */

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Cancel, Clock } from './clock.ts';
import type { Logger } from './log.ts';

/** RELEASE_PAGES_ADDON_PATH is where node-gyp puts the addon, relative to the repository (or image) root. */
export const RELEASE_PAGES_ADDON_PATH = join('build', 'Release', 'release_pages.node');

/**
 * RELEASE_AFTER_MS: how long after the speaker is ready the pages are released. Long enough for the JIT to have
 * compiled the steady state's hot functions (their compiler pages are then not needed again), short against a
 * speaker's lifetime.
 */
export const RELEASE_AFTER_MS = 30_000;

/**
 * Released is what one release gave back: the Rss of the advised file mappings, whether malloc trimmed, and what
 * malloc held before (in all, and free of it).
 */
export interface Released {
  readonly fileKb: number;
  readonly mappings: number;
  readonly mallocTrimmed: boolean;
  readonly mallocKb: number;
  readonly mallocFreeKb: number;
  /** ms the release took: the event loop waits that long, once (reading /proc/self/smaps is most of it). */
  readonly ms: number;
}

/** ReleaseOutcome: released, or why not (`not-built`: no addon; else the addon's error code). */
export type ReleaseOutcome =
  | { readonly ok: true; readonly released: Released }
  | { readonly ok: false; readonly code: string; readonly detail: string };

interface ReleasePagesAddon {
  releasePages(): { fileKb: number; mappings: number; trimmed: number; mallocKb: number; mallocFreeKb: number };
}

/** findReleasePagesAddon walks up from this file's folder to the first folder holding RELEASE_PAGES_ADDON_PATH. */
function findReleasePagesAddon(from: string = dirname(fileURLToPath(import.meta.url))): string | undefined {
  for (let dir = from, i = 0; i < 8; i++, dir = dirname(dir)) {
    const candidate = join(dir, RELEASE_PAGES_ADDON_PATH);
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) break;
  }
  return undefined;
}

/** releaseStartupPages releases once, now (see the file comment); `clock` times it. Never throws. */
export function releaseStartupPages(clock: Pick<Clock, 'now'>): ReleaseOutcome {
  const path = findReleasePagesAddon();
  if (path === undefined) return { ok: false, code: 'not-built', detail: `${RELEASE_PAGES_ADDON_PATH} not found` };
  try {
    const addon = createRequire(import.meta.url)(path) as ReleasePagesAddon;
    const t0 = clock.now();
    const r = addon.releasePages();
    const ms = Math.round((clock.now() - t0) * 100) / 100;
    const released = {
      fileKb: r.fileKb,
      mappings: r.mappings,
      mallocTrimmed: r.trimmed === 1,
      mallocKb: r.mallocKb,
      mallocFreeKb: r.mallocFreeKb,
      ms,
    };
    return { ok: true, released };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return { ok: false, code: e.code ?? 'load-failed', detail: e.message };
  }
}

/** ReleaseScheduleDeps: when, what to call (tests inject it), and where to say what was released. */
export interface ReleaseScheduleDeps {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly afterMs?: number;
  readonly release?: () => ReleaseOutcome;
}

/**
 * scheduleStartupRelease releases the start-up pages once, `afterMs` (default RELEASE_AFTER_MS) from now, on a
 * background timer (it does not keep the process alive). Returns a cancel for shutdown.
 */
export function scheduleStartupRelease(deps: ReleaseScheduleDeps): Cancel {
  const release = deps.release ?? (() => releaseStartupPages(deps.clock));
  return deps.clock.setTimer(
    () => {
      const r = release();
      if (r.ok) deps.logger.info({ ...r.released }, 'start-up pages released');
      else deps.logger.warn({ code: r.code, detail: r.detail }, 'start-up pages not released');
    },
    deps.afterMs ?? RELEASE_AFTER_MS,
    { background: true },
  );
}
