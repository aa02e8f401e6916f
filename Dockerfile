# metal-vrrp image: one image, two commands (`controller`, `speaker`; see manifests/).
# Build: docker build -t metal-vrrp .
#
# build: compiler toolchain, every dependency, the AF_PACKET addon (binding.gyp, built by npm ci), then `npm run
# build`: tsc (type check, dist/) and the esbuild bundle the image runs (scripts/bundle.mjs: dist/bundle/, every npm
# dependency inside, minified; @kubernetes/client-node in a chunk of its own that only Kubernetes mode loads).
FROM node:20-bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Dependencies and the addon first, so that a source change does not redo them.
COPY package.json package-lock.json binding.gyp ./
COPY native/ native/
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY vrrp/ vrrp/
COPY src/ src/
COPY types/ types/
COPY scripts/bundle.mjs scripts/
RUN npm run build

# runtime: node, the bundle and the addon; no node_modules (the bundle holds what it uses), no compiler. iproute2 for
# `ip`: the speaker's interface watch runs `ip -o monitor link` (src/net/link-watch.ts; without it carrier checks count
# as up). Installed before any COPY, so the layer is cached.
FROM node:20-bookworm-slim
ENV NODE_ENV=production
RUN apt-get update \
 && apt-get install -y --no-install-recommends iproute2 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# Files stay owned by root and read-only for the process, whichever uid runs it.
COPY --from=build /src/dist/bundle/ dist/bundle/
COPY --from=build /src/build/Release/*.node build/Release/
# Non-root by default (the controller runs so). The speaker's DaemonSet sets runAsUser 0 with only NET_RAW and
# NET_ADMIN: raw sockets need capabilities that a non-root process cannot keep (see manifests/speaker/daemonset.yaml).
USER 65532:65532
EXPOSE 7472
# Node flags for memory (bench:speaker-load runs the bundle with these and this file's ENV, read from here; its kube
# mode too, as the DaemonSet sets no command). Measured with 255 IPv4 + 255 IPv6 routers at 100 ms, master of all:
# - a 1 MiB semi-space (the default grows the young generation to 16 MiB per semi-space; the live heap is ~12 MiB);
# - --single-threaded-gc: no GC helper threads (their memory, and a real-time main thread never waits for a normal
#   one). Not --single-threaded (-4 MB more): it also moves optimizing compilation onto the main thread, and under API
#   churn the speaker's event loop then stalled 40-88 ms at a time in functions that take microseconds once compiled
#   (CPU profile of lab speakers, 28 CPU-bound stalls > 25 ms in 90 s; 2 with --single-threaded-gc, same churn), which
#   at 20 ms adverts is a false failover;
# - --optimize-for-size: V8's memory-saving heap growth (smaller old-generation steps before a full GC): old space
#   10 MB committed instead of 23 MB (the whole live heap is ~13 MB): -9 MB RSS.
# CPU stayed the same within the bench's noise (mean of three 30-40 s windows: 11.3 % of a core either way).
ENTRYPOINT ["node", "--max-semi-space-size=1", "--single-threaded-gc", "--optimize-for-size", "dist/bundle/cli.mjs"]
