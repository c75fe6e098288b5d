#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Agent cost on a busy machine, fornax beside `perf record -g` in the same run.

Keeps every CPU busy with the test workload, then alternately runs
  fornax (continuous, 19 Hz, 1 s drains, 10 s windows) and
  perf record -g -a -F 19
for SECONDS each, and reports for each: CPU seconds (user+sys, from wait4),
peak RSS, and for fornax the samples collected against CPUs x 19 Hz x time.

  sudo bench/agent_cost.py --fornax build/agent/fornax \
      --workload build/tests/fornax_workload [--seconds 60] [--rounds 3]
"""
import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import tempfile
import time


WARMUP_S = 5


def task_cpu_ns(pid):
    """CPU time of every thread of pid, in ns (schedstat is exact; stat ticks are 10 ms)."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except OSError:
            pass
    return total


def run_measured(cmd, seconds, stop_signal):
    """Runs cmd for `seconds`, stops it with stop_signal.

    Returns (cpu_s, steady_cpu_s, maxrss_kib, stderr): steady_cpu_s leaves out
    the first WARMUP_S seconds (loading BPF, reading kallsyms) and the exit.
    """
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    time.sleep(WARMUP_S)
    steady_start = task_cpu_ns(proc.pid)
    time.sleep(seconds - WARMUP_S)
    steady = (task_cpu_ns(proc.pid) - steady_start) / 1e9 * seconds / (seconds - WARMUP_S)
    proc.send_signal(stop_signal)
    err = proc.stderr.read()
    _, status, ru = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, -stop_signal, 128 + stop_signal):
        raise SystemExit(f"{cmd[0]} exited {proc.returncode}:\n{err}")
    return ru.ru_utime + ru.ru_stime, steady, ru.ru_maxrss, err


def spread(values):
    return f"median {statistics.median(values):8.3f}  min {min(values):8.3f}  max {max(values):8.3f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fornax", required=True)
    ap.add_argument("--workload", required=True)
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--frequency", type=int, default=19)
    args = ap.parse_args()
    cpus = os.cpu_count()
    perf = shutil.which("perf")
    tmp = tempfile.mkdtemp(prefix="fornax-bench-")
    results = {"fornax": [], "perf": []}
    collected = []

    total = args.rounds * 2 * (args.seconds + 5) + 30
    workload = subprocess.Popen([args.workload, "split", str(total), str(cpus)])
    time.sleep(2)
    try:
        for r in range(args.rounds):
            order = ["fornax", "perf"] if r % 2 == 0 else ["perf", "fornax"]
            for tool in order:
                if tool == "fornax":
                    outdir = os.path.join(tmp, f"profiles-{r}")
                    cmd = [args.fornax, "-o", outdir, "-F", str(args.frequency)]
                    cpu, steady, rss, err = run_measured(cmd, args.seconds, signal.SIGTERM)
                    # Expected from the windows' own lengths: attach to detach.
                    windows = re.findall(r"wrote \S+: (\d+) samples, \d+ stacks, ([\d.]+)s", err)
                    got = sum(int(n) for n, _ in windows)
                    expected = args.frequency * cpus * sum(float(d) for _, d in windows)
                    collected.append(100.0 * got / expected)
                    print(f"round {r} fornax: {cpu:.3f} s CPU ({steady:.3f} s steady), peak RSS "
                          f"{rss / 1024:.1f} MiB, {got} samples / {expected:.0f} expected "
                          f"({collected[-1]:.2f}%) in {len(windows)} windows")
                else:
                    if not perf:
                        continue
                    data = os.path.join(tmp, f"perf-{r}.data")
                    cmd = [perf, "record", "-g", "-a", "-F", str(args.frequency), "-q",
                           "-o", data]
                    cpu, steady, rss, _ = run_measured(cmd, args.seconds, signal.SIGINT)
                    print(f"round {r} perf record -g: {cpu:.3f} s CPU ({steady:.3f} s steady), "
                          f"peak RSS "
                          f"{rss / 1024:.1f} MiB, {os.path.getsize(data) / 1e6:.1f} MB written")
                results[tool].append((cpu, steady, rss / 1024))
    finally:
        workload.terminate()
        workload.wait()
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"\nagent_cost: {cpus} busy CPUs, {args.frequency} Hz, {args.seconds} s per run, "
          f"{args.rounds} rounds alternating")
    for tool, rows in results.items():
        if not rows:
            continue
        name = "fornax" if tool == "fornax" else "perf record -g"
        print(f"  {name:15s} CPU s per {args.seconds} s, whole run: {spread([c for c, _, _ in rows])}")
        print(f"  {name:15s} CPU s per 30 s, steady state: "
              f"{spread([s * 30 / args.seconds for _, s, _ in rows])}")
        print(f"  {name:15s} peak RSS MiB: {spread([m for _, _, m in rows])}")
    print(f"  fornax samples collected / expected (%): {spread(collected)}")


if __name__ == "__main__":
    main()
