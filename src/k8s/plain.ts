/**
 * client-node hands objects over in two shapes: lists are deserialised into model classes (timestamps as Date), watch
 * events are parsed JSON (timestamps as text). toPlain turns either into plain JSON, the one shape src/controller
 * reads, so a Service looks the same whether it came from the first list, a watch event or a re-list.
 */

/** toPlain returns plain JSON for a client object; an object that already is plain JSON is returned as it is. */
export function toPlain<T>(obj: unknown): T {
  if (obj === null || typeof obj !== 'object') return obj as T;
  if (Object.getPrototypeOf(obj) === Object.prototype && !hasDate(obj as Record<string, unknown>)) return obj as T;
  return JSON.parse(JSON.stringify(obj)) as T;
}

/** hasDate looks one level into metadata, where the client puts Date objects on plain-looking JSON. */
function hasDate(o: Record<string, unknown>): boolean {
  const meta = o['metadata'];
  if (meta === null || typeof meta !== 'object') return false;
  return Object.values(meta).some((v) => v instanceof Date);
}
