#!/usr/bin/env bash
# ljoci against the other OCI runtimes, directly and under the engines, all interleaved (one run of
# each per round, the order rotated each round) on one busybox rootfs whose command is `true`:
#   ljoci, runc, crun        `RUNTIME run --bundle B ID` (create, start, wait, delete)
#                            When crun refuses this host's hybrid cgroups ("cgroups in hybrid mode
#                            not supported": a controller, hugetlb, is bound on the cgroup2 mount
#                            /sys/fs/cgroup/unified), crun runs in one private mount namespace
#                            without that mount, made once and held by a sleeping process
#                            (`unshare -m` + `umount`; every round enters it with nsenter), where
#                            it uses the v1 controllers as runc and ljoci do. Its time is taken in
#                            there, around crun alone, the same way as every other row's: neither
#                            nsenter nor a namespace made per round (14-44 ms here, and crun ran
#                            at twice its time in a namespace just made) is counted as crun's
#   podman-ljoci, podman-runc `podman --runtime RUNTIME run --rm IMAGE true` (podman's default
#                            runtime here is crun, which refuses this host's hybrid cgroups: the
#                            script says so once and times runc, which podman runs here)
#   ctr-ljoci, ctr-runc      `ctr run --rm [--runc-binary ljoci] IMAGE ID true` on a private
#                            containerd (its own root, state and socket; the runc v2 shim)
# Wall time of each whole command, taken by a small bash around it (every row the same way).
# Prints each one's median, p90 and failures. Root only; a
# runtime or engine that is missing is left out, one that fails every run is reported as such.
# Everything it makes (containerd and its directories, podman's image) is removed at the end.
#
# usage: bench/oci_bench.sh [ROUNDS] [LJOCI]     (default 50, build/client/ljoci)
set -uo pipefail
rounds=${1:-50}
here=$(cd "$(dirname "$0")/.." && pwd)
ljoci=$(readlink -f "${2:-$here/build/client/ljoci}")
[ "$(id -u)" = 0 ] || { echo "oci_bench: needs root" >&2; exit 2; }
busybox=$(command -v busybox) || { echo "oci_bench: needs busybox" >&2; exit 2; }
work=$(mktemp -d /tmp/oci-bench.XXXXXX)
image=localhost/ljoci-bench-$$:latest
ctrd_pid=
crun_ns_pid=
podman_image=
state_mounted=
cleanup() {
  [ -n "$crun_ns_pid" ] && { kill "$crun_ns_pid" 2>/dev/null; wait "$crun_ns_pid" 2>/dev/null; }
  [ -n "$state_mounted" ] && umount "$work/state"
  [ -n "$podman_image" ] && podman rmi -f "$image" >/dev/null 2>&1
  if [ -n "$ctrd_pid" ]; then
    kill "$ctrd_pid" 2>/dev/null; wait "$ctrd_pid" 2>/dev/null
    rmdir /run/containerd/runc/ljoci-bench 2>/dev/null  # the runc shim's --root, left empty
    rmdir /sys/fs/cgroup/*/ljoci-bench /sys/fs/cgroup/ljoci-bench 2>/dev/null  # the namespace's cgroup parent
  fi
  rm -rf "$work"
}
trap cleanup EXIT
b=$work/bundle
# The runtimes' state roots on a tmpfs, as their default roots (/run/runc, /run/crun, /run/ljoci)
# are on an ordinary host: here /run is on the root file system, ext4 mounted `discard`, where
# removing a directory waits for a synchronous discard (~4 ms: docs/oci.md, What was cut), which
# crun and runc pay per container (a directory each) and ljoci does not (files): that was a
# difference of this host's, not of the runtimes. Mounted before crun's namespace is made, which
# takes a copy of it.
mkdir -p "$work/state"
mount -t tmpfs -o mode=0700,size=64m ljoci-bench-state "$work/state" && state_mounted=1
mkdir -p $b/rootfs/bin $b/rootfs/proc $b/rootfs/dev $b/rootfs/sys $b/rootfs/tmp $b/rootfs/etc
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

declare -A cmd
names=()
# Every row is timed the same way: by a small bash of its own around the command alone (bash's
# clock, no fork of the harness's in the interval), its microseconds written to $LJ_INNER_US.
# Timed from the loop itself, the rows paid the loop's fork of a large bash (and, before, a
# `date` fork on each side: ~2 ms each), and crun's row, timed inside its namespace by a fresh
# bash, did not pay the same.
export LJ_INNER_US=$work/inner.us
timed=$work/timed
printf '%s\n' '#!/bin/bash' 's=$EPOCHREALTIME; "$@"; rc=$?; e=$EPOCHREALTIME' \
  'echo $(( 10#${e//[.,]/} - 10#${s//[.,]/} )) > "$LJ_INNER_US"; exit $rc' > $timed
chmod +x $timed
add() { names+=("$1"); cmd[$1]=$2; }
for r in ljoci runc crun; do
  bin=$ljoci; [ $r = ljoci ] || bin=$(command -v $r || true)
  [ -n "$bin" ] || continue
  run="$bin --root $work/state/$r run --bundle $b bench-$r-@"
  timed_run="$timed $run"
  wrapper=
  if [ $r = crun ]; then
    out=$($bin --root $work/state/crun run --bundle $b bench-crun-probe 2>&1 </dev/null)
    $bin --root $work/state/crun delete --force bench-crun-probe >/dev/null 2>&1
    if [[ $out == *"hybrid mode not supported"* ]]; then
      unshare -m --propagation private sh -c 'umount /sys/fs/cgroup/unified && exec sleep infinity' &
      crun_ns_pid=$!
      for _ in $(seq 100); do
        grep -q ' /sys/fs/cgroup/unified ' /proc/$crun_ns_pid/mountinfo 2>/dev/null || break
        sleep 0.02
      done
      wrapper=$work/in-crun-ns
      printf '%s\n' '#!/bin/sh' \
        '# the command in the mount namespace without the cgroup2 mount crun refuses' \
        "exec nsenter --mount=/proc/$crun_ns_pid/ns/mnt"' "$@"' > $wrapper
      chmod +x $wrapper
      echo "crun refuses this host (\"${out%%$'\n'*}\": hugetlb is bound on the cgroup2" \
        "mount): it runs in one mount namespace without that mount (held by pid $crun_ns_pid," \
        "entered each round), where it uses the v1 controllers; its time is taken in there, around crun alone"
      timed_run="$wrapper $timed $run"
    fi
  fi
  add $r "$timed_run"
done

if command -v podman >/dev/null && command -v runc >/dev/null; then
  if tar -C $b/rootfs -cf $work/rootfs.tar . && podman import $work/rootfs.tar "$image" >/dev/null 2>&1; then
    podman_image=1
    p="podman run --rm --ulimit nofile=1024:1024 --ulimit nproc=1000:1000 --network none"
    out=$($p "$image" true 2>&1) ||
      echo "podman's default runtime ($(podman info --format '{{.Host.OCIRuntime.Name}}' 2>/dev/null)) fails here: ${out%%$'\n'*}"
    add podman-ljoci "$timed podman --runtime $ljoci ${p#podman } $image true"
    add podman-runc "$timed podman --runtime $(command -v runc) ${p#podman } $image true"
  else
    echo "oci_bench: podman cannot import the rootfs: podman left out"
  fi
fi

if command -v containerd >/dev/null && command -v ctr >/dev/null && command -v containerd-shim-runc-v2 >/dev/null; then
  d=$work/containerd
  mkdir -p $d
  printf 'version = 2\nroot = "%s/root"\nstate = "%s/state"\n[grpc]\n  address = "%s/sock"\n' $d $d $d > $d/config.toml
  containerd --config $d/config.toml >$d/log 2>&1 &
  ctrd_pid=$!
  ctr="ctr --address $d/sock -n ljoci-bench"
  for _ in $(seq 100); do $ctr version >/dev/null 2>&1 && break; sleep 0.05; done
  if python3 "$here/tests/oci/cri/cri_client.py" image $b/rootfs $work/image.tar "$image" true &&
     $ctr images import $work/image.tar >/dev/null 2>&1; then
    add ctr-ljoci "$timed $ctr run --rm --runc-binary $ljoci $image bench-ctr-ljoci-@"
    command -v runc >/dev/null && add ctr-runc "$timed $ctr run --rm $image bench-ctr-runc-@"
  else
    echo "oci_bench: containerd did not take the image: containerd left out"
  fi
fi

n=${#names[@]}
for r in $(seq 1 "$rounds"); do
  for k in $(seq 0 $((n - 1))); do
    name=${names[$(( (r + k) % n ))]}
    c=${cmd[$name]//@/$r}
    if $c >/dev/null 2>>"$work/$name.err"; then
      cat "$LJ_INNER_US" >> "$work/$name.us"
    else
      echo fail >> "$work/$name.fail"
      case $name in
        ljoci|runc|crun) ${c% --root *} --root "$work/state/$name" delete --force "bench-$name-$r" >/dev/null 2>&1 ;;
      esac
    fi
  done
done
echo "rounds $rounds, $(date -u '+%Y-%m-%d %H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-13s %6s %10s %10s %6s\n' runtime runs median_ms p90_ms fails
for name in "${names[@]}"; do
  ok=0; med=-; p90=-
  if [ -s "$work/$name.us" ]; then
    ok=$(wc -l < "$work/$name.us")
    med=$(sort -n "$work/$name.us" | awk -v n="$ok" 'NR==int((n+1)/2){printf "%.1f", $1/1000}')
    p90=$(sort -n "$work/$name.us" | awk -v n="$ok" 'NR==int(n*0.9+0.5){printf "%.1f", $1/1000}')
  fi
  fails=$( [ -f "$work/$name.fail" ] && wc -l < "$work/$name.fail" || echo 0)
  printf '%-13s %6s %10s %10s %6s\n' "$name" "$ok" "$med" "$p90" "$fails"
  [ -s "$work/$name.err" ] && echo "  $name's first error: $(head -1 "$work/$name.err")"
done
