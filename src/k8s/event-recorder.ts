/**
 * EventRecorder creates core/v1 Events, what `kubectl describe` shows under an object. Recording never blocks or
 * fails the caller: an Event is best effort (as client-go's recorder), a failure is logged. Identical Events for the
 * same object within `dedupeMs` are sent once, so a Service retried on every change does not flood the namespace.
 */
import type { CoreV1Api, CoreV1Event } from '@kubernetes/client-node';
import type { Logger } from '../log.ts';
import { describeError } from './watched-cache.ts';

/** ObjectRef is the object an Event is about. */
export interface ObjectRef {
  readonly kind: string;
  readonly apiVersion: string;
  readonly namespace: string;
  readonly name: string;
  readonly uid?: string;
}

/** EventType is Kubernetes' two Event types. */
export type EventType = 'Normal' | 'Warning';

/** EventRecorder: see the file comment. */
export interface EventRecorder {
  record(ref: ObjectRef, type: EventType, reason: string, message: string): void;
  /** flush resolves when every Event recorded so far has been sent or has failed. */
  flush(): Promise<void>;
}

/** EventRecorderDeps: the API, who reports, and the clock. */
export interface EventRecorderDeps {
  readonly core: CoreV1Api;
  readonly logger: Logger;
  /** component is `source.component` / `reportingComponent`, e.g. `metal-vrrp-controller`. */
  readonly component: string;
  /** instance is `reportingInstance` and `source.host`: the pod or host name. */
  readonly instance: string;
  readonly dedupeMs?: number;
  readonly now?: () => Date;
  /** maxInFlight bounds Events being sent; past it new ones are dropped and logged (the API is struggling). */
  readonly maxInFlight?: number;
}

/** createEventRecorder sends Events through CoreV1Api. */
export function createEventRecorder(deps: EventRecorderDeps): EventRecorder {
  const now = deps.now ?? (() => new Date());
  const dedupeMs = deps.dedupeMs ?? 60_000;
  const maxInFlight = deps.maxInFlight ?? 500;
  const recent = new Map<string, number>(); // object/type/reason/message -> time sent (ms)
  const inFlight = new Set<Promise<void>>();
  let seq = 0;
  return {
    record(ref, type, reason, message) {
      const at = now();
      const key = `${ref.namespace}/${ref.kind}/${ref.name}/${ref.uid ?? ''}\n${type}\n${reason}\n${message}`;
      const last = recent.get(key);
      if (last !== undefined && at.getTime() - last < dedupeMs) return;
      recent.set(key, at.getTime());
      if (recent.size > 10_000) {
        for (const [k, t] of recent) if (at.getTime() - t >= dedupeMs) recent.delete(k);
      }
      if (inFlight.size >= maxInFlight) {
        deps.logger.warn({ reason, object: `${ref.namespace}/${ref.name}` }, 'too many Events in flight, dropped one');
        return;
      }
      // Event names are <object>.<unique hex>, as client-go names them.
      const suffix = (at.getTime() * 1000 + (seq++ % 1000)).toString(16);
      const body: CoreV1Event = {
        metadata: { name: `${ref.name}.${suffix}`, namespace: ref.namespace },
        involvedObject: {
          kind: ref.kind,
          apiVersion: ref.apiVersion,
          namespace: ref.namespace,
          name: ref.name,
          ...(ref.uid ? { uid: ref.uid } : {}),
        },
        type,
        reason,
        message: message.length > 1024 ? `${message.slice(0, 1021)}...` : message,
        source: { component: deps.component, host: deps.instance },
        reportingComponent: deps.component,
        reportingInstance: deps.instance,
        firstTimestamp: at,
        lastTimestamp: at,
        count: 1,
      };
      const p: Promise<void> = deps.core.createNamespacedEvent({ namespace: ref.namespace, body }).then(
        () => undefined,
        (err: unknown) => {
          deps.logger.warn({ reason, object: `${ref.namespace}/${ref.name}`, err: describeError(err) }, 'Event lost');
        },
      );
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
    },
    async flush() {
      await Promise.all([...inFlight]);
    },
  };
}
