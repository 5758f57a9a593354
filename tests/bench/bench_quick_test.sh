#!/usr/bin/env bash
# Black-box: runs `bench/all --quick --no-build` and checks that it exits 0, prints every row of
# issue 7's table with a figure for ljd, and leaves no mount, directory, cgroup or ljd behind.
set -euo pipefail
src=$1
build=$2
if [ "$(id -u)" -ne 0 ]; then echo "needs root: the benchmark runs ljd and jails"; exit 77; fi

tmp=$(mktemp -d /tmp/lj-bench-test.XXXXXX)
out=$tmp.out
trap 'rm -rf "$tmp" "$out"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

rc=0
start=$(date +%s)
(cd /tmp && TMPDIR="$tmp" LJ_BUILD_DIR="$build" "$src/bench/all" --quick --no-build) >"$out" 2>&1 || rc=$?
cat "$out"
[ "$rc" -eq 0 ] || fail "bench/all --quick exited $rc"
echo "bench/all --quick took $(($(date +%s) - start)) s"

row() { grep -qE -- "^$1 +[0-9]" "$out" || fail "no figure for ljd in a row matching /$1/"; }
row 'spawn-to-exit /bin/true, median \(ms\)'
row 'spawn-to-exit /bin/true, p99 \(ms\)'
row 'throughput, 2 clients \(jails/s\)'
row 'create live jail #1 \(ms\)'
row 'create live jail #100 \(ms\)'
row 'ljd RSS at 100 live jails \(MiB\)'
row 'list 100 live jails, median \(ms\)'
row 'build cache hit, median \(ms\)'
row 'world import, busybox \(ms\)'
row 'ljd idle RSS, fresh \(MiB\)'
row 'ljd idle CPU, fresh \(%\)'
grep -qE '^targets: [0-9]+ missed$' "$out" || fail "no verdict line"
# bwrap is a dependency of the test machine: its column must be filled.
if command -v bwrap >/dev/null; then
  grep -E '^spawn-to-exit /bin/true, median' "$out" | grep -qE '[0-9.]+x' || fail "no ratio to bwrap"
fi
# Progress of a world import and a build is a property of ljd, not of the load: it must be met.
grep -E '^world import' "$out" | grep -q MET || fail "the world import reported no progress"
grep -E '^build with 5 timed lines' "$out" | grep -q MET || fail "the build reported no progress"

left=$(awk '{print $5}' /proc/self/mountinfo | grep "^$tmp" || true)
[ -z "$left" ] || fail "mounts left behind: $left"
[ -z "$(ls -A "$tmp")" ] || fail "left in TMPDIR: $(ls -A "$tmp")"
cg=$(grep -oE 'cgroup lj-bench-[0-9]+' "$out" | cut -d' ' -f2)
[ -n "$cg" ] || fail "bench/all named no cgroup"
for c in memory pids cpu; do [ ! -e "/sys/fs/cgroup/$c/$cg" ] || fail "cgroup $c/$cg left behind"; done
if pgrep -f "$tmp/lj-bench" >/dev/null; then fail "processes left: $(pgrep -af "$tmp/lj-bench")"; fi
echo "bench quick: ok"
