#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Short-lived processes, whole machine: the share of their samples with every
user frame named, and with a complete stack, over runs; the stacks that
missed, most frequent first.

Each run starts fornax on every CPU, then tests/fornax_churn (N exec'd,
dynamically linked processes of 2..30 ms, two at a time); the children's
samples (comm fornax_churn, not the driver) are counted. Made to run in a
qemu guest as well, where Debian 12's 6.1 kernel is measured:

  sudo bench/short_lived.py BUILD_DIR [--processes 200] [--frequency 99] [--runs 3]

  B=$PWD/build; G=/usr/lib/go-1.19
  sudo /usr/bin/python3 tests/vm/run_in_vm.py --kernel 6.1 --timeout 900 \\
      --include /usr/bin/python3 --include /usr/lib/python3.11 --include /usr/lib/debug \\
      --include /usr/bin/go --include $G/bin/go --include $G/VERSION --include /usr/bin/protoc \\
      --include /usr/share/gocode/src/github.com/google/pprof/proto \\
      --include $G/pkg/tool/linux_amd64/pprof --include $B/agent/fornax \\
      --include $B/tests/fornax_churn --include "$PWD/bench" --include "$PWD/tests/integration" \\
      -- /usr/bin/python3 "$PWD/bench/short_lived.py" $B
"""
import argparse
import collections
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
import fornaxtest as ft  # noqa: E402


def one_run(build, processes, frequency):
    out = os.path.join(tempfile.mkdtemp(), "short.pb.gz")
    agent = subprocess.Popen([os.path.join(build, "agent", "fornax"), "--duration", "600s",
                              "-F", str(frequency), "-v", "-o", out],
                             stderr=subprocess.PIPE, text=True)
    lines = []
    for line in agent.stderr:
        lines.append(line)
        if "profiling " in line:
            break
    reader = threading.Thread(target=lambda: lines.extend(agent.stderr), daemon=True)
    reader.start()
    churn = subprocess.Popen([os.path.join(build, "tests", "fornax_churn"), str(processes),
                              "2", "30", "2"])
    churn.wait()
    agent.send_signal(signal.SIGINT)
    agent.wait()
    reader.join(5)
    if agent.returncode != 0:
        sys.exit("fornax failed:\n" + "".join(lines[-20:]))
    prof = ft.read_pprof(out)
    total = named = complete = 0
    misses = collections.Counter()
    for s in prof.by_comm("fornax_churn"):
        if s.labels["pid"] == str(churn.pid):
            continue
        user = [loc for loc in s.stack if not loc.kernel]
        if not user:
            continue
        total += s.count
        names = [loc.lines[-1].function if loc.lines else None for loc in user]
        if all(names):
            named += s.count
        else:
            misses[" <- ".join(n or hex(loc.address) for n, loc in zip(names, user))[:160]] += \
                s.count
        if s.labels.get("unwind", "").startswith("complete"):
            complete += s.count
    return total, named, complete, misses


def fmt(values):
    return f"{statistics.median(values):.1f} % ({min(values):.1f}..{max(values):.1f})"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("build")
    ap.add_argument("--processes", type=int, default=200)
    ap.add_argument("--frequency", type=int, default=99)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    named_shares, complete_shares = [], []
    misses = collections.Counter()
    for run in range(args.runs):
        total, named, complete, m = one_run(args.build, args.processes, args.frequency)
        named_shares.append(100 * named / max(total, 1))
        complete_shares.append(100 * complete / max(total, 1))
        misses.update(m)
        print(f"run {run + 1}: {total} samples, fully named {named_shares[-1]:.1f} %, "
              f"complete {complete_shares[-1]:.1f} %", flush=True)
    print(f"{args.processes} processes x {args.runs} runs, {args.frequency} Hz: fully named "
          f"{fmt(named_shares)}, complete {fmt(complete_shares)}")
    for stack, count in misses.most_common(10):
        print(f"  {count:4d} {stack}")


if __name__ == "__main__":
    main()
