/**
 * The crypto edge of authenticated adverts: HMAC-SHA-256 from node:crypto, handed to the pure codec (vrrp/auth.ts)
 * as its injected `Mac`. A Keyring is what one router signs with (`send`, the Secret's `key`) and accepts (`key` and,
 * during a rotation, `previousKey`).
 */

import { createHmac } from 'node:crypto';
import { type AuthKey, authKey, type Mac } from '../../../vrrp/auth.ts';
import type { AuthKeys } from '../../model/auth-secret.ts';

/** Keyring: see the file comment. Frozen. */
export interface Keyring {
  readonly send: AuthKey;
  readonly accept: readonly AuthKey[];
}

/** hmacSha256 is the Mac under `key`. */
export function hmacSha256(key: Uint8Array): Mac {
  const k = Buffer.from(key);
  return (chunks) => {
    const h = createHmac('sha256', k);
    for (const c of chunks) h.update(c);
    return h.digest();
  };
}

/** keyringOf builds the keys of one Secret. */
export function keyringOf(keys: AuthKeys): Keyring {
  const send = authKey(hmacSha256(keys.key));
  const previous = keys.previousKey === undefined ? [] : [authKey(hmacSha256(keys.previousKey))];
  return Object.freeze({ send, accept: Object.freeze([send, ...previous]) });
}
