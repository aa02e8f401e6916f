/**
 * The project's one catalog of coded errors (the fastify habit): every failure that leaves a module carries a stable
 * `code` from ERROR_CATALOG, a human message, and optionally the `cause` that led to it. Codes are API: Events, status
 * conditions, metrics labels and tests match on them, so a code is never renamed or reused for another meaning.
 *
 * Pure modules return `CodedError` values (plain, frozen, comparable with deepEqual); edges that must throw wrap one
 * in `MetalVrrpError`. To add a code, add one entry to ERROR_CATALOG: the `ErrorCode` type follows.
 */

/** ErrorSpec describes one code: a one-line summary and whether retrying later, unchanged, can succeed. */
export interface ErrorSpec {
  /** summary is the human text; a per-occurrence detail is appended after a colon. */
  readonly summary: string;
  /**
   * transient is true when the same request may succeed later without the user changing it (another Service is
   * released, the config changes); false when the object itself must be fixed. MetalLB draws the same line with its
   * TransientError; the reconciler uses it to choose between requeue and "report and wait for an edit".
   */
  readonly transient: boolean;
}

/** ERROR_CATALOG maps every stable code to its spec. Grouped by the module that raises it; append, never rename. */
export const ERROR_CATALOG = {
  // Address allocation (src/controller/allocator.ts).
  POOL_EXHAUSTED: { summary: 'no free address left in the eligible pools', transient: true },
  NO_ELIGIBLE_POOL: { summary: 'no address pool may serve this service', transient: true },
  IP_NOT_IN_POOL: { summary: 'the address is not in any usable address pool', transient: true },
  IP_IN_USE: { summary: 'the address is in use by a service that does not share it', transient: true },
  PORT_IN_USE: { summary: 'a port/protocol is already served on the shared address', transient: true },
  SHARING_KEY_CONFLICT: { summary: 'the address is shared under a different allow-shared-ip key', transient: true },
  SHARING_BACKEND_CONFLICT: {
    summary: 'services sharing an address must have the same externalTrafficPolicy, and with Local the same selector',
    transient: true,
  },
  UNKNOWN_POOL: { summary: 'no valid address pool has that name', transient: true },
  POOL_NOT_ALLOWED: { summary: "the pool's serviceAllocation does not admit this service", transient: true },
  FAMILY_MISMATCH: { summary: "the requested addresses do not fit the service's IP families", transient: false },
  RESTORE_CONFLICT: { summary: 'the recorded assignment conflicts with the one held', transient: false },
  VRID_EXHAUSTED: { summary: 'no virtual router id is available in the range', transient: true },
  // Configuration (src/controller/config.ts).
  INVALID_POOL: { summary: 'invalid IPAddressPool', transient: false },
  POOL_OVERLAP: { summary: 'the pool overlaps an older pool', transient: false },
  INVALID_SELECTOR: { summary: 'invalid label selector', transient: false },
  INVALID_VRID_RANGE: { summary: 'invalid metal-vrrp.io/vrid-range annotation, using 1-255', transient: false },
  INVALID_L2_ADVERTISEMENT: { summary: 'invalid L2Advertisement', transient: false },
  // Service annotations and spec (src/controller/service-request.ts).
  INVALID_ANNOTATION: { summary: 'invalid service annotation', transient: false },
  ANNOTATION_CONFLICT: { summary: 'metallb.io/ and metallb.universe.tf/ annotations disagree', transient: false },
  INVALID_SERVICE: { summary: 'invalid service spec', transient: false },
  // Speaker decisions (src/speaker/pool-tuning.ts, service-vrids.ts, desired-routers.ts).
  INVALID_TUNING: {
    summary: 'invalid metal-vrrp.io/ tuning annotation on an IPAddressPool, using the default',
    transient: false,
  },
  UNKNOWN_TUNING_ANNOTATION: {
    summary: 'unknown metal-vrrp.io/ annotation on an IPAddressPool, ignored',
    transient: false,
  },
  INVALID_VRID_ANNOTATION: {
    summary: 'missing or invalid metal-vrrp.io/vrids annotation on the service',
    transient: true,
  },
  NO_INTERFACE: { summary: 'no interface of this node can carry the address', transient: true },
  NO_SOURCE: {
    summary: "the chosen interface has no address to send the virtual router's adverts from",
    transient: true,
  },
  TUNING_CONFLICT: {
    summary: 'addresses sharing a virtual router come from pools with different tuning',
    transient: true,
  },
  PRIORITY_FAILED: { summary: 'node priorities for a virtual router could not be computed', transient: true },
  SPLIT_ELIGIBILITY: { summary: 'addresses sharing a virtual router have no eligible node in common', transient: true },
  AUTH_SECRET_INVALID: {
    summary: 'the Secret named by metal-vrrp.io/auth-secret is missing or holds no usable key; its routers do not run',
    transient: true,
  },
} as const satisfies Record<string, ErrorSpec>;

/** ErrorCode is one key of the catalog. */
export type ErrorCode = keyof typeof ERROR_CATALOG;

/** CodedError is an error as a value: what pure modules return instead of throwing. */
export interface CodedError {
  readonly code: ErrorCode;
  /** message is the catalog summary, then `: detail` when one was given. */
  readonly message: string;
  /** cause is the underlying error or value, when there is one (another CodedError, a parse failure, …). */
  readonly cause?: unknown;
}

/** codedError builds a frozen CodedError; `detail` names the object involved ("192.0.2.1", "pool gold"). */
export function codedError(code: ErrorCode, detail?: string, cause?: unknown): CodedError {
  const summary = ERROR_CATALOG[code].summary;
  const message = detail === undefined || detail === '' ? summary : `${summary}: ${detail}`;
  return Object.freeze(cause === undefined ? { code, message } : { code, message, cause });
}

/** isCodedError tells a CodedError from any other value, e.g. inside a `cause` chain. */
export function isCodedError(value: unknown): value is CodedError {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as { code?: unknown; message?: unknown };
  return typeof v.code === 'string' && Object.hasOwn(ERROR_CATALOG, v.code) && typeof v.message === 'string';
}

/** isTransient says whether the same request may succeed later without the user changing anything. */
export function isTransient(code: ErrorCode): boolean {
  return ERROR_CATALOG[code].transient;
}

/** MetalVrrpError is a CodedError as an exception, for the few edges that must throw (startup, CLI). */
export class MetalVrrpError extends Error {
  readonly code: ErrorCode;

  constructor(error: CodedError) {
    super(error.message, error.cause === undefined ? undefined : { cause: error.cause });
    this.name = 'MetalVrrpError';
    this.code = error.code;
  }
}
