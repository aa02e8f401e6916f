#!/usr/bin/env bash
# build-helm.sh — build the real `helm` CLI from its Go module (the version pinned in lab/helm/go.mod) into
# .cache/bin/helm, for the chart tests. Cached: nothing is rebuilt while the binary is newer than go.mod and go.sum.
# helm has its own module, apart from lab/kube, because it brings its own k8s.io release.
set -euo pipefail
cd "$(dirname "$0")/.."

out=.cache/bin/helm
if [ -x "$out" ] && [ "$out" -nt lab/helm/go.mod ] && [ "$out" -nt lab/helm/go.sum ]; then
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "build-helm: go is not installed; the chart tests will be skipped (install Go to build helm)" >&2
  exit 0
fi
version=$(cd lab/helm && go list -m -f '{{.Version}}' helm.sh/helm/v4)
echo "build-helm: building helm ${version} from its Go module into ${out} (a few minutes the first time)..." >&2
mkdir -p .cache/bin
start=$(date +%s)
# -X: the version helm's own release build stamps (without it `helm version` says only the minor version).
(cd lab/helm && go build -ldflags "-X helm.sh/helm/v4/internal/version.version=${version}" \
  -o "../../${out}.tmp" helm.sh/helm/v4/cmd/helm)
mv "${out}.tmp" "$out"
echo "build-helm: ${out} ready ($(("$(date +%s)" - start)) s): $("$out" version --short)" >&2
