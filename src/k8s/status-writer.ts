/**
 * StatusWriter is how the controller writes what it decided: a Service's annotations (metadata, main endpoint), its
 * `status.loadBalancer.ingress` (status subresource) and an IPAddressPool's status counters. Every write is a JSON
 * merge patch without a resourceVersion: the controller owns these fields, so a concurrent edit of other fields must
 * not turn its write into a 409 and a retry loop.
 */
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { type Clients, METALLB_GROUP, METALLB_VERSION, statusCodeOf } from './clients.ts';

/** ObjectKey names a namespaced object. */
export interface ObjectKey {
  readonly namespace: string;
  readonly name: string;
}

/** PoolStatus is IPAddressPool `status`, as MetalLB writes it. */
export interface PoolStatus {
  readonly assignedIPv4: number;
  readonly assignedIPv6: number;
  readonly availableIPv4: number;
  readonly availableIPv6: number;
}

/** WriteOutcome: written, or the object is gone (its delete event follows; nothing to retry). */
export type WriteOutcome = 'written' | 'gone';

/** StatusWriter: see the file comment. Other failures reject, for the caller to retry. */
export interface StatusWriter {
  /** patchServiceAnnotations sets annotations; a null value removes one. */
  patchServiceAnnotations(svc: ObjectKey, annotations: Readonly<Record<string, string | null>>): Promise<WriteOutcome>;
  /** setServiceIngress replaces `status.loadBalancer.ingress` (empty: removes it). */
  setServiceIngress(svc: ObjectKey, ips: readonly string[]): Promise<WriteOutcome>;
  setPoolStatus(pool: ObjectKey, status: PoolStatus): Promise<WriteOutcome>;
}

const MERGE = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

async function outcome(write: Promise<unknown>): Promise<WriteOutcome> {
  try {
    await write;
    return 'written';
  } catch (err) {
    if (statusCodeOf(err) === 404) return 'gone';
    throw err;
  }
}

/** createStatusWriter writes through the API clients. */
export function createStatusWriter(clients: Clients): StatusWriter {
  const { core, custom } = clients;
  return {
    patchServiceAnnotations: (svc, annotations) =>
      outcome(core.patchNamespacedService({ ...svc, body: { metadata: { annotations } } }, MERGE)),
    setServiceIngress: (svc, ips) =>
      outcome(
        core.patchNamespacedServiceStatus(
          {
            ...svc,
            body: { status: { loadBalancer: { ingress: ips.length > 0 ? ips.map((ip) => ({ ip })) : null } } },
          },
          MERGE,
        ),
      ),
    setPoolStatus: (pool, status) =>
      outcome(
        custom.patchNamespacedCustomObjectStatus(
          {
            group: METALLB_GROUP,
            version: METALLB_VERSION,
            namespace: pool.namespace,
            plural: 'ipaddresspools',
            name: pool.name,
            body: { status },
          },
          MERGE,
        ),
      ),
  };
}
