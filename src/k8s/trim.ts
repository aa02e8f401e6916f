/**
 * Trimming of watched objects before the informer caches them. client-node's ListWatch keeps every object whole, and a
 * speaker on every node watches every Node and every EndpointSlice of the cluster: on a real cluster a Node carries
 * its container image list (`status.images`, often tens of KB) and every object its `managedFields`, none of which a
 * speaker reads. trimObject keeps what the speaker's decisions read (the shapes in src/model: NodeObject,
 * EndpointSliceObject, ServiceObject plus the uid for Events) and drops the rest, so the cache holds one small plain
 * copy per object. Kinds not listed lose only `managedFields` and kubectl's last-applied annotation.
 */

/** TrimKind names the trimming applied to one watched resource. */
export type TrimKind = 'node' | 'endpointslice' | 'generic';

/** LAST_APPLIED is kubectl's copy of the whole object as last applied, in an annotation. */
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

/** trimMetadata drops managedFields and the last-applied annotation; the rest of metadata stays (names, uid,
 * resourceVersion — the informer's bookkeeping —, labels, annotations). */
function trimMetadata(meta: unknown): unknown {
  if (!isObject(meta)) return meta;
  const { managedFields: _drop, ...rest } = meta;
  const annotations = rest['annotations'];
  if (isObject(annotations) && LAST_APPLIED in annotations) {
    const { [LAST_APPLIED]: _last, ...kept } = annotations;
    rest['annotations'] = kept;
  }
  return rest;
}

/** trimNode keeps spec (unschedulable, taints) and the conditions and addresses of status (nodeView). */
function trimNode(obj: Json): Json {
  const status = isObject(obj['status']) ? obj['status'] : undefined;
  const conditions = Array.isArray(status?.['conditions'])
    ? (status['conditions'] as unknown[]).map((c) => (isObject(c) ? { type: c['type'], status: c['status'] } : c))
    : undefined;
  return {
    ...(obj['apiVersion'] === undefined ? {} : { apiVersion: obj['apiVersion'] }),
    ...(obj['kind'] === undefined ? {} : { kind: obj['kind'] }),
    metadata: trimMetadata(obj['metadata']),
    ...(obj['spec'] === undefined ? {} : { spec: obj['spec'] }),
    ...(status === undefined
      ? {}
      : {
          status: {
            ...(conditions === undefined ? {} : { conditions }),
            ...(status['addresses'] === undefined ? {} : { addresses: status['addresses'] }),
          },
        }),
  };
}

/** trimEndpointSlice keeps, per endpoint, its node and ready condition (readyEndpointNodes). */
function trimEndpointSlice(obj: Json): Json {
  const endpoints = Array.isArray(obj['endpoints'])
    ? (obj['endpoints'] as unknown[]).map((e) => {
        if (!isObject(e)) return e;
        const ready = isObject(e['conditions']) ? e['conditions']['ready'] : undefined;
        return {
          ...(e['nodeName'] === undefined ? {} : { nodeName: e['nodeName'] }),
          ...(ready === undefined ? {} : { conditions: { ready } }),
        };
      })
    : undefined;
  return {
    ...(obj['apiVersion'] === undefined ? {} : { apiVersion: obj['apiVersion'] }),
    ...(obj['kind'] === undefined ? {} : { kind: obj['kind'] }),
    metadata: trimMetadata(obj['metadata']),
    ...(obj['addressType'] === undefined ? {} : { addressType: obj['addressType'] }),
    ...(endpoints === undefined ? {} : { endpoints }),
  };
}

/**
 * trimObject returns the trimmed plain copy of an API object of `kind`. Anything that is not an object with metadata
 * (a watch ERROR's Status, for one) is returned as it is, so the informer still sees what it needs.
 */
export function trimObject(kind: TrimKind, obj: unknown): unknown {
  if (!isObject(obj) || !isObject(obj['metadata'])) return obj;
  switch (kind) {
    case 'node':
      return trimNode(obj);
    case 'endpointslice':
      return trimEndpointSlice(obj);
    case 'generic':
      return { ...obj, metadata: trimMetadata(obj['metadata']) };
  }
}
