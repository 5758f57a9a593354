#!/bin/sh
# Makes a minimal Linux world from Debian's busybox-static for trying the examples:
#   sudo LIGHTJAIL_ROOT=/tmp/lj sh examples/make-busybox-world.sh     # -> /tmp/lj/worlds/busybox
# A real world comes from debootstrap (--variant=minbase) or a FreeBSD base.txz.
set -eu
root=${LIGHTJAIL_ROOT:-/usr/local/lj}
[ -n "$root" ] || root=/usr/local/lj
w=$root/worlds/${1:-busybox}
[ -x /bin/busybox ] || { echo "needs /bin/busybox (apt-get install busybox-static)" >&2; exit 1; }
mkdir -p "$w/bin" "$w/etc" "$w/dev" "$w/proc" "$w/sys" "$w/tmp" "$w/root" "$w/usr/bin"
chmod 1777 "$w/tmp"
cp /bin/busybox "$w/bin/busybox"
for a in $(/bin/busybox --list); do
  [ -e "$w/bin/$a" ] || ln -s busybox "$w/bin/$a"
done
echo "root:x:0:0:root:/root:/bin/sh" > "$w/etc/passwd"
echo "root:x:0:" > "$w/etc/group"
echo "$w"
