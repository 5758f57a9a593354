#!/usr/bin/env bash
# Black-box: bearer-token auth end to end. docker-registry on 127.0.0.1 with `auth: token`, its
# token server (tests/image/token_server.py) checking an htpasswd file; `ljctl login` checks the
# credentials through the token flow and keeps them in root/.ljd/auth.json (0600); pulls and
# pushes through ljd use them (a token per repository scope); a wrong password changes nothing;
# `ljctl logout` forgets them. As root with the tools; exits 77 (skipped) otherwise.
#
# usage: token_auth_test.sh SOURCE_DIR BUILD_DIR
set -uo pipefail
src=$1 build=$2
ljd=$build/daemon/ljd
ljctl=$build/client/ljctl
[ "$(id -u)" -eq 0 ] || { echo "skip: needs root"; exit 77; }
for t in docker-registry skopeo podman htpasswd openssl python3 curl; do
  command -v $t >/dev/null || { echo "skip: $t not installed"; exit 77; }
done
. "$(dirname "$0")/common.sh" token  # $tmp, cleanup, check, free_port, start_registry, start_ljd, $podman

# --- the token server and the registry trusting it ---
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/token.key" -out "$tmp/token.crt" \
  -subj /CN=lj-token-test -days 1 >/dev/null 2>&1 || { echo "openssl failed"; exit 1; }
htpasswd -Bbc "$tmp/htpasswd" alice s3cret >/dev/null 2>&1
tport=$(free_port)
python3 "$(dirname "$0")/token_server.py" "$tport" "$tmp/htpasswd" "$tmp/token.key" "$tmp/token.crt" lj-test-issuer > "$tmp/token.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$tport/token" && break; sleep 0.1; done
port=$(free_port)
start_registry "$port" "auth:
  token:
    realm: http://127.0.0.1:$tport/token
    service: lj-test-registry
    issuer: lj-test-issuer
    rootcertbundle: $tmp/token.crt"
reg=127.0.0.1:$port
check "the registry asks for a bearer token" bash -c "curl -si http://$reg/v2/ | grep -qi '^www-authenticate: bearer realm=\"http://127.0.0.1:$tport/token\"'"

mkdir -p "$tmp/tree/bin"
cp /bin/busybox "$tmp/tree/bin/" && ln -s busybox "$tmp/tree/bin/sh"
tar -C "$tmp/tree" -cf "$tmp/bb.tar" bin
$podman import "$tmp/bb.tar" localhost/bb:1 >/dev/null 2>&1 || { echo "podman import failed"; exit 1; }
$podman save -q --format oci-archive -o "$tmp/bb-oci.tar" localhost/bb:1 || exit 1
skopeo copy -q --dest-tls-verify=false --dest-creds alice:s3cret "oci-archive:$tmp/bb-oci.tar" "docker://$reg/bb:1" \
  || { echo "seeding the registry failed"; cat "$tmp/token.log"; exit 1; }

# --- ljd ---
start_ljd
lj() { "$ljctl" --socket "$sock" "$@"; }

lj pull "$reg/bb:1" > "$tmp/anon.out" 2>&1; rc=$?
check "pull without login: refused by the token endpoint" bash -c "[ $rc -ne 0 ] && grep -qi 'token endpoint.*401' '$tmp/anon.out'"
echo wrong | lj login "$reg" -u alice --password-stdin > "$tmp/wrong.out" 2>&1; rc=$?
check "login with a wrong password: refused" bash -c "[ $rc -ne 0 ] && grep -qi 'token endpoint.*401' '$tmp/wrong.out'"
check "and nothing stored" test ! -e "$root/.ljd/auth.json"
out=$(echo s3cret | lj login "$reg" -u alice --password-stdin 2>&1)
check "login through the token flow" grep -q "Login Succeeded" <<<"$out"
check "the auths file is 0600 and holds alice" bash -c "[ \$(stat -c %a $root/.ljd/auth.json) = 600 ] && python3 -c \"import json,base64; a=json.load(open('$root/.ljd/auth.json'))['auths']['$reg']['auth']; assert base64.b64decode(a)==b'alice:s3cret'\""
out=$(lj pull "$reg/bb:1" 2>&1)
check "pull with the stored credentials" grep -q "^$reg/bb:1 sha256:" <<<"$out"
check "a token was fetched for the pull scope" grep -qE "token user=alice scope=([^ ]+ )*repository:bb:pull( [^ ]+)* status=200" "$tmp/token.log"
out=$(lj push "$reg/bb:1" "$reg/copy/bb:1" 2>&1)
check "push with a token for the push scope" bash -c "skopeo inspect --tls-verify=false --creds alice:s3cret docker://$reg/copy/bb:1 >/dev/null 2>&1"
check "the token asked for pull and push" grep -qE "token user=alice scope=([^ ]+ )*repository:copy/bb:(pull,push|push,pull)( [^ ]+)* status=200" "$tmp/token.log"
[ $failed = 0 ] || cat "$tmp/token.log"  # what the token server was asked, for a failure
out=$(lj logout "$reg" 2>&1)
check "logout" grep -q "Removed" <<<"$out"
lj image rm "$reg/bb:1" >/dev/null 2>&1
out=$(lj pull "$reg/bb:1" 2>&1); rc=$?
check "pull after logout: refused again" test $rc -ne 0
exit $failed
