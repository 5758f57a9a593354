#!/usr/bin/env bash
# Black-box: runs `bash scripts/demo` (the README's first command) and checks that it exits 0,
# shows what the README says it shows (the published overlays, the jail's output and status, the
# cache hit, the published port and a jail reached by name, an image pulled and run, a privilege
# refused with a 403 and overridden, ljoci's exit status, a clean stop), and leaves no mount, no
# directory, no network namespace and no ljd behind.
set -euo pipefail
src=$1
build=$2
if [ "$(id -u)" -ne 0 ]; then echo "needs root: the demo runs jails"; exit 77; fi

tmp=$(mktemp -d /tmp/lj-frontdoor-test.XXXXXX)
out=$tmp.out
mounts_under() { awk '{print $5}' /proc/self/mountinfo | grep "^$1" || true; }
cleanup() { rm -rf "$tmp" "$out"; }
trap cleanup EXIT

netns_before=$(ip netns list | awk '{print $1}' | grep '^lj-demo-' || true)
rc=0
(cd /tmp && env -u LIGHTJAIL_ROOT -u LJD_SOCKET TMPDIR="$tmp" LJ_BUILD_DIR="$build" \
  bash "$src/scripts/demo") >"$out" 2>&1 || rc=$?
cat "$out"
fail() { echo "FAIL: $*" >&2; exit 1; }
[ "$rc" -eq 0 ] || fail "scripts/demo exited $rc"

expect_line() { grep -qE -- "$1" "$out" || fail "no line matching /$1/ in the demo's output"; }
expect_line '^\[ *[0-9.]+s\] lang/greet 1\.2\.0 installed on base/common 1\.0\.0$'
expect_line 'base/common@1\.0\.0'
expect_line 'lang/greet@1\.2\.0'
expect_line 'app/hello@0\.1\.0'
expect_line '^hello, demo \(greet 1\.2\.0\)$'
expect_line '^hello, tick 3 \(greet 1\.2\.0\)$'
expect_line 'cached'
expect_line '^hello from web, served by busybox httpd$'   # the published port, then by name
[ "$(grep -c '^hello from web, served by busybox httpd$' "$out")" -eq 2 ] ||
  fail "the web jail's page was not fetched twice (published port, and by name from a jail)"
expect_line '^hello from an OCI image, pid [0-9]+$'
expect_line '^HTTP 403$'
expect_line '"item": "raw_sockets"'
expect_line '^1 packets transmitted, 1 packets received'
expect_line '^in ljoci, pid [0-9]+: busybox hostname ls ping sh$'
expect_line '^-> ljd stopped cleanly$'
expect_line '^demo done in '
# The attached jail's status (3) is ljctl's.
grep -A20 -- 'ljctl run --name hello' "$out" | grep -qx -- '-> exit status 3' ||
  fail "ljctl run did not exit with the jail's status 3"
grep -A3 -- 'ljoci --root .* run --bundle' "$out" | grep -qx -- '-> exit status 7' ||
  fail "ljoci run did not exit with the container's status 7"

left=$(mounts_under "$tmp")
[ -z "$left" ] || fail "mounts left behind: $left"
[ -z "$(ls -A "$tmp")" ] || fail "left in TMPDIR: $(ls -A "$tmp")"
netns_after=$(ip netns list | awk '{print $1}' | grep '^lj-demo-' || true)
[ "$netns_after" = "$netns_before" ] || fail "network namespaces left: $netns_after"
if pgrep -f "$tmp/lj-demo" >/dev/null; then fail "processes left: $(pgrep -af "$tmp/lj-demo")"; fi
echo "frontdoor: ok"
