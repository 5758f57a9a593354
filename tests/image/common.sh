# The plumbing the image tests' shell scripts share: their temporary directory, the processes they
# start (ljd, registries, token servers) and one cleanup that ends them all, on success, on a
# failed check, on `exit 1` anywhere, and on SIGTERM/SIGINT/SIGHUP (ctest's or a user's).
#
# usage, after the script's skip checks:
#   . "$(dirname "$0")/common.sh" NAME     # makes $tmp (/tmp/lj-NAME-test-XXXXXX), traps cleanup
# then: check, free_port, start_registry, start_ljd / stop_ljd / wait_ljd, make_netns, $podman
# and prun; for the policy tests start_ljd_with, create and refused. A script that starts a process of its own in the background adds its pid to `pids`;
# started as a command, not through a shell function (then $! is a subshell, and ending it leaves
# the command running, holding ctest's output pipe).
# Needs $ljd set (ljd's binary) before start_ljd; $root and $sock default to $tmp/root and
# $tmp/ljd.sock; with $ljd_netns set (a make_netns name), ljd runs in that network namespace.

tmp=$(mktemp -d "/tmp/lj-$1-test-XXXXXX") || { echo "mktemp failed"; exit 1; }
pids=()      # background processes that cleanup ends (TERM, then KILL)
ljd_pid=     # the running ljd, if any (start_ljd / stop_ljd)
ljd_netns=   # the network namespace start_ljd runs ljd in; empty: the test's own
netns=()     # network namespaces made by make_netns (cleanup deletes them, after the processes)
root=$tmp/root
sock=$tmp/ljd.sock
failed=0
# podman on storage of the test's own, with runc and the limits this machine's runc needs.
podman="podman --root $tmp/p/root --runroot $tmp/p/run --storage-driver vfs --runtime runc"
prun() { $podman run --rm --ulimit nofile=1024:1024 --ulimit nproc=1000:1000 --network none "$@"; }

check() {  # check DESCRIPTION COMMAND...
  local what=$1; shift
  if "$@"; then echo "ok   $what"; else echo "FAIL $what"; failed=1; fi
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# end_process PID [SECONDS]: TERM, up to SECONDS (10) for it to exit, then KILL; its status. Only a
# background job of this shell not yet waited for: a pid already reaped may be someone else's now.
end_process() {
  local pid=$1 limit=$(( ${2:-10} * 10 ))
  jobs -p | grep -qx "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null
  for (( i = 0; i < limit; i++ )); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && { echo "pid $pid still running after TERM: KILL"; kill -KILL "$pid" 2>/dev/null; }
  wait "$pid" 2>/dev/null
}

wait_ljd() {  # wait_ljd: until ljd answers on $sock (its log in $tmp/ljd.log), else exit 1
  for _ in $(seq 100); do
    curl -fs --unix-socket "$sock" http://ljd/v1/info >/dev/null 2>&1 && return 0
    kill -0 "$ljd_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "ljd did not start:"; cat "$tmp/ljd.log"; exit 1
}
# start_ljd [NAME=VALUE...] [LJD_ARGS...]: ljd on $root and $sock, the leading NAME=VALUE words in
# its environment, the rest added to its command line; waits until it answers.
start_ljd() {
  local envs=()
  while [ $# -gt 0 ] && [[ $1 == [A-Za-z_]*=* ]]; do envs+=("$1"); shift; done
  [ -n "$ljd_pid" ] && { echo "start_ljd: ljd $ljd_pid is still running"; exit 1; }
  mkdir -p "$root"
  local enter=()
  [ -n "$ljd_netns" ] && enter=(nsenter "--net=/run/netns/$ljd_netns")  # execs: $! is ljd
  env "${envs[@]}" "${enter[@]}" "$ljd" --root "$root" --socket "$sock" --log-level info "$@" \
    2>>"$tmp/ljd.log" &
  ljd_pid=$!
  wait_ljd
}
# stop_ljd: TERM (it stops its jails, stop_timeout each), KILL after 60 s; its exit status.
stop_ljd() {
  [ -n "$ljd_pid" ] || return 0
  end_process "$ljd_pid" 60; local rc=$?
  ljd_pid=
  return $rc
}

# make_netns NAME: a network namespace of the test's (loopback up), deleted by cleanup; never
# the machine's own interfaces. NAME should carry $$ (ljt$$-h) so parallel runs do not meet.
# iproute2's first `ip netns add` on a host makes /run/netns a bind of itself, for good: cleanup
# undoes it when this test made it and nothing is left in it.
netns_dir_was_mounted=
make_netns() {
  if [ -z "$netns_dir_was_mounted" ]; then
    netns_dir_was_mounted=$(mountpoint -q /run/netns 2>/dev/null && echo yes || echo no)
  fi
  ip netns add "$1" || { echo "ip netns add $1 failed"; exit 1; }
  netns+=("$1")
  ip -n "$1" link set lo up || { echo "lo up in $1 failed"; exit 1; }
}

start_registry() {  # start_registry PORT CONFIG_EXTRA -> waits until it answers
  local port=$1 extra=$2
  mkdir -p "$tmp/reg-$port"
  { printf 'version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\n' "$tmp/reg-$port/data"
    printf 'http:\n  addr: 127.0.0.1:%s\n' "$port"
    printf '%s\n' "$extra"; } > "$tmp/reg-$port/config.yml"
  docker-registry serve "$tmp/reg-$port/config.yml" > "$tmp/reg-$port/log" 2>&1 &
  pids+=($!)
  for _ in $(seq 50); do
    curl -sk -o /dev/null "http://127.0.0.1:$port/v2/" && return 0
    curl -sk -o /dev/null "https://127.0.0.1:$port/v2/" && return 0
    sleep 0.1
  done
  echo "registry on $port did not start:"; cat "$tmp/reg-$port/log"; exit 1
}

# The host policy tests' helpers. start_ljd_with CONFIG_TEXT: ljd with that ljd.conf.
start_ljd_with() {
  printf '%s\n' "$1" > "$tmp/ljd.conf"
  start_ljd --config "$tmp/ljd.conf"
}
# create BODY [START]: POST /v1/jails (started unless START is false) -> "STATUS BODY"
create() {
  curl -s --unix-socket "$sock" -o "$tmp/resp" -w '%{http_code}' -X POST \
    "http://ljd/v1/jails?start=${2:-true}" -d "$1"
  echo " $(cat "$tmp/resp")"
}
# refused: "STATUS BODY" of a 403 on stdin -> "STATUS CODE ITEM:RULE..." (sorted, one line)
refused() { python3 -c '
import json,sys; s,b=sys.stdin.read().split(" ",1); j=json.loads(b)
print(s, j["code"], " ".join(sorted(r["item"]+":"+r["rule"] for r in j.get("details", {}).get("refused", []))))'; }

# The cgroup scope ljd gives the jails of $root (daemon/backend_glue.cpp, cgroup_scope_of: FNV-1a
# of the root's canonical path).
ljd_cgroup_scope() {
  python3 -c 'import os,sys
h = 0xcbf29ce484222325
for c in os.path.realpath(sys.argv[1]).encode(): h = ((h ^ c) * 0x100000001b3) & 0xffffffffffffffff
print("scope-%016x" % h)' "$1"
}

# Teardown, the reverse of what the scripts set up: ljd (which stops its jails), the other
# processes, podman's containers and images, then what a crashed ljd can leave: jail processes
# and cgroups in its scope, and mounts under $tmp. Only then is $tmp removed, never across a mount.
cleanup() {
  local rc=$?
  trap - EXIT
  stop_ljd
  local p; for p in "${pids[@]}"; do end_process "$p" 10; done
  if [ -d "$tmp/p" ]; then
    $podman rm -a -f >/dev/null 2>&1
    $podman rmi -a -f >/dev/null 2>&1
  fi
  local r; for r in "$root" "$tmp"/root*; do
    [ -d "$r" ] || continue
    local scope; scope=$(ljd_cgroup_scope "$r") || continue
    local d; while read -r d; do
      local q; for q in $(cat "$d/cgroup.procs" 2>/dev/null); do
        echo "cleanup: jail process $q left in $d: KILL"; kill -KILL "$q" 2>/dev/null
      done
    done < <(find /sys/fs/cgroup -maxdepth 12 -type d -path "*/$scope*" 2>/dev/null)
    # Deepest first; a cgroup whose last task is still exiting needs a moment.
    for _ in 1 2 3 4 5; do
      find /sys/fs/cgroup -maxdepth 12 -depth -type d -path "*/$scope*" -exec rmdir {} + 2>/dev/null
      find /sys/fs/cgroup -maxdepth 12 -type d -name "$scope" 2>/dev/null | grep -q . || break
      sleep 0.2
    done
  done
  local n q; for n in "${netns[@]}"; do
    for q in $(ip netns pids "$n" 2>/dev/null); do
      echo "cleanup: process $q left in netns $n: KILL"; kill -KILL "$q" 2>/dev/null
    done
    ip netns del "$n" 2>/dev/null || echo "cleanup: ip netns del $n failed"
  done
  if [ "$netns_dir_was_mounted" = no ] && mountpoint -q /run/netns &&
    [ -z "$(ls -A /run/netns)" ]; then
    umount /run/netns 2>/dev/null
  fi
  local m; while read -r m; do
    echo "cleanup: unmounting $m"; umount -l "$m" 2>/dev/null
  done < <(awk -v t="$tmp" '$5 == t || index($5, t "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r)
  if awk -v t="$tmp" '$5 == t || index($5, t "/") == 1 { f = 1 } END { exit !f }' /proc/self/mountinfo; then
    echo "cleanup: mounts left under $tmp: kept"
  else
    rm -rf --one-file-system "$tmp"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
trap 'exit 129' HUP
