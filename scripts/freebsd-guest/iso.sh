#!/usr/bin/env bash
# Makes a bootable EFI ISO: GRUB + the LJTEST kernel + ROOTDIR as a cd9660 memory-disk root.
# ROOTDIR must hold sbin/init (the guest's pid 1) and the empty dirs it mounts on (dev, tmp).
# Usage: iso.sh ROOTDIR OUT.iso
set -euo pipefail
. "$(dirname "$0")/env.sh"
root=${1:?ROOTDIR}; out=${2:?OUT.iso}
kernel=$LJ_GUEST_CACHE/kernel/kernel
[ -f "$kernel" ] || { echo "iso: no kernel at $kernel (run kernel.sh)" >&2; exit 1; }
[ -x "$root/sbin/init" ] || { echo "iso: $root/sbin/init missing" >&2; exit 1; }
stage=$(mktemp -d); trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/boot/kernel" "$stage/boot/grub"
cp "$kernel" "$stage/boot/kernel/kernel"
cp "$KIT_DIR/grub.cfg" "$stage/boot/grub/grub.cfg"
# Rock Ridge keeps modes (init must be executable) and long names.
# Both tools are chatty: their output is shown only when they fail.
xorriso -as mkisofs -R -o "$stage/boot/root.iso" "$root" >"$stage.log" 2>&1 &&
  grub-mkrescue -o "$out" "$stage" >>"$stage.log" 2>&1 || { cat "$stage.log" >&2; rm -f "$stage.log"; exit 1; }
rm -f "$stage.log"
echo "iso: $out ($(du -h "$out" | cut -f1))"
