#!/usr/bin/env bash
# The two edits this 2019 tree needs to build its kernel on Linux with clang/lld 19. Idempotent:
# each edit checks for its own mark first. Only ever run on the kit's own checkout (env.sh).
set -euo pipefail
S=${1:?TREE}
nv=$S/sys/conf/newvers.sh
# dash's echo interprets the backslashes in vers.c's VERSTR ("\\n"); printf '%s\n' does not.
# Debian's clang -v prints two lines with "version" (the compiler and its "InstalledDir"-era
# lines vary): keep the first, or compiler_version[] gets a raw newline inside a C string.
if ! grep -q 'LJ-GUEST-EDIT' "$nv"; then
  sed -i \
    -e "s/^compiler_v=\$(\$(\${MAKE:-make} -V CC) -v 2>&1 | grep -w 'version')\$/compiler_v=\$(\$(\${MAKE:-make} -V CC) -v 2>\&1 | grep -w 'version' | head -n 1) # LJ-GUEST-EDIT/" \
    -e 's/^\techo "\$vers_content_new" > vers.c$/\tprintf "%s\\n" "$vers_content_new" > vers.c # LJ-GUEST-EDIT/' \
    "$nv"
  [ "$(grep -c 'LJ-GUEST-EDIT' "$nv")" = 2 ] || { echo "tree-edits: newvers.sh did not take both edits" >&2; exit 1; }
fi
km=$S/sys/conf/kern.pre.mk
# lld >= 10 refuses text relocations in the kernel's non-PIC objects unless told -z notext.
if ! grep -q 'LJ-GUEST-EDIT' "$km"; then
  sed -i 's/^LDFLAGS+=\t-Wl,-z -Wl,ifunc-noplt$/&\nLDFLAGS+=\t-Wl,-z -Wl,notext # LJ-GUEST-EDIT/' "$km"
  grep -q 'LJ-GUEST-EDIT' "$km" || { echo "tree-edits: kern.pre.mk did not take its edit" >&2; exit 1; }
fi
