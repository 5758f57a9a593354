#!/usr/bin/env python3
"""CPU time and page faults per exec of `true` into a running jail through ljd's API: `perf stat
-p` on a private ljd (children inherited: the exec's monitor and process count) over N execs, after
5 to warm up. Give two ljd binaries (the build before a change, and after) to compare them on the
same load; run it more than once, the load moves the figures. Root only; needs perf and busybox.

usage: bench/exec_cpu.py N LJD [LJD...]
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from unix_http import caller, wait_ready


def measure(ljd, n):
    work = tempfile.mkdtemp(prefix="exec-cpu.")
    world = work + "/root/worlds/bb"
    for d in ("bin", "etc", "tmp", "dev", "proc", "sys", "root"):
        os.makedirs(world + "/" + d)
    shutil.copy(shutil.which("busybox"), world + "/bin/busybox")
    for a in ("sh", "true", "sleep"):
        os.symlink("busybox", world + "/bin/" + a)
    sock = work + "/ljd.sock"
    daemon = subprocess.Popen([ljd, "--root", work + "/root", "--socket", sock, "--log-level", "warn"])
    try:
        wait_ready(sock)
        call = caller(sock)
        st, body = call("POST", "/v1/jails?start=true", {"world": "bb", "name": "b", "command": ["sleep", "100000"]})
        if st != 201:
            sys.exit("exec_cpu: the jail did not start: %s" % body)

        def one():
            st, body = call("POST", "/v1/jails/b/exec", {"cmd": ["true"]})
            st, body = call("POST", "/v1/exec/%s/start" % json.loads(body)["id"])
            if json.loads(body.splitlines()[-1]).get("exit", {}).get("code") != 0:
                raise RuntimeError(body)

        for _ in range(5):
            one()
        perf = subprocess.Popen(["perf", "stat", "-x,", "-e", "task-clock,page-faults", "-p", str(daemon.pid)],
                                stderr=subprocess.PIPE, text=True)
        time.sleep(0.5)
        for _ in range(n):
            one()
        time.sleep(0.3)
        perf.send_signal(2)
        out = perf.communicate()[1]
        figures = {}
        for line in out.splitlines():
            f = line.split(",")
            if len(f) > 3 and f[0].replace(".", "").isdigit():
                figures[f[2]] = float(f[0]) / n
        call("POST", "/v1/jails/b/kill", {})
        return figures
    finally:
        daemon.terminate()
        daemon.wait()
        shutil.rmtree(work, ignore_errors=True)


if os.getuid() != 0:
    sys.exit("exec_cpu: needs root")
n = int(sys.argv[1])
for ljd in sys.argv[2:]:
    f = measure(os.path.abspath(ljd), n)
    print("%s: %.2f ms CPU, %.1f page faults per exec (load %s)" % (
        ljd, f.get("task-clock", -1), f.get("page-faults", -1), open("/proc/loadavg").read().split()[0]))
