#!/usr/bin/env bash
# Boots ISO in QEMU (TCG, OVMF, 1 GiB: the ACPI hint in grub.cfg depends on it) and returns the
# guest's exit status: the guest's pid 1 ends its run with a line "LJ-GUEST-EXIT <n>" on the
# serial console, then powers off. The serial log goes to LOG (and to stdout unless -q).
# Status: n from the guest; 124 if TIMEOUT seconds passed; 125 if the guest stopped without
# reporting (a panic, a pid 1 that died).  Usage: boot.sh [-q] ISO LOG [TIMEOUT]
set -uo pipefail
quiet=0; [ "${1:-}" = -q ] && { quiet=1; shift; }
iso=${1:?ISO}; log=${2:?LOG}; limit=${3:-600}
vars=$(mktemp); trap 'rm -f "$vars"' EXIT
cp /usr/share/OVMF/OVMF_VARS.fd "$vars"
cmd=(qemu-system-x86_64 -machine q35 -accel tcg -smp 1 -m 1024 -nographic -no-reboot
  -drive if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE.fd
  -drive "if=pflash,format=raw,file=$vars" -cdrom "$iso" -serial mon:stdio -monitor none)
start=$(date +%s)
if [ $quiet = 1 ]; then
  timeout --foreground -k 5 "$limit" nice -n 19 "${cmd[@]}" </dev/null >"$log" 2>&1
  rc=$?
else
  timeout --foreground -k 5 "$limit" nice -n 19 "${cmd[@]}" </dev/null 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
fi
echo "boot: $(( $(date +%s) - start )) s, log $log" >&2
# The last report wins; the serial line's \r is dropped.
n=$(tr -d '\r' <"$log" | sed -n 's/^LJ-GUEST-EXIT \([0-9]\{1,3\}\)$/\1/p' | tail -n 1)
if [ -n "$n" ]; then exit "$n"; fi
if [ "$rc" = 124 ]; then echo "boot: timed out after $limit s" >&2; exit 124; fi
echo "boot: the guest stopped without an LJ-GUEST-EXIT line (qemu status $rc)" >&2
exit 125
