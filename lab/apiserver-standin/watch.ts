// watch.ts — serves `?watch=true` as the real server does: HTTP 200, then newline-delimited JSON events
// `{"type":"ADDED|MODIFIED|DELETED|BOOKMARK|ERROR","object":{…}}` until the timeout, a drop, or the client leaves.
// A resourceVersion older than the kept history gets one ERROR event carrying a 410 Expired Status, then the
// stream ends; that is the signal client-node's ListWatch turns into a relist.

import type { ServerResponse } from 'node:http';
import type { ApiError } from './errors.ts';
import type { ResourceRoute } from './router.ts';
import { isApiError, type Store, type WatchEvent } from './store.ts';

/** WatchStreamOptions: how often bookmarks go out and the default server-side timeout. */
export interface WatchStreamOptions {
  /** bookmarkIntervalMs between BOOKMARK events, sent only when the client asked (`allowWatchBookmarks=true`). */
  readonly bookmarkIntervalMs: number;
  /** defaultTimeoutSeconds ends watches that did not pass `timeoutSeconds`; undefined: never. */
  readonly defaultTimeoutSeconds: number | undefined;
}

/** OpenWatch is a running stream the server can end (dropWatches, close). */
export interface OpenWatch {
  close(): void;
}

const HEADERS = {
  'Content-Type': 'application/json',
  'Cache-Control': 'no-cache, private',
  'Transfer-Encoding': 'chunked',
};

function line(type: string, object: unknown): string {
  return `${JSON.stringify({ type, object })}\n`;
}

/** serveWatch runs one watch stream; it returns once the stream is set up. Non-410 errors are thrown. */
export function serveWatch(
  res: ServerResponse,
  r: ResourceRoute,
  query: URLSearchParams,
  store: Store,
  open: Set<OpenWatch>,
  opts: WatchStreamOptions,
): void {
  const def = r.def;
  const bookmarks = query.get('allowWatchBookmarks') === 'true';
  const sendInitialEvents = query.get('sendInitialEvents') === 'true';
  const fieldSelector = [query.get('fieldSelector'), r.name ? `metadata.name=${r.name}` : null]
    .filter((s): s is string => !!s)
    .join(',');
  let closed = false;
  const write = (ev: WatchEvent): void => {
    if (!closed) res.write(line(ev.type, ev.object));
  };
  let handle: ReturnType<Store['watch']>;
  try {
    handle = store.watch(
      def,
      {
        namespace: r.namespace,
        labelSelector: query.get('labelSelector') ?? undefined,
        fieldSelector,
        resourceVersion: query.get('resourceVersion') ?? undefined,
        sendInitialEvents,
      },
      write,
    );
  } catch (err) {
    if (isApiError(err) && (err as ApiError).status.reason === 'Expired') {
      res.writeHead(200, HEADERS);
      res.end(line('ERROR', (err as ApiError).status));
      return;
    }
    throw err;
  }
  const bookmark = (initialEnd: boolean): void => {
    const metadata: Record<string, unknown> = { resourceVersion: store.resourceVersion };
    if (initialEnd) metadata['annotations'] = { 'k8s.io/initial-events-end': 'true' };
    if (!closed) res.write(line('BOOKMARK', { kind: def.kind, apiVersion: def.groupVersion, metadata }));
  };
  const timers: NodeJS.Timeout[] = [];
  const watch: OpenWatch = {
    close() {
      if (closed) return;
      closed = true;
      handle.stop();
      for (const t of timers) clearTimeout(t);
      open.delete(watch);
      res.end();
    },
  };
  res.writeHead(200, HEADERS);
  res.flushHeaders();
  for (const ev of handle.initial) write(ev);
  if (sendInitialEvents && bookmarks) bookmark(true);
  open.add(watch);
  const timeout = Number(query.get('timeoutSeconds') ?? opts.defaultTimeoutSeconds ?? 0);
  if (timeout > 0) timers.push(setTimeout(() => watch.close(), timeout * 1000));
  if (bookmarks && opts.bookmarkIntervalMs > 0) {
    const t = setInterval(() => bookmark(false), opts.bookmarkIntervalMs);
    timers.push(t);
  }
  // ServerResponse 'close' fires when the client goes away (IncomingMessage 'close' fires once the body is read).
  res.on('close', () => watch.close());
}
