#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""What a profiler adds to every fork + exec + exit: fornax against no
profiler and `perf record -g`, in one run.

Runs spawn_loop (N fork + exec + exit of /bin/true, one after another)
with nothing profiling, under fornax (continuous, its defaults) and under
`perf record -g -a` at the same frequency, alternating the order each
round, and prints the time per process: median (min..max) over rounds,
and what each profiler adds to the median without one.

With --bpf-stats (kernel.bpf_stats_enabled on for the run), the fornax
rounds also print the run time of every BPF program that fornax loaded,
over the spawn loop alone, per process: what its programs charge to each
fork + exec + exit, by program.

  sudo bench/spawn_cost.py --fornax build/agent/fornax \
      --spawn-loop build/bench/spawn_loop [--count 1500] [--rounds 3] [--bpf-stats]
"""
import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import tempfile
import time

SETTLE_S = 3  # the profiler loaded and attached, its start-up reads done
SAMPLING_PROG = "fornax_sample"


def spawn(loop, count, program):
    out = subprocess.run([loop, str(count), program], check=True, capture_output=True,
                         text=True)
    return float(out.stdout)


def prog_times(pid):
    """run_time_ns of each BPF program process pid holds, by program name.
    A bpftool that does not show the holders: every fornax_* program (run
    the benchmark with no other fornax loaded)."""
    out = subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True, text=True,
                         check=True).stdout
    progs = json.loads(out)
    by_holder = any("pids" in p for p in progs)
    times = {}
    for p in progs:
        if (any(o.get("pid") == pid for o in p.get("pids", [])) if by_holder
                else p.get("name", "").startswith("fornax_")):
            name = p.get("name", "?")
            times[name] = times.get(name, 0) + p.get("run_time_ns", 0)
    return times


def under(cmd, stop_signal, loop, count, program, bpf_times=None):
    """Time per process under the profiler; bpf_times, if given, gets the
    BPF run time per process of each of its programs over the loop."""
    prof = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(SETTLE_S)
        if prof.poll() is not None:
            raise SystemExit(f"{cmd[0]} exited {prof.returncode}: {prof.stderr.read()}")
        before = prog_times(prof.pid) if bpf_times is not None else None
        us = spawn(loop, count, program)
        if before is not None:
            after = prog_times(prof.pid)
            for name, ns in after.items():
                bpf_times[name] = (ns - before.get(name, 0)) / count / 1000
        return us
    finally:
        prof.send_signal(stop_signal)
        prof.communicate(timeout=120)


def spread(values):
    return (f"{statistics.median(values):8.1f} us ({min(values):.1f}..{max(values):.1f})")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fornax", required=True)
    ap.add_argument("--spawn-loop", required=True)
    ap.add_argument("--program", default="/bin/true")
    ap.add_argument("--count", type=int, default=1500)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--frequency", type=int, default=19)
    ap.add_argument("--bpf-stats", action="store_true",
                    help="also print fornax's BPF run time per process (bpftool)")
    args = ap.parse_args()
    stats_was = None
    if args.bpf_stats:
        with open("/proc/sys/kernel/bpf_stats_enabled") as f:
            stats_was = f.read().strip()
        with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
            f.write("1")
    bpf_rounds = []
    perf = shutil.which("perf")
    tmp = tempfile.mkdtemp(prefix="fornax-spawn-")
    runs = {"none": [], "fornax": [], "perf": []}
    tools = ["none", "fornax"] + (["perf"] if perf else [])
    try:
        for r in range(args.rounds):
            order = tools if r % 2 == 0 else list(reversed(tools))
            for tool in order:
                if tool == "none":
                    us = spawn(args.spawn_loop, args.count, args.program)
                elif tool == "fornax":
                    bpf = {} if args.bpf_stats else None
                    us = under([args.fornax, "-F", str(args.frequency), "-o",
                                os.path.join(tmp, f"fornax-{r}")], signal.SIGTERM,
                               args.spawn_loop, args.count, args.program, bpf)
                    if bpf is not None:
                        bpf_rounds.append(bpf)
                        print(f"round {r} fornax BPF: {sum(bpf.values()):.1f} us per process")
                else:
                    us = under([perf, "record", "-g", "-a", "-F", str(args.frequency), "-q",
                                "-o", os.path.join(tmp, f"perf-{r}.data")], signal.SIGINT,
                               args.spawn_loop, args.count, args.program)
                runs[tool].append(us)
                print(f"round {r} {tool:6s}: {us:.1f} us per process")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if stats_was is not None:
            with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
                f.write(stats_was)
    base = statistics.median(runs["none"])
    print(f"\nspawn_cost: {args.count} x fork + exec + exit of {args.program}, "
          f"{args.rounds} rounds alternating, {args.frequency} Hz")
    for tool in tools:
        rows = runs[tool]
        name = {"none": "no profiler", "fornax": "fornax", "perf": "perf record -g"}[tool]
        added = [v - base for v in rows]
        extra = "" if tool == "none" else f"   added: {spread(added)}"
        print(f"  {name:15s} {spread(rows)}{extra}")
    if bpf_rounds:
        totals = [sum(b.values()) for b in bpf_rounds]
        print(f"\nfornax's BPF programs per process: {spread(totals)}")
        # The sampling program runs on the timer, whoever is on the CPU: not the process's own.
        hooks = [sum(v for n, v in b.items() if n != SAMPLING_PROG) for b in bpf_rounds]
        print(f"  without {SAMPLING_PROG}:   {spread(hooks)}")
        names = sorted({n for b in bpf_rounds for n in b},
                       key=lambda n: -statistics.median(b.get(n, 0) for b in bpf_rounds))
        for n in names:
            vals = [b.get(n, 0) for b in bpf_rounds]
            if max(vals) >= 0.05:
                print(f"  {n:24s} {spread(vals)}")


if __name__ == "__main__":
    main()
