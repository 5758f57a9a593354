#!/usr/bin/env bash
# Configures and builds the LJTEST kernel. Output: $LJ_GUEST_CACHE/kernel/kernel.
# Usage: kernel.sh TREE   (TREE: the kit's own checkout, already edited by tree-edits.sh)
set -euo pipefail
. "$(dirname "$0")/env.sh"
S=${1:?TREE}
out=$LJ_GUEST_CACHE/kernel
conf=$S/sys/amd64/conf/LJTEST
# Rebuild when the config changed or the kernel is missing.
if [ -f "$out/kernel" ] && cmp -s "$KIT_DIR/LJTEST" "$out/LJTEST"; then exit 0; fi
cp "$KIT_DIR/LJTEST" "$conf"
obj=$LJ_GUEST_CACHE/obj/LJTEST
mkdir -p "$obj"
(cd "$S/sys/amd64/conf" && PATH=$HOST_TOOLS:$PATH config -d "$obj" LJTEST)
export AWK="gawk --non-decimal-data"
export PATH=$HOST_TOOLS:$LLVM:/usr/bin:/bin:/usr/sbin:/sbin
M=(bmake -m "$S/share/mk" -j2 MACHINE=amd64 MACHINE_ARCH=amd64 MACHINE_CPUARCH=amd64
  "CC=$LLVM/clang -target x86_64-unknown-freebsd13.0" "LD=$LLVM/ld.lld" "NM=$LLVM/llvm-nm"
  "OBJCOPY=$LLVM/llvm-objcopy" "SIZE=$LLVM/llvm-size" "OBJDUMP=$LLVM/llvm-objdump"
  "AR=$LLVM/llvm-ar" "RANLIB=$LLVM/llvm-ranlib" "AWK=gawk --non-decimal-data"
  COMPILER_TYPE=clang COMPILER_VERSION=190107 "COMPILER_FEATURES=c++11 c++14 c++17 retpoline"
  LINKER_TYPE=lld LINKER_VERSION=190107 "LINKER_FEATURES=build-id ifunc retpoline"
  WERROR= NO_MODULES=yes WITHOUT_CTF=yes
  # clang 19 turned these into errors; the 2019 kernel has instances of each.
  "CONF_CFLAGS=-fcommon -Wno-error -Wno-error=incompatible-function-pointer-types -Wno-error=implicit-function-declaration -Wno-error=int-conversion -Wno-error=implicit-int -Wno-error=incompatible-pointer-types")
cd "$obj"
$NICE timeout 50m "${M[@]}" all
mkdir -p "$out"
cp "$obj/kernel" "$out/kernel"
cp "$KIT_DIR/LJTEST" "$out/LJTEST"
echo "kernel: $out/kernel"
