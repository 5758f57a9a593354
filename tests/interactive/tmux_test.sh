#!/usr/bin/env bash
# Real terminals (issue 13): `ljctl run -it`, `ljctl attach` and `ljctl exec -it` in tmux panes,
# driven with send-keys and read with capture-pane. Shows: the jail's pty (tty prints a pts of the
# jail's own devpts), the prompt and echo, `stty size` following a resize of the pane (SIGWINCH
# forwarded as a resize), Ctrl-C interrupting the foreground `sleep` with the shell surviving,
# Ctrl-Z then fg, the detach keys (Ctrl-P Ctrl-Q) leaving the jail or exec running, attach getting
# back in, and `exit N` making ljctl exit N. As root with tmux installed; exits 77 (skipped)
# otherwise.
#
# usage: tmux_test.sh SOURCE_DIR BUILD_DIR
set -uo pipefail
src=$1 build=$2
ljd=$build/daemon/ljd
ljctl=$build/client/ljctl
[ "$(id -u)" -eq 0 ] || { echo "skip: needs root (jails)"; exit 77; }
command -v tmux >/dev/null || { echo "skip: tmux not installed"; exit 77; }
command -v curl >/dev/null || { echo "skip: curl not installed"; exit 77; }
[ -x /bin/busybox ] || { echo "skip: /bin/busybox (busybox-static) not installed"; exit 77; }

tmp=$(mktemp -d /tmp/lj-tmux-test-XXXXXX)
sock=$tmp/ljd.sock
root=$tmp/root
tm="tmux -L lj-tmux-$$ -f /dev/null"
ljd_pid=
cleanup() {
  $tm kill-server 2>/dev/null
  [ -n "$ljd_pid" ] && { kill -TERM "$ljd_pid" 2>/dev/null; wait "$ljd_pid" 2>/dev/null; }
  rm -rf "$tmp"
}
trap cleanup EXIT
failed=0
check() {  # check DESCRIPTION COMMAND...
  local what=$1; shift
  if "$@"; then echo "ok   $what"; else echo "FAIL $what"; failed=1; fi
}

# A busybox world with every applet linked, and ljd on a private root.
w=$root/worlds/bb
mkdir -p "$w"/{bin,etc,tmp,dev,proc,sys,root}
cp /bin/busybox "$w/bin/"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$w/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$w/etc/passwd"
printf 'root:x:0:\n' > "$w/etc/group"
"$ljd" --root "$root" --socket "$sock" --log-level info 2>>"$tmp/ljd.log" &
ljd_pid=$!
for _ in $(seq 100); do
  curl -fs --unix-socket "$sock" http://ljd/v1/info >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fs --unix-socket "$sock" http://ljd/v1/info >/dev/null || { echo "ljd did not start"; cat "$tmp/ljd.log"; exit 1; }
api() { curl -s --unix-socket "$sock" "http://ljd$1"; }
lj="$ljctl --socket $sock"

# The panes: no status line (the pane is the whole window), kept after their command ended so
# that what it printed last (rc=N) can be read. Each pane's command prints rc=<its exit status>.
$tm new-session -d -s t -x 100 -y 30 "sleep 1000"
$tm set -g status off
$tm set -g remain-on-exit on
open() {  # open NAME COMMAND: a window running COMMAND, then rc=$?
  # `t:`, the session: a bare `t` is first looked up as a window name prefix, and the first
  # window is named `tmux...` for the instant before its command runs ("index 0 in use").
  $tm new-window -d -t t: -n "$1" "$2; echo rc=\$?; sleep 1000"
}
screen() { $tm capture-pane -p -J -t "t:$1"; }
wait_for() {  # wait_for WINDOW REGEX [SECONDS]: true once the pane shows REGEX
  local end=$((SECONDS + ${3:-10}))
  while [ $SECONDS -lt $end ]; do
    screen "$1" | grep -Eq "$2" && return 0
    sleep 0.1
  done
  echo "--- window $1 never showed /$2/:"; screen "$1" | sed 's/^/    /'
  return 1
}
keys() { $tm send-keys -t "t:$1" "${@:2}"; }
type_line() { $tm send-keys -t "t:$1" -l "$2"; $tm send-keys -t "t:$1" Enter; }
state() { api "/v1/jails/$1" | sed -n 's/.*"state":"\([a-z]*\)".*/\1/p' | head -1; }

# --- ljctl run -it ---
open run "$lj run -it --name tj --keep bb sh"
check "run -it: the shell's prompt (before any input)" wait_for run '# $'
type_line run "tty"
check "run -it: tty prints the jail's first pts" wait_for run '^/dev/pts/0'
type_line run "stty size"
check "run -it: stty size is the pane's (30 100)" wait_for run '^30 100'
$tm resize-window -t t:run -x 120 -y 40
sleep 0.5
type_line run "stty size"
check "run -it: a resize of the pane reaches the jail (40 120)" wait_for run '^40 120'
type_line run "echo typed-and-echoed"
check "run -it: input echoed, output shown" wait_for run '^typed-and-echoed'
type_line run "sleep 100"
sleep 0.5
keys run C-c
type_line run 'echo after-$?'
check "run -it: Ctrl-C interrupts the foreground sleep, the shell survives" wait_for run '^after-130'
type_line run "sleep 100"
sleep 0.5
keys run C-z
check "run -it: Ctrl-Z stops the foreground job" wait_for run 'Stopped'
type_line run "fg"
sleep 0.5
keys run C-c
type_line run 'echo back-$?'
check "run -it: fg brings it back (Ctrl-C then ends it)" wait_for run '^back-130'
keys run C-p C-q
check "run -it: Ctrl-P Ctrl-Q detaches, ljctl exits 0" wait_for run '^rc=0'
check "run -it: the jail runs on after the detach" test "$(state tj)" = running

# --- ljctl attach ---
open attach "$lj attach tj"
sleep 0.5
type_line attach "echo attached-again"
check "attach: back in the jail's shell" wait_for attach '^attached-again'
type_line attach "exit 7"
check "attach: exit 7 makes ljctl exit 7" wait_for attach '^rc=7'
check "attach: the jail has exited" test "$(state tj)" = exited

# --- ljctl exec -it ---
$lj run -d --name tx --keep bb sleep 1000 >/dev/null
open exec "$lj exec -it tx sh"
check "exec -it: the shell's prompt" wait_for exec '# $'
type_line exec "tty; hostname"
check "exec -it: a pts of the jail's devpts, the jail's hostname" wait_for exec '^tx$'
screen exec | grep -q '^/dev/pts/[0-9]' || { echo "FAIL exec -it: no pts"; failed=1; }
type_line exec "stty size"
check "exec -it: stty size is the pane's" wait_for exec '^30 100'
$tm resize-window -t t:exec -x 90 -y 25
sleep 0.5
type_line exec "stty size"
check "exec -it: a resize reaches the exec (25 90)" wait_for exec '^25 90'
type_line exec "sleep 100"
sleep 0.5
keys exec C-c
type_line exec 'echo after-$?'
check "exec -it: Ctrl-C interrupts the foreground sleep" wait_for exec '^after-130'
type_line exec "exit 3"
check "exec -it: exit 3 makes ljctl exit 3" wait_for exec '^rc=3'
open exec2 "$lj exec -it tx sh"
check "exec -it (2): the shell's prompt" wait_for exec2 '# $'
keys exec2 C-p C-q
check "exec -it: Ctrl-P Ctrl-Q detaches, ljctl exits 0" wait_for exec2 '^rc=0'
running=$(api "/v1/jails/tx/exec" | grep -o '"state":"running"' | wc -l)
check "exec -it: the detached exec runs on" test "$running" -eq 1
check "exec -it: the jail runs on" test "$(state tx)" = running
$lj kill tx >/dev/null
sleep 0.5
running=$(api "/v1/jails/tx/exec" | grep -o '"state":"running"' | wc -l)
check "exec: the exec ended with its jail" test "$running" -eq 0

[ $failed -eq 0 ] && echo "all passed"
exit $failed
