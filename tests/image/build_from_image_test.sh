#!/usr/bin/env bash
# Black-box: a Jailfile `from image REF` through ljd (ljctl build) and through ljbuild on a root
# of its own (the image loaded with ljimage). Shows: the build stands on the image's layers (no
# world installed at all), a jail runs on the overlay (image below, overlay above), the same
# digest is a cache hit, the tag moved to another image is not (a pinned version refuses, a
# bumped one builds on the new image), `from image NAME@sha256:...` pins, a child overlay stacks
# on the same image, the name removed and pruned: the overlay keeps its image.
# As root with podman; exits 77 (skipped) otherwise.
#
# usage: build_from_image_test.sh SOURCE_DIR BUILD_DIR
set -uo pipefail
src=$1 build=$2
ljd=$build/daemon/ljd
ljctl=$build/client/ljctl
ljbuild=$build/client/ljbuild
ljimage=$build/client/ljimage
[ "$(id -u)" -eq 0 ] || { echo "skip: needs root (jails, podman)"; exit 77; }
for t in podman python3 curl; do
  command -v $t >/dev/null || { echo "skip: $t not installed"; exit 77; }
done

. "$(dirname "$0")/common.sh" build-image  # $tmp, cleanup, check, start_ljd, $podman

# --- two images, made offline: a busybox tree with a marker, twice ---
for m in one two; do
  mkdir -p "$tmp/tree-$m/bin" "$tmp/tree-$m/etc"
  cp /bin/busybox "$tmp/tree-$m/bin/" && ln -s busybox "$tmp/tree-$m/bin/sh"
  echo "$m" > "$tmp/tree-$m/etc/marker"
  tar -C "$tmp/tree-$m" -cf "$tmp/$m.tar" bin etc
  $podman import "$tmp/$m.tar" localhost/base:$m >/dev/null 2>&1 || { echo "podman import failed"; exit 1; }
  $podman save -q --format oci-archive -o "$tmp/$m-oci.tar" localhost/base:$m || exit 1
done

# --- ljd on a private root with no world ---
start_ljd
lj() { "$ljctl" --socket "$sock" "$@"; }
api() { curl -s --unix-socket "$sock" "$@"; }

lj load "$tmp/one-oci.tar" >/dev/null 2>&1 || { echo "load failed"; exit 1; }
lj load "$tmp/two-oci.tar" >/dev/null 2>&1 || { echo "load failed"; exit 1; }
lj tag localhost/base:one localhost/base:cur >/dev/null
one=$(lj --json image inspect localhost/base:one | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
two=$(lj --json image inspect localhost/base:two | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')

mkdir -p "$tmp/app" "$tmp/app2" "$tmp/pinned" "$tmp/child"
cat > "$tmp/app/Jailfile" <<EOF
name img/app
version 1.0.0
from image localhost/base:cur
#!/bin/sh
set -e
echo "built on \$(cat /etc/marker)"
echo app > /etc/app
EOF
out=$(lj build "$tmp/app" 2>&1)
check "ljctl build from image: the script sees the image" grep -q "built on one" <<<"$out"
m=$root/img/app/1.0.0/manifest.json
check "the overlay records the image by digest, no world" \
  python3 -c "import json,sys; m=json.load(open('$m')); sys.exit(not (m['image']['digest']=='$one' and m['world']==''))"
out=$(lj run img/app@1.0.0 -- /bin/sh -c 'cat /etc/marker /etc/app' 2>&1)
check "a jail on the overlay: image below, overlay above" test "$out" = "$(printf 'one\napp')"

out=$(lj build "$tmp/app" 2>&1)
check "the same digest: a cache hit" grep -qi "cached" <<<"$out"

lj tag localhost/base:two localhost/base:cur >/dev/null
out=$(lj build "$tmp/app" 2>&1); rc=$?
check "the tag moved to another image: not the cached build (1.0.0 is immutable)" \
  bash -c "[ $rc -ne 0 ] && grep -q 'different Jailfile, context, world, image' <<<'$out'"
sed 's/^version 1.0.0/version 1.0.1/' "$tmp/app/Jailfile" > "$tmp/app2/Jailfile"
out=$(lj build "$tmp/app2" 2>&1)
check "bumped, it builds on the new image" grep -q "built on two" <<<"$out"

printf 'name img/pinned\nversion 1.0.0\nfrom image localhost/base@%s\n#!/bin/sh\ncat /etc/marker\n' "$one" > "$tmp/pinned/Jailfile"
out=$(lj build "$tmp/pinned" 2>&1)
check "from image NAME@sha256: pinned whatever the tag says" grep -q "\] one$" <<<"$out"

printf 'name img/child\nversion 1.0.0\nfrom img/app =1.0.0\n#!/bin/sh\ncat /etc/app /etc/marker > /etc/child\n' > "$tmp/child/Jailfile"
lj build "$tmp/child" >/dev/null 2>&1
out=$(lj run img/child@1.0.0 -- /bin/sh -c 'cat /etc/child' 2>&1)
check "a child of the overlay stacks on the same image" test "$out" = "$(printf 'app\none')"

# Every name of image one removed, then prune: the overlays keep their image.
lj image rm localhost/base:one >/dev/null
lj image prune >/dev/null 2>&1
check "after prune, image one's manifest stays (overlays stand on it)" test -f "$root/images/blobs/sha256/${one#sha256:}"
out=$(lj run img/app@1.0.0 -- /bin/sh -c 'cat /etc/marker' 2>&1)
check "and the overlay still runs on it" test "$out" = "one"

out=$(printf 'name x/y\nfrom image localhost/nope:1\n#!/bin/sh\n' > "$tmp/nope.jf"; mkdir -p "$tmp/nope"; mv "$tmp/nope.jf" "$tmp/nope/Jailfile"; lj build "$tmp/nope" 2>&1); rc=$?
check "an image not in the store: the build fails, saying pull or load it first" \
  bash -c "[ $rc -ne 0 ] && grep -q 'pull or load it first' <<<'$out'"

stop_ljd

# --- ljbuild, daemon-less, on a root of its own ---
export LIGHTJAIL_ROOT=$tmp/root2
mkdir -p "$LIGHTJAIL_ROOT"
"$ljimage" load "$tmp/two-oci.tar" >/dev/null 2>&1 || { echo "ljimage load failed"; exit 1; }
mkdir -p "$tmp/lb"
printf 'name lb/app\nversion 1.0.0\nfrom image localhost/base:two\n#!/bin/sh\necho "ljbuild on $(cat /etc/marker)"\n' > "$tmp/lb/Jailfile"
out=$("$ljbuild" "$tmp/lb" 2>&1)
check "ljbuild from image" grep -q "ljbuild on two" <<<"$out"
out=$("$ljbuild" "$tmp/lb" 2>&1)
check "ljbuild again: cached" grep -q "cached" <<<"$out"
exit $failed
