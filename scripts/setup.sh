#!/usr/bin/env bash
# setup.sh — make this machine able to run the tests and the lab: Debian tools the network tests and the lab
# drive (installed with apt-get when we are root, otherwise named), then npm packages and the native addon, then the
# real kube-apiserver + etcd, kubectl and kube-proxy built from Kubernetes' Go modules (scripts/build-kube.sh).
# Idempotent: a second run does nothing when everything is there.
set -euo pipefail
cd "$(dirname "$0")/.."

# command -> Debian package that provides it
declare -A tools=(
  [ip]=iproute2 [arping]=iputils-arping [ping]=iputils-ping [tshark]=tshark [tcpdump]=tcpdump
  [keepalived]=keepalived [vtysh]=frr [curl]=curl [ndisc6]=ndisc6 [promtool]=prometheus [make]=make [g++]=g++ [python3]=python3
  [nft]=nftables [iptables]=iptables
)
missing=()
for cmd in "${!tools[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${tools[$cmd]}")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: missing Debian packages: ${missing[*]} (run as root: apt-get install ${missing[*]})" >&2
    exit 1
  fi
fi

# npm packages (and, through binding.gyp, the AF_PACKET addon) when absent or older than the lock file. A symlinked
# node_modules is shared with another checkout (a git worktree): `npm ci` would empty the shared one, so it is left.
if [ -L node_modules ]; then
  echo "setup: node_modules is a symlink (shared checkout): not reinstalling" >&2
elif [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
bash scripts/build-helm.sh # helm from its Go module into .cache/bin/ for the chart tests (cached)

# kube-lab-apiserver, kubectl, kube-proxy into .cache/bin/ (cached; the first build takes several minutes).
bash scripts/build-kube.sh
