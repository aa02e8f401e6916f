// errors.ts — the catalog of API errors the stand-in returns, each a Kubernetes `Status` object
// (meta/v1 Status: kind, apiVersion, metadata, status, message, reason, details, code), with the
// messages the real API server writes so client code that matches on them sees the same text.

/** StatusReason lists the machine-readable reasons (metav1.StatusReason) the stand-in emits. */
export type StatusReason =
  | 'BadRequest'
  | 'Unauthorized'
  | 'Forbidden'
  | 'NotFound'
  | 'MethodNotAllowed'
  | 'AlreadyExists'
  | 'Conflict'
  | 'Expired'
  | 'Gone'
  | 'UnsupportedMediaType'
  | 'Invalid'
  | 'TooManyRequests'
  | 'InternalError'
  | 'ServiceUnavailable'
  | 'Timeout';

/** StatusCause is one field-level cause in `details.causes`. */
export interface StatusCause {
  readonly reason?: string;
  readonly message: string;
  readonly field?: string;
}

/** StatusDetails names the object an error is about. */
export interface StatusDetails {
  readonly name?: string;
  readonly group?: string;
  readonly kind?: string;
  readonly uid?: string;
  readonly causes?: readonly StatusCause[];
  readonly retryAfterSeconds?: number;
}

/** Status is the meta/v1 Status object sent as the body of every failed request. */
export interface Status {
  readonly kind: 'Status';
  readonly apiVersion: 'v1';
  readonly metadata: Record<string, never>;
  readonly status: 'Failure' | 'Success';
  readonly message?: string;
  readonly reason?: StatusReason;
  readonly details?: StatusDetails;
  readonly code: number;
}

/** GroupResource names a resource the way error messages do: `services`, `ipaddresspools.metallb.io`. */
export interface GroupResource {
  readonly group: string;
  readonly plural: string;
}

/** ApiError carries a Status to the HTTP layer; the store throws it for every rejected request. */
export class ApiError extends Error {
  readonly status: Status;
  constructor(status: Status) {
    super(status.message ?? status.reason ?? `HTTP ${status.code}`);
    this.name = 'ApiError';
    this.status = status;
  }
  get code(): number {
    return this.status.code;
  }
}

function failure(code: number, reason: StatusReason, message: string, details?: StatusDetails): ApiError {
  const status: Status = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
  return new ApiError(details ? { ...status, details } : status);
}

function qualified(gr: GroupResource): string {
  return gr.group ? `${gr.plural}.${gr.group}` : gr.plural;
}

function detailsFor(gr: GroupResource, name: string): StatusDetails {
  return gr.group ? { name, group: gr.group, kind: gr.plural } : { name, kind: gr.plural };
}

/** notFound: `services "web" not found` (404 NotFound). */
export function notFound(gr: GroupResource, name: string): ApiError {
  return failure(404, 'NotFound', `${qualified(gr)} "${name}" not found`, detailsFor(gr, name));
}

/** pathNotFound is the 404 for a URL that names no resource at all. */
export function pathNotFound(): ApiError {
  return failure(404, 'NotFound', 'the server could not find the requested resource', {});
}

/** alreadyExists: `services "web" already exists` (409 AlreadyExists). */
export function alreadyExists(gr: GroupResource, name: string): ApiError {
  return failure(409, 'AlreadyExists', `${qualified(gr)} "${name}" already exists`, detailsFor(gr, name));
}

/** conflict is the optimistic-concurrency failure (409 Conflict) on a stale `metadata.resourceVersion`. */
export function conflict(gr: GroupResource, name: string, why?: string): ApiError {
  const reason = why ?? 'the object has been modified; please apply your changes to the latest version and try again';
  return failure(409, 'Conflict', `Operation cannot be fulfilled on ${qualified(gr)} "${name}": ${reason}`, {
    ...detailsFor(gr, name),
  });
}

/** invalid is the 422 for failed validation: `Service "web" is invalid: spec.ports: Required value`. */
export function invalid(kind: string, group: string, name: string, causes: readonly StatusCause[]): ApiError {
  const qualifiedKind = group ? `${kind}.${group}` : kind;
  const list = causes.map((c) => (c.field ? `${c.field}: ${c.message}` : c.message));
  const text = list.length === 1 ? list[0] : `[${list.join(', ')}]`;
  const details: StatusDetails = group ? { name, group, kind, causes } : { name, kind, causes };
  return failure(422, 'Invalid', `${qualifiedKind} "${name}" is invalid: ${text}`, details);
}

/** badRequest is a 400 with a free-form message (malformed body, bad selector, name mismatch). */
export function badRequest(message: string): ApiError {
  return failure(400, 'BadRequest', message);
}

/** methodNotAllowed is the 405 for a verb the resource or path does not serve. */
export function methodNotAllowed(): ApiError {
  return failure(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource', {});
}

/** unsupportedMediaType is the 415 for a patch Content-Type the resource does not accept. */
export function unsupportedMediaType(contentType: string, accepted: readonly string[]): ApiError {
  return failure(
    415,
    'UnsupportedMediaType',
    `the body of the request was in an unknown format (${contentType || 'none'}) - accepted media types include: ${accepted.join(', ')}`,
    {},
  );
}

/** expired is the 410 sent when a watch asks for a resourceVersion older than the kept history. */
export function expired(requested: number, oldest: number): ApiError {
  return failure(410, 'Expired', `too old resource version: ${requested} (${oldest})`);
}

/** internalError is a 500, used where the real server fails with a bare Go error. */
export function internalError(message: string): ApiError {
  return failure(500, 'InternalError', `Internal error occurred: ${message}`, { causes: [{ message }] });
}

/** forbidden is a 403 (creating objects in a namespace that is being deleted). */
export function forbidden(message: string): ApiError {
  return failure(403, 'Forbidden', message, {});
}

/** serviceUnavailable is what a fault-injected or "down" server answers. */
export function serviceUnavailable(message = 'the server is currently unable to handle the request'): ApiError {
  return failure(503, 'ServiceUnavailable', message, { retryAfterSeconds: 1 });
}

const REASON_BY_CODE: ReadonlyMap<number, StatusReason> = new Map<number, StatusReason>([
  [400, 'BadRequest'],
  [401, 'Unauthorized'],
  [403, 'Forbidden'],
  [404, 'NotFound'],
  [405, 'MethodNotAllowed'],
  [409, 'Conflict'],
  [410, 'Gone'],
  [415, 'UnsupportedMediaType'],
  [422, 'Invalid'],
  [429, 'TooManyRequests'],
  [500, 'InternalError'],
  [503, 'ServiceUnavailable'],
  [504, 'Timeout'],
]);

/** statusForCode builds a generic failure for an injected fault (`failNext(1, { code: 500 })`); with
 * retryAfterSeconds the answer carries details.retryAfterSeconds and the Retry-After header, as the real one does. */
export function statusForCode(code: number, message?: string, retryAfterSeconds?: number): ApiError {
  const reason = REASON_BY_CODE.get(code) ?? 'InternalError';
  const details = retryAfterSeconds === undefined ? {} : { retryAfterSeconds };
  return failure(code, reason, message ?? `injected failure (${code} ${reason})`, details);
}

/** successStatus is the body of a DELETE whose resource does not return the deleted object. */
export function successStatus(gr: GroupResource, name: string, uid: string | undefined): Record<string, unknown> {
  const details: Record<string, unknown> = { ...detailsFor(gr, name) };
  if (uid) details['uid'] = uid;
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details };
}

/**
 * statusOfClientError reads the Status out of a client-node 1.x ApiException (`{ code, body }`, where body is the
 * response text) — the client does not parse error bodies itself. Undefined when err is not one.
 */
export function statusOfClientError(err: unknown): Status | undefined {
  if (typeof err !== 'object' || err === null || !('body' in err)) return undefined;
  const body = (err as { body: unknown }).body;
  try {
    const parsed: unknown = typeof body === 'string' ? JSON.parse(body) : body;
    const s = parsed as Partial<Status> | null;
    return s && s.kind === 'Status' ? (s as Status) : undefined;
  } catch {
    return undefined;
  }
}
