#!/usr/bin/env bash
# build-kube.sh — build the real Kubernetes pieces the tests and the lab run (lab/kube/go.mod): kube-lab-apiserver
# (etcd + kube-apiserver in one process, lab/kube/main.go), kubectl and kube-proxy, into .cache/bin/.
# Cached: does nothing when every binary is newer than lab/kube/{go.mod,go.sum,main.go}. The first build downloads
# the Kubernetes and etcd modules and compiles a few thousand packages: it prints what it does and the time taken.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$PWD/.cache/bin"
src=(lab/kube/go.mod lab/kube/go.sum lab/kube/main.go)
names=(kube-lab-apiserver kubectl kube-proxy)

fresh=1
for name in "${names[@]}"; do
  for f in "${src[@]}"; do
    [ -x "$bin/$name" ] && [ "$bin/$name" -nt "$f" ] || fresh=0
  done
done
if ((fresh)); then
  exit 0
fi
command -v go >/dev/null || { echo "build-kube: go is not installed (Go 1.26 or newer is needed)" >&2; exit 1; }

start=$SECONDS
say() { printf 'build-kube: [%3ds] %s\n' "$((SECONDS - start))" "$*" >&2; }
mkdir -p "$bin"
cd lab/kube
say "downloading Go modules (k8s.io/kubernetes, etcd; first time only)"
go mod download
flags=(-trimpath -ldflags=-s\ -w)
# pkg -> binary name
declare -A pkgs=([.]=kube-lab-apiserver [k8s.io/kubernetes/cmd/kubectl]=kubectl [k8s.io/kubernetes/cmd/kube-proxy]=kube-proxy)
for pkg in . k8s.io/kubernetes/cmd/kubectl k8s.io/kubernetes/cmd/kube-proxy; do
  name=${pkgs[$pkg]}
  say "compiling $name (the first one compiles most of Kubernetes; a few minutes on 2 cores)"
  # A ticker line every 30 s so a long compile is visibly alive.
  (while sleep 30; do say "  still compiling $name"; done) &
  ticker=$!
  if ! go build "${flags[@]}" -o "$bin/$name.tmp" "$pkg"; then
    kill "$ticker"
    exit 1
  fi
  kill "$ticker"
  mv "$bin/$name.tmp" "$bin/$name"
  say "built .cache/bin/$name ($(du -h "$bin/$name" | cut -f1))"
done
say "done"
