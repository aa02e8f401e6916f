/**
 * Allocator micro-benchmark: prints allocations per second (median of several runs) for three workloads. Figures are
 * printed, never asserted: they depend on the machine. Run: `node --import tsx bench/allocator.ts`.
 *
 * - fill:   20,000 Services auto-assigned into an empty /16 (the per-range watermark keeps each O(1));
 * - churn:  a pool kept ~90% full, one release then one assign per step, at random (a seeded PRNG, so repeatable);
 * - shared: 2,000 Services with one allow-shared-ip key and distinct ports piling onto the first address, then more
 *           without a key, which must scan past it (the sharing scan is O(used)).
 */
import { type AllocationRequest, Allocator } from '../src/controller/allocator.ts';
import { parseConfig } from '../src/model/config.ts';
import { seededRandom } from '../vrrp/sim/clock.ts';

const RUNS = 7;

const base: AllocationRequest = {
  namespace: 'bench',
  labels: {},
  namespaceLabels: {},
  families: ['ipv4'],
  ipFamilyPolicy: 'SingleStack',
  ports: [{ port: 80, protocol: 'TCP' }],
  externalTrafficPolicy: 'Cluster',
};

function allocator(addresses: string[]): Allocator {
  const a = new Allocator();
  const { config } = parseConfig({ pools: [{ metadata: { name: 'p' }, spec: { addresses } }], l2Advertisements: [] });
  a.setPools(config.pools);
  return a;
}

/** measure runs `work` (which returns how many allocations it made) and returns allocations per second. */
function measure(work: () => number): number {
  const t0 = performance.now();
  const n = work();
  return n / ((performance.now() - t0) / 1000);
}

function must(ok: boolean, what: string): void {
  if (!ok) throw new Error(`bench setup failed: ${what}`);
}

const workloads: Record<string, () => number> = {
  fill: () => {
    const a = allocator(['10.0.0.0/16']);
    const n = 20_000;
    for (let i = 0; i < n; i++) must(a.assign(`ns/s${i}`, base).ok, 'fill');
    return n;
  },
  churn: () => {
    const size = 4_096;
    const a = allocator(['10.1.0.0/20']);
    const rand = seededRandom(42);
    const live: string[] = [];
    for (let i = 0; i < size * 0.9; i++) {
      must(a.assign(`ns/c${i}`, base).ok, 'churn fill');
      live.push(`ns/c${i}`);
    }
    const steps = 20_000;
    for (let i = 0; i < steps; i++) {
      const at = Math.floor(rand() * live.length);
      a.release(live[at] as string);
      live[at] = `ns/n${i}`;
      must(a.assign(`ns/n${i}`, base).ok, 'churn');
    }
    return steps;
  },
  shared: () => {
    const a = allocator(['10.2.0.0/20']);
    const n = 2_000;
    for (let i = 0; i < n; i++) {
      const req = { ...base, sharingKey: 'k', ports: [{ port: 1 + i, protocol: 'TCP' }] };
      must(a.assign(`ns/k${i}`, req).ok, 'shared');
    }
    for (let i = 0; i < n; i++) must(a.assign(`ns/u${i}`, base).ok, 'unshared');
    return 2 * n;
  },
};

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] ?? 0;

for (const [name, work] of Object.entries(workloads)) {
  work(); // warm-up: JIT and maps
  const rates = Array.from({ length: RUNS }, () => measure(work));
  const fmt = (x: number) => Math.round(x).toLocaleString('en-US');
  console.log(
    `${name.padEnd(7)} ${fmt(median(rates)).padStart(10)} allocations/s  (median of ${RUNS}; min ${fmt(Math.min(...rates))}, max ${fmt(Math.max(...rates))})`,
  );
}
