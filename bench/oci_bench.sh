#!/usr/bin/env bash
# ljoci run against runc run and crun run, interleaved (one run of each per round, the order
# rotated each round) on one busybox bundle whose command is `true`: wall time of the whole
# `RUNTIME run --bundle B ID` (create, start, wait, delete). Prints each runtime's median, p90 and
# failures. Root only; a runtime that is missing or fails every run is reported as such.
#
# usage: bench/oci_bench.sh [ROUNDS] [LJOCI]     (default 50, build/client/ljoci)
set -uo pipefail
rounds=${1:-50}
here=$(cd "$(dirname "$0")/.." && pwd)
ljoci=$(readlink -f "${2:-$here/build/client/ljoci}")
[ "$(id -u)" = 0 ] || { echo "oci_bench: needs root" >&2; exit 2; }
busybox=$(command -v busybox) || { echo "oci_bench: needs busybox" >&2; exit 2; }
work=$(mktemp -d /tmp/oci-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
b=$work/bundle
mkdir -p $b/rootfs/bin $b/rootfs/proc $b/rootfs/dev $b/rootfs/sys $b/rootfs/tmp
cp "$busybox" $b/rootfs/bin/busybox
ln -s busybox $b/rootfs/bin/true
ln -s busybox $b/rootfs/bin/sh
(cd $b && "$ljoci" spec)
python3 - "$b/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["process"]["terminal"] = False
c["process"]["args"] = ["true"]
json.dump(c, open(sys.argv[1], "w"))
PY
declare -A bin=([ljoci]=$ljoci [runc]=$(command -v runc || true) [crun]=$(command -v crun || true))
names=(ljoci runc crun)
for r in $(seq 1 "$rounds"); do
  for k in 0 1 2; do
    n=${names[$(( (r + k) % 3 ))]}
    [ -n "${bin[$n]}" ] || continue
    s=$(date +%s%N)
    if "${bin[$n]}" --root "$work/state-$n" run --bundle "$b" "bench-$n-$r" >/dev/null 2>>"$work/$n.err"; then
      echo $(( ($(date +%s%N) - s) / 1000 )) >> "$work/$n.us"
    else
      echo fail >> "$work/$n.fail"
      "${bin[$n]}" --root "$work/state-$n" delete --force "bench-$n-$r" >/dev/null 2>&1
    fi
  done
done
printf '%-6s %8s %10s %10s %6s\n' runtime runs median_ms p90_ms fails
for n in "${names[@]}"; do
  ok=0; med=-; p90=-
  if [ -s "$work/$n.us" ]; then
    ok=$(wc -l < "$work/$n.us")
    med=$(sort -n "$work/$n.us" | awk -v n="$ok" 'NR==int((n+1)/2){printf "%.1f", $1/1000}')
    p90=$(sort -n "$work/$n.us" | awk -v n="$ok" 'NR==int(n*0.9+0.5){printf "%.1f", $1/1000}')
  fi
  fails=$( [ -f "$work/$n.fail" ] && wc -l < "$work/$n.fail" || echo 0)
  printf '%-6s %8s %10s %10s %6s\n' "$n" "$ok" "$med" "$p90" "$fails"
  [ -s "$work/$n.err" ] && echo "  $n's first error: $(head -1 "$work/$n.err")"
done
