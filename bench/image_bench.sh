#!/usr/bin/env bash
# Issue 16's image figures, every tool in the same run on this machine:
#  1. pull + unpack of a multi-layer image (busybox + a tree of ~N small files + a 64 MiB file:
#     3 gzip layers) from docker-registry on 127.0.0.1, interleaved rounds (the order rotated):
#       ljimage pull (lib/image, daemon-less) into a fresh root,
#       ljctl pull through ljd (a fresh ljd root each round),
#       skopeo copy docker:// -> oci: then umoci unpack,
#       podman pull into a fresh --root (overlay storage, its default).
#  2. a second image sharing the base: the blobs and bytes each pull fetched.
#  3. spawn-to-exit of /bin/true through ljd: from the image vs from a world of the same tree,
#     interleaved.
# Prints median and p90 per row. Root only.
#
# usage: bench/image_bench.sh [ROUNDS] [SPAWNS] [BUILD_DIR]    (default 7, 100, build)
# LJIMAGE_BASELINE=/path/to/an/older/ljimage adds it to the interleaved rounds of 1 (before and
# after a change, in the same run).
set -uo pipefail
rounds=${1:-7}
spawns=${2:-100}
here=$(cd "$(dirname "$0")/.." && pwd)
build=$(readlink -f "${3:-$here/build}")
ljimage=$build/client/ljimage ljctl=$build/client/ljctl ljd=$build/daemon/ljd
[ "$(id -u)" = 0 ] || { echo "image_bench: needs root" >&2; exit 2; }
for t in docker-registry skopeo umoci podman python3 curl; do
  command -v $t >/dev/null || { echo "image_bench: needs $t" >&2; exit 2; }
done
# common.sh makes $tmp (/tmp/lj-image-bench-test-*) and traps its cleanup (ljd, the registry,
# podman's storage, $tmp); it was sourced with the bench's own arguments, so its name was the
# round count and a second, empty temporary directory of the bench's was left behind.
. "$here/tests/image/common.sh" image-bench  # $tmp, pids, free_port, start_registry, wait_ljd
ms() { echo $(( ($(date +%s%N) - $1) / 1000 )); }  # microseconds; stats prints ms
stats() {  # stats NAME FILE: median p90 (ms)
  python3 - "$1" "$2" <<'PY'
import sys
v = sorted(float(x) / 1000 for x in open(sys.argv[2]) if x.strip())
if not v: print(f"  {sys.argv[1]:<44} no successful run"); sys.exit()
med = v[len(v)//2] if len(v) % 2 else (v[len(v)//2-1] + v[len(v)//2]) / 2
p90 = v[min(len(v)-1, int(round(0.9 * (len(v)-1))))]
print(f"  {sys.argv[1]:<44} median {med:8.1f} ms   p90 {p90:8.1f} ms   n={len(v)}")
PY
}

# --- the images, made offline ---
podman="podman --root $tmp/p/root --runroot $tmp/p/run --storage-driver vfs"
mkdir -p "$tmp/tree/bin" "$tmp/tree/etc" "$tmp/ctx"
cp /bin/busybox "$tmp/tree/bin/" && for a in sh true cat; do ln -s busybox "$tmp/tree/bin/$a"; done
tar -C "$tmp/tree" -cf "$tmp/bb.tar" bin etc
$podman import "$tmp/bb.tar" localhost/bb:1 >/dev/null 2>&1 || { echo "podman import failed"; exit 1; }
# A tree of many small files (/usr/share/doc: real sizes and names) and one big file.
cp -r /usr/share/doc "$tmp/ctx/lib"
head -c $((64 * 1024 * 1024)) /dev/urandom > "$tmp/ctx/big"
printf 'FROM localhost/bb:1\nCOPY lib /usr/lib/py\nCOPY big /big\n' > "$tmp/ctx/Multi"
echo second > "$tmp/ctx/second"
printf 'FROM localhost/bb:1\nCOPY second /second\n' > "$tmp/ctx/Second"
$podman build -q -f "$tmp/ctx/Multi" -t localhost/multi:1 "$tmp/ctx" >/dev/null 2>&1 || { echo "podman build of Multi failed"; exit 1; }
$podman build -q -f "$tmp/ctx/Second" -t localhost/second:1 "$tmp/ctx" >/dev/null 2>&1 || { echo "podman build failed"; exit 1; }
files=$(find "$tmp/ctx/lib" | wc -l)
port=$(free_port)
start_registry "$port" ""
reg=127.0.0.1:$port
for i in bb multi second; do
  $podman push -q --tls-verify=false localhost/$i:1 "docker://$reg/$i:1" >/dev/null 2>&1 || { echo "push $i failed"; exit 1; }
done
size=$(skopeo inspect --tls-verify=false "docker://$reg/multi:1" | python3 -c 'import json,sys; j=json.load(sys.stdin); print(len(j["Layers"]))')
echo "image: $reg/multi:1, $size layers, $files small files + 64 MiB; $rounds interleaved rounds; load $(cut -d' ' -f1-3 /proc/loadavg)"

sock=$tmp/ljd.sock
start_ljd_on() { "$ljd" --root "$1" --socket "$sock" --log-level warn 2>>"$tmp/ljd.log" & ljd_pid=$!; wait_ljd; }
stop_ljd() { [ -n "$ljd_pid" ] || return 0; kill -TERM "$ljd_pid"; wait "$ljd_pid" 2>/dev/null; ljd_pid=; }

run_tool() {  # run_tool NAME ROUND
  local r=$2 s
  case $1 in
    ljimage|baseline)
      local bin=$ljimage
      [ "$1" = baseline ] && bin=$LJIMAGE_BASELINE
      s=$(date +%s%N)
      LIGHTJAIL_ROOT=$tmp/lji-$r "$bin" pull "$reg/multi:1" >/dev/null 2>>"$tmp/$1.err" && ms $s >> "$tmp/$1.ms"
      rm -rf "$tmp/lji-$r" ;;
    ljd)
      start_ljd_on "$tmp/ljd-$r"
      s=$(date +%s%N)
      "$ljctl" --socket "$sock" pull -q "$reg/multi:1" >/dev/null 2>>"$tmp/ljd.err" && ms $s >> "$tmp/ljd.ms"
      stop_ljd; rm -rf "$tmp/ljd-$r" ;;
    skopeo)
      s=$(date +%s%N)
      skopeo copy -q --src-tls-verify=false "docker://$reg/multi:1" "oci:$tmp/sk-$r:multi" >/dev/null 2>>"$tmp/skopeo.err" \
        && umoci unpack --image "$tmp/sk-$r:multi" "$tmp/bundle-$r" >/dev/null 2>>"$tmp/skopeo.err" && ms $s >> "$tmp/skopeo.ms"
      rm -rf "$tmp/sk-$r" "$tmp/bundle-$r" ;;
    podman)
      s=$(date +%s%N)
      podman --root "$tmp/pr-$r" --runroot "$tmp/pr-$r.run" pull -q --tls-verify=false "$reg/multi:1" >/dev/null 2>>"$tmp/podman.err" \
        && ms $s >> "$tmp/podman.ms"
      podman --root "$tmp/pr-$r" --runroot "$tmp/pr-$r.run" rmi -a -f >/dev/null 2>&1; rm -rf "$tmp/pr-$r" "$tmp/pr-$r.run" ;;
  esac
}
tools=(ljimage ljd skopeo podman)
[ -n "${LJIMAGE_BASELINE:-}" ] && tools+=(baseline)
n=${#tools[@]}
for r in $(seq 1 "$rounds"); do
  for k in $(seq 0 $((n - 1))); do run_tool "${tools[$(( (r + k) % n ))]}" "$r"; done
done
echo; echo "1. pull + unpack of $reg/multi:1 (cold store each run)"
stats "ljimage pull (lib/image)" "$tmp/ljimage.ms"
stats "ljctl pull through ljd" "$tmp/ljd.ms"
stats "skopeo copy + umoci unpack" "$tmp/skopeo.ms"
stats "podman pull (overlay storage)" "$tmp/podman.ms"
[ -n "${LJIMAGE_BASELINE:-}" ] && stats "baseline: $LJIMAGE_BASELINE" "$tmp/baseline.ms"
# stderr holds progress too: shown only for a tool with a failed run.
for t in "${tools[@]}"; do
  ok=$(cat "$tmp/$t.ms" 2>/dev/null | wc -l)
  [ "$ok" -lt "$rounds" ] && { echo "  $t failed $((rounds - ok)) runs:"; tail -3 "$tmp/$t.err"; }
done

echo; echo "2. a second image sharing the base layer"
export LIGHTJAIL_ROOT=$tmp/shared
"$ljimage" pull "$reg/multi:1" 2>/dev/null | sed 's/^/  first:  /'
"$ljimage" pull "$reg/second:1" 2>/dev/null | sed 's/^/  second: /'
unset LIGHTJAIL_ROOT

echo; echo "3. spawn-to-exit of /bin/true through ljd (ljctl run), image vs world, $spawns interleaved"
root=$tmp/spawnroot
mkdir -p "$root/worlds"
cp -a "$tmp/tree" "$root/worlds/bb"
mkdir -p "$root/worlds/bb/"{proc,dev,tmp,sys}
start_ljd_on "$root"
"$ljctl" --socket "$sock" pull -q "$reg/bb:1" >/dev/null 2>&1
for i in 1 2 3; do "$ljctl" --socket "$sock" run bb /bin/true; "$ljctl" --socket "$sock" run "$reg/bb:1" /bin/true; done >/dev/null 2>&1
for i in $(seq 1 "$spawns"); do
  if [ $((i % 2)) = 0 ]; then order="world image"; else order="image world"; fi
  for o in $order; do
    s=$(date +%s%N)
    if [ $o = world ]; then "$ljctl" --socket "$sock" run bb /bin/true >/dev/null 2>&1
    else "$ljctl" --socket "$sock" run "$reg/bb:1" /bin/true >/dev/null 2>&1; fi && ms $s >> "$tmp/spawn-$o.ms"
  done
done
stop_ljd
stats "ljctl run IMAGE /bin/true" "$tmp/spawn-image.ms"
stats "ljctl run WORLD /bin/true (same tree)" "$tmp/spawn-world.ms"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
