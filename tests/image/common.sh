# Shared by the image tests' shell scripts (registry_test.sh, daemon_image_test.sh, policy_test.sh): sourced after
# the script has made $tmp and its `pids` array (whose processes its cleanup ends).
failed=0
check() {  # check DESCRIPTION COMMAND...
  local what=$1; shift
  if "$@"; then echo "ok   $what"; else echo "FAIL $what"; failed=1; fi
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_ljd() {  # wait_ljd: until ljd answers on $sock (its log in $tmp/ljd.log), else exit 1
  for _ in $(seq 100); do
    curl -fs --unix-socket "$sock" http://ljd/v1/info >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "ljd did not start:"; cat "$tmp/ljd.log"; exit 1
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
