# Sourced by the guest kit's scripts: where things live. Everything built is cached under
# $LJ_GUEST_CACHE (outside the repository); FreeBSD's source is never copied into the repo.
: "${LJ_GUEST_CACHE:=/var/cache/ljd-freebsd-guest}"
LLVM=/usr/lib/llvm-19/bin
HOST_TOOLS=$LJ_GUEST_CACHE/host-tools
KIT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$KIT_DIR/../.." && pwd)
# Long compiles run at the lowest priority: the machine is shared.
NICE="nice -n 19"
export LJ_GUEST_CACHE LLVM HOST_TOOLS KIT_DIR REPO_DIR

# The tree the kit builds from: the cache's own checkout (the kit edits it), never the user's.
kit_tree() {
  local given=${1:?a FreeBSD source tree}
  given=$(cd "$given" && pwd)
  local own=$LJ_GUEST_CACHE/src
  if [ "$given" != "$own" ]; then
    if [ ! -f "$own/sys/conf/newvers.sh" ]; then
      echo "freebsd-guest: copying $given to $own (the kit edits its own copy only)" >&2
      mkdir -p "$own"
      cp -a "$given/." "$own/"
    fi
  fi
  echo "$own"
}
