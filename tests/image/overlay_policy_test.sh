#!/usr/bin/env bash
# Black-box: privileges declared by an overlay's Jailfile (`privileges ITEM, ...`, recorded in its
# manifest) weighed against the host policy through ljd's API. Shows: a Jailfile declaring a
# device builds and its overlay shows the declaration (GET); a bad item fails the build naming
# its line and column; a changed declaration under a pinned version is not the cached build; a
# jail on it is refused under the default policy (403 naming the item and its rule), and so is a
# jail on a child built from it (inherited, with the child's own item); a root policy_override
# runs, is recorded, and the device is in the jail; the chain exported as an OCI image carries
# the declarations as its org.lightjail.privileges label, a jail on that image is refused for
# them (in this ljd, and pushed to docker-registry on 127.0.0.1 and pulled by a fresh ljd), and so is a jail on an overlay built `from image` on it (the image's label inherited);
# under a policy that grants them a jail on the child runs without override, the device in it,
# the grant recorded; a created jail whose overlay resolves at start to a version declaring more
# than its recorded grant is refused (409); policy_registries refuses an overlay built from an
# image of a registry it leaves out.
# As root; exits 77 (skipped) otherwise.
#
# usage: overlay_policy_test.sh SOURCE_DIR BUILD_DIR
set -uo pipefail
src=$1 build=$2
ljd=$build/daemon/ljd
ljctl=$build/client/ljctl
[ "$(id -u)" -eq 0 ] || { echo "skip: needs root (jails)"; exit 77; }
for t in python3 curl; do
  command -v $t >/dev/null || { echo "skip: $t not installed"; exit 77; }
done
dev=/dev/net/tun  # a device every Linux host here has, that no jail gets by default
[ -c $dev ] || { echo "skip: no $dev"; exit 77; }

. "$(dirname "$0")/common.sh" overlay-policy  # $tmp, cleanup, check, start_ljd

# --- a busybox world, put in place by hand ---
w=$root/worlds/bb
mkdir -p "$w/bin" "$w/etc" "$w/tmp" "$w/proc" "$w/dev"
cp /bin/busybox "$w/bin/" && for a in sh cat grep cut echo test; do ln -s busybox "$w/bin/$a"; done

lj() { "$ljctl" --socket "$sock" "$@"; }
api() { curl -s --unix-socket "$sock" "$@"; }
# on REF JSON_EXTRA -> a create body for overlay NAME@=VERSION or an image
on_overlay() { python3 -c 'import json,sys; n,v=sys.argv[1].split("@"); b={"overlay": {"name": n, "version": "="+v}, "command": ["/bin/sh", "-c", sys.argv[2]]}; b.update(json.loads(sys.argv[3])); print(json.dumps(b))' "$1" "$2" "${3:-{\}}"; }
on_image() { python3 -c 'import json,sys; b={"image": sys.argv[1], "command": ["/bin/sh", "-c", sys.argv[2]]}; b.update(json.loads(sys.argv[3])); print(json.dumps(b))' "$1" "$2" "${3:-{\}}"; }
probe_script="[ -c $dev ] && echo c || echo none"
# probe BODY -> "STATUS OVERRIDE PRIVILEGES | OUTPUT" of a started jail, waited for
probe() {
  local out id
  out=$(create "$1")
  [ "${out%% *}" = 201 ] || { echo "$out"; return; }
  id=$(python3 -c 'import json,sys; print(json.loads(sys.stdin.read().split(" ",1)[1])["id"])' <<<"$out")
  lj wait "$id" >/dev/null 2>&1
  echo "$(python3 -c 'import json,sys; j=json.loads(sys.stdin.read().split(" ",1)[1])["spec"]; print("201", j.get("policy_override"), ",".join(j.get("privileges", [])))' <<<"$out") | $(lj logs "$id" 2>&1 | tr '\n' ' ')"
}

start_ljd_with "# the default policy: no privilege granted"

# --- overlays declaring privileges ---
mkdir -p "$tmp/base" "$tmp/child" "$tmp/bad" "$tmp/changed" "$tmp/onimg"
printf 'name priv/base\nversion 1.0.0\nworld bb\nprivileges device=%s\n#!/bin/sh\necho base > /etc/base\n' "$dev" > "$tmp/base/Jailfile"
printf 'name priv/child\nversion 1.0.0\nfrom priv/base ~> 1.0\nprivileges mlock\n#!/bin/sh\necho child > /etc/child\n' > "$tmp/child/Jailfile"
out=$(lj build "$tmp/base" 2>&1)
check "a Jailfile declaring $dev builds" test -f "$root/priv/base/1.0.0/manifest.json"
check "  its manifest records the declaration" python3 -c "
import json,sys; m=json.load(open('$root/priv/base/1.0.0/manifest.json')); sys.exit(m.get('privileges') != ['device=$dev'])"
out=$(api http://ljd/v1/overlays/priv/base/1.0.0 | python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["privileges"], j["chain_privileges"])')
check "  GET of the overlay shows it" test "$out" = "['device=$dev'] ['device=$dev']"
lj build "$tmp/child" >/dev/null 2>&1
out=$(api http://ljd/v1/overlays/priv/child/1.0.0 | python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["privileges"], j["chain_privileges"])')
check "a child's GET: its own declaration, and the chain's with its parent's" \
  test "$out" = "['mlock'] ['device=$dev', 'mlock']"

printf 'name priv/bad\nversion 1.0.0\nworld bb\nprivileges raw_sockets, cap_sys_admin\n#!/bin/sh\ntrue\n' > "$tmp/bad/Jailfile"
out=$(lj build "$tmp/bad" 2>&1); rc=$?
check "a bad item fails the build, naming the line and column" \
  bash -c "[ $rc -ne 0 ] && grep -q 'Jailfile:4:25: bad privileges: unknown privilege .cap_sys_admin.' <<<'$out'"
check "  and publishes nothing" test ! -e "$root/priv/bad"
sed "s|^privileges .*|privileges device=$dev, raw_sockets|" "$tmp/base/Jailfile" > "$tmp/changed/Jailfile"
out=$(lj build "$tmp/changed" 2>&1); rc=$?
check "the declaration is part of the cache key: changed under the same version, not the cached build" \
  bash -c "[ $rc -ne 0 ] && grep -q 'different Jailfile' <<<'$out'"

# --- the default policy refuses them ---
out=$(create "$(on_overlay priv/base@1.0.0 true)" | refused)
check "a jail on it under the default policy: 403 naming the item and its rule" \
  test "$out" = "403 policy.permission_denied device=$dev:policy_devices"
out=$(create "$(on_overlay priv/child@1.0.0 true)" | refused)
check "a jail on the child: 403, the parent's device inherited and the child's mlock" \
  test "$out" = "403 policy.permission_denied device=$dev:policy_devices mlock:policy_allow"
check "  nothing was created" bash -c "[ \"\$(curl -s --unix-socket '$sock' http://ljd/v1/jails | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')\" = 0 ]"
out=$(probe "$(on_overlay priv/child@1.0.0 "$probe_script" '{"policy_override": true}')")
check "root's policy_override: 201, the grant recorded, the device in the jail" \
  test "$out" = "201 True device=$dev,mlock | c "

# --- export: the label carries the chain's declarations ---
lj image export priv/child@1.0.0 localhost/priv/child:1 >/dev/null 2>&1
out=$(lj --json image inspect localhost/priv/child:1 | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["config"]["labels"].get("org.lightjail.privileges"))' 2>&1)
check "the exported image's label org.lightjail.privileges is the chain's declarations" \
  test "$out" = "device=$dev, mlock"
out=$(create "$(on_image localhost/priv/child:1 true)" | refused)
check "  a jail on that image: 403, the image declares them again" \
  test "$out" = "403 policy.permission_denied device=$dev:policy_devices mlock:policy_allow"
if command -v docker-registry >/dev/null; then
  # Pushed to a registry on 127.0.0.1 and pulled by a fresh ljd (another root): the label came along.
  port=$(free_port)
  start_registry "$port" ""
  lj push localhost/priv/child:1 "127.0.0.1:$port/priv/child:1" >/dev/null 2>&1
  stop_ljd
  main_root=$root; root=$tmp/root-pulled
  start_ljd_with "# the default policy"
  lj pull "127.0.0.1:$port/priv/child:1" >/dev/null 2>&1
  out=$(create "$(on_image "127.0.0.1:$port/priv/child:1" true)" | refused)
  check "  pushed, then pulled by a fresh ljd: a jail on it is refused for the same items" \
    test "$out" = "403 policy.permission_denied device=$dev:policy_devices mlock:policy_allow"
  stop_ljd
  root=$main_root
  start_ljd_with "# the default policy: no privilege granted"
else
  echo "skip: docker-registry not installed: no push and pull"
fi
printf 'name priv/onimg\nversion 1.0.0\nfrom image localhost/priv/child:1\n#!/bin/sh\ntrue\n' > "$tmp/onimg/Jailfile"
lj build "$tmp/onimg" >/dev/null 2>&1
out=$(create "$(on_overlay priv/onimg@1.0.0 true)" | refused)
check "an overlay built from that image (no declaration of its own): 403, the image's label inherited" \
  test "$out" = "403 policy.permission_denied device=$dev:policy_devices mlock:policy_allow"
stop_ljd

# --- a policy that grants them ---
start_ljd_with "policy_devices = $dev
policy_allow = mlock"
out=$(probe "$(on_overlay priv/child@1.0.0 "$probe_script")")
check "granted by ljd.conf: a jail on the child runs without override, the device in it, recorded" \
  test "$out" = "201 None device=$dev,mlock | c "
out=$(probe "$(on_overlay priv/onimg@1.0.0 "$probe_script")")
check "  and on the overlay built from the exported image" test "$out" = "201 None device=$dev,mlock | c "
out=$(probe "$(python3 -c 'import json,sys; print(json.dumps({"world": "bb", "command": ["/bin/sh", "-c", sys.argv[1]]}))' "$probe_script")")
check "a jail on the bare world is granted nothing: no device" test "$out" = "201 None  | none "

# A created jail whose constraint resolves at start to a version that declares more.
out=$(create '{"overlay": {"name": "priv/base", "version": "~> 1.0"}, "command": ["/bin/sh", "-c", "true"]}' false)
later=$(python3 -c 'import json,sys; print(json.loads(sys.stdin.read().split(" ",1)[1])["id"])' <<<"$out")
check "a jail created (not started) on priv/base ~> 1.0: 201" test "${out%% *}" = 201
sed -e 's/^version 1.0.0/version 1.1.0/' -e "s|^privileges .*|privileges device=$dev, mlock|" \
  "$tmp/base/Jailfile" > "$tmp/changed/Jailfile"
lj build "$tmp/changed" >/dev/null 2>&1
out=$(curl -s --unix-socket "$sock" -w ' %{http_code}' -X POST "http://ljd/v1/jails/$later/start")
check "started after 1.1.0 declares mlock: 409 naming it, the grant is decided at create" \
  bash -c "grep -q ' 409\$' <<<'$out' && grep -q 'now declares mlock' <<<'$out'"
stop_ljd

# policy_registries reaches the image an overlay was built from (it runs under the overlays).
start_ljd_with "policy_devices = $dev
policy_allow = mlock
policy_registries = 127.0.0.1:5000/ok"
out=$(create "$(on_overlay priv/onimg@1.0.0 true)" | refused)
check "an overlay built from an image of a registry policy_registries leaves out: 403 naming it" \
  test "$out" = "403 policy.permission_denied image=localhost/priv/child:policy_registries"
out=$(create "$(on_overlay priv/child@1.0.0 true)")
check "  an overlay on a world is not an image's: 201" test "${out%% *}" = 201
stop_ljd

if [ $failed -ne 0 ]; then echo "--- ljd's log:"; tail -50 "$tmp/ljd.log"; fi
exit $failed
