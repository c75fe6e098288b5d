#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Agent RSS and open fds under a steady stream of short-lived processes.

Runs the real fornax in continuous mode (10 s windows) while the churn
helper keeps starting processes of 2..30 ms, and prints the agent's RSS and
open fds every 10 s, then how they moved after the first minute.

    bench/churn_soak.py BUILD_DIR [MINUTES]     (root; default 10 minutes)
"""
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    minutes = float(sys.argv[2]) if len(sys.argv) > 2 else 10
    fornax = os.path.join(build, "agent", "fornax")
    churn = os.path.join(build, "tests", "fornax_churn")
    out = tempfile.mkdtemp(prefix="fornax-soak-")
    log = open(os.path.join(out, "agent.log"), "w+")
    # -v: a "caches:" line per window says what the bounded caches hold
    agent = subprocess.Popen([fornax, "-v", "-o", out, "--interval", "10s", "--max-files", "6",
                              "-F", "99"], stderr=log, text=True)
    stop = time.monotonic() + minutes * 60
    # one batch of 200 processes after another, two at a time
    churner = subprocess.Popen(["/bin/sh", "-c", f"while :; do {churn} 200 2 30 2 || exit 1; done"])
    rows = []
    start = time.monotonic()
    try:
        while time.monotonic() < stop:
            time.sleep(10)
            t = time.monotonic() - start
            rows.append((t, rss_kib(agent.pid), fds(agent.pid)))
            print(f"{t:6.0f}s  rss {rows[-1][1]:7d} KiB  fds {rows[-1][2]:4d}", flush=True)
    finally:
        churner.send_signal(signal.SIGTERM)
        churner.wait()
        agent.send_signal(signal.SIGTERM)
        agent.wait(timeout=60)
        log.seek(0)
        err = log.read()
        log.close()
        shutil.rmtree(out, ignore_errors=True)
    by_minute = {}
    for t, rss, fd in rows:
        by_minute.setdefault(int((t - 1) // 60), []).append((rss, fd))
    for minute, vals in sorted(by_minute.items()):
        print(f"minute {minute + 1:2d}: RSS median {statistics.median(v[0] for v in vals):8.0f} KiB, "
              f"max {max(v[0] for v in vals)} KiB; fds median {statistics.median(v[1] for v in vals):4.0f}, "
              f"max {max(v[1] for v in vals)}")
    after = [r for r in rows if r[0] > 60]
    if after:
        rss = [r[1] for r in after]
        fd = [r[2] for r in after]
        print(f"after the first minute ({len(after)} readings): RSS {min(rss)}..{max(rss)} KiB "
              f"(first {rss[0]}, last {rss[-1]}, change {rss[-1] - rss[0]:+d} KiB); "
              f"fds {min(fd)}..{max(fd)} (first {fd[0]}, last {fd[-1]})")
    caches = [line for line in err.splitlines() if "caches:" in line]
    for line in caches[5::6]:  # one a minute
        print(line)
    for line in err.splitlines():
        if "processes:" in line or "process events:" in line or "done:" in line:
            print(line)


if __name__ == "__main__":
    main()
