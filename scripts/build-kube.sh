#!/usr/bin/env bash
# build-kube.sh — build the real Kubernetes pieces the tests and the lab run (lab/kube/go.mod): kube-lab-apiserver
# (etcd + kube-apiserver in one process, lab/kube/main.go), kubectl and kube-proxy, into .cache/bin/.
# Cached: a binary is rebuilt only when older than lab/kube/{go.mod,go.sum} (or main.go, for kube-lab-apiserver); Go's
# own build cache makes a rebuild after a small change take about a minute. The first build downloads
# the Kubernetes and etcd modules and compiles a few thousand packages: it prints what it does and the time taken.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$PWD/.cache/bin"
# binary name -> package (in lab/kube's module) and the files it is built from
declare -A pkg=([kube-lab-apiserver]=. [kubectl]=k8s.io/kubernetes/cmd/kubectl [kube-proxy]=k8s.io/kubernetes/cmd/kube-proxy)
declare -A src=([kube-lab-apiserver]="go.mod go.sum main.go" [kubectl]="go.mod go.sum" [kube-proxy]="go.mod go.sum")

stale=()
for name in kube-lab-apiserver kubectl kube-proxy; do
  for f in ${src[$name]}; do
    if [ ! -x "$bin/$name" ] || [ "lab/kube/$f" -nt "$bin/$name" ]; then
      stale+=("$name")
      break
    fi
  done
done
((${#stale[@]})) || exit 0
command -v go >/dev/null || { echo "build-kube: go is not installed (Go 1.26 or newer is needed)" >&2; exit 1; }

start=$SECONDS
say() { printf 'build-kube: [%3ds] %s\n' "$((SECONDS - start))" "$*" >&2; }
mkdir -p "$bin"
cd lab/kube
say "downloading Go modules (k8s.io/kubernetes, etcd; first time only)"
go mod download
# Stamp the Kubernetes release (as its own build does) so `kubectl version` and /version name it.
kv=$(go list -m -f '{{.Version}}' k8s.io/kubernetes)
minor=${kv#v1.}
minor=${minor%%.*}
ldflags="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $p.gitVersion=$kv -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
done
flags=(-trimpath "-ldflags=$ldflags")
for name in "${stale[@]}"; do
  say "compiling $name (a first build compiles ~2,400 Go packages of Kubernetes: tens of minutes on 2 cores)"
  # A ticker line every 30 s so a long compile is visibly alive.
  (while sleep 30; do say "  still compiling $name"; done) &
  ticker=$!
  trap 'kill "$ticker" 2>/dev/null' EXIT
  go build "${flags[@]}" -o "$bin/$name.tmp" "${pkg[$name]}"
  kill "$ticker"
  trap - EXIT
  mv "$bin/$name.tmp" "$bin/$name"
  say "built .cache/bin/$name ($(du -h "$bin/$name" | cut -f1))"
done
say "done"
