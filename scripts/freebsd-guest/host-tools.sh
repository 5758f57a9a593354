#!/usr/bin/env bash
# Builds config(8), file2c(1) and rpcgen(1) from the FreeBSD tree for Linux (gcc + libbsd): the kernel's and
# libc's builds run them on the host. Output: $HOST_TOOLS/{config,file2c,rpcgen}. Usage: host-tools.sh TREE
set -euo pipefail
. "$(dirname "$0")/env.sh"
S=${1:?TREE}
if [ -x "$HOST_TOOLS/config" ] && [ -x "$HOST_TOOLS/file2c" ] && [ -x "$HOST_TOOLS/rpcgen" ] && [ -x "$HOST_TOOLS/lorder" ]; then exit 0; fi
w=$HOST_TOOLS/work; rm -rf "$w"; mkdir -p "$w/inc/sys"
cp "$S"/usr.sbin/config/*.{y,l,c,h,tmpl} "$w/"
# sbuf.h and the nv headers come from the tree's sys/; sbuf.h wants FreeBSD's sys/_types.h,
# which would shadow glibc's: plain sys/types.h and stdarg.h give what it uses.
cp "$S"/sys/sys/{nv.h,cnv.h,dnv.h,sbuf.h} "$w/inc/sys/"
sed -i 's|#include <sys/_types.h>|#include <sys/types.h>\n#include <stdarg.h>|' "$w/inc/sys/sbuf.h"
# FreeBSD's cdefs and param.h macros that glibc/libbsd lack.
F=(-O1 -w -fcommon -D_GNU_SOURCE '-D__FBSDID(x)=' '-D__unused=__attribute__((unused))'
   -D__va_list=va_list -DMCLBYTES=2048 '-Droundup2(x,y)=(((x)+((y)-1))&(~((y)-1)))'
   -DLIBBSD_OVERLAY -isystem /usr/include/bsd)
cd "$w"
gcc "${F[@]}" -o file2c "$S/usr.bin/file2c/file2c.c" -lbsd
./file2c 'char kernconfstr[] = {' ',0};' < kernconf.tmpl > kernconf.c
byacc -d config.y
flex lang.l
gcc "${F[@]}" -Iinc -I. -I"$S/sys/contrib/libnv" -I"$S/lib/libnv" -o config \
  y.tab.c lex.yy.c main.c mkmakefile.c mkheaders.c mkoptions.c kernconf.c \
  "$S"/sys/contrib/libnv/{nvlist,nvpair,dnvlist,cnvlist}.c "$S/lib/libnv/msgio.c" \
  "$S/sys/kern/subr_sbuf.c" -lbsd
# rpcgen makes libc's rpcsvc/crypt.h. Its host build needs only bool_t from rpc/types.h, and
# glibc's nitems() is no constant expression: rpc_main.c gets two #defines instead.
mkdir -p inc/rpc
printf '#ifndef LJ_RPC_TYPES_H\n#define LJ_RPC_TYPES_H\ntypedef int bool_t;\n#define TRUE 1\n#define FALSE 0\n#endif\n' >inc/rpc/types.h
sed 's/^static int allc = nitems(allv);/#define allc ((int)(sizeof(allv)\/sizeof(allv[0])))/; s/^static int allnc = nitems(allnv);/#define allnc ((int)(sizeof(allnv)\/sizeof(allnv[0])))/' \
  "$S/usr.bin/rpcgen/rpc_main.c" >rpc_main_host.c
gcc "${F[@]}" -Iinc -I"$S/usr.bin/rpcgen" -include sys/param.h -o rpcgen rpc_main_host.c \
  $(ls "$S"/usr.bin/rpcgen/*.c | grep -v /rpc_main.c) -lbsd
install -m 755 config file2c rpcgen "$HOST_TOOLS/"
# bsd.lib.mk archives `lorder OBJS | tsort -q`: Debian has no lorder and GNU tsort has no -q.
# With lld, the order of an archive's members does not matter.
cat >"$HOST_TOOLS/lorder" <<'SH'
#!/bin/sh
for f in "$@"; do echo "$f $f"; done
SH
cat >"$HOST_TOOLS/tsort" <<'SH'
#!/bin/sh
[ "$1" = -q ] && shift
exec /usr/bin/tsort "$@"
SH
chmod 755 "$HOST_TOOLS/lorder" "$HOST_TOOLS/tsort"
echo "host-tools: config, file2c, rpcgen in $HOST_TOOLS"
