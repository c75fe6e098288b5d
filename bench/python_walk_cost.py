#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""BPF time per sample with and without the Python walker.

Runs tests/helpers/python_callgraph.py (Debian's python3.11) with a deep
stack, profiles it with the real agent, --python=auto and --python=off
alternating, and reads the sampling program's run time and run count from
the kernel (kernel.bpf_stats_enabled) over the middle of each run. Prints
ns per program run for each mode, medians with (min..max), and their
difference.

usage: python_walk_cost.py FORNAX [runs] [depth]   (root; run under the BPF lock)
"""
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CALLGRAPH = os.path.join(HERE, "..", "tests", "helpers", "python_callgraph.py")
SECONDS = 8


def prog_stats():
    out = subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True, text=True,
                         check=True).stdout
    for p in json.loads(out):
        if p.get("name") == "fornax_sample":
            return p.get("run_time_ns", 0), p.get("run_cnt", 0)
    raise RuntimeError("fornax_sample is not loaded")


def one(fornax, mode, depth, tmp):
    work = subprocess.Popen(["/usr/bin/python3.11", CALLGRAPH, str(SECONDS + 5), str(depth)],
                            stdout=subprocess.PIPE, text=True)
    work.stdout.readline()
    agent = subprocess.Popen([fornax, "-d", f"{SECONDS}s", "-F", "999", "-p", str(work.pid),
                              f"--python={mode}", "-o", os.path.join(tmp, "p.pb.gz")],
                             stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(2)
        t0, n0 = prog_stats()
        time.sleep(SECONDS - 4)
        t1, n1 = prog_stats()
        log = agent.communicate(timeout=60)[1]
    finally:
        work.kill()
        work.wait()
    m = re.search(r"(\d+) samples of them: .* (\d+) frames \(", log)
    frames = int(m[2]) / max(int(m[1]), 1) if m else 0.0
    return (t1 - t0) / max(n1 - n0, 1), n1 - n0, frames


def main():
    fornax = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    depth = int(sys.argv[3]) if len(sys.argv) > 3 else 24
    with open("/proc/sys/kernel/bpf_stats_enabled") as f:
        old = f.read().strip()
    with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
        f.write("1")
    results = {"auto": [], "off": []}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for i in range(runs):
                for mode in ("auto", "off") if i % 2 == 0 else ("off", "auto"):
                    ns, n, frames = one(fornax, mode, depth, tmp)
                    results[mode].append(ns)
                    print(f"run {i} {mode:4}: {ns:7.0f} ns per program run over {n} runs"
                          + (f", {frames:.1f} Python frames per Python sample" if frames else ""))
    finally:
        with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
            f.write(old)
    for mode, v in results.items():
        print(f"{mode:4}: median {statistics.median(v):.0f} ns ({min(v):.0f}..{max(v):.0f})")
    diffs = [a - b for a, b in zip(results["auto"], results["off"])]
    print(f"python walk: median +{statistics.median(diffs):.0f} ns per sample "
          f"({min(diffs):.0f}..{max(diffs):.0f}), pairs of adjacent runs")


if __name__ == "__main__":
    main()
