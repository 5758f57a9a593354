#!/usr/bin/env bash
# Black-box: images through ljd's API and ljctl, against Debian's docker-registry on 127.0.0.1
# seeded with skopeo from images podman made offline. Shows: pull with per-layer progress in the
# job, a second image fetching only its new layer, run of an image with its config's defaults
# (Entrypoint, Cmd, Env, WorkingDir, User, Labels) and the request's overrides, rm refused
# (409) while a jail runs on the image's last name, tag, load of an OCI archive, push read back
# by skopeo, prune, a failed pull as a failed job, and kill -9 of ljd during a pull: the job is
# failed at the next start, nothing half-stored, the next pull completes.
# As root with the tools installed; exits 77 (skipped) otherwise.
#
# usage: daemon_image_test.sh SOURCE_DIR BUILD_DIR
set -uo pipefail
src=$1 build=$2
ljd=$build/daemon/ljd
ljctl=$build/client/ljctl
[ "$(id -u)" -eq 0 ] || { echo "skip: needs root (jails, podman, unpacking owners)"; exit 77; }
for t in docker-registry skopeo podman python3 curl; do
  command -v $t >/dev/null || { echo "skip: $t not installed"; exit 77; }
done

. "$(dirname "$0")/common.sh" daemon-image  # $tmp, cleanup, check, free_port, start_registry, start_ljd

# --- images, made offline ---
mkdir -p "$tmp/tree/bin" "$tmp/ctx"
cp /bin/busybox "$tmp/tree/bin/" && ln -s busybox "$tmp/tree/bin/sh"
printf 'root:x:0:0::/:/bin/sh\nwww:x:33:34::/:/bin/sh\n' > "$tmp/tree/passwd"
tar -C "$tmp/tree" -cf "$tmp/bb.tar" bin
$podman import "$tmp/bb.tar" localhost/bb:1 >/dev/null 2>&1 || { echo "podman import failed"; exit 1; }
echo hello > "$tmp/ctx/hello"
cp "$tmp/tree/passwd" "$tmp/ctx/passwd"
head -c $((48 * 1024 * 1024)) /dev/urandom > "$tmp/ctx/big"
cat > "$tmp/ctx/App" <<'EOF'
FROM localhost/bb:1
COPY hello /hello
COPY hello /work/hello
COPY passwd /etc/passwd
ENV GREETING=hi FOO=image
WORKDIR /work
USER www
LABEL org.example.from=image
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["echo $GREETING $FOO; pwd; id -u; id -g; cat /hello"]
EOF
printf 'FROM localhost/bb:1\nCOPY big /big\n' > "$tmp/ctx/Big"
$podman build -q -f "$tmp/ctx/App" -t localhost/app:1 "$tmp/ctx" >/dev/null 2>&1 || { echo "podman build failed"; exit 1; }
$podman build -q -f "$tmp/ctx/Big" -t localhost/big:1 "$tmp/ctx" >/dev/null 2>&1 || { echo "podman build failed"; exit 1; }
for i in bb app big; do
  $podman save -q --format oci-archive -o "$tmp/$i-oci.tar" localhost/$i:1 || exit 1
done

# --- the registry on 127.0.0.1 (plain HTTP: insecure by docker's default rule) ---
port=$(free_port)
start_registry "$port" ""
for i in bb app big; do
  skopeo copy -q --dest-tls-verify=false "oci-archive:$tmp/$i-oci.tar" "docker://127.0.0.1:$port/$i:1" || exit 1
done
reg=127.0.0.1:$port

# --- ljd on a private root ---
start_ljd
lj() { "$ljctl" --socket "$sock" "$@"; }
api() { curl -s --unix-socket "$sock" "$@"; }
layers() { ls "$root/images/layers/sha256" 2>/dev/null | wc -l; }
exits_saying() { [ "$1" -eq "$2" ] && grep -qF "$3" <<<"$4"; }  # RC EXPECTED TEXT OUTPUT

out=$(lj pull "$reg/bb:1" 2>"$tmp/bb.progress")
check "ljctl pull bb" grep -q "^$reg/bb:1 sha256:" <<<"$out"
check "its layer's progress drawn" grep -q "unpacked" "$tmp/bb.progress"
out=$(lj pull "$reg/app:1" 2>"$tmp/app.progress")
check "ljctl pull app" grep -q "^$reg/app:1 sha256:" <<<"$out"
check "app's base layer reported as present" grep -q " exists" "$tmp/app.progress"
job=$(api http://ljd/v1/image_jobs | python3 -c '
import json,sys; j=json.load(sys.stdin)[-1]; r=j["result"]; n=r["layers"]
print(j["kind"], j["state"], r["fetched"] == n - 1, len([l for l in j["progress"]["layers"] if l["index"] is not None]) == n, n)')
check "the job records the pull: all but the base fetched, progress for every layer" grep -q "^pull succeeded True True" <<<"$job"
check "one copy of the shared base layer" test "$(layers)" -eq "${job##* }"
check "ljctl images lists both" bash -c "'$ljctl' --socket '$sock' images | grep -c '^$reg/' | grep -qx 2"
check "inspect shows the config" bash -c "'$ljctl' --socket '$sock' image inspect $reg/app:1 | grep -q '\"working_dir\": \"/work\"'"

# Running an image: its config's defaults, then the request's overrides.
out=$(lj run "$reg/app:1" 2>&1)
check "run: Entrypoint + Cmd, Env, WorkingDir, User by name" test "$out" = "$(printf 'hi image\n/work\n33\n34\nhello')"
out=$(lj run -e FOO=request -w / "$reg/app:1" 'echo $GREETING $FOO; pwd' 2>&1)
check "run: command replaces Cmd, env and workdir override" test "$out" = "$(printf 'hi request\n/')"
id=$(lj run -d --keep "$reg/app:1" 'id -u' 2>&1)
lj wait "$id" >/dev/null 2>&1
spec=$(api "http://ljd/v1/jails/$id" | python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["spec"]["image"], j["spec"]["user"], j["labels"]["org.example.from"])')
check "the jail's spec is pinned to the digest, the image's user and labels" \
  grep -Eq "^$reg/app:1@sha256:[0-9a-f]{64} www image$" <<<"$spec"
lj rm "$id" >/dev/null 2>&1

# An image not in the store: not pulled behind the user's back; the error says how to get it.
out=$(lj run "$reg/never:1" sh 2>&1); rc=$?
check "run of an image not here: 125, says to pull or load it" exits_saying $rc 125 \
  "no image \`$reg/never:1\` here: pull it first (ljctl pull $reg/never:1) or load it" "$out"

# rm: refused while a jail runs on the image's last name; allowed when another name remains.
id=$(lj run -d "$reg/app:1" 'sleep 60' 2>&1)
code=$(api -o /dev/null -w '%{http_code}' -X DELETE "http://ljd/v1/images/$reg/app:1")
check "rm of the last name of a running image: 409" test "$code" = 409
check "ljctl image rm says why" bash -c "'$ljctl' --socket '$sock' image rm $reg/app:1 2>&1 | grep -q 'used by a running jail'"
lj tag "$reg/app:1" local/app:copy >/dev/null
check "rm with another name left: allowed" lj image rm "$reg/app:1"
lj kill "$id" >/dev/null 2>&1; lj rm -f "$id" >/dev/null 2>&1

# The ID `ljctl images` shows names the image, as in docker: inspect, tag, run, and rm (every
# name; refused while a jail runs on it); too short or matching nothing: not found.
short=$(lj images | awk -v r="$reg/bb:1" '$1 == r { print $2 }')
check "ljctl images shows a 12-digit ID" grep -Eqx '[0-9a-f]{12}' <<<"$short"
check "inspect by ID" bash -c "'$ljctl' --socket '$sock' image inspect $short | grep -q '\"$reg/bb:1\"'"
lj tag "$short" local/bb:byid >/dev/null
check "tag by ID" bash -c "'$ljctl' --socket '$sock' images | grep -q '^docker.io/local/bb:byid '"
check "run --image ID" test "$(lj run --image "$short" sh -c 'echo byid' 2>&1)" = byid
id=$(lj run -d --image "$short" sh -c 'sleep 60' 2>&1)
out=$(lj image rm "$short" 2>&1); rc=$?
check "rm by ID while a jail runs on it: 125, says why" exits_saying $rc 125 "used by a running jail" "$out"
lj kill "$id" >/dev/null 2>&1; lj rm -f "$id" >/dev/null 2>&1
check "rm by ID removes every name" bash -c "lj() { '$ljctl' --socket '$sock' \"\$@\"; }; lj image rm $short >/dev/null &&
  ! lj images | grep -q ' $short ' && ! lj image inspect $reg/bb:1 >/dev/null 2>&1"
check "an ID matching nothing is not found" bash -c "! '$ljctl' --socket '$sock' image inspect 0000ffff 2>/dev/null"
lj pull "$reg/bb:1" >/dev/null 2>&1

# Issue 16's first report: a `podman save --format oci-archive` file given to a world import. It
# is refused before anything is made, pointing at load; a root filesystem's tar given to load
# is refused the other way round, nothing stored.
out=$(lj world import oci "$tmp/bb-oci.tar" 2>&1); rc=$?
check "world import of an OCI archive: exit 125, says to load it" exits_saying $rc 125 \
  "is an OCI archive, not a root filesystem: load it as an image (ljctl load $tmp/bb-oci.tar)" "$out"
check "... and leaves no world behind" bash -c "! '$ljctl' --socket '$sock' worlds | grep -q '^oci '"
nblobs=$(ls "$root/images/blobs/sha256" | wc -l)
out=$(lj load "$tmp/bb.tar" 2>&1); rc=$?
check "load of a root filesystem's tar: exit 1, says it is a world's" exits_saying $rc 1 \
  "not an image; a root filesystem is imported as a world" "$out"
check "... and stores nothing" test "$(ls "$root/images/blobs/sha256" | wc -l)" -eq "$nblobs"

# load: an OCI archive on the host.
out=$(lj load "$tmp/bb-oci.tar" --name local/bb:loaded 2>/dev/null)
check "ljctl load of an OCI archive" grep -q "^docker.io/local/bb:loaded sha256:" <<<"$out"

# push: skopeo reads back the same manifest.
digest=$(skopeo inspect --tls-verify=false "docker://$reg/app:1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Digest"])')
lj push local/app:copy "$reg/pushed/app:2" >/dev/null 2>&1
pushed=$(skopeo inspect --tls-verify=false "docker://$reg/pushed/app:2" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["Digest"])')
check "ljctl push: skopeo reads back the same manifest" test "$pushed" = "$digest"

# A failed pull is a failed job, with the registry's error.
lj pull "$reg/app:nope" >/dev/null 2>"$tmp/err"; rc=$?
check "pull of a missing tag: exit 1, MANIFEST_UNKNOWN naming the repository and tag" \
  exits_saying $rc 1 "manifest app:nope on $reg: HTTP 404 (MANIFEST_UNKNOWN" "$(cat "$tmp/err")"

# kill -9 of ljd during a pull (crash point image.fetching: the 3rd progress report of a layer
# being fetched): the job is failed at the next start; nothing half-stored.
before=$(layers)
stop_ljd
start_ljd LJD_CRASH_AT=image.fetching:3
api -X POST http://ljd/v1/images/pull -d "{\"reference\": \"$reg/big:1\"}" > "$tmp/big.job"
bigjob=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$tmp/big.job")
wait "$ljd_pid"; rc=$?; ljd_pid=
check "ljd died by SIGKILL mid-fetch" test "$rc" -eq 137
check "no partial layer after kill -9" test "$(layers)" -eq "$before"
start_ljd
state=$(api "http://ljd/v1/image_jobs/$bigjob" | python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["state"], j["error"]["code"])')
check "the killed pull's job is failed at restart" test "$state" = "failed image.interrupted"
check "its staging was cleaned" bash -c "[ -z \"\$(ls $root/.staging)\" ]"
out=$(lj pull -q "$reg/big:1" 2>/dev/null)
check "the next pull completes" grep -q "^sha256:" <<<"$out"
check "big layer intact" bash -c "cmp -s $tmp/ctx/big $root/images/layers/sha256/*/big"

# prune: names gone, then nothing is left.
for r in $(lj images --json | python3 -c 'import json,sys; [print(n) for i in json.load(sys.stdin) for n in i["references"]]'); do
  lj image rm "$r" >/dev/null
done
all=$(layers)
out=$(lj image prune)
check "prune removed every layer and blob" bash -c "grep -q 'removed [0-9]* blobs, $all layers' <<<'$out' && [ \$(ls $root/images/layers/sha256 | wc -l) -eq 0 ] && [ -z \"\$(ls $root/images/blobs/sha256)\" ]"

if [ $failed -ne 0 ]; then echo "--- ljd's log:"; tail -50 "$tmp/ljd.log"; fi
exit $failed
