/**
 * The configuration of one BFD session and its validation: one pure function returning `{ config } | { errors }`,
 * nothing silently replaced by a default.
 */

/** SessionConfig is what the operator chooses for one session (RFC 5880 §6.8.1 names in the comments). */
export interface SessionConfig {
  /** localDiscriminator is bfd.LocalDiscr: nonzero and unique among this system's sessions (§6.8.1). */
  readonly localDiscriminator: number;
  /** desiredMinTxUs is bfd.DesiredMinTxInterval once Up (µs); while not Up at least 1 s is sent (§6.8.3). */
  readonly desiredMinTxUs: number;
  /** requiredMinRxUs is bfd.RequiredMinRxInterval (µs); 0 would ask the peer to send nothing (§6.8.1). */
  readonly requiredMinRxUs: number;
  /** detectMult is bfd.DetectMult: nonzero (§6.8.1). */
  readonly detectMult: number;
}

/** DEFAULT_TIMING is metal-vrrp's default: 10 ms both ways, Detect Mult 3 — a dead peer is seen after 30 ms. */
export const DEFAULT_TIMING = { desiredMinTxUs: 10_000, requiredMinRxUs: 10_000, detectMult: 3 } as const;

/** SessionConfigResult is a validated config or every reason the input is refused. */
export type SessionConfigResult = { readonly config: SessionConfig } | { readonly errors: readonly string[] };

function isIntIn(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

/**
 * validateSessionConfig checks every field. Intervals must be at least 1 ms: RFC 5880 allows microseconds, but a
 * Node event loop cannot keep a sub-millisecond schedule, and promising it would make the peer's detection fire on us.
 */
export function validateSessionConfig(input: SessionConfig): SessionConfigResult {
  const errors: string[] = [];
  if (!isIntIn(input.localDiscriminator, 1, 0xffffffff)) {
    errors.push(`localDiscriminator ${input.localDiscriminator} is not in 1..2^32-1`);
  }
  if (!isIntIn(input.desiredMinTxUs, 1000, 0xffffffff)) {
    errors.push(`desiredMinTxUs ${input.desiredMinTxUs} is not an integer in 1000..2^32-1 µs`);
  }
  if (!isIntIn(input.requiredMinRxUs, 1000, 0xffffffff)) {
    errors.push(`requiredMinRxUs ${input.requiredMinRxUs} is not an integer in 1000..2^32-1 µs`);
  }
  if (!isIntIn(input.detectMult, 1, 255)) errors.push(`detectMult ${input.detectMult} is not in 1..255`);
  if (errors.length > 0) return { errors };
  return { config: Object.freeze({ ...input }) };
}
