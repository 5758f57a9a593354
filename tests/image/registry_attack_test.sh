#!/usr/bin/env bash
# Black-box: what a hostile or broken registry serves, pulled through ljd as a user would
# (`ljctl pull`). docker-registry on 127.0.0.1 (inside a network namespace of the test's), seeded
# by skopeo with OCI layouts this script writes, then its stored blobs altered on disk (the
# registry serves its blobs without checking them): a layer whose bytes do not match its digest
# and a layer cut short; a manifest over the 4 MiB limit (from a stand-in registry: the real one
# parses manifests); layers whose entries climb out (`..`, under a symlink to /etc, a hard link
# out). Each pull fails with exit 1 and an error naming the cause, and leaves nothing of the
# attacked layer: no layer, no blob, no name, no staging directory. An untouched image then
# pulls and runs on the layer shared with the attacked ones, and an index of two platforms
# (pushed with skopeo --all) pulls and runs as this host's.
# As root with the tools installed; exits 77 (skipped) otherwise.
#
# usage: registry_attack_test.sh SOURCE_DIR BUILD_DIR
set -uo pipefail
src=$1 build=$2
ljd=$build/daemon/ljd
ljctl=$build/client/ljctl
[ "$(id -u)" -eq 0 ] || { echo "skip: needs root (jails, unpacking owners)"; exit 77; }
for t in docker-registry skopeo python3 curl ip nsenter; do
  command -v $t >/dev/null || { echo "skip: $t not installed"; exit 77; }
done

. "$(dirname "$0")/common.sh" registry-attack  # $tmp, cleanup, check, start_registry, start_ljd

# --- OCI layouts, written here: each a base layer (busybox) and a layer of its own ---
mkdir -p "$tmp/tree/bin"
cp /bin/busybox "$tmp/tree/bin/" && ln -s busybox "$tmp/tree/bin/sh"
python3 - "$tmp" <<'EOF' || { echo "writing the layouts failed"; exit 1; }
import hashlib, io, json, os, sys, tarfile
tmp = sys.argv[1]
def tar(add):
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w", format=tarfile.PAX_FORMAT) as t:
        add(t)
    return b.getvalue()
def reg(t, name, data):
    i = tarfile.TarInfo(name); i.size = len(data); i.mode = 0o644; t.addfile(i, io.BytesIO(data))
def link(t, name, target, kind):
    i = tarfile.TarInfo(name); i.type = kind; i.linkname = target; t.addfile(i)
base = tar(lambda t: t.add(os.path.join(tmp, "tree/bin"), arcname="bin"))
own = {
  # 1 MiB of its own per image: the digest and truncation attacks alter these.
  "digest": tar(lambda t: reg(t, "data", os.urandom(1 << 20))),
  "short": tar(lambda t: reg(t, "data", os.urandom(1 << 20))),
  "dotdot": tar(lambda t: reg(t, "../escaped", b"x")),
  "symlink": tar(lambda t: (link(t, "etc", "/etc", tarfile.SYMTYPE), reg(t, "etc/escaped", b"x"))),
  "hardlink": tar(lambda t: link(t, "passwd", "../../../../etc/passwd", tarfile.LNKTYPE)),
  "good": tar(lambda t: reg(t, "hello", b"hello\n")),
}
sha = lambda b: hashlib.sha256(b).hexdigest()
for name, layer in own.items():
    d = os.path.join(tmp, "oci", name)
    os.makedirs(os.path.join(d, "blobs/sha256"))
    def blob(b):
        open(os.path.join(d, "blobs/sha256", sha(b)), "wb").write(b)
        return {"digest": "sha256:" + sha(b), "size": len(b)}
    layers = [base, layer]
    cfg = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/bin/sh", "-c", "cat /hello"]},
                      "rootfs": {"type": "layers", "diff_ids": ["sha256:" + sha(l) for l in layers]}}).encode()
    m = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": dict(blob(cfg), mediaType="application/vnd.oci.image.config.v1+json"),
                    "layers": [dict(blob(l), mediaType="application/vnd.oci.image.layer.v1.tar") for l in layers]}).encode()
    open(os.path.join(d, "index.json"), "w").write(json.dumps({"schemaVersion": 2, "manifests": [
        dict(blob(m), mediaType="application/vnd.oci.image.manifest.v1+json")]}))
    open(os.path.join(d, "oci-layout"), "w").write('{"imageLayoutVersion":"1.0.0"}')
    open(os.path.join(tmp, "oci", name + ".layer"), "w").write(sha(layer))
# An index of two platforms, linux/arm64 listed first: each says which it is.
d = os.path.join(tmp, "oci", "multi")
os.makedirs(os.path.join(d, "blobs/sha256"))
def blob(b):
    open(os.path.join(d, "blobs/sha256", sha(b)), "wb").write(b)
    return {"digest": "sha256:" + sha(b), "size": len(b)}
entries = []
for arch in ("arm64", "amd64"):
    layers = [base, tar(lambda t: reg(t, "hello", arch.encode() + b"\n"))]
    cfg = json.dumps({"architecture": arch, "os": "linux", "config": {"Cmd": ["/bin/sh", "-c", "cat /hello"]},
                      "rootfs": {"type": "layers", "diff_ids": ["sha256:" + sha(l) for l in layers]}}).encode()
    m = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": dict(blob(cfg), mediaType="application/vnd.oci.image.config.v1+json"),
                    "layers": [dict(blob(l), mediaType="application/vnd.oci.image.layer.v1.tar") for l in layers]}).encode()
    entries.append(dict(blob(m), mediaType="application/vnd.oci.image.manifest.v1+json",
                        platform={"os": "linux", "architecture": arch}))
idx = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": entries}).encode()
open(os.path.join(d, "index.json"), "w").write(json.dumps({"schemaVersion": 2, "manifests": [
    dict(blob(idx), mediaType="application/vnd.oci.image.index.v1+json")]}))
open(os.path.join(d, "oci-layout"), "w").write('{"imageLayoutVersion":"1.0.0"}')
EOF

# --- the registry and ljd, in a network namespace of the test's ---
make_netns "ljt$$-a"
ljd_netns="ljt$$-a"
in_ns() { nsenter "--net=/run/netns/$ljd_netns" "$@"; }
port=5000
mkdir -p "$tmp/reg-$port"
printf 'version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' \
  "$tmp/reg-$port/data" "$port" > "$tmp/reg-$port/config.yml"
in_ns docker-registry serve "$tmp/reg-$port/config.yml" > "$tmp/reg-$port/log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do in_ns curl -s -o /dev/null "http://127.0.0.1:$port/v2/" && break; sleep 0.1; done
reg=127.0.0.1:$port
declare -A remote_layer
in_ns skopeo copy -q --all --dest-tls-verify=false "oci:$tmp/oci/multi" "docker://$reg/multi:1" || { echo "seeding multi failed"; exit 1; }
for i in digest short dotdot symlink hardlink good; do
  in_ns skopeo copy -q --dest-tls-verify=false "oci:$tmp/oci/$i" "docker://$reg/$i:1" || { echo "seeding $i failed"; exit 1; }
done
# What the registry holds (skopeo may have compressed the layers on the way): the manifest the
# tag names, its own layer's digest, and the file the registry serves a blob from.
remote() {
  in_ns curl -s -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' "http://$reg/v2/$1/manifests/1"
}
layer_of() { remote "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["layers"][1]["digest"][7:])'; }
manifest_of() { remote "$1" | sha256sum | cut -c1-64; }
stored() { echo "$tmp/reg-$port/data/docker/registry/v2/blobs/sha256/${1:0:2}/$1/data"; }
for i in digest short dotdot symlink hardlink; do
  remote_layer[$i]=$(layer_of $i)
  [ -f "$(stored "${remote_layer[$i]}")" ] || { echo "the registry's file of $i's layer is not where expected"; exit 1; }
done

start_ljd
lj() { "$ljctl" --socket "$sock" "$@"; }
# Nothing of a refused pull: no layer, no blob, no name, no staging (the base layer, fetched
# alongside, may stay as a verified blob or layer: it is sound).
nothing_of() {  # nothing_of NAME
  local layer; layer=$(cat "$tmp/oci/$1.layer")
  [ ! -e "$root/images/layers/sha256/$layer" ] && [ ! -e "$root/images/blobs/sha256/${remote_layer[$1]}" ] &&
    ! lj images | grep -q "/$1:1 " && [ -z "$(ls -A "$root/.staging")" ]
}
refused() {  # refused NAME TEXT: the pull of NAME fails with exit 1 and an error holding TEXT
  local out rc
  out=$(lj pull "$reg/$1:1" 2>&1 >/dev/null); rc=$?
  echo "  pull $1: exit $rc: $out"
  [ "$rc" -eq 1 ] && grep -qF -- "$2" <<<"$out"
}

# A layer whose bytes are not those of its digest (same size).
f=$(stored "${remote_layer[digest]}")
python3 -c 'import sys; p=sys.argv[1]; b=bytearray(open(p,"rb").read()); b[-2000]^=0xff; open(p,"wb").write(b)' "$f"
check "a layer that does not match its digest: refused, naming the digest" refused digest "${remote_layer[digest]}"
check "... nothing of it stored" nothing_of digest
# A layer cut short.
f=$(stored "${remote_layer[short]}")
truncate -s 300000 "$f"
check "a layer cut short: refused" refused short "300000"
check "... nothing of it stored" nothing_of short
# A manifest over 4 MiB. docker-registry parses the manifests it serves, so a registry of the
# test's own serves it (any manifest GET), on another port of the namespace.
in_ns python3 -c '
import http.server
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"{}" if self.path == "/v2/" else b" " * (5 * 1024 * 1024)
        self.send_response(200)
        self.send_header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try: self.wfile.write(body)
        except OSError: pass
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", 5001), H).serve_forever()' &
pids+=($!)
for _ in $(seq 50); do in_ns curl -s -o /dev/null "http://127.0.0.1:5001/v2/" && break; sleep 0.1; done
nblobs=$(ls "$root/images/blobs/sha256" | wc -l)
out=$(lj pull 127.0.0.1:5001/huge:1 2>&1 >/dev/null); rc=$?
echo "  pull huge: exit $rc: $out"
check "a manifest over 4 MiB: refused, naming the limit" \
  bash -c "[ $rc -eq 1 ] && grep -q 'manifest huge:1 on 127.0.0.1:5001: .*4194304' <<<\"\$1\"" _ "$out"
check "... nothing of it stored" bash -c "[ \$(ls $root/images/blobs/sha256 | wc -l) -eq $nblobs ] && [ -z \"\$(ls -A $root/.staging)\" ]"
# Entries that climb out of the layer.
check "a layer entry with ..: refused" refused dotdot ".."
check "... nothing of it stored" nothing_of dotdot
check "an entry under a symlink to /etc: refused" refused symlink "etc/escaped"
check "... nothing of it stored" nothing_of symlink
check "a hard link out of the layer: refused" refused hardlink "passwd"
check "... nothing of it stored" nothing_of hardlink
check "the host's /etc untouched" test ! -e /etc/escaped

# The store is sound: an untouched image on the same base pulls and runs.
check "an untouched image pulls" bash -c "'$ljctl' --socket '$sock' pull -q $reg/good:1 | grep -q '^sha256:'"
check "and runs, on the shared base" test "$(lj run "$reg/good:1" 2>&1)" = hello

# An index (linux/arm64 first, then linux/amd64) resolves to this host's platform.
check "the registry serves multi:1 as an index" bash -c "in_ns() { nsenter --net=/run/netns/$ljd_netns \"\$@\"; }; in_ns curl -s -H 'Accept: application/vnd.oci.image.index.v1+json' http://$reg/v2/multi/manifests/1 | grep -q '\"arm64\"'"
check "an index pulls as its linux/$(uname -m | sed 's/x86_64/amd64/;s/aarch64/arm64/') image" \
  bash -c "'$ljctl' --socket '$sock' pull -q $reg/multi:1 | grep -q '^sha256:' &&
    '$ljctl' --socket '$sock' images | grep -q '^$reg/multi:1 .* linux/$(uname -m | sed 's/x86_64/amd64/;s/aarch64/arm64/') '"
check "and runs it" test "$(lj run "$reg/multi:1" 2>&1)" = "$(uname -m | sed 's/x86_64/amd64/;s/aarch64/arm64/')"

if [ $failed -ne 0 ]; then echo "--- ljd's log:"; tail -40 "$tmp/ljd.log"; fi
exit $failed
