/**
 * L2StatusWriter carries out the ServiceL2Status writes planL2StatusWrites decided (src/speaker/l2-status.ts):
 * create (POST, then the status subresource, which a create drops), update (object and/or status), delete. A write that
 * fails is logged and reported as failed; the caller re-plans from the informer's view on the next change or retry,
 * so nothing is lost. A 404 on delete and a 409 on create mean someone else already did it: not a failure.
 */
import type { Logger } from '../log.ts';
import type { L2StatusWrite, ServiceL2StatusObject } from '../model/service-l2-status.ts';
import { type Clients, METALLB_GROUP, METALLB_VERSION, statusCodeOf } from './clients.ts';
import { SERVICE_L2_STATUS_PLURAL } from './list-cluster.ts';
import { describeError } from './watched-cache.ts';

/** L2StatusWriter: see the file comment. */
export interface L2StatusWriter {
  /** apply performs the writes in order; resolves to the number that failed. */
  apply(writes: readonly L2StatusWrite[]): Promise<number>;
}

/** createL2StatusWriter writes through the CustomObjectsApi. */
export function createL2StatusWriter(clients: Clients, logger: Logger): L2StatusWriter {
  const base = { group: METALLB_GROUP, version: METALLB_VERSION, plural: SERVICE_L2_STATUS_PLURAL };
  const custom = clients.custom;

  async function putStatus(obj: ServiceL2StatusObject, resourceVersion: string | undefined): Promise<void> {
    const body = { ...obj, metadata: { ...obj.metadata, ...(resourceVersion ? { resourceVersion } : {}) } };
    await custom.replaceNamespacedCustomObjectStatus({
      ...base,
      namespace: obj.metadata.namespace,
      name: obj.metadata.name,
      body,
    });
  }

  async function one(w: L2StatusWrite): Promise<void> {
    switch (w.op) {
      case 'create': {
        const { status: _status, ...rest } = w.object;
        let created: { metadata?: { resourceVersion?: string } };
        try {
          created = (await custom.createNamespacedCustomObject({
            ...base,
            namespace: w.object.metadata.namespace,
            body: rest,
          })) as typeof created;
        } catch (err) {
          if (statusCodeOf(err) !== 409) throw err;
          // Already there (a restart raced its own informer): take over the stored one.
          created = (await custom.getNamespacedCustomObject({
            ...base,
            namespace: w.object.metadata.namespace,
            name: w.object.metadata.name,
          })) as typeof created;
        }
        await putStatus(w.object, created.metadata?.resourceVersion);
        return;
      }
      case 'update': {
        let rv = w.object.metadata.resourceVersion;
        if (w.metadata) {
          const replaced = (await custom.replaceNamespacedCustomObject({
            ...base,
            namespace: w.object.metadata.namespace,
            name: w.object.metadata.name,
            body: w.object,
          })) as { metadata?: { resourceVersion?: string } };
          rv = replaced.metadata?.resourceVersion;
        }
        if (w.status) await putStatus(w.object, rv);
        return;
      }
      case 'delete':
        try {
          await custom.deleteNamespacedCustomObject({ ...base, namespace: w.namespace, name: w.name });
        } catch (err) {
          if (statusCodeOf(err) !== 404) throw err;
        }
        return;
    }
  }

  return {
    async apply(writes) {
      let failed = 0;
      for (const w of writes) {
        try {
          await one(w);
        } catch (err) {
          failed++;
          const name = w.op === 'delete' ? w.name : w.object.metadata.name;
          logger.warn({ op: w.op, name, err: describeError(err) }, 'ServiceL2Status write failed; will retry');
        }
      }
      return failed;
    },
  };
}
