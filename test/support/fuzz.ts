/**
 * Fuzz support for the packet parsers (issue 15): a fixed, printed seed (FUZZ_SEED overrides it), a run count per
 * target (FUZZ_SCALE multiplies it, e.g. 0.1 for a quick local run or 10 for a long one), and byte mutations of valid
 * encodings driven by fast-check, so a failure prints the seed and path that replay it and names the input.
 *
 * Mutations are the classic ones: flip a bit, set a byte to a boundary or random value, overwrite a 16-bit field,
 * truncate, extend with random bytes. A `fix` step may then repair checksums, so mutated inputs get past the checksum
 * and reach the field checks behind it instead of all dying at the first check.
 */

import fc from 'fast-check';

/** DEFAULT_FUZZ_SEED is the seed CI runs with; printed by every fuzz file so a failure is reproducible. */
export const DEFAULT_FUZZ_SEED = 20261203;

function envNumber(name: string): number | undefined {
  const text = process.env[name];
  if (text === undefined || text === '') return undefined;
  const n = Number(text);
  if (!Number.isFinite(n)) throw new Error(`${name}=${text} is not a number`);
  return n;
}

/** fuzzSeed is FUZZ_SEED when set, else DEFAULT_FUZZ_SEED. */
export function fuzzSeed(): number {
  return envNumber('FUZZ_SEED') ?? DEFAULT_FUZZ_SEED;
}

/** fuzzRuns scales a target's default run count by FUZZ_SCALE (default 1), at least 1. */
export function fuzzRuns(defaultRuns: number): number {
  return Math.max(1, Math.round(defaultRuns * (envNumber('FUZZ_SCALE') ?? 1)));
}

/**
 * FuzzRng is xorshift32: fast-check draws one 32-bit seed per run and everything of that input comes from it, so a run
 * costs a few microseconds of generation (10^6 inputs fit in CI) and fast-check's seed and path still reproduce it.
 */
export class FuzzRng {
  #x: number;

  constructor(seed: number) {
    this.#x = seed >>> 0 || 0x9e3779b9;
  }

  /** u32 is the next 32-bit value. */
  u32(): number {
    let x = this.#x;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#x = x >>> 0;
    return this.#x;
  }

  /** below is an integer in [0, n). */
  below(n: number): number {
    return n <= 0 ? 0 : this.u32() % n;
  }

  /** int is an integer in [min, max]. */
  int(min: number, max: number): number {
    return min + this.below(max - min + 1);
  }

  /** pick is one element of a non-empty list. */
  pick<T>(list: readonly T[]): T {
    return list[this.below(list.length)]!;
  }

  /** bytes fills `n` random bytes. */
  bytes(n: number): Buffer {
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i++) out[i] = this.u32() & 0xff;
    return out;
  }
}

/** Mutation is one edit of a byte string; positions are taken modulo the length at the time of the edit. */
export type Mutation =
  | { readonly op: 'flip'; readonly at: number; readonly bit: number }
  | { readonly op: 'set'; readonly at: number; readonly value: number }
  | { readonly op: 'set16'; readonly at: number; readonly value: number }
  | { readonly op: 'truncate'; readonly keep: number }
  | { readonly op: 'extend'; readonly bytes: Buffer };

const BOUNDARY_BYTES = [0x00, 0x01, 0x02, 0x03, 0x04, 0x06, 0x0f, 0x10, 0x1f, 0x20, 0x31, 0x7f, 0x80, 0xfe, 0xff];
const BOUNDARY_WORDS = [0x0000, 0x0001, 0x0006, 0x0800, 0x0806, 0x86dd, 0x7fff, 0x8000, 0xfffe, 0xffff];

/** randomMutation draws one mutation: flips and byte sets most often, then 16-bit edits, truncation, extension. */
export function randomMutation(rng: FuzzRng): Mutation {
  const r = rng.below(12);
  const at = rng.below(0x10000);
  if (r < 4) return { op: 'flip', at, bit: rng.below(8) };
  if (r < 7) return { op: 'set', at, value: rng.below(2) === 0 ? rng.pick(BOUNDARY_BYTES) : rng.below(256) };
  if (r < 9) return { op: 'set16', at, value: rng.below(2) === 0 ? rng.pick(BOUNDARY_WORDS) : rng.below(0x10000) };
  if (r < 11) return { op: 'truncate', keep: at };
  return { op: 'extend', bytes: rng.bytes(rng.int(1, 40)) };
}

/** applyMutations returns a new buffer: `base` with the mutations applied in order. */
export function applyMutations(base: Uint8Array, mutations: readonly Mutation[]): Buffer {
  let buf = Buffer.from(base);
  for (const m of mutations) {
    const n = buf.length;
    switch (m.op) {
      case 'flip':
        if (n > 0) buf[m.at % n]! ^= 1 << m.bit;
        break;
      case 'set':
        if (n > 0) buf[m.at % n] = m.value;
        break;
      case 'set16':
        if (n > 1) buf.writeUInt16BE(m.value, m.at % (n - 1));
        break;
      case 'truncate':
        buf = buf.subarray(0, n === 0 ? 0 : m.keep % n);
        break;
      case 'extend':
        buf = Buffer.concat([buf, m.bytes]);
        break;
    }
  }
  return buf;
}

/**
 * pooled draws `size` valid encodings once (from the fuzz seed) and then hands out one of them per call: building a
 * frame from text addresses costs more than fuzzing it, and the mutations supply the variety. makeInput copies the
 * base before mutating it, so the pool is never changed.
 */
export function pooled(valid: (rng: FuzzRng) => Buffer, size = 512): (rng: FuzzRng) => Buffer {
  const seeds = new FuzzRng(fuzzSeed());
  const pool = Array.from({ length: size }, () => valid(new FuzzRng(seeds.u32())));
  return (rng) => pool[rng.below(pool.length)]!;
}

/** FuzzInput is one input and how it was made, for the failure message. */
export interface FuzzInput {
  readonly kind: 'random' | 'mutated';
  readonly mutations: readonly Mutation[];
  readonly repaired: boolean;
  readonly bytes: Buffer;
}

/** FuzzSource builds inputs: `valid` draws a valid encoding, `fix` repairs checksums after mutation (optional). */
export interface FuzzSource {
  readonly valid: (rng: FuzzRng) => Buffer;
  readonly fix?: (buf: Buffer) => void;
  /** maxRandomLength bounds the random byte strings (default 128). */
  readonly maxRandomLength?: number;
}

/**
 * makeInput draws one input: 1 in 5 a random byte string, else a valid encoding with 0–4 mutations, then (half of the
 * mutated ones, when `fix` is given) checksums repaired so the input gets past them.
 */
export function makeInput(rng: FuzzRng, source: FuzzSource): FuzzInput {
  if (rng.below(5) === 0) {
    const bytes = rng.bytes(rng.below((source.maxRandomLength ?? 128) + 1));
    return { kind: 'random', mutations: [], repaired: false, bytes };
  }
  const mutations = Array.from({ length: rng.below(5) }, () => randomMutation(rng));
  const bytes = applyMutations(source.valid(rng), mutations);
  const repaired = source.fix !== undefined && rng.below(2) === 0;
  if (repaired) source.fix?.(bytes);
  return { kind: 'mutated', mutations, repaired, bytes };
}

/** describeInput is the failure message's account of an input: how it was made and its bytes in hex. */
export function describeInput(input: FuzzInput): string {
  const muts = input.mutations.map((m) =>
    m.op === 'extend' ? `extend ${m.bytes.toString('hex')}` : JSON.stringify(m),
  );
  return `${input.kind} [${muts.join(', ')}]${input.repaired ? ' repaired' : ''} bytes=${input.bytes.toString('hex')}`;
}

/**
 * fuzz runs `check` on `runs` inputs from `source` under fast-check with the fuzz seed; a failure names the input and
 * fast-check prints the seed and path that replay it.
 */
export function fuzz(runs: number, source: FuzzSource, check: (input: FuzzInput, rng: FuzzRng) => void): void {
  fc.assert(
    fc.property(fc.integer(), (seed) => {
      const rng = new FuzzRng(seed);
      const input = makeInput(rng, source);
      try {
        check(input, rng);
      } catch (err) {
        throw new Error(`${describeInput(input)}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      }
    }),
    { seed: fuzzSeed(), numRuns: runs, endOnFailure: true },
  );
}

/** Tally counts outcomes by label, to print what the fuzzer reached (a fuzz that only hits 'truncated' is useless). */
export class Tally {
  readonly counts = new Map<string, number>();
  runs = 0;

  add(label: string): void {
    this.runs++;
    this.counts.set(label, (this.counts.get(label) ?? 0) + 1);
  }

  /** line is `n runs: label count, …`, most frequent first. */
  line(): string {
    const parts = [...this.counts].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`);
    return `${this.runs} runs: ${parts.join(', ')}`;
  }
}
