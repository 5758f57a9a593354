#!/usr/bin/env bash
# The guest's C++ runtime: libc++, libc++abi and libunwind 19 from Debian's llvm-toolchain-19
# source package, built for x86_64-unknown-freebsd13.0 against the kit's sysroot. Not the tree's:
# its libc++ is libc++ 7 (2019), which has no C++20 library (<concepts>, <ranges>, std::format),
# and ljd's sources are C++20 checked against libc++ 19 (scripts/check-freebsd); and its libcxxrt
# cannot carry libc++ 19 (it has no sized operator delete and no __cxa_init_primary_exception:
# the link of the backend's tests failed on both). Installed into $LJ_GUEST_CACHE/sysroot (headers
# under usr/include/c++/v1; libc++.a with libc++abi merged in; libunwind as libgcc_eh.a, the name
# clang's FreeBSD driver links for a static program). Built once (cached).
# Usage: cxx.sh TREE
set -euo pipefail
. "$(dirname "$0")/env.sh"
S=${1:?TREE}
SR=$LJ_GUEST_CACHE/sysroot
L=$SR/usr/lib
[ -f "$L/libc++.a" ] && [ -f "$SR/usr/include/c++/v1/vector" ] && exit 0
T=x86_64-unknown-freebsd13.0
V=19.1.7
src=$LJ_GUEST_CACHE/debsrc/llvm-toolchain-19_$V
# Debian's source package, fetched once; only the runtimes' directories are unpacked.
if [ ! -f "$src/runtimes/CMakeLists.txt" ]; then
  mkdir -p "$LJ_GUEST_CACHE/debsrc"
  tarball=$(ls "$LJ_GUEST_CACHE"/debsrc/llvm-toolchain-19_*.orig.tar.xz 2>/dev/null | head -n 1 || true)
  if [ -z "$tarball" ]; then
    (cd "$LJ_GUEST_CACHE/debsrc" && apt-get source --download-only llvm-toolchain-19) || {
      echo "cxx: 'apt-get source llvm-toolchain-19' failed: it needs a deb-src entry (scripts/freebsd-guest/deps adds one)" >&2
      exit 1
    }
    tarball=$(ls "$LJ_GUEST_CACHE"/debsrc/llvm-toolchain-19_*.orig.tar.xz | head -n 1)
  fi
  echo "== unpacking the runtimes of $tarball" >&2
  # GNU tar's `*` matches `/` too, and a pattern that only members an earlier one took match is
  # "not found in archive", a failure: `*/cmake/*` takes llvm/cmake as well.
  (cd "$LJ_GUEST_CACHE/debsrc" && $NICE tar -xJf "$tarball" --wildcards \
     "*/libcxx/*" "*/libcxxabi/*" "*/libunwind/*" "*/runtimes/*" "*/cmake/*" \
     "*/llvm/utils/llvm-lit/*" "*/llvm/utils/lit/*")
fi
B=$LJ_GUEST_CACHE/obj/runtimes
t0=$SECONDS
echo "== libc++, libc++abi and libunwind $V for $T (log: $LJ_GUEST_CACHE/log.cxx)" >&2
{ # && throughout: set -e does not reach into a list run under ||.
  cmake -G Ninja -S "$src/runtimes" -B "$B" \
    -DLLVM_ENABLE_RUNTIMES="libcxxabi;libcxx;libunwind" \
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$SR/usr" \
    -DCMAKE_SYSTEM_NAME=FreeBSD -DCMAKE_SYSTEM_PROCESSOR=x86_64 -DCMAKE_SYSROOT="$SR" \
    -DCMAKE_C_COMPILER="$LLVM/clang" -DCMAKE_CXX_COMPILER="$LLVM/clang++" \
    -DCMAKE_C_COMPILER_TARGET=$T -DCMAKE_CXX_COMPILER_TARGET=$T -DCMAKE_ASM_COMPILER_TARGET=$T \
    -DCMAKE_AR="$LLVM/llvm-ar" -DCMAKE_RANLIB="$LLVM/llvm-ranlib" -DCMAKE_NM="$LLVM/llvm-nm" \
    -DCMAKE_TRY_COMPILE_TARGET_TYPE=STATIC_LIBRARY \
    -DLIBCXX_ENABLE_SHARED=OFF -DLIBCXX_ENABLE_STATIC=ON \
    -DLIBCXX_CXX_ABI=libcxxabi -DLIBCXX_ENABLE_STATIC_ABI_LIBRARY=ON \
    -DLIBCXXABI_ENABLE_SHARED=OFF -DLIBCXXABI_USE_LLVM_UNWINDER=ON -DLIBCXXABI_USE_COMPILER_RT=ON \
    -DLIBCXXABI_ENABLE_STATIC_UNWINDER=ON -DLIBCXXABI_STATICALLY_LINK_UNWINDER_IN_STATIC_LIBRARY=OFF -DLIBCXXABI_INCLUDE_TESTS=OFF -DLIBCXXABI_HAS_DL_LIB=OFF \
    -DLIBCXX_INCLUDE_TESTS=OFF -DLIBCXX_INCLUDE_BENCHMARKS=OFF -DLIBCXX_ENABLE_EXPERIMENTAL_LIBRARY=OFF \
    -DLIBCXX_USE_COMPILER_RT=ON -DLIBCXX_HAS_ATOMIC_LIB=OFF \
    `# FreeBSD's libc has clock_gettime and dlopen: no -lrt, -ldl (the sysroot has neither).` \
    -DLIBCXX_HAS_RT_LIB=OFF -DLIBUNWIND_HAS_DL_LIB=OFF \
    -DLIBUNWIND_ENABLE_SHARED=OFF -DLIBUNWIND_ENABLE_STATIC=ON -DLIBUNWIND_INCLUDE_TESTS=OFF \
    -DLIBUNWIND_USE_COMPILER_RT=ON &&
  $NICE timeout 30m ninja -C "$B" -j1 cxx_static cxxabi_static unwind_static &&
  ninja -C "$B" install-cxx-headers install-cxxabi-headers install-unwind-headers
} >"$LJ_GUEST_CACHE/log.cxx" 2>&1 || { tail -n 40 "$LJ_GUEST_CACHE/log.cxx" >&2; echo "cxx: failed (log: $LJ_GUEST_CACHE/log.cxx)" >&2; exit 1; }
cp "$B/lib/libc++.a" "$L/libc++.a"
cp "$B/lib/libunwind.a" "$L/libgcc_eh.a"
echo "== libc++, libc++abi and libunwind in $((SECONDS - t0)) s" >&2
