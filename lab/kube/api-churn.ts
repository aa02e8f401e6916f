// api-churn.ts — API churn for the soak bench and the churn test: one Service's annotation rewritten after another,
// round robin, `perMinute` times a minute, each through the real API server (every speaker's informers see it). At
// most `inFlight` writes wait for the server at once: a server slower than the churn (the machine busy) would
// otherwise pile up thousands of open requests in the calling process, which then starves itself; the writes skipped
// for that are counted. A failed write (the server busy) is not the speakers' fault: counted apart, not retried.
import type { K8sLab } from './k8s-lab.ts';

/** CHURN_ANNOTATION is the annotation the churn rewrites: nothing reads it, so no update should change anything. */
export const CHURN_ANNOTATION = 'lab.metal-vrrp.io/churn';

/** ServiceChurn is a running churn; the counters are live. */
export interface ServiceChurn {
  /** made: writes sent; skipped: writes not sent while `inFlight` were waiting; failed: writes the server refused. */
  readonly made: () => number;
  readonly skipped: () => number;
  readonly failed: () => number;
  /** stop ends the churn and waits for the writes in flight. */
  stop(): Promise<void>;
}

/** startServiceChurn churns the annotation of `services()` (read at every write, so the set may change meanwhile). */
export function startServiceChurn(
  k: Pick<K8sLab, 'mergePatch'>,
  services: () => readonly string[],
  opts: { readonly perMinute: number; readonly inFlight?: number },
): ServiceChurn {
  const every = 60_000 / opts.perMinute;
  const limit = opts.inFlight ?? 32;
  const start = Date.now();
  let made = 0;
  let skipped = 0;
  let failed = 0;
  const waiting = new Set<Promise<void>>();
  const timer = setInterval(() => {
    const names = services();
    if (!(every < Number.POSITIVE_INFINITY) || names.length === 0) return;
    const due = Math.floor((Date.now() - start) / every) - made - skipped;
    for (let i = 0; i < due; i++) {
      if (waiting.size >= limit) {
        skipped++;
        continue;
      }
      const name = names[made % names.length]!;
      const write: Promise<void> = k
        .mergePatch('services', 'default', name, { metadata: { annotations: { [CHURN_ANNOTATION]: String(made) } } })
        .catch(() => {
          failed++;
        })
        .finally(() => waiting.delete(write));
      waiting.add(write);
      made++;
    }
  }, 20);
  return {
    made: () => made,
    skipped: () => skipped,
    failed: () => failed,
    async stop() {
      clearInterval(timer);
      await Promise.all([...waiting]);
    },
  };
}
