/**
 * The Secret behind `metal-vrrp.io/auth-secret` (pool-tuning.ts): `data.key` is the key adverts are signed with and
 * accepted under; `data.previousKey`, when present, is accepted too, so a key can be rotated without a failover
 * (README, "Authenticated adverts"). Values are the Secret's base64 `data`, each at least 16 bytes once decoded.
 * Pure: bytes in, bytes out; the MAC functions are made at the edge (src/speaker/runtime/auth-keyring.ts).
 */

/** AUTH_KEY_MIN_BYTES: shorter keys are refused (HMAC-SHA-256 wants 32; 16 is the floor, RFC 2104 §3: ≥ L/2). */
export const AUTH_KEY_MIN_BYTES = 16;

/** SecretObject is the part of a core/v1 Secret read here. */
export interface SecretObject {
  readonly metadata?: { readonly name?: string; readonly namespace?: string };
  readonly data?: Readonly<Record<string, string>> | null;
}

/** AuthKeys are the key material of one Secret. Frozen. */
export interface AuthKeys {
  readonly secret: string;
  readonly key: Uint8Array;
  readonly previousKey?: Uint8Array;
}

/** AuthKeysResult: usable keys, or why not. */
export type AuthKeysResult = { readonly keys: AuthKeys } | { readonly error: string };

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function decodeKey(name: string, field: string, text: string | undefined): Uint8Array | string | undefined {
  if (text === undefined) return undefined;
  const compact = text.replace(/\s+/g, '');
  if (!BASE64.test(compact) || compact.length % 4 !== 0) return `Secret ${name}: data.${field} is not base64`;
  const bytes = Uint8Array.from(Buffer.from(compact, 'base64'));
  if (bytes.length < AUTH_KEY_MIN_BYTES) {
    return `Secret ${name}: data.${field} has ${bytes.length} bytes, at least ${AUTH_KEY_MIN_BYTES} needed`;
  }
  return bytes;
}

/** parseAuthSecret reads one Secret's keys. */
export function parseAuthSecret(obj: SecretObject): AuthKeysResult {
  const name = obj.metadata?.name ?? '';
  const data = obj.data ?? {};
  const key = decodeKey(name, 'key', data['key']);
  if (key === undefined) return { error: `Secret ${name}: no data.key` };
  if (typeof key === 'string') return { error: key };
  const previousKey = decodeKey(name, 'previousKey', data['previousKey']);
  if (typeof previousKey === 'string') return { error: previousKey };
  return {
    keys: Object.freeze({ secret: name, key, ...(previousKey === undefined ? {} : { previousKey }) }),
  };
}

/** sameAuthKeys compares key material (undefined: no authentication). */
export function sameAuthKeys(a: AuthKeys | undefined, b: AuthKeys | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  const eq = (x: Uint8Array | undefined, y: Uint8Array | undefined) =>
    x === undefined || y === undefined ? x === y : Buffer.from(x).equals(Buffer.from(y));
  return a.secret === b.secret && eq(a.key, b.key) && eq(a.previousKey, b.previousKey);
}
