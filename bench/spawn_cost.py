#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""What a profiler adds to every fork + exec + exit: fornax against no
profiler and `perf record -g`, in one run.

Runs spawn_loop (N fork + exec + exit of /bin/true, one after another)
with nothing profiling, under fornax (continuous, its defaults) and under
`perf record -g -a` at the same frequency, alternating the order each
round, and prints the time per process: median (min..max) over rounds,
and what each profiler adds to the median without one.

  sudo bench/spawn_cost.py --fornax build/agent/fornax \
      --spawn-loop build/bench/spawn_loop [--count 1500] [--rounds 3]
"""
import argparse
import os
import shutil
import signal
import statistics
import subprocess
import tempfile
import time

SETTLE_S = 3  # the profiler loaded and attached, its start-up reads done


def spawn(loop, count, program):
    out = subprocess.run([loop, str(count), program], check=True, capture_output=True,
                         text=True)
    return float(out.stdout)


def under(cmd, stop_signal, loop, count, program):
    prof = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(SETTLE_S)
        if prof.poll() is not None:
            raise SystemExit(f"{cmd[0]} exited {prof.returncode}: {prof.stderr.read()}")
        return spawn(loop, count, program)
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
    args = ap.parse_args()
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
                    us = under([args.fornax, "-F", str(args.frequency), "-o",
                                os.path.join(tmp, f"fornax-{r}")], signal.SIGTERM,
                               args.spawn_loop, args.count, args.program)
                else:
                    us = under([perf, "record", "-g", "-a", "-F", str(args.frequency), "-q",
                                "-o", os.path.join(tmp, f"perf-{r}.data")], signal.SIGINT,
                               args.spawn_loop, args.count, args.program)
                runs[tool].append(us)
                print(f"round {r} {tool:6s}: {us:.1f} us per process")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    base = statistics.median(runs["none"])
    print(f"\nspawn_cost: {args.count} x fork + exec + exit of {args.program}, "
          f"{args.rounds} rounds alternating, {args.frequency} Hz")
    for tool in tools:
        rows = runs[tool]
        name = {"none": "no profiler", "fornax": "fornax", "perf": "perf record -g"}[tool]
        added = [v - base for v in rows]
        extra = "" if tool == "none" else f"   added: {spread(added)}"
        print(f"  {name:15s} {spread(rows)}{extra}")


if __name__ == "__main__":
    main()
