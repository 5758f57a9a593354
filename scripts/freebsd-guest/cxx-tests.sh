#!/usr/bin/env bash
# Builds the FreeBSD backend's C++ tests for the guest: tests/freebsd/backend_test.cpp with
# lib/jail (its FreeBSD backend) and lib/common; ljoci (client/ljoci.cpp with lib/oci) and
# tests/freebsd/ljoci_test.cpp, which drives it; googletest from Debian's source
# (/usr/src/googletest, package googletest), spdlog, fmt and nlohmann-json header-only from
# Debian's headers, tl-expected's header; all static against the kit's sysroot and C++ runtime
# (cxx.sh). Lays out ROOTDIR/tests/{freebsd_backend_test,freebsd_ljoci_test,ljoci} and the
# tests' world, ROOTDIR/world (tests/freebsd/probe.c as /probe, and the mount points the backend
# uses), and prints the lines of /etc/guest-tests that run them, one gtest case a line.
# Usage: cxx-tests.sh ROOTDIR
set -euo pipefail
. "$(dirname "$0")/env.sh"
root=${1:?ROOTDIR}
SR=$LJ_GUEST_CACHE/sysroot
T=x86_64-unknown-freebsd13.0
obj=$LJ_GUEST_CACHE/obj/cxx-tests
mkdir -p "$obj" "$root/tests" "$root/world/dev" "$root/world/tmp"
# Third-party headers one by one, so no glibc header can leak in (scripts/check-freebsd's way).
third=$obj/third
rm -rf "$third"; mkdir -p "$third/tl"
for d in spdlog fmt gtest nlohmann; do ln -s "/usr/include/$d" "$third/$d"; done
ln -s /usr/include/tl/expected.hpp "$third/tl/expected.hpp"
G=/usr/src/googletest/googletest
[ -f "$G/src/gtest-all.cc" ] || { echo "cxx-tests: no $G (apt-get install googletest)" >&2; exit 1; }
cxx=("$LLVM/clang++" --target=$T --sysroot="$SR" -std=c++20 -O1 -pthread -isystem "$third"
  -DSPDLOG_HEADER_ONLY -DFMT_HEADER_ONLY)
engine=(lib/common/archive_path.cpp lib/common/base64.cpp lib/common/error.cpp lib/common/log.cpp
  lib/common/memory.cpp lib/common/mount_table.cpp lib/common/mount_table_freebsd.cpp
  lib/common/random_id.cpp lib/common/signals.cpp lib/common/sys.cpp lib/common/tree_walk.cpp
  lib/common/write_all.cpp
  lib/jail/exec.cpp lib/jail/hook_run.cpp lib/jail/root.cpp lib/jail/spec.cpp
  lib/jail/status_file.cpp lib/jail/terminal.cpp lib/jail/user_lookup.cpp
  $(cd "$REPO_DIR" && ls lib/jail/freebsd/*.cpp))
oci=(lib/oci/config.cpp lib/oci/state.cpp lib/oci/freebsd/platform.cpp lib/oci/freebsd/seccomp.cpp)
# One object per source, rebuilt when the source or any header it read (-MMD) is newer: an
# object built against an older spec.hpp links and then crashes.
stale() {
  local o=$1 src=$2 f
  [ -f "$o" ] && [ -f "$o.d" ] || return 0
  # Built from another checkout (the cache is shared): its sources may differ.
  grep -qF "$src" "$o.d" || return 0
  for f in $(sed -e 's/^[^:]*://' -e 's/\\$//' "$o.d"); do
    [ "$f" -nt "$o" ] && return 0
  done
  return 1
}
# objects SOURCE...: the objects of those sources, (re)built as needed, in $objs.
objects() {
  objs=()
  local s o
  for s in "$@"; do
    o=$obj/$(echo "$s" | tr / _).o
    if stale "$o" "$REPO_DIR/$s"; then
      echo "== c++ $s" >&2
      $NICE "${cxx[@]}" -I "$REPO_DIR/lib" -MMD -MF "$o.d" -c "$REPO_DIR/$s" -o "$o"
    fi
    objs+=("$o")
  done
}
gtest=()
for s in gtest-all gtest_main; do
  o=$obj/$s.o
  [ -f "$o" ] || { echo "== c++ googletest $s" >&2; $NICE "${cxx[@]}" -I "$G/include" -I "$G" -c "$G/src/$s.cc" -o "$o"; }
  gtest+=("$o")
done
link() { "${cxx[@]}" -static -fuse-ld=lld -o "$@" -ljail -lutil; }
objects "${engine[@]}" tests/freebsd/backend_test.cpp
link "$root/tests/freebsd_backend_test" "${objs[@]}" "${gtest[@]}"
objects "${engine[@]}" tests/freebsd/ljoci_test.cpp
link "$root/tests/freebsd_ljoci_test" "${objs[@]}" "${gtest[@]}"
objects "${engine[@]}" "${oci[@]}" client/ljoci.cpp
link "$root/tests/ljoci" "${objs[@]}"
"$LLVM/clang" --target=$T --sysroot="$SR" -static -fuse-ld=lld -O2 -Wall -Wextra -Werror \
  -o "$root/world/probe" "$REPO_DIR/tests/freebsd/probe.c"
# A user of the world's own for the exec tests (resolved in the jail, never the guest's).
mkdir -p "$root/world/etc"
printf 'root:*:0:0:Charlie &:/root:/bin/sh\nprobe:*:1001:1001:probe:/:/bin/sh\n' >"$root/world/etc/passwd"
printf 'wheel:*:0:root\nprobe:*:1001:\n' >"$root/world/etc/group"
# One line per test case, so the guest's tally counts each.
cases() { sed -n 's/^TEST_F(\([A-Za-z0-9_]*\), \([A-Za-z0-9_]*\)).*/\1.\2/p' "$REPO_DIR/$1"; }
cases tests/freebsd/backend_test.cpp | while read -r t; do
  echo "LJ_TEST_WORLD=/world /tests/freebsd_backend_test --gtest_filter=$t"
done
cases tests/freebsd/ljoci_test.cpp | while read -r t; do
  echo "LJ_TEST_WORLD=/world LJOCI=/tests/ljoci /tests/freebsd_ljoci_test --gtest_filter=$t"
done
