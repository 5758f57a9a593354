#!/usr/bin/env bash
# Runs bench/profile_api against a real ljd on a temporary root (see profile_api.cpp).
# Usage: bench/profile_api.sh latency N | throughput N P | live K
set -euo pipefail
cd "$(dirname "$0")/.."
build=${LJ_BUILD_DIR:-build}
tmp=$(mktemp -d /tmp/lj-prof-XXXXXX)
pid=
trap '[ -n "$pid" ] && kill $pid && wait $pid; [ -n "${LJ_LOG_OUT:-}" ] && cp "$tmp/ljd.log" "$LJ_LOG_OUT"; rm -rf "$tmp"' EXIT
W=$tmp/root/worlds/bb
mkdir -p "$W"/{bin,dev,proc,sys,tmp,etc}
cp /bin/busybox "$W/bin/busybox"
for a in sh true sleep; do ln -s busybox "$W/bin/$a"; done
"$build/daemon/ljd" --foreground --root "$tmp/root" --socket "$tmp/ljd.sock" \
  --log-level "${LJ_LOG_LEVEL:-info}" 2>"$tmp/ljd.log" &
pid=$!
for _ in $(seq 100); do [ -S "$tmp/ljd.sock" ] && break; sleep 0.05; done
[ "$1" = live ] && set -- "$@" $pid
${LJ_WRAP:-} "$build/bench/profile_api" "$tmp/ljd.sock" bb "$W" "$@"
