#!/usr/bin/env bash
# The guest kit, step by step, each cached under $LJ_GUEST_CACHE: host tools, the tree's two
# edits, the LJTEST kernel. Then, with -probe, the smoke test: an ISO whose pid 1 is
# probe-init.c, booted, its status returned.  Usage: kit.sh TREE [-probe]
set -euo pipefail
. "$(dirname "$0")/env.sh"
S=$(kit_tree "${1:?TREE}")
step() { local t0=$SECONDS; echo "== $1" >&2; shift; "$@"; echo "== done in $((SECONDS - t0)) s" >&2; }
step "host tools" bash "$KIT_DIR/host-tools.sh" "$S"
step "tree edits" bash "$KIT_DIR/tree-edits.sh" "$S"
step "kernel" bash "$KIT_DIR/kernel.sh" "$S"
[ "${2:-}" = -probe ] || exit 0
root=$LJ_GUEST_CACHE/probe-root
rm -rf "$root"; mkdir -p "$root/sbin" "$root/dev"
"$LLVM/clang" --target=x86_64-unknown-freebsd13.0 -ffreestanding -fno-stack-protector -nostdlib \
  -static -fuse-ld=lld -O2 -o "$root/sbin/init" "$KIT_DIR/probe-init.c"
step "iso" bash "$KIT_DIR/iso.sh" "$root" "$LJ_GUEST_CACHE/probe.iso"
bash "$KIT_DIR/boot.sh" "$LJ_GUEST_CACHE/probe.iso" "$LJ_GUEST_CACHE/probe.log" 300
