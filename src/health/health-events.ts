/**
 * Service Events for health-driven moves (issue 13): when this node's own health changes what it does for a router,
 * the Services on that router hear why. A master that resigns or is lowered hands its VIPs on (Warning HealthResigned,
 * HealthLowered); a node whose checks recover will take its VIPs back by preemption (Normal HealthRecovered). A backup
 * going down or up is no move and sends nothing but its recovery, so each health incident costs one or two Events per
 * Service, not one per node.
 */
import { familyOf, type ServiceView, serviceKeyOf } from '../model/cluster-snapshot.ts';
import type { ServiceEvent } from '../model/service-l2-status.ts';
import type { RouterKey, RouterSpec, StateName } from '../speaker/router-spec.ts';
import type { HealthAdjustment, HealthFinding } from './health-adjust.ts';

export const HEALTH_RESIGNED_REASON = 'HealthResigned';
export const HEALTH_LOWERED_REASON = 'HealthLowered';
export const HEALTH_RECOVERED_REASON = 'HealthRecovered';

/** describeFindings is one line naming each failed check, e.g. `http://:8080/healthz (HTTP 503)`. */
export function describeFindings(findings: readonly HealthFinding[]): string {
  return findings.map((f) => (f.detail ? `${f.check} (${f.detail})` : f.check)).join(', ');
}

function sameAdjustment(a: HealthAdjustment | undefined, b: HealthAdjustment | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return (
    a.priority === b.priority && a.resign === b.resign && describeFindings(a.findings) === describeFindings(b.findings)
  );
}

/**
 * healthEvents lists the Events for the change from `before` to `after` (router key -> adjustment) of the routers
 * `routers` this node runs; `stateOf` is each router's state before the change was applied.
 */
export function healthEvents(
  node: string,
  before: ReadonlyMap<RouterKey, HealthAdjustment>,
  after: ReadonlyMap<RouterKey, HealthAdjustment>,
  routers: ReadonlyMap<RouterKey, RouterSpec>,
  services: readonly ServiceView[],
  stateOf: (key: RouterKey) => StateName | undefined,
): ServiceEvent[] {
  const out: ServiceEvent[] = [];
  for (const [key, spec] of [...routers].sort((x, y) => (x[0] < y[0] ? -1 : 1))) {
    const was = before.get(key);
    const now = after.get(key);
    if (sameAdjustment(was, now)) continue;
    let type: ServiceEvent['type'];
    let reason: string;
    let text: string;
    if (now === undefined) {
      type = 'Normal';
      reason = HEALTH_RECOVERED_REASON;
      text = `node "${node}" is healthy again (priority ${spec.config.priority})`;
    } else {
      if (stateOf(key) !== 'master') continue;
      type = 'Warning';
      reason = now.resign ? HEALTH_RESIGNED_REASON : HEALTH_LOWERED_REASON;
      const effect = now.resign ? 'resigns' : `lowers its priority ${now.basePriority} → ${now.priority}`;
      text = `node "${node}" ${effect}: ${describeFindings(now.findings)}`;
    }
    const onRouter = new Set(spec.vips);
    for (const svc of services) {
      if (!spec.services.includes(serviceKeyOf(svc))) continue;
      const vips = svc.vips.filter((v) => onRouter.has(v) && familyOf(v) === spec.config.family);
      if (vips.length === 0) continue;
      out.push({ namespace: svc.namespace, name: svc.name, type, reason, message: `${text}; VIPs ${vips.join(', ')}` });
    }
  }
  return out;
}
