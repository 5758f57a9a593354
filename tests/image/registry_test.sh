#!/usr/bin/env bash
# Black-box: ljimage against Debian's docker-registry (distribution 2.8) on 127.0.0.1, seeded
# with skopeo from images podman made offline. Shows: pull (manifest, config, layers, each
# verified), a second image sharing the base fetches only its new layer, pull by digest, push
# (read back by skopeo), kill -9 during a pull leaves no partial layer or name and the next pull
# completes, HTTPS verified against a CA file for a registry that is not implicitly insecure,
# and basic auth (htpasswd) with credentials from a docker-style auths file.
# As root with the tools installed; exits 77 (skipped) otherwise.
#
# usage: registry_test.sh SOURCE_DIR BUILD_DIR
set -uo pipefail
src=$1 build=$2
ljimage=$build/client/ljimage
[ "$(id -u)" -eq 0 ] || { echo "skip: needs root (podman, unpacking owners)"; exit 77; }
for t in docker-registry skopeo podman htpasswd openssl python3; do
  command -v $t >/dev/null || { echo "skip: $t not installed"; exit 77; }
done

. "$(dirname "$0")/common.sh" registry  # $tmp, cleanup, check, free_port, start_registry, $podman

# --- images, made offline: a busybox base, an app on it (one more layer), a big one ---
mkdir -p "$tmp/tree/bin" "$tmp/ctx"
cp /bin/busybox "$tmp/tree/bin/" && ln -s busybox "$tmp/tree/bin/sh"
tar -C "$tmp/tree" -cf "$tmp/bb.tar" .
$podman import "$tmp/bb.tar" localhost/bb:1 >/dev/null 2>&1 || { echo "podman import failed"; exit 1; }
echo hello > "$tmp/ctx/hello"
head -c $((48 * 1024 * 1024)) /dev/urandom > "$tmp/ctx/big"
printf 'FROM localhost/bb:1\nCOPY hello /hello\n' > "$tmp/ctx/App"
printf 'FROM localhost/bb:1\nCOPY big /big\n' > "$tmp/ctx/Big"
$podman build -q -f "$tmp/ctx/App" -t localhost/app:1 "$tmp/ctx" >/dev/null 2>&1 || { echo "podman build failed"; exit 1; }
$podman build -q -f "$tmp/ctx/Big" -t localhost/big:1 "$tmp/ctx" >/dev/null 2>&1 || { echo "podman build failed"; exit 1; }
for i in bb app big; do
  $podman save -q --format oci-archive -o "$tmp/$i-oci.tar" localhost/$i:1 || exit 1
done

# --- an open registry on 127.0.0.1 (insecure by docker's default rule: plain HTTP) ---
p1=$(free_port)
start_registry "$p1" ""
for i in bb app big; do
  skopeo copy -q --dest-tls-verify=false "oci-archive:$tmp/$i-oci.tar" "docker://127.0.0.1:$p1/$i:1" || exit 1
done
export LIGHTJAIL_ROOT=$tmp/root
layers() { ls "$tmp/root/images/layers/sha256" 2>/dev/null | wc -l; }

out=$("$ljimage" pull "127.0.0.1:$p1/bb:1" 2>/dev/null)
check "pull bb: 1 layer fetched" grep -q "(1 layers, 1 fetched" <<<"$out"
check "bb's busybox unpacked" cmp -s /bin/busybox "$tmp/root/images/layers/sha256/$(ls "$tmp/root/images/layers/sha256")/bin/busybox"
out=$("$ljimage" pull "127.0.0.1:$p1/app:1" 2>"$tmp/app.progress")
check "pull app: 2 layers, only the new one fetched" grep -q "(2 layers, 1 fetched" <<<"$out"
check "app's base layer reported as present" grep -q "layer 1/2 .* exists" "$tmp/app.progress"
check "two distinct layers stored" test "$(layers)" -eq 2
digest=$(skopeo inspect --tls-verify=false "docker://127.0.0.1:$p1/app:1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Digest"])')
out=$("$ljimage" pull "127.0.0.1:$p1/app@$digest" 2>/dev/null)
check "pull by digest" grep -q "$digest (2 layers, 0 fetched" <<<"$out"
check "pull of a missing tag fails" bash -c "! '$ljimage' pull 127.0.0.1:$p1/app:nope 2>$tmp/err && grep -q 'MANIFEST_UNKNOWN' $tmp/err"

# kill -9 in the middle of a layer: nothing half-stored, nothing named; the next pull completes.
"$ljimage" pull "127.0.0.1:$p1/big:1" 2>"$tmp/big.progress" >/dev/null &
pid=$!; pids+=($pid)
for _ in $(seq 200); do
  grep -q "layer 2/2 .* fetching [1-9]" "$tmp/big.progress" 2>/dev/null && break
  sleep 0.02
done
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
check "the kill came mid-transfer" bash -c "grep -q 'layer 2/2 .* fetching [1-9]' $tmp/big.progress && ! grep -q 'layer 2/2 .* done' $tmp/big.progress"
check "no partial layer after kill -9" test "$(layers)" -eq 2
check "no name after kill -9" bash -c "! '$ljimage' images | grep -q big"
out=$("$ljimage" pull "127.0.0.1:$p1/big:1" 2>/dev/null)
check "the next pull completes" grep -q "(2 layers, 1 fetched" <<<"$out"
check "and cleaned the killed pull's staging" bash -c "[ -z \"\$(ls $tmp/root/.staging)\" ]"
check "big layer intact" bash -c "cmp -s $tmp/ctx/big $tmp/root/images/layers/sha256/*/big"

# push: the registry gets the same manifest, and skopeo reads it back.
"$ljimage" push "127.0.0.1:$p1/app:1" "127.0.0.1:$p1/pushed/app:2" >/dev/null 2>&1
pushed=$(skopeo inspect --tls-verify=false "docker://127.0.0.1:$p1/pushed/app:2" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["Digest"])')
check "push: skopeo reads back the same manifest" test "$pushed" = "$digest"
check "push: skopeo copies it out whole" skopeo copy -q --src-tls-verify=false "docker://127.0.0.1:$p1/pushed/app:2" "oci:$tmp/pushed-layout:x"

# --- HTTPS + htpasswd on "localhost" (not implicitly insecure: verified TLS only) ---
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/key.pem" -out "$tmp/cert.pem" -days 1 \
  -subj /CN=localhost -addext subjectAltName=DNS:localhost >/dev/null 2>&1
htpasswd -Bbc "$tmp/htpasswd" alice s3cret >/dev/null 2>&1
p2=$(free_port)
start_registry "$p2" "  tls:
    certificate: $tmp/cert.pem
    key: $tmp/key.pem
auth:
  htpasswd:
    realm: test
    path: $tmp/htpasswd"
skopeo copy -q --dest-tls-verify=false --dest-creds alice:s3cret "oci-archive:$tmp/bb-oci.tar" "docker://localhost:$p2/bb:1" || exit 1
printf '{"auths":{"localhost:%s":{"auth":"%s"}}}' "$p2" "$(printf alice:s3cret | base64)" > "$tmp/auth.json"
printf '{"auths":{"localhost:%s":{"auth":"%s"}}}' "$p2" "$(printf alice:wrong | base64)" > "$tmp/bad-auth.json"
export LIGHTJAIL_ROOT=$tmp/root2
check "TLS: an unknown CA is refused" bash -c "! '$ljimage' pull --auth-file $tmp/auth.json localhost:$p2/bb:1 2>$tmp/err && grep -qi 'certificate' $tmp/err"
check "auth: no credentials is refused" bash -c "! REGISTRY_AUTH_FILE=$tmp/none.json '$ljimage' pull --ca-file $tmp/cert.pem localhost:$p2/bb:1 2>$tmp/err && grep -q 'credentials' $tmp/err"
check "auth: a wrong password is refused" bash -c "! '$ljimage' pull --ca-file $tmp/cert.pem --auth-file $tmp/bad-auth.json localhost:$p2/bb:1 2>$tmp/err && grep -q '401' $tmp/err"
out=$(REGISTRY_AUTH_FILE=$tmp/auth.json "$ljimage" pull --ca-file "$tmp/cert.pem" "localhost:$p2/bb:1" 2>&1)
check "auth + TLS: pull with credentials from \$REGISTRY_AUTH_FILE" grep -q "(1 layers, 1 fetched" <<<"$out"

exit $failed
