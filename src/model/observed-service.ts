/**
 * ObservedService is a Service as the controller sees it in the informer cache: the fields the allocation request is
 * built from (ServiceObject) plus identity and what was written before (status ingress, our annotations). Plain JSON:
 * src/k8s turns client objects into this shape (timestamps as RFC 3339 text), so nothing here knows the client.
 */
import type { ServiceObject } from './service-request.ts';

/** ObservedService: see the file comment. */
export interface ObservedService extends ServiceObject {
  readonly metadata?: ServiceObject['metadata'] & {
    readonly uid?: string;
    readonly resourceVersion?: string;
    /** creationTimestamp orders restores: the older Service keeps an address two of them claim. */
    readonly creationTimestamp?: string;
  };
  readonly status?: {
    readonly loadBalancer?: {
      readonly ingress?: readonly { readonly ip?: string | null; readonly hostname?: string | null }[] | null;
    } | null;
  } | null;
}

/** ingressIps lists the addresses in `status.loadBalancer.ingress`, in order (hostnames are not ours: skipped). */
export function ingressIps(svc: ObservedService): string[] {
  const out: string[] = [];
  for (const ing of svc.status?.loadBalancer?.ingress ?? []) {
    if (typeof ing?.ip === 'string' && ing.ip !== '') out.push(ing.ip);
  }
  return out;
}

/** annotationOf reads one annotation, or undefined. */
export function annotationOf(svc: ObservedService, name: string): string | undefined {
  return svc.metadata?.annotations?.[name] ?? undefined;
}
