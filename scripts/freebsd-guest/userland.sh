#!/usr/bin/env bash
# The static userland the guest's tests link against, built from the tree with its own
# makefiles (umake.sh: bmake per directory), installed into $LJ_GUEST_CACHE/sysroot/usr/lib
# beside the headers of sysroot.sh. Each library is built once (cached).
# Usage: userland.sh TREE
set -euo pipefail
. "$(dirname "$0")/env.sh"
S=${1:?TREE}
L=$LJ_GUEST_CACHE/sysroot/usr/lib
O=$LJ_GUEST_CACHE/uobj$S/amd64.amd64
mkdir -p "$L"
bash "$KIT_DIR/sysroot.sh" "$S"
lib() {  # DIR ARCHIVE
  local dir=$1 a=$2 t0=$SECONDS
  [ -f "$L/$a" ] && return 0
  echo "== $dir" >&2
  bash "$KIT_DIR/umake.sh" "$S" "$dir" "$a" >"$LJ_GUEST_CACHE/log.${a%.a}" 2>&1 ||
    { tail -n 30 "$LJ_GUEST_CACHE/log.${a%.a}" >&2; echo "userland: $dir failed (log: $LJ_GUEST_CACHE/log.${a%.a})" >&2; exit 1; }
  cp "$O/$dir/$a" "$L/$a"
  echo "== $dir: $a in $((SECONDS - t0)) s" >&2
}
# csu: crt1/crti/crtn and the BSD crtbegin/crtend (MK_BSD_CRTBEGIN, off by default in 2019).
# SED_FIX_NOTE is written for BSD sed (-i "").
if [ ! -f "$L/crt1.o" ]; then
  bash "$KIT_DIR/umake.sh" "$S" lib/csu/amd64 "SED_FIX_NOTE=-i -e /\\.note\\.tag/s/progbits/note/" \
    WITH_BSD_CRTBEGIN=yes crt1.o crti.o crtn.o crtbeginT.o crtend.o >"$LJ_GUEST_CACHE/log.csu" 2>&1
  for o in crt1.o crti.o crtn.o crtbeginT.o crtend.o; do cp "$O/lib/csu/amd64/$o" "$L/"; done
fi
lib lib/libc libc.a
lib lib/libcompiler_rt libcompiler_rt.a
lib lib/libutil libutil.a
lib lib/libjail libjail.a
lib lib/libthr libthr.a
lib lib/msun libm.a
# clang's FreeBSD driver links -lgcc -lgcc_eh for a static program, as FreeBSD's base does with
# compiler-rt behind those names. C needs no unwinder: libgcc_eh.a stays empty until C++ comes.
ln -sf libcompiler_rt.a "$L/libgcc.a"
[ -f "$L/libgcc_eh.a" ] || "$LLVM/llvm-ar" crs "$L/libgcc_eh.a"
ln -sf libthr.a "$L/libpthread.a"
echo "userland: $L"
