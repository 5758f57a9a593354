#!/usr/bin/env bash
# Black-box: `ljctl run -P` (publish_all): an image's ExposedPorts published on host ports ljd
# picks, listed by `ljctl port`, reachable. ljd runs inside a network namespace the test makes
# (never on this machine's own interfaces), with publish_port_range = 41000-41003 and a host
# process holding 41000/tcp. Shows: the held port skipped, each exposed port on its own host
# port, served through it; a port -p publishes already kept as given; a range with no free port
# left is a 409 naming the port, and nothing is created; a port freed by a removed jail is
# handed out again; udp ports as udp; an image exposing nothing joins no network; -P without an
# image and an sctp port are 400s.
# As root with podman, nsenter and ip; exits 77 (skipped) otherwise.
#
# usage: publish_all_test.sh SOURCE_DIR BUILD_DIR
set -uo pipefail
src=$1 build=$2
ljd=$build/daemon/ljd
ljctl=$build/client/ljctl
[ "$(id -u)" -eq 0 ] || { echo "skip: needs root (jails, network namespaces)"; exit 77; }
for t in podman ip nsenter nft python3 curl; do
  command -v $t >/dev/null || { echo "skip: $t not installed"; exit 77; }
done
. "$(dirname "$0")/common.sh" publish-all  # $tmp, cleanup, check, start_ljd, make_netns, $podman

# --- images, made offline: one serving on the two ports it exposes, one exposing udp, one
# exposing nothing, one exposing sctp ---
mkdir -p "$tmp/tree/bin" "$tmp/ctx"
cp /bin/busybox "$tmp/tree/bin/" && ln -s busybox "$tmp/tree/bin/sh"
tar -C "$tmp/tree" -cf "$tmp/bb.tar" bin
$podman import "$tmp/bb.tar" localhost/bb:1 >/dev/null 2>&1 || { echo "podman import failed"; exit 1; }
cat > "$tmp/ctx/Web" <<'EOF'
FROM localhost/bb:1
EXPOSE 80 8080
CMD ["/bin/sh", "-c", "mkdir -p /w && echo served > /w/index.html && /bin/busybox httpd -p 8080 -h /w && exec /bin/busybox httpd -f -p 80 -h /w"]
EOF
printf 'FROM localhost/bb:1\nEXPOSE 53/udp\nCMD ["/bin/sh", "-c", "sleep 60"]\n' > "$tmp/ctx/Dns"
printf 'FROM localhost/bb:1\nEXPOSE 132/sctp\nCMD ["/bin/sh", "-c", "true"]\n' > "$tmp/ctx/Sctp"
for i in Web Dns Sctp; do
  n=$(tr A-Z a-z <<<"$i")
  $podman build -q -f "$tmp/ctx/$i" -t "localhost/$n:1" "$tmp/ctx" >/dev/null 2>&1 || { echo "podman build $i failed"; exit 1; }
done
for i in bb web dns sctp; do
  $podman save -q --format oci-archive -o "$tmp/$i-oci.tar" "localhost/$i:1" || exit 1
done

# --- the "host": a network namespace with ljd in it ---
ns=ljt$$-h
make_netns "$ns"
in_ns() { nsenter "--net=/run/netns/$ns" "$@"; }
printf 'publish_port_range = 41000-41003\nstop_timeout = 2s\n' > "$tmp/ljd.conf"
ljd_netns=$ns
start_ljd --config "$tmp/ljd.conf"
lj() { "$ljctl" --socket "$sock" "$@"; }
api() { curl -s --unix-socket "$sock" "$@"; }
for i in bb web dns sctp; do lj load "$tmp/$i-oci.tar" >/dev/null 2>&1 || { echo "load $i failed"; exit 1; }; done

# A host process (in the namespace) listening on 41000/tcp. Not through in_ns: $! must be the
# process itself (nsenter execs it), not a subshell running a function.
nsenter "--net=/run/netns/$ns" python3 -c '
import socket, time
s = socket.socket(); s.bind(("0.0.0.0", 41000)); s.listen(); print("up", flush=True); time.sleep(600)' > "$tmp/holder.out" &
pids+=($!)
for _ in $(seq 50); do grep -q up "$tmp/holder.out" && break; sleep 0.1; done
grep -q up "$tmp/holder.out" || { echo "the port holder did not start"; exit 1; }

fetch() {  # fetch PORT: GET / through the published port on the namespace's 127.0.0.1, ~5 s of retries
  local out
  for _ in $(seq 50); do
    out=$(in_ns curl -sf -m 1 "http://127.0.0.1:$1/" 2>/dev/null) && { echo "$out"; return 0; }
    sleep 0.1
  done
  return 1
}

a=$(lj run -d -P localhost/web:1 2>&1)
check "run -P: the jail runs" grep -Eq '^j-[0-9a-f]+$' <<<"$a"
out=$(lj port "$a" 2>&1)
check "ljctl port: each exposed port on its own host port, the held 41000 skipped" \
  test "$out" = "$(printf '80/tcp -> 0.0.0.0:41001\n8080/tcp -> 0.0.0.0:41002')"
[ "$out" = "$(printf '80/tcp -> 0.0.0.0:41001\n8080/tcp -> 0.0.0.0:41002')" ] || echo "$out"
check "served through 41001 (jail port 80)" test "$(fetch 41001)" = served
check "served through 41002 (jail port 8080)" test "$(fetch 41002)" = served
nets=$(api "http://ljd/v1/jails/$a" | python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["spec"]["networks"][0]["name"], "publish_all" in j["spec"])')
check "it joined the default network; the spec stores the ports, not publish_all" test "$nets" = "default False"

# -p for one port, -P for the rest: 80 stays where -p put it; 8080 finds nothing free.
code=$(api -o "$tmp/full.json" -w '%{http_code}' -X POST 'http://ljd/v1/jails?start=true' \
  -d '{"image": "localhost/web:1", "publish_all": true, "ports": [{"host_port": 41003, "container_port": 80}]}')
check "no free port left for 8080: 409 naming the range and the port" \
  bash -c "[ $code = 409 ] && grep -q 'no free host port left in 41000-41003 for exposed port 8080/tcp' '$tmp/full.json'"
check "and no jail was created" test "$(lj ps -a -q 2>/dev/null | wc -l)" -eq 1
lj rm -f "$a" >/dev/null 2>&1
b=$(lj run -d -P -p 41003:80 localhost/web:1 2>&1)
out=$(lj --json port "$b" 2>&1 | python3 -c '
import json,sys
for p in json.load(sys.stdin): print(p["container_port"], p["host_port"], p["protocol"])')
check "with -p 41003:80: 80 kept on 41003, 8080 on a port freed by the removed jail" \
  bash -c "grep -qx '80 41003 tcp' <<<'$out' && grep -Eqx '8080 4100[12] tcp' <<<'$out' && [ \$(wc -l <<<'$out') = 2 ]"
p8080=$(awk '$1 == 8080 { print $2 }' <<<"$out")
check "served through the explicit 41003" test "$(fetch 41003)" = served
check "served through the picked $p8080" test "$(fetch "$p8080")" = served

out=$(lj --json port "$(lj run -d -P localhost/dns:1 2>&1)" 2>&1 | python3 -c '
import json,sys; p=json.load(sys.stdin); print(len(p), p[0]["container_port"], p[0]["protocol"], 41000 <= p[0]["host_port"] <= 41003)')
check "an exposed udp port is published as udp" test "$out" = "1 53 udp True"

c=$(lj run -d --keep -P localhost/bb:1 /bin/sh -c 'ls /sys/class/net 2>/dev/null | wc -l; cat /proc/net/dev | wc -l' 2>&1)
lj wait "$c" >/dev/null 2>&1
spec=$(api "http://ljd/v1/jails/$c" | python3 -c 'import json,sys; s=json.load(sys.stdin)["spec"]; print("networks" in s, "ports" in s)')
check "an image exposing nothing: -P publishes nothing and joins no network" test "$spec" = "False False"

out=$(lj run -P localhost/sctp:1 2>&1); rc=$?
check "an exposed sctp port: refused, saying only tcp and udp are published" \
  bash -c "[ $rc -ne 0 ] && grep -q '132/sctp.*only tcp and udp' <<<'$out'"
code=$(api -o "$tmp/noimg.json" -w '%{http_code}' -X POST 'http://ljd/v1/jails' -d '{"command": ["true"], "publish_all": true}')
check "publish_all without an image: 400 on the field" \
  bash -c "[ $code = 400 ] && grep -q publish_all '$tmp/noimg.json'"

if [ $failed -ne 0 ]; then echo "--- ljd's log:"; tail -40 "$tmp/ljd.log"; fi
exit $failed
