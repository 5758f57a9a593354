#!/usr/bin/env bash
# Lays out the tree's headers as FreeBSD's include/Makefile installs them ("make includes"),
# into $LJ_GUEST_CACHE/sysroot/usr/include: the userland is compiled against its own tree's
# headers, not a newer FreeBSD's. Of the rpcgen-made headers, only those libc includes are
# made (rpc/rpcb_prot.h, rpc/key_prot.h, rpcsvc/crypt.h, rpcsvc/nis.h). Usage: sysroot.sh TREE
set -euo pipefail
. "$(dirname "$0")/env.sh"
S=${1:?TREE}
I=$LJ_GUEST_CACHE/sysroot/usr/include
# The stamp names the layout's version: a sysroot laid out by an older kit is laid out again.
stamp=$I/.ljd-kit-3
[ -f "$stamp" ] && exit 0
rm -rf "$I"; mkdir -p "$I"
cp "$S"/include/*.h "$I/"
for d in arpa protocols rpc rpcsvc xlocale; do
  mkdir -p "$I/$d"; cp "$S"/include/$d/*.h "$I/$d/" 2>/dev/null || true
done
cp "$S/contrib/libc-vis/vis.h" "$I/"
# LDIRS and LSUBDIRS of include/Makefile: copied from sys/ as they are.
for d in bsm cam geom net net80211 netgraph netinet netinet6 netipsec netsmb nfs nfsclient \
         nfsserver sys vm fs/devfs fs/fdescfs fs/nullfs fs/procfs fs/unionfs fs/tmpfs \
         netinet/cc security/audit sys/disk ufs/ffs ufs/ufs dev/pci net/altq crypto \
         opencrypto teken dev/acpica dev/hyperv dev/io dev/filemon dev/speaker dev/nvme dev/evdev \
         dev/hwpmc dev/ofw dev/mmc dev/smbus dev/iicbus dev/ppbus dev/ic dev/tcp_log; do
  [ -d "$S/sys/$d" ] || continue
  mkdir -p "$I/$d"; find "$S/sys/$d" -maxdepth 1 -name '*.h' -exec cp {} "$I/$d/" \;
done
# Headers include/*/Makefile link in from sys/.
cp "$S/sys/rpc/types.h" "$I/rpc/types.h"
mkdir -p "$I/dev/hyperv"; cp "$S"/sys/dev/hyperv/include/*.h "$I/dev/hyperv/"
for x in rpc/rpcb_prot rpcsvc/key_prot rpcsvc/crypt rpcsvc/nis; do
  RPCGEN_CPP="$LLVM/clang-cpp" "$HOST_TOOLS/rpcgen" -C -h -DWANT_NFS3 "$S/include/$x.x" -o "$I/$x.h"
done
cp "$I/rpcsvc/key_prot.h" "$I/rpc/key_prot.h"
# libc's rpcgen -l output includes crypt.h by the absolute path of crypt.x with .h: it must be
# beside crypt.x in the tree (the kit's own copy).
cp "$I/rpcsvc/crypt.h" "$S/include/rpcsvc/crypt.h"
mkdir -p "$I/machine" "$I/x86"
cp "$S"/sys/amd64/include/*.h "$I/machine/"
cp "$S"/sys/x86/include/*.h "$I/x86/"
# MHDRS: the machine headers also seen at the top.
for h in float.h floatingpoint.h stdarg.h; do cp "$S/sys/amd64/include/$h" "$I/$h"; done
# PHDRS and LHDRS: sys/sys headers also seen at the top.
for h in sched.h _semaphore.h aio.h errno.h fcntl.h linker_set.h poll.h stdatomic.h stdint.h \
         syslog.h ucontext.h; do cp "$S/sys/sys/$h" "$I/$h"; done
# The headers the userland's libraries install (their Makefiles' INCS): libm (the C++ runtime's
# <cmath> needs math.h and fenv.h), libutil, libjail.
cp "$S/lib/msun/src/math.h" "$S/lib/msun/x86/fenv.h" "$I/"
cp "$S/lib/libutil/libutil.h" "$S/lib/libutil/login_cap.h" "$I/"
cp "$S/lib/libjail/jail.h" "$I/"
# The 2019 sys/jail.h declares jail_set(2) and its kin without __BEGIN_DECLS, so C++ callers
# get C++ linkage and an undefined symbol; FreeBSD 13.0-RELEASE wraps them (as every other
# header this kit lays out already does). Wrapped here the same way, in the sysroot only.
sed -i -e '/^struct iovec;$/a __BEGIN_DECLS' -e '/^int jail_remove(int);$/a __END_DECLS' "$I/sys/jail.h"
# include/Makefile writes osreldate.h with newvers.sh: this tree is 1300010.
rel=$(sed -n 's/^#define[[:space:]]*__FreeBSD_version[[:space:]]*\([0-9]*\).*/\1/p' "$S/sys/sys/param.h")
printf '#ifndef __FreeBSD_version\n#define __FreeBSD_version %s\n#endif\n' "$rel" > "$I/osreldate.h"
# A fixed date: laying the headers out again must not make every object built against them stale.
find "$LJ_GUEST_CACHE/sysroot" -exec touch -h -d '2019-04-23 00:00:00' {} +
touch "$stamp"
echo "sysroot: $I (__FreeBSD_version $rel)"
