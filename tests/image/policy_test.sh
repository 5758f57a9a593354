#!/usr/bin/env bash
# Black-box: the host privilege policy (daemon/policy.hpp) through ljd's API. Images made offline
# by podman and loaded under registry names: a plain one, and one that declares privileges (label
# org.lightjail.privileges: a device and raw sockets; EXPOSE 80). Shows, under a strict policy:
# the plain image runs from an allowed repository and is refused (403, rule policy_registries)
# from another; the declaring image is refused with every item and its rule listed; a request's
# own privilege is refused; a non-root caller's policy_override is refused; a root override runs
# and is recorded on the jail, with the device node and CAP_NET_RAW really in the jail. Under a
# policy that grants them: the same image runs without override, granted (recorded), and without
# the grant a jail has neither the device nor the capability. Also two image config items: an
# image's StopSignal is what ljctl stop sends, and a WorkingDir its layers lack is made.
# As root with podman; exits 77 (skipped) otherwise.
#
# usage: policy_test.sh SOURCE_DIR BUILD_DIR
set -uo pipefail
src=$1 build=$2
ljd=$build/daemon/ljd
ljctl=$build/client/ljctl
[ "$(id -u)" -eq 0 ] || { echo "skip: needs root (jails, podman)"; exit 77; }
for t in podman python3 curl setpriv; do
  command -v $t >/dev/null || { echo "skip: $t not installed"; exit 77; }
done
dev=/dev/net/tun  # a device every Linux host here has, that no jail gets by default
[ -c $dev ] || { echo "skip: no $dev"; exit 77; }

. "$(dirname "$0")/common.sh" policy  # $tmp, cleanup, check, start_ljd, $podman
chmod 755 "$tmp"  # the non-root caller reaches the socket

# --- images, made offline ---
mkdir -p "$tmp/tree/bin" "$tmp/ctx"
cp /bin/busybox "$tmp/tree/bin/" && ln -s busybox "$tmp/tree/bin/sh"
tar -C "$tmp/tree" -cf "$tmp/bb.tar" bin
$podman import "$tmp/bb.tar" localhost/bb:1 >/dev/null 2>&1 || { echo "podman import failed"; exit 1; }
cat > "$tmp/ctx/Priv" <<EOF
FROM localhost/bb:1
LABEL org.lightjail.privileges="device=$dev, raw_sockets"
EXPOSE 80
CMD ["/bin/sh", "-c", "echo hi"]
EOF
$podman build -q -f "$tmp/ctx/Priv" -t localhost/priv:1 "$tmp/ctx" >/dev/null 2>&1 || { echo "podman build failed"; exit 1; }
# Config only (import --change): a StopSignal, and a WorkingDir the layers do not have.
$podman import --change STOPSIGNAL=SIGUSR1 --change WORKDIR=/made/by/ljd "$tmp/bb.tar" localhost/stop:1 \
  >/dev/null 2>&1 || { echo "podman import failed"; exit 1; }
for i in bb priv stop; do
  $podman save -q --format oci-archive -o "$tmp/$i-oci.tar" localhost/$i:1 || exit 1
done

# --- ljd on a private root, with a policy file (start_ljd_with) ---
lj() { "$ljctl" --socket "$sock" "$@"; }
# output of a jail: waits for it, prints its log
output() { local id; id=$(python3 -c 'import json,sys; print(json.loads(sys.stdin.read().split(" ",1)[1])["id"])');
  lj wait "$id" >/dev/null 2>&1; lj logs "$id" 2>&1; }

start_ljd_with "socket_group = nogroup
policy_registries = 127.0.0.1:5000/ok
policy_ports = 1024-65535"
lj load "$tmp/bb-oci.tar" --name 127.0.0.1:5000/ok/bb:1 >/dev/null 2>&1
lj tag 127.0.0.1:5000/ok/bb:1 127.0.0.1:5000/other/bb:1 >/dev/null
lj load "$tmp/priv-oci.tar" --name 127.0.0.1:5000/ok/priv:1 >/dev/null 2>&1
check "images loaded" bash -c "'$ljctl' --socket '$sock' images | grep -c '127.0.0.1:5000/' | grep -qx 3"

out=$(create '{"image": "127.0.0.1:5000/ok/bb:1", "command": ["/bin/sh", "-c", "echo ok"]}')
check "an image of an allowed repository runs: 201" test "${out%% *}" = 201
check "  its output" test "$(output <<<"$out")" = ok
out=$(create '{"image": "127.0.0.1:5000/other/bb:1", "command": ["/bin/sh", "-c", "echo ok"]}' | refused)
check "the same image under another repository: 403 naming policy_registries" \
  test "$out" = "403 policy.permission_denied image=127.0.0.1:5000/other/bb:policy_registries"
out=$(create '{"image": "127.0.0.1:5000/ok/priv:1"}' | refused)
check "an image declaring a device, raw sockets and port 80: 403, each item and its rule" \
  test "$out" = "403 policy.permission_denied device=$dev:policy_devices port=80/tcp:policy_ports raw_sockets:policy_allow"
out=$(create '{"image": "127.0.0.1:5000/ok/bb:1", "command": ["/bin/sh", "-c", "true"], "privileges": ["mlock"]}' | refused)
check "a request's own privilege: 403 naming policy_allow" test "$out" = "403 policy.permission_denied mlock:policy_allow"
code=$(create '{"image": "127.0.0.1:5000/ok/bb:1", "command": ["/bin/sh", "-c", "true"], "privileges": ["device=/dev/../etc/passwd"]}')
check "a malformed device: 400" test "${code%% *}" = 400
out=$(setpriv --reuid=65534 --regid="$(getent group nogroup | cut -d: -f3)" --clear-groups \
  curl -s --unix-socket "$sock" -w ' %{http_code}' -X POST 'http://ljd/v1/jails?start=true' \
  -d '{"image": "127.0.0.1:5000/ok/priv:1", "policy_override": true}')
check "a non-root caller's policy_override: 403, it needs root" \
  bash -c "grep -q ' 403\$' <<<'$out' && grep -q 'policy_override needs a root caller' <<<'$out'"

# probe IMAGE [EXTRA_JSON] -> "STATUS OVERRIDE PRIVILEGES | OUTPUT": a jail on IMAGE that says
# whether it has the device node and CAP_NET_RAW, its status, its recorded grant, its output.
probe() {
  local script="[ -c $dev ] && echo c || echo none; cap=\$(grep CapEff /proc/self/status | cut -f2); echo \$(( 0x\$cap >> 13 & 1 ))"
  local body out
  body=$(python3 -c 'import json,sys; b={"image": sys.argv[1], "command": ["/bin/sh", "-c", sys.argv[2]]}; b.update(json.loads(sys.argv[3])); print(json.dumps(b))' "$1" "$script" "${2:-{\}}")
  out=$(create "$body")
  [ "${out%% *}" = 201 ] || { echo "$out"; return; }
  echo "$(python3 -c 'import json,sys; j=json.loads(sys.stdin.read().split(" ",1)[1])["spec"]; print("201", j.get("policy_override"), ",".join(j.get("privileges", [])))' <<<"$out") | $(output <<<"$out" | tr '\n' ' ')"
}

# A root override: granted, recorded, and real in the jail.
out=$(probe 127.0.0.1:5000/ok/priv:1 '{"policy_override": true}')
check "root's policy_override: 201, the grant recorded, the device node and CAP_NET_RAW in the jail" \
  test "$out" = "201 True device=$dev,port=80/tcp,raw_sockets | c 1 "
stop_ljd

# A policy that grants them: no override needed; without a grant, nothing of the kind.
start_ljd_with "policy_devices = $dev
policy_allow = raw_sockets, sysvipc"
out=$(probe 127.0.0.1:5000/ok/priv:1)
check "granted by the policy: 201, recorded without override, the device node and CAP_NET_RAW in the jail" \
  test "$out" = "201 None device=$dev,port=80/tcp,raw_sockets | c 1 "
out=$(probe 127.0.0.1:5000/ok/bb:1)
check "a jail granted nothing: neither the device nor CAP_NET_RAW" test "$out" = "201 None  | none 0 "
out=$(create '{"image": "127.0.0.1:5000/ok/bb:1", "command": ["/bin/sh", "-c", "true"], "privileges": ["sysvipc", "port=53/udp"]}')
check "sysvipc and a port the policy grants: 201" test "${out%% *}" = 201
# Created now (not started) under this policy; started later under a narrower one.
code=$(curl -s --unix-socket "$sock" -o "$tmp/later" -w '%{http_code}' -X POST 'http://ljd/v1/jails' \
  -d '{"image": "127.0.0.1:5000/ok/priv:1", "command": ["/bin/sh", "-c", "echo later"]}')
later=$(python3 -c 'import json; print(json.load(open("'"$tmp/later"'"))["id"])')
check "a jail created (not started) under a policy that grants its privileges: 201" test "$code" = 201

# An image's StopSignal is what a stop naming no signal sends (not SIGTERM).
lj load "$tmp/stop-oci.tar" --name 127.0.0.1:5000/ok/stop:1 >/dev/null 2>&1
id=$(lj run -d --keep 127.0.0.1:5000/ok/stop:1 /bin/sh -c 'trap "echo got USR1; exit 7" USR1; trap "echo got TERM; exit 8" TERM; echo up; while :; do sleep 0.1; done' 2>&1)
for _ in $(seq 50); do lj logs "$id" 2>/dev/null | grep -q up && break; sleep 0.1; done
lj stop "$id" >/dev/null 2>&1
out=$(lj logs "$id" 2>&1 | tr '\n' ' '); lj wait "$id" >/dev/null 2>&1; rc=$?
check "ljctl stop sends the image's StopSignal (SIGUSR1)" test "$out $rc" = "up got USR1  7"
check "  the jail's spec records it" bash -c "curl -s --unix-socket '$sock' http://ljd/v1/jails/$id | grep -q '\"stop_signal\":\"SIGUSR1\"'"
out=$(lj run 127.0.0.1:5000/ok/stop:1 /bin/sh -c 'pwd; ls -ld /made/by | cut -c1-10' 2>&1)
check "an image's WorkingDir missing from its layers is made (0755)" test "$out" = "$(printf '/made/by/ljd\ndrwxr-xr-x')"
out=$(lj run -w /also/new 127.0.0.1:5000/ok/bb:1 /bin/sh -c pwd 2>&1)
check "  and a -w on an image too (docker's)" test "$out" = /also/new
stop_ljd

# The policy is checked again at start: ljd.conf changed since the create.
start_ljd_with "policy_allow = raw_sockets"
out=$(curl -s --unix-socket "$sock" -w ' %{http_code}' -X POST "http://ljd/v1/jails/$later/start")
out="${out##* } ${out% *}"
check "start under a policy that no longer grants the device: 403 naming it and its rule" \
  test "$(refused <<<"$out")" = "403 policy.permission_denied device=$dev:policy_devices"
check "  and the jail stays created" bash -c "curl -s --unix-socket '$sock' http://ljd/v1/jails/$later | grep -q '\"state\":\"created\"'"
stop_ljd
start_ljd_with "policy_devices = $dev
policy_allow = raw_sockets"
code=$(curl -s --unix-socket "$sock" -o /dev/null -w '%{http_code}' -X POST "http://ljd/v1/jails/$later/start")
check "the policy restored: the start succeeds" test "$code" = 200
stop_ljd

printf 'policy_allow = root\n' > "$tmp/bad.conf"
"$ljd" --config "$tmp/bad.conf" --root "$root" --socket "$tmp/x.sock" > "$tmp/bad.out" 2>&1; rc=$?
check "ljd.conf: an unknown privilege stops ljd, naming it" \
  bash -c "[ $rc -ne 0 ] && grep -q 'policy_allow: unknown privilege .root.' '$tmp/bad.out'"

if [ $failed -ne 0 ]; then echo "--- ljd's log:"; tail -50 "$tmp/ljd.log"; fi
exit $failed
