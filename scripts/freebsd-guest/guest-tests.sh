#!/usr/bin/env bash
# Links the guest's tests and its pid 1 statically against the kit's userland and lays out the
# guest's root: /sbin/init (tests/freebsd/guest_init.c), /tests/* (the kernel checks in C, the
# backend's tests in C++: cxx-tests.sh), /world (the backend tests' world), /etc/guest-tests (one
# test a line, run in order by init), /dev and /tmp to mount on. Usage: guest-tests.sh ROOTDIR
set -euo pipefail
. "$(dirname "$0")/env.sh"
root=${1:?ROOTDIR}
SR=$LJ_GUEST_CACHE/sysroot
cc() { "$LLVM/clang" --target=x86_64-unknown-freebsd13.0 --sysroot="$SR" -static -fuse-ld=lld \
         -O2 -Wall -Wextra -Werror "$@"; }
rm -rf "$root"; mkdir -p "$root/sbin" "$root/tests" "$root/etc" "$root/dev" "$root/tmp"
cc -o "$root/sbin/init" "$REPO_DIR/tests/freebsd/guest_init.c"
cc -o "$root/tests/guest_kernel_test" "$REPO_DIR/tests/freebsd/guest_kernel_test.c" -ljail
# LJ_GUEST_ONLY: only the tests named, kernel checks (e.g. vnet) and backend cases
# (Suite.Case, e.g. FreebsdBackendTest.ReadOnlyRoot) alike.
only=" ${LJ_GUEST_ONLY:-} "
{
  for c in hello jail-lifecycle jail-exit procdesc jail-remove mounts devfs rctl rctl-memory vnet; do
    [ "$only" = "  " ] || [[ $only == *" $c "* ]] || continue
    echo "/tests/guest_kernel_test $c"
  done
  # Not counted: evidence of a limit of this 2019 kernel (docs/freebsd-guest.md). Run it with
  # LJ_GUEST_EXTRA="mounts-unprimed" scripts/test-freebsd-guest TREE.
  for c in ${LJ_GUEST_EXTRA:-}; do echo "/tests/guest_kernel_test $c"; done
  # The backend's own tests (C++), one case a line.
  if [ "$only" = "  " ] || [[ $only == *.* ]]; then
    bash "$KIT_DIR/cxx-tests.sh" "$root" | while read -r line; do
      if [ "$only" = "  " ] || [[ $only == *" ${line##*=} "* ]]; then echo "$line"; fi
    done
  fi
} >"$root/etc/guest-tests"
