#!/usr/bin/env bash
# bmake for one directory of the tree's userland, with the tree's own makefiles, for
# x86_64-unknown-freebsd13.0 with clang/lld 19, static only, objects under $LJ_GUEST_CACHE/uobj.
# Usage: umake.sh TREE DIR [make args...]   (DIR relative to TREE, e.g. lib/libc)
set -euo pipefail
. "$(dirname "$0")/env.sh"
S=${1:?TREE}; dir=${2:?DIR}; shift 2
SYSROOT=$LJ_GUEST_CACHE/sysroot
T=x86_64-unknown-freebsd13.0
# clang 19 made these errors; this 2019 code has instances of each.
RELAX="-fcommon -Wno-error=incompatible-function-pointer-types -Wno-error=implicit-function-declaration -Wno-error=int-conversion -Wno-error=implicit-int -Wno-error=incompatible-pointer-types"
export MAKEOBJDIRPREFIX=$LJ_GUEST_CACHE/uobj
export PATH=$HOST_TOOLS:$LLVM:/usr/bin:/bin:/usr/sbin:/sbin
cd "$S/$dir"
exec $NICE timeout 30m bmake -m "$S/share/mk" -j2 MACHINE=amd64 MACHINE_ARCH=amd64 MACHINE_CPUARCH=amd64 \
  "CC=$LLVM/clang --target=$T --sysroot=$SYSROOT $RELAX" "CXX=$LLVM/clang++ --target=$T --sysroot=$SYSROOT" \
  "CPP=$LLVM/clang-cpp --target=$T --sysroot=$SYSROOT" \
  "LD=$LLVM/ld.lld" "NM=$LLVM/llvm-nm" "OBJCOPY=$LLVM/llvm-objcopy" "AR=$LLVM/llvm-ar" \
  "RANLIB=$LLVM/llvm-ranlib" "STRIP=$LLVM/llvm-strip" "AWK=gawk --non-decimal-data" \
  YACC="byacc" LEX=flex \
  COMPILER_TYPE=clang COMPILER_VERSION=190107 COMPILER_FREEBSD_VERSION=1300010 \
  "COMPILER_FEATURES=c++11 c++14 c++17 retpoline" \
  LINKER_TYPE=lld LINKER_VERSION=190107 "LINKER_FEATURES=build-id ifunc retpoline" \
  "X_COMPILER_TYPE=clang" \
  WITHOUT_TESTS=yes WITHOUT_PROFILE=yes WITHOUT_MAN=yes WITHOUT_SSP=yes WITHOUT_CTF=yes \
  WITHOUT_DEBUG_FILES=yes WITHOUT_NIS=yes NO_PIC=yes NO_WERROR=yes WERROR= MK_WERROR=no \
  "CWARNFLAGS=-w" "$@"
