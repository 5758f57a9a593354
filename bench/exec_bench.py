#!/usr/bin/env python3
"""Exec spawn-to-exit of `true` into a running jail (issue 13), interleaved in one run with the
peers: ljd's API (POST /v1/jails/{id}/exec, then POST /v1/exec/{id}/start streamed to its end
record, on one kept-alive UNIX-socket connection), `ljctl exec JAIL true` (the CLI end to end),
`nsenter --all -t PID true` into the same jail, and `podman exec` into a podman container on the
same busybox tree (runc, --network none, --ulimit nofile=1024:1024, --ulimit nproc=1000:1000).
One of each per round, the order rotated. Prints each one's median, p90 and failures.
Then stdin throughput (target >= 200 MiB/s): STDIN_MIB MiB into `cat >/dev/null` in the jail
through an upgraded exec start (the API), `ljctl exec -i`, `ljctl run -i` (a jail's attach), and
`nsenter --all` with a plain pipe as the baseline; best of 3 each, with ljd's VmHWM before and
after (its peak must not follow the stream).
Root only; ljd runs on a private root; a peer that is missing or fails is reported as such.
With OLD_BUILD_DIR, a second ljd from that build (its own private root and jail, the same world)
joins the rounds as "ljd-old" (its API), so that a change is measured against the binary before
it in one run, under the same load.

usage: bench/exec_bench.py [ROUNDS] [BUILD_DIR] [STDIN_MIB] [OLD_BUILD_DIR]
       (default 50, build, 256, none)
"""
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

from unix_http import caller, wait_ready

rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 50
here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
build = os.path.abspath(sys.argv[2]) if len(sys.argv) > 2 else os.path.join(here, "build")
stdin_mib = int(sys.argv[3]) if len(sys.argv) > 3 else 256
old_build = os.path.abspath(sys.argv[4]) if len(sys.argv) > 4 else None
ljd, ljctl = os.path.join(build, "daemon/ljd"), os.path.join(build, "client/ljctl")
if os.getuid() != 0:
    sys.exit("exec_bench: needs root")
busybox = shutil.which("busybox") or sys.exit("exec_bench: needs busybox")


work = tempfile.mkdtemp(prefix="exec-bench.")
procs, podman_ctr = [], None
podman = ["podman", "--root", work + "/p/root", "--runroot", work + "/p/run", "--storage-driver", "vfs"]
try:
    world = os.path.join(work, "root/worlds/bb")
    for d in ("bin", "etc", "tmp", "dev", "proc", "sys", "root"):
        os.makedirs(os.path.join(world, d))
    shutil.copy(busybox, os.path.join(world, "bin/busybox"))
    for a in ("sh", "true", "sleep", "cat"):
        os.symlink("busybox", os.path.join(world, "bin", a))
    open(os.path.join(world, "etc/passwd"), "w").write("root:x:0:0::/root:/bin/sh\n")

    def start_ljd(binary, root, sock):
        """ljd on its own root (a copy of the world), a sleeping jail "bench" in it: the kept-alive
        connection's call() and the jail's pid."""
        if root != work + "/root":
            os.makedirs(root + "/worlds")
            shutil.copytree(world, root + "/worlds/bb", symlinks=True)
        log = open(root + ".log", "w")
        procs.append(subprocess.Popen([binary, "--root", root, "--socket", sock, "--log-level", "warn"],
                                      stderr=log))
        wait_ready(sock)
        call = caller(sock)
        st, body = call("POST", "/v1/jails?start=true",
                        {"world": "bb", "name": "bench", "command": ["sleep", "100000"]})
        if st != 201:
            sys.exit("exec_bench: the jail did not start (%s): %s" % (binary, body))
        return call, str(json.loads(body)["pid"])

    sock = os.path.join(work, "ljd.sock")
    call, pid = start_ljd(ljd, work + "/root", sock)
    old_call = None
    if old_build:
        old_call, _ = start_ljd(os.path.join(old_build, "daemon/ljd"), work + "/root-old",
                                os.path.join(work, "ljd-old.sock"))

    def api_exec_with(call):
        st, body = call("POST", "/v1/jails/bench/exec", {"cmd": ["true"]})
        if st != 201:
            raise RuntimeError(body)
        xid = json.loads(body)["id"]
        st, body = call("POST", "/v1/exec/%s/start" % xid)
        last = json.loads(body.splitlines()[-1])
        if st != 200 or last.get("exit", {}).get("code") != 0:
            raise RuntimeError(body)

    runners = {
        "ljd-api": lambda: api_exec_with(call),
        "ljctl": lambda: subprocess.run([ljctl, "--socket", sock, "exec", "bench", "true"], check=True),
        "nsenter": lambda: subprocess.run(["nsenter", "--all", "-t", pid, "true"], check=True),
    }
    if old_call:
        runners["ljd-old"] = lambda: api_exec_with(old_call)
    if shutil.which("podman") and shutil.which("runc"):
        r = subprocess.run(podman + ["run", "-d", "--runtime", "runc", "--network", "none",
                                     "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1000:1000",
                                     "--rootfs", world, "sleep", "100000"],
                           capture_output=True, text=True)
        if r.returncode == 0:
            podman_ctr = r.stdout.strip()
            runners["podman"] = lambda: subprocess.run(podman + ["exec", podman_ctr, "true"], check=True,
                                                       stdout=subprocess.DEVNULL)
        else:
            print("podman: could not start its container:", r.stderr.strip()[:200])
    names = list(runners)
    times = {n: [] for n in names}
    fails = {n: 0 for n in names}
    errors = {}
    for r in range(rounds):
        for k in range(len(names)):
            n = names[(r + k) % len(names)]
            t = time.perf_counter()
            try:
                runners[n]()
                times[n].append((time.perf_counter() - t) * 1000)
            except Exception as e:  # noqa: BLE001 - reported per runner
                fails[n] += 1
                errors.setdefault(n, str(e)[:200])
    print("%-8s %5s %10s %8s %6s" % ("exec", "runs", "median_ms", "p90_ms", "fails"))
    for n in names:
        v = sorted(times[n])
        med = "%.2f" % statistics.median(v) if v else "-"
        p90 = "%.2f" % v[int(len(v) * 0.9 + 0.5) - 1] if v else "-"
        print("%-8s %5d %10s %8s %6d" % (n, len(v), med, p90, fails[n]))
        if n in errors:
            print("  %s's first error: %s" % (n, errors[n]))
    med = {n: statistics.median(times[n]) for n in names if times[n]}
    for n in ("ljd-api", "ljd-old"):
        if n in med and "nsenter" in med:
            print("%s / nsenter: %.2fx" % (n, med[n] / med["nsenter"]), end="")
            print(", / podman: 1/%.1f" % (med["podman"] / med[n]) if "podman" in med else "")
    print("load average: %s" % open("/proc/loadavg").read().split()[:3])

    # ---- stdin throughput ----
    def vm(field):
        for line in open("/proc/%d/status" % procs[0].pid):
            if line.startswith(field + ":"):
                return int(line.split()[1])
        return -1

    chunk = os.urandom(1 << 20)
    data_file = os.path.join(work, "stdin.bin")
    with open(data_file, "wb") as f:
        for _ in range(stdin_mib):
            f.write(chunk)

    def upgraded(target):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(sock)
        s.sendall(("POST %s HTTP/1.1\r\nHost: ljd\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
                   "Content-Length: 0\r\n\r\n" % target).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            b = s.recv(1)
            if not b:
                raise RuntimeError("no answer to the upgrade")
            head += b
        if not head.startswith(b"HTTP/1.1 101"):
            raise RuntimeError(head.decode(errors="replace"))
        return s

    def api_stdin():
        st, body = call("POST", "/v1/jails/bench/exec", {"cmd": ["sh", "-c", "cat >/dev/null"], "stdin": True})
        if st != 201:
            raise RuntimeError(body)
        s = upgraded("/v1/exec/%s/start" % json.loads(body)["id"])
        for _ in range(stdin_mib):
            s.sendall(chunk)
        s.shutdown(socket.SHUT_WR)
        while s.recv(65536):
            pass
        s.close()

    def from_file(argv):
        with open(data_file, "rb") as f:
            subprocess.run(argv, stdin=f, check=True, stdout=subprocess.DEVNULL)

    stdin_runners = {
        "ljd-api": api_stdin,
        "ljctl-exec": lambda: from_file([ljctl, "--socket", sock, "exec", "-i", "bench", "sh", "-c", "cat >/dev/null"]),
        "ljctl-run": lambda: from_file([ljctl, "--socket", sock, "run", "-i", "bb", "--", "sh", "-c", "cat >/dev/null"]),
        "nsenter": lambda: from_file(["nsenter", "--all", "-t", pid, "sh", "-c", "cat >/dev/null"]),
    }
    print("\n%-10s %6s %10s %14s %14s" % ("stdin", "MiB", "MiB/s", "ljd_VmHWM_kB", "ljd_VmRSS_kB"))
    for n, fn in stdin_runners.items():
        hwm0, best, err = vm("VmHWM"), 0.0, None
        for _ in range(3):
            t = time.perf_counter()
            try:
                fn()
                best = max(best, stdin_mib / (time.perf_counter() - t))
            except Exception as e:  # noqa: BLE001 - reported per runner
                err = str(e)[:200]
        print("%-10s %6d %10s %14s %14d" % (n, stdin_mib, "%.0f" % best if best else "-",
                                            "%d->%d" % (hwm0, vm("VmHWM")), vm("VmRSS")))
        if err:
            print("  %s's error: %s" % (n, err))
    call("POST", "/v1/jails/bench/kill", {})
    if old_call:
        old_call("POST", "/v1/jails/bench/kill", {})
finally:
    if podman_ctr:
        subprocess.run(podman + ["rm", "-f", "-t", "0", podman_ctr], capture_output=True)
    for p in procs:
        p.terminate()
        p.wait()
    shutil.rmtree(work, ignore_errors=True)
