# metal-vrrp image: one image, two commands (`controller`, `speaker`; see manifests/).
# Build: docker build -t metal-vrrp .
#
# build: compiler toolchain, every dependency, tsc to dist/ and the AF_PACKET addon (binding.gyp, built by npm ci).
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
RUN npm run build
# Production dependencies only; this npm ci rebuilds the addon into build/Release too.
RUN npm ci --omit=dev --no-audit --no-fund

# runtime: node, production node_modules, dist/ and the addon; no compiler, no dev dependencies. iproute2 for `ip`:
# the speaker's interface watch runs `ip -o monitor link` (src/net/link-watch.ts; without it carrier checks count as
# up). Installed before any COPY, so the layer is cached.
FROM node:20-bookworm-slim
ENV NODE_ENV=production
RUN apt-get update \
 && apt-get install -y --no-install-recommends iproute2 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# Files stay owned by root and read-only for the process, whichever uid runs it.
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules/ node_modules/
COPY --from=build /src/dist/ dist/
COPY --from=build /src/build/Release/*.node build/Release/
# Non-root by default (the controller runs so). The speaker's DaemonSet sets runAsUser 0 with only NET_RAW and
# NET_ADMIN: raw sockets need capabilities that a non-root process cannot keep (see manifests/speaker/daemonset.yaml).
USER 65532:65532
EXPOSE 7472
# Node flags for memory (bench:speaker-load runs dist/ with these, read from this line): a 1 MiB semi-space (the
# default grows the young generation to 16 MiB per semi-space; the speaker's live heap is ~10 MiB) and GC on the main
# thread (no helper threads). bench:speaker-load, 510 routers: RSS 112 -> 82 MB (master), 107 -> 81 MB (backup), for
# about 1 % of a core more on the master (more frequent scavenges).
ENTRYPOINT ["node", "--max-semi-space-size=1", "--single-threaded-gc", "dist/src/cli.js"]
