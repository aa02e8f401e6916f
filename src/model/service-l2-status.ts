/**
 * MetalLB's ServiceL2Status (metallb.io/v1beta1) as plain data: the labels MetalLB's tools select by, our VIP
 * annotation, the object shape a speaker writes and `metal-vrrp status` reads, the writes that bring stored objects
 * to the wanted ones, and a Service Event before src/k8s adds its reference. Planning them is the speaker's
 * (src/speaker/cluster/l2-status.ts); performing them is src/k8s's.
 */

/** L2_STATUS_LABELS are MetalLB's labels on a ServiceL2Status (its controllers and e2e tests select by them). */
export const L2_STATUS_LABELS = Object.freeze({
  node: 'metallb.io/node',
  serviceName: 'metallb.io/service-name',
  serviceNamespace: 'metallb.io/service-namespace',
} as const);

/** L2_STATUS_VIPS_ANNOTATION lists the VIPs of the Service this node is VRRP master of (comma-separated). */
export const L2_STATUS_VIPS_ANNOTATION = 'metal-vrrp.io/vips';

/** OwnerReference ties a status object to the speaker Pod, so it is garbage-collected with the Pod (as in MetalLB). */
export interface OwnerReference {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly uid: string;
}

/** L2StatusBody is `status` of a ServiceL2Status. */
export interface L2StatusBody {
  readonly node: string;
  readonly serviceName: string;
  readonly serviceNamespace: string;
  readonly interfaces?: readonly { readonly name: string }[];
}

/** ServiceL2StatusObject is a ServiceL2Status as plain JSON (what is written, and the part of what is read we use). */
export interface ServiceL2StatusObject {
  readonly apiVersion: 'metallb.io/v1beta1';
  readonly kind: 'ServiceL2Status';
  readonly metadata: {
    readonly name: string;
    readonly namespace: string;
    readonly labels?: Readonly<Record<string, string>>;
    readonly annotations?: Readonly<Record<string, string>>;
    readonly ownerReferences?: readonly OwnerReference[];
    readonly resourceVersion?: string;
    readonly creationTimestamp?: string;
  };
  readonly spec?: Readonly<Record<string, never>>;
  readonly status?: L2StatusBody;
}

/** L2StatusWrite is one write to bring the stored objects to the wanted ones. */
export type L2StatusWrite =
  /**
   * create: POST the object, then PUT its `status` through the status subresource with the returned resourceVersion:
   * with the subresource on, the API server drops `status` from a create (MetalLB patches a second time likewise).
   */
  | { readonly op: 'create'; readonly object: ServiceL2StatusObject }
  /** update: `object` carries the stored name and resourceVersion; metadata and/or the status subresource changed. */
  | {
      readonly op: 'update';
      readonly object: ServiceL2StatusObject;
      readonly metadata: boolean;
      readonly status: boolean;
    }
  | { readonly op: 'delete'; readonly namespace: string; readonly name: string };

/** ServiceEvent is a core/v1 Event about a Service, before src/k8s adds the object reference and timestamps. */
export interface ServiceEvent {
  readonly namespace: string;
  readonly name: string;
  readonly type: 'Normal' | 'Warning';
  readonly reason: string;
  readonly message: string;
}
