#!/usr/bin/env bash
# Black-box: an overlay chain exported as an OCI image through ljd (`ljctl image export`), one
# layer per overlay with the world below (or left out: --no-base), saved as an OCI archive
# (`ljctl save`) and pushed to docker-registry on 127.0.0.1; podman (runc, this machine's flags)
# loads the archive and pulls the pushed image and runs both: the overlay's files, a file it
# deleted from the world gone (whiteout), a directory it emptied and refilled opaque. skopeo
# reads the saved archive and the pushed manifest back; umoci unpacks the saved archive to the
# same tree. ljd runs the exported image at once (no pull back), builds on it, and a fresh ljd
# (a new root, no world) loads the saved archive and runs it.
# As root with podman, skopeo, umoci and docker-registry; exits 77 (skipped) otherwise.
#
# usage: export_test.sh SOURCE_DIR BUILD_DIR
set -uo pipefail
src=$1 build=$2
ljd=$build/daemon/ljd
ljctl=$build/client/ljctl
[ "$(id -u)" -eq 0 ] || { echo "skip: needs root (jails, podman)"; exit 77; }
for t in podman skopeo umoci docker-registry runc python3 curl; do
  command -v $t >/dev/null || { echo "skip: $t not installed"; exit 77; }
done

. "$(dirname "$0")/common.sh" export  # $tmp, cleanup, check, free_port, start_registry, start_ljd, $podman, prun

# --- a busybox world, put in place by hand (the seeds' way) ---
w=$root/worlds/bb
mkdir -p "$w/bin" "$w/etc/keep" "$w/opt/old" "$w/tmp" "$w/proc" "$w/dev"
cp /bin/busybox "$w/bin/" && for a in sh cat ls echo rm mkdir; do ln -s busybox "$w/bin/$a"; done
echo world > "$w/etc/doomed"
echo world > "$w/etc/keep/file"
echo old > "$w/opt/old/a"

start_ljd
lj() { "$ljctl" --socket "$sock" "$@"; }

mkdir -p "$tmp/base" "$tmp/app"
printf 'name ex/base\nversion 1.0.0\nworld bb\n#!/bin/sh\nset -e\necho base > /etc/base\nrm /etc/doomed\n' > "$tmp/base/Jailfile"
printf 'name ex/app\nversion 1.0.0\nfrom ex/base ~> 1.0\n#!/bin/sh\nset -e\nrm -r /opt/old\nmkdir -p /opt/old\necho new > /opt/old/b\necho app > /etc/app\nln /etc/app /etc/app-link\n' > "$tmp/app/Jailfile"
lj build "$tmp/base" >/dev/null 2>&1 && lj build "$tmp/app" >/dev/null 2>&1 || { echo "builds failed"; cat "$tmp/ljd.log"; exit 1; }

out=$(lj image export ex/app@1.0.0 localhost/ex/app:1 2>&1)
check "ljctl image export: named in the store" grep -q "^localhost/ex/app:1 sha256:" <<<"$out"
nlayers() { lj --json image inspect "$1" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)[0]["layers"]))'; }
check "world + one layer per overlay: 3 layers" test "$(nlayers localhost/ex/app:1)" = 3
lj image export --no-base ex/app localhost/ex/app:nobase >/dev/null 2>&1
check "--no-base: the overlays only, 2 layers" test "$(nlayers localhost/ex/app:nobase)" = 2
id1=$(lj image inspect localhost/ex/app:1 | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
script='cat /etc/base /etc/app /etc/app-link /etc/keep/file; ls /opt/old; test ! -e /etc/doomed && echo doomed-gone'
want=$(printf 'base\napp\napp\nworld\nb\ndoomed-gone')
out=$(lj run localhost/ex/app:1 /bin/sh -c "$script" 2>&1)
check "ljd runs the exported image as it is, no pull back: files, whiteout, opaque dir, hard link" \
  test "$out" = "$want"
# No second copy: the store's layers hold hard links to the world's and the overlays' files.
ovl=$root/ex/app/1.0.0/layer
shares() { [ -n "$(find "$root/images/layers" -samefile "$1" 2>/dev/null | head -1)" ]; }
check "the exported world layer shares the world's files (the same inode)" shares "$w/bin/busybox"
check "the exported overlay layer shares the overlay's files" shares "$ovl/etc/app"
trees=$(du -sk "$w" "$root/ex" | awk '{s += $1} END {print s}')
all=$(du -sk "$w" "$root/ex" "$root/images/layers" | awk '{s += $1} END {print s}')
check "du: the store's layers add $((all - trees)) KiB to the trees' $trees KiB (directories, not files)" \
  test $((all - trees)) -lt $((trees / 4))
lj image export ex/app@1.0.0 localhost/ex/app:again >/dev/null 2>&1
id2=$(lj image inspect localhost/ex/app:again | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
check "the same chain exports to the same digest" test "$id1" = "$id2"

# save -> podman load -> podman run
out=$(lj save localhost/ex/app:1 -o "$tmp/app-oci.tar" 2>&1)
check "ljctl save writes an OCI archive" test -s "$tmp/app-oci.tar"
check "save refuses to replace a file" bash -c "! '$ljctl' --socket '$sock' save localhost/ex/app:1 -o '$tmp/app-oci.tar' 2>/dev/null"
check "no partial file left" bash -c "! ls $tmp/*.lj-partial 2>/dev/null | grep -q ."
$podman load -q -i "$tmp/app-oci.tar" > "$tmp/podman-load.out" 2>&1
check "podman loads it" grep -q "Loaded image" "$tmp/podman-load.out"
loaded=$(sed -n 's/^Loaded image.*: //p' "$tmp/podman-load.out" | head -1)
out=$(prun "$loaded" /bin/sh -c "$script" 2>&1)
check "podman runs the saved image: files, whiteout, opaque dir, hard link" test "$out" = "$want"
[ "$out" = "$want" ] || echo "$out" | head -5

# skopeo reads the archive: the same manifest, and copies it out whole
sk=$(skopeo inspect --format '{{.Digest}}' "oci-archive:$tmp/app-oci.tar" 2>&1)
check "skopeo inspects the saved archive: the exported manifest" test "$sk" = "$id1"
check "skopeo copies it to a directory, every blob verified" \
  skopeo copy -q "oci-archive:$tmp/app-oci.tar" "dir:$tmp/skopeo-dir"

# umoci unpacks the same archive to the same tree as the jail sees
mkdir -p "$tmp/umoci"
tar -C "$tmp/umoci" -xf "$tmp/app-oci.tar"
ref=$(python3 -c "import json; print(json.load(open('$tmp/umoci/index.json'))['manifests'][0]['annotations']['org.opencontainers.image.ref.name'])")
umoci unpack --image "$tmp/umoci:$ref" "$tmp/bundle" >/dev/null 2>&1
check "umoci unpacks it: overlay files, the whiteout applied, opaque dir" \
  bash -c "[ \"\$(cat $tmp/bundle/rootfs/etc/app)\" = app ] && [ ! -e $tmp/bundle/rootfs/etc/doomed ] && [ \"\$(ls $tmp/bundle/rootfs/opt/old)\" = b ]"

# push -> registry -> skopeo + podman pull/run
port=$(free_port)
start_registry "$port" ""
reg=127.0.0.1:$port
lj push localhost/ex/app:1 "$reg/ex/app:1" >/dev/null 2>&1
pushed=$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$reg/ex/app:1" 2>/dev/null)
check "pushed: skopeo reads back the same manifest" test "$pushed" = "$id1"
$podman rmi -a -f >/dev/null 2>&1
out=$(prun --tls-verify=false "$reg/ex/app:1" /bin/sh -c "$script" 2>&1 | tail -6)
check "podman pulls the pushed image and runs it" test "$out" = "$want"

# ljd's own image export of an overlay built `from image` reuses the image's layers.
printf 'name ex/onimg\nversion 1.0.0\nfrom image localhost/ex/app:1\n#!/bin/sh\necho onimg > /etc/onimg\n' > "$tmp/onimg.jf"
mkdir -p "$tmp/onimg" && mv "$tmp/onimg.jf" "$tmp/onimg/Jailfile"
out=$(lj build "$tmp/onimg" 2>&1)
check "a Jailfile builds on the exported image as it is (no pull back)" grep -q published <<<"$out"
lj image export ex/onimg localhost/ex/onimg:1 >/dev/null 2>&1
check "an overlay on an image exports as the image's layers + its own" test "$(nlayers localhost/ex/onimg:1)" = 4
lj save localhost/ex/onimg:1 -o "$tmp/onimg-oci.tar" >/dev/null 2>&1
loaded=$($podman load -q -i "$tmp/onimg-oci.tar" 2>&1 | sed -n 's/^Loaded image.*: //p' | head -1)
out=$(prun "$loaded" /bin/cat /etc/onimg /etc/app 2>&1)
check "podman runs it" test "$out" = "$(printf 'onimg\napp')"

# Removal as before: refused while a jail runs on an image's last name, then allowed; with
# every name removed and pruned, the world and the overlays keep their files and still run.
check "rm of a name with another left (the same manifest): allowed" lj image rm localhost/ex/app:again
id=$(lj run -d localhost/ex/app:1 /bin/busybox sleep 60 2>&1)
code=$(curl -s --unix-socket "$sock" -o /dev/null -w '%{http_code}' -X DELETE "http://ljd/v1/images/localhost/ex/app:1")
check "rm of the last name of a running exported image: 409" test "$code" = 409
lj kill "$id" >/dev/null 2>&1; lj rm -f "$id" >/dev/null 2>&1
check "rm of it once the jail is gone: allowed" lj image rm localhost/ex/app:1
for r in localhost/ex/app:nobase localhost/ex/onimg:1; do lj image rm "$r" >/dev/null 2>&1; done
lj image prune >/dev/null 2>&1
check "after rm and prune: the overlay's and the world's files are intact" \
  bash -c "[ \"\$(cat $ovl/etc/app)\" = app ] && cmp -s /bin/busybox $w/bin/busybox"
out=$(lj run ex/app /bin/cat /etc/app 2>&1)
check "after rm and prune: the overlay still runs" test "$out" = app

# A fresh ljd (a new root: no world, no overlay, no image) loads the saved archive and runs it.
stop_ljd
root=$tmp/root-fresh sock=$tmp/ljd-fresh.sock
start_ljd
out=$(lj load "$tmp/app-oci.tar" 2>&1)
check "fresh ljd: ljctl load of the saved archive, under its name and digest" \
  grep -q "^localhost/ex/app:1 $id1" <<<"$out"
out=$(lj run localhost/ex/app:1 /bin/sh -c "$script" 2>&1)
check "fresh ljd: ljctl run of it: the same tree" test "$out" = "$want"
[ "$out" = "$want" ] || echo "$out" | head -5
if [ $failed -ne 0 ]; then echo "--- ljd's log:"; tail -40 "$tmp/ljd.log"; fi
exit $failed
