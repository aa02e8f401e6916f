/**
 * Health checks of a pool (issue 13): annotations on an IPAddressPool, under `metal-vrrp.io/`, saying which local
 * conditions make a node step back from the pool's virtual routers. Every node checks itself only (no node sees
 * another's health); a failing check lowers this node's own priority, so the election moves the VIP (see
 * src/health/health-adjust.ts for the rule).
 *
 * | annotation                          | default | accepted                                                        |
 * | ----------------------------------- | ------- | --------------------------------------------------------------- |
 * | metal-vrrp.io/health-check          | (none)  | `http://:PORT/PATH` or `tcp://:PORT`, on the node's own address |
 * | metal-vrrp.io/kube-proxy-health     | false   | true (= http://:10256/healthz), false, or a URL as above        |
 * | metal-vrrp.io/health-interval       | 1s      | 100ms .. 300s                                                   |
 * | metal-vrrp.io/health-timeout        | 500ms   | 10ms .. the interval                                            |
 * | metal-vrrp.io/health-rise           | 3       | 1 .. 100 successes in a row before a failed check counts as up  |
 * | metal-vrrp.io/health-fall           | 1       | 1 .. 100 failures in a row before an up check counts as failed  |
 * | metal-vrrp.io/health-weight         | 0       | 0 (resign) or 1 .. 253 (priority lowered by that much, floor 1) |
 * | metal-vrrp.io/track-interface       | true    | true, false: the announcing interface's carrier                 |
 * | metal-vrrp.io/resign-when-cordoned  | false   | true, false: a node with spec.unschedulable resigns             |
 *
 * The weight applies to the probe checks (health-check, kube-proxy-health); a down interface and a cordon always
 * resign: a node whose link is down cannot serve at all, and a cordon is an operator's explicit "leave".
 *
 * kube-proxy-health is off by default: clusters without kube-proxy (Cilium or Calico eBPF kube-proxy replacement,
 * kube-router) have nothing on :10256, and an on-by-default check would fail on every node, collapsing every VIP onto
 * whichever node wins the tie, a silent change for a pool migrated unchanged from MetalLB.
 *
 * fall 1 follows keepalived (`fall` default 1) and the "resign at once"; rise 3 makes coming back slower than
 * leaving, which costs nothing (the VIP is served elsewhere meanwhile) and damps a flapping check.
 */
import { PRIORITY_MAX } from '../../vrrp/router-config.ts';
import {
  type AnnotationReader,
  boundedDuration,
  invalidTuning,
  type Parsed,
  parseBoolean,
  type TuningProblem,
  wholeNumber,
} from './annotation-values.ts';

const PREFIX = 'metal-vrrp.io/';

/** HEALTH_ANNOTATIONS names each health setting's annotation (see the table in the file comment). */
export const HEALTH_ANNOTATIONS = Object.freeze({
  check: `${PREFIX}health-check`,
  kubeProxy: `${PREFIX}kube-proxy-health`,
  interval: `${PREFIX}health-interval`,
  timeout: `${PREFIX}health-timeout`,
  rise: `${PREFIX}health-rise`,
  fall: `${PREFIX}health-fall`,
  weight: `${PREFIX}health-weight`,
  trackInterface: `${PREFIX}track-interface`,
  resignWhenCordoned: `${PREFIX}resign-when-cordoned`,
} as const);

/** Bounds of the health settings. */
export const HEALTH_INTERVAL_MIN_MS = 100;
export const HEALTH_INTERVAL_MAX_MS = 300_000;
export const HEALTH_TIMEOUT_MIN_MS = 10;
export const HEALTH_COUNT_MAX = 100;
/** HEALTH_WEIGHT_MAX: a weight past 253 takes any priority (1..254) to the floor of 1, as a resign would. */
export const HEALTH_WEIGHT_MAX = PRIORITY_MAX - 1;

/** ProbeTarget is an HTTP or TCP endpoint on the node's own address (host left empty in the URL). */
export interface ProbeTarget {
  readonly scheme: 'http' | 'tcp';
  readonly port: number;
  /** path of an HTTP probe, with its query; '' for TCP. */
  readonly path: string;
  /** url is the canonical text, e.g. `http://:10256/healthz`: the check's name in metrics, status and Events. */
  readonly url: string;
}

/** HealthTuning is the health settings of one pool. Frozen. */
export interface HealthTuning {
  /** check is the pool's own probe, undefined when none. */
  readonly check: ProbeTarget | undefined;
  /** kubeProxy is kube-proxy's health endpoint to probe, undefined when off. */
  readonly kubeProxy: ProbeTarget | undefined;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly rise: number;
  readonly fall: number;
  /** weight: 0 resigns on a failing probe; otherwise the priority is lowered by weight (floor 1). */
  readonly weight: number;
  readonly trackInterface: boolean;
  readonly resignWhenCordoned: boolean;
}

/** KUBE_PROXY_HEALTH_URL is kube-proxy's default healthz endpoint (--healthz-bind-address 0.0.0.0:10256). */
export const KUBE_PROXY_HEALTH_URL = 'http://:10256/healthz';

/** DEFAULT_HEALTH_TUNING is what a pool without health annotations gets: only the interface is tracked. */
export const DEFAULT_HEALTH_TUNING: HealthTuning = Object.freeze({
  check: undefined,
  kubeProxy: undefined,
  intervalMs: 1000,
  timeoutMs: 500,
  rise: 3,
  fall: 1,
  weight: 0,
  trackInterface: true,
  resignWhenCordoned: false,
});

/**
 * parseProbeTarget reads `http://:PORT/PATH` or `tcp://:PORT`. The host must be empty: the probe goes to this node's
 * own address, the same URL on every node of the pool. The port is required (no scheme default: a health port is
 * never 80 by accident).
 */
export function parseProbeTarget(text: string): Parsed<ProbeTarget> {
  const t = text.trim();
  const m = /^(http|tcp):\/\/([^/:]*)(?::(\d{1,5}))?(\/.*)?$/i.exec(t);
  if (!m) return { error: `"${text}" is not http://:PORT/PATH or tcp://:PORT` };
  const scheme = m[1]!.toLowerCase() as 'http' | 'tcp';
  if (m[2] !== '') return { error: `"${text}" names a host; leave it empty (the node's own address is probed)` };
  if (m[3] === undefined) return { error: `"${text}" has no port` };
  const port = Number(m[3]);
  if (port < 1 || port > 65_535) return { error: `"${text}": port ${port} is not 1..65535` };
  const rawPath = m[4] ?? '';
  if (scheme === 'tcp' && rawPath !== '' && rawPath !== '/') return { error: `"${text}": a tcp:// check has no path` };
  if (/\s/.test(rawPath)) return { error: `"${text}": the path has white space` };
  const path = scheme === 'http' ? rawPath || '/' : '';
  return { value: Object.freeze({ scheme, port, path, url: `${scheme}://:${port}${path}` }) };
}

function parseKubeProxy(text: string): Parsed<ProbeTarget | undefined> {
  const on = parseBoolean(text);
  if ('value' in on) return on.value ? parseProbeTarget(KUBE_PROXY_HEALTH_URL) : { value: undefined };
  const target = parseProbeTarget(text);
  if ('error' in target) return { error: `"${text}" is not true, false or http://:PORT/PATH` };
  return target;
}

/**
 * parseHealthTuning reads a pool's health annotations with `read` (which records invalid values as problems and uses
 * the default for that setting). The timeout never exceeds the interval, so one probe at a time keeps a check
 * bounded: a written timeout longer than the interval is reported and cut; the default timeout is cut silently.
 */
export function parseHealthTuning(
  pool: string,
  annotations: Readonly<Record<string, string>>,
  read: AnnotationReader,
  problems: TuningProblem[],
): HealthTuning {
  const A = HEALTH_ANNOTATIONS;
  const d = DEFAULT_HEALTH_TUNING;
  const intervalMs = read(
    A.interval,
    boundedDuration(HEALTH_INTERVAL_MAX_MS, '300s', HEALTH_INTERVAL_MIN_MS, '100ms'),
    d.intervalMs,
  );
  let timeoutMs = read(
    A.timeout,
    boundedDuration(HEALTH_INTERVAL_MAX_MS, '300s', HEALTH_TIMEOUT_MIN_MS, '10ms'),
    d.timeoutMs,
  );
  if (timeoutMs > intervalMs) {
    // The default timeout follows a shorter interval without a word; a written timeout is reported.
    const text = annotations[A.timeout];
    if (text !== undefined) {
      problems.push(invalidTuning(pool, A.timeout, text, `"${text}" is longer than the interval (${intervalMs}ms)`));
    }
    timeoutMs = intervalMs;
  }
  const count = wholeNumber(1, HEALTH_COUNT_MAX);
  return Object.freeze({
    check: read<ProbeTarget | undefined>(A.check, parseProbeTarget, d.check),
    kubeProxy: read(A.kubeProxy, parseKubeProxy, d.kubeProxy),
    intervalMs,
    timeoutMs,
    rise: read(A.rise, count, d.rise),
    fall: read(A.fall, count, d.fall),
    weight: read(A.weight, wholeNumber(0, HEALTH_WEIGHT_MAX), d.weight),
    trackInterface: read(A.trackInterface, parseBoolean, d.trackInterface),
    resignWhenCordoned: read(A.resignWhenCordoned, parseBoolean, d.resignWhenCordoned),
  });
}

/** sameHealthTuning compares two health tunings field by field. */
export function sameHealthTuning(a: HealthTuning, b: HealthTuning): boolean {
  return (
    a.check?.url === b.check?.url &&
    a.kubeProxy?.url === b.kubeProxy?.url &&
    a.intervalMs === b.intervalMs &&
    a.timeoutMs === b.timeoutMs &&
    a.rise === b.rise &&
    a.fall === b.fall &&
    a.weight === b.weight &&
    a.trackInterface === b.trackInterface &&
    a.resignWhenCordoned === b.resignWhenCordoned
  );
}
