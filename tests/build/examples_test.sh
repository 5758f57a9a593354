#!/usr/bin/env bash
# Black-box: ljbuild builds the examples' three-layer chain on a busybox world in a throwaway
# root, answers the second build from the cache, and fails (exit 1, nothing published) on a
# failing script. Needs root; exits 77 (skipped) otherwise.
set -euo pipefail
ljbuild=$1
src=$2
if [ "$(id -u)" -ne 0 ]; then echo "needs root: builds use namespaces and overlayfs"; exit 77; fi

tmp=$(mktemp -d /tmp/lj-examples-test.XXXXXX)
cleanup() {
  if awk '{print $5}' /proc/self/mountinfo | grep -q "^$tmp"; then
    echo "mounts left under $tmp" >&2; exit 1
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
export LIGHTJAIL_ROOT=$tmp/root
cp -r "$src/examples" "$tmp/examples"
sh "$tmp/examples/make-busybox-world.sh" >/dev/null

"$ljbuild" "$tmp/examples/base" --world busybox | tee "$tmp/base.out"
tail -n1 "$tmp/base.out" | grep -q '^base/common@1.0.0 (built'

"$ljbuild" "$tmp/examples/runtime" --world busybox | tee "$tmp/runtime.out"
grep -qx 'lang/greet 1.2.0 installed on base/common 1.0.0' "$tmp/runtime.out"
tail -n1 "$tmp/runtime.out" | grep -q '^lang/greet@1.2.0 (built'

"$ljbuild" "$tmp/examples/app" --world busybox | tee "$tmp/app.out"
grep -qx 'hello, build-time (greet 1.2.0)' "$tmp/app.out"
tail -n1 "$tmp/app.out" | grep -q '^app/hello@0.1.0 (built'
grep -q '"version": "1.2.0"' "$LIGHTJAIL_ROOT/app/hello/0.1.0/manifest.json"
test -c "$LIGHTJAIL_ROOT/app/hello/0.1.0/layer/etc/motd"      # the whiteout of /etc/motd
test -x "$LIGHTJAIL_ROOT/app/hello/0.1.0/layer/app/hello.sh"

# Again: a cache hit, nothing runs.
"$ljbuild" "$tmp/examples/app" --world busybox > "$tmp/again.out"
grep -q '^app/hello@0.1.0 (cached' "$tmp/again.out"
test "$(wc -l < "$tmp/again.out")" -eq 1

# A failing build: exit 1, the reason on stderr, nothing published, no staging left.
mkdir "$tmp/bad"
printf 'name app/bad\nversion 1.0.0\n#!/bin/sh\necho oops\nexit 7\n' > "$tmp/bad/Jailfile"
if "$ljbuild" "$tmp/bad" --world busybox > "$tmp/bad.out" 2> "$tmp/bad.err"; then
  echo "a failing build exited 0" >&2; exit 1
fi
grep -qx oops "$tmp/bad.out"
grep -q 'exited with status 7' "$tmp/bad.err"
test ! -e "$LIGHTJAIL_ROOT/app/bad"
! ls "$LIGHTJAIL_ROOT/.staging" | grep -q '^build'

# A syntax error: file:line:column.
printf 'name app/bad\nvresion 1\n#!/bin/sh\n' > "$tmp/bad/Jailfile"
if "$ljbuild" "$tmp/bad" --world busybox 2> "$tmp/syntax.err"; then exit 1; fi
grep -q "$tmp/bad/Jailfile:2:1: unknown directive 'vresion'" "$tmp/syntax.err"
echo "examples: ok"
