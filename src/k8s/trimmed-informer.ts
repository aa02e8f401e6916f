/**
 * makeTrimmedInformer is client-node's makeInformer with every object trimmed (trim.ts) before the ListWatch caches
 * it: the list's items (model classes, turned into plain JSON first, as watch events are) and each watch event's
 * object. The informer's cache then holds the small plain copy, and WatchedCache's toPlain reuses it as it is instead
 * of keeping a second, whole copy.
 */
import {
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  ListWatch,
  Watch,
} from '@kubernetes/client-node';
import { toPlain } from './plain.ts';
import { type TrimKind, trimObject } from './trim.ts';
import type { ClientInformer } from './watched-cache.ts';

type Lister = () => Promise<KubernetesListObject<KubernetesObject>>;

/** trimmingWatch wraps a Watch so that the callback gets trimmed objects. */
function trimmingWatch(inner: Watch, kind: TrimKind): Watch {
  return {
    config: inner.config,
    watch: (path, params, callback, done) =>
      inner.watch(path, params, (phase, obj, raw) => callback(phase, trimObject(kind, obj), raw), done),
  } as Watch;
}

/** makeTrimmedInformer: see the file comment. Not started (start() lists, then watches). `watch` is for tests. */
export function makeTrimmedInformer(
  kc: KubeConfig,
  path: string,
  list: Lister,
  kind: TrimKind,
  watch: Watch = new Watch(kc),
): ClientInformer {
  const trimmedList = async () => {
    const l = await list();
    return { ...l, items: l.items.map((o) => trimObject(kind, toPlain(o)) as KubernetesObject) };
  };
  return new ListWatch(path, trimmingWatch(watch, kind), trimmedList, false);
}
