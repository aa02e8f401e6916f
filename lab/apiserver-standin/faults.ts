// faults.ts — the request log and fault injection: what tests read to count requests, and the switches that
// make the stand-in fail (the next N requests, or every request while "unavailable").

import { type ApiError, serviceUnavailable, statusForCode } from './errors.ts';

/** Verb is what a request does, in the API server's audit vocabulary. */
export type Verb =
  | 'get'
  | 'list'
  | 'watch'
  | 'create'
  | 'update'
  | 'patch'
  | 'delete'
  | 'deletecollection'
  | 'discovery'
  | 'unknown';

/** RequestRecord is one logged request; `status` is filled when the response finishes (0 while a watch runs). */
export interface RequestRecord {
  readonly seq: number;
  readonly method: string;
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  readonly contentType: string | undefined;
  verb: Verb;
  /** resource as `services` or `ipaddresspools.metallb.io`. */
  resource: string | undefined;
  namespace: string | undefined;
  name: string | undefined;
  subresource: string | undefined;
  status: number;
  /** injected: the answer came from failNext or the unavailable switch. */
  injected: boolean;
}

/** RequestMatch selects records; every given field must match. `resource` matches `events` or `events.events.k8s.io`. */
export interface RequestMatch {
  readonly method?: string;
  readonly verb?: Verb;
  readonly resource?: string;
  readonly namespace?: string;
  readonly name?: string;
  readonly subresource?: string;
  readonly path?: string;
}

/** matchesRequest applies a RequestMatch to a record. */
export function matchesRequest(rec: RequestRecord, m: RequestMatch | undefined): boolean {
  if (!m) return true;
  if (m.method !== undefined && m.method.toUpperCase() !== rec.method) return false;
  if (m.verb !== undefined && m.verb !== rec.verb) return false;
  if (m.resource !== undefined && m.resource !== rec.resource && m.resource !== rec.resource?.split('.')[0])
    return false;
  if (m.namespace !== undefined && m.namespace !== rec.namespace) return false;
  if (m.name !== undefined && m.name !== rec.name) return false;
  if (m.subresource !== undefined && m.subresource !== rec.subresource) return false;
  if (m.path !== undefined && m.path !== rec.path) return false;
  return true;
}

/** RequestLog keeps the last `limit` requests. */
export class RequestLog {
  readonly #limit: number;
  #entries: RequestRecord[] = [];
  #seq = 0;

  constructor(limit = 10_000) {
    this.#limit = limit;
  }

  /** start logs a request as it arrives and returns its (still mutable) record. */
  start(method: string, path: string, query: URLSearchParams, contentType: string | undefined): RequestRecord {
    const rec: RequestRecord = {
      seq: ++this.#seq,
      method,
      path,
      query: Object.fromEntries(query),
      contentType,
      verb: 'unknown',
      resource: undefined,
      namespace: undefined,
      name: undefined,
      subresource: undefined,
      status: 0,
      injected: false,
    };
    this.#entries.push(rec);
    if (this.#entries.length > this.#limit) this.#entries.shift();
    return rec;
  }

  /** entries returns the kept records, oldest first, optionally filtered. */
  entries(match?: RequestMatch): readonly RequestRecord[] {
    return this.#entries.filter((r) => matchesRequest(r, match));
  }

  count(match?: RequestMatch): number {
    return this.entries(match).length;
  }

  clear(): void {
    this.#entries = [];
  }
}

/** FailOptions shape an injected failure: status code (default 503), message, which requests it hits, and the
 * Retry-After header (seconds) a real server sends with a 429 when it sheds load. */
export interface FailOptions {
  readonly code?: number;
  readonly message?: string;
  readonly match?: RequestMatch;
  readonly retryAfterSeconds?: number;
}

interface PendingFailure {
  remaining: number;
  readonly code: number;
  readonly message: string | undefined;
  readonly match: RequestMatch | undefined;
  readonly retryAfterSeconds: number | undefined;
}

/** Faults decides, per request, whether to answer with an injected failure. */
export class Faults {
  #pending: PendingFailure[] = [];
  #unavailable = false;

  /** failNext makes the next `count` matching API requests fail with `code` (default 503). */
  failNext(count: number, opts: FailOptions = {}): void {
    this.#pending.push({
      remaining: count,
      code: opts.code ?? 503,
      message: opts.message,
      match: opts.match,
      retryAfterSeconds: opts.retryAfterSeconds,
    });
  }

  /** setUnavailable: while on, every API request gets 503 ServiceUnavailable. */
  setUnavailable(on: boolean): void {
    this.#unavailable = on;
  }

  get unavailable(): boolean {
    return this.#unavailable;
  }

  /** take returns the failure for this request, consuming one from the first matching failNext. */
  take(rec: RequestRecord): ApiError | undefined {
    if (this.#unavailable) return serviceUnavailable();
    const f = this.#pending.find((p) => p.remaining > 0 && matchesRequest(rec, p.match));
    if (!f) return undefined;
    f.remaining--;
    this.#pending = this.#pending.filter((p) => p.remaining > 0);
    return f.code === 503 && !f.message ? serviceUnavailable() : statusForCode(f.code, f.message, f.retryAfterSeconds);
  }

  /** reset clears pending failures and the unavailable switch. */
  reset(): void {
    this.#pending = [];
    this.#unavailable = false;
  }
}
