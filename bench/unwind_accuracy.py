#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""How whole are the user stacks, and what does walking them cost in the kernel?

Profiles tests/helpers/unwind_workload.c (chain mode: a noinline chain of known
callers under two leaves) built with and without frame pointers, each under
--unwind=auto (CFI) and --unwind=fp, alternating the four combinations round by
round, and prints per combination the median and spread of:

  complete  share of the workload's samples whose user stack reaches _start
  exact     share whose user stack is exactly leaf → leaves → chain… → main → … → _start
  to main   share whose user stack is exact from the leaf to main (what follows main,
            the C runtime in libc, not checked)
  ns/sample the BPF program's run time per sample of the workload
            (kernel.bpf_stats_enabled: run_time_ns / run_cnt of this fornax's program)

The machine may be busy with other processes, whose stacks cost what they cost.
So each capture names the workload with --pid, and the runs that only filter
another process out are taken out of the figure: each round first measures
what such a run costs (a capture of a sleeping process, every run filtered or
idle), then a capture's workload cost is
  (run_time - (runs - workload samples) * filtered run cost) / workload samples.

  sudo bench/unwind_accuracy.py [--build-dir build] [--rounds 5] [--seconds 6]
                                [--frequency 499] [--links 24] [--kernel-stacks]
                                [--with-startup]

--links N profiles `chainN`: N chain links; 3 gives 10 user frames. Kernel
stacks are off (--no-kernel) unless --kernel-stacks: the kernel's own unwinder
costs the same in both modes and would only blur the difference.
Only the steady state is measured: the first second of each capture (a new
process is walked by frame pointers until its tables are in) is left out by
running continuous mode and dropping the first window; --with-startup keeps it
in the stack shares (the run time is always the steady state's).
"""
import argparse
import glob
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
import fornaxtest as ft  # noqa: E402


def process_tree(pid):
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(str(p))
        try:
            with open(f"/proc/{p}/task/{p}/children") as f:
                todo.extend(int(c) for c in f.read().split())
        except OSError:
            pass
    return set(pids)


def user_functions(sample):
    return [loc.lines[-1].function if loc.lines else "[unknown]"
            for loc in sample.stack if not loc.kernel]


def program_ids(pid):
    """Ids of the BPF programs process pid holds open (from /proc/PID/fdinfo)."""
    ids = set()
    fdinfo = f"/proc/{pid}/fdinfo"
    for fd in os.listdir(fdinfo):
        try:
            with open(os.path.join(fdinfo, fd)) as f:
                for line in f:
                    if line.startswith("prog_id:"):
                        ids.add(int(line.split()[1]))
        except OSError:
            pass
    return ids


def program_stats(fornax_pid):
    """(run_time_ns, run_cnt) of the fornax_sample program this fornax loaded."""
    for prog_id in program_ids(fornax_pid):
        out = subprocess.run(["bpftool", "prog", "show", "id", str(prog_id), "--json"],
                             capture_output=True, text=True)
        if out.returncode:
            continue
        prog = json.loads(out.stdout)
        if prog.get("name") == "fornax_sample":
            return prog.get("run_time_ns", 0), prog.get("run_cnt", 0)
    return None


def profile_steady_state(args, mode, pids, outdir, seconds):
    """Runs fornax on pids in 1 s windows; returns the program's (run_time_ns, run_cnt)
    from the end of the first window to the end, which the windows after the first cover."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORNAX_")}
    agent = subprocess.Popen([args.fornax, "--interval", "1s", "-F", str(args.frequency),
                              "--unwind", mode, "-o", outdir] +
                             [f"--pid={p}" for p in sorted(pids)] +
                             ([] if args.kernel_stacks else ["--no-kernel"]),
                             env=env, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not glob.glob(os.path.join(outdir, "fornax-*.pb.gz")):
            if time.monotonic() > deadline or agent.poll() is not None:
                raise RuntimeError("fornax wrote no profile")
            time.sleep(0.01)
        before = program_stats(agent.pid)
        time.sleep(seconds)
        after = program_stats(agent.pid)
    finally:
        agent.send_signal(signal.SIGTERM)
        agent.wait(timeout=60)
    if not before or not after:
        return None
    return after[0] - before[0], after[1] - before[1]


def filtered_run_cost(args, tmp):
    """ns per program run that filters a sample out (or drops an idle one)."""
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        stats = profile_steady_state(args, "auto", {str(sleeper.pid)},
                                     os.path.join(tmp, f"idle-{time.monotonic_ns()}"), 3)
    finally:
        sleeper.kill()
        sleeper.wait()
    return stats[0] / stats[1] if stats and stats[1] else None


def one_run(args, binary, mode, tmp, filtered_ns):
    links = args.links
    expected = (["leaves"] + [f"chain_{i}" for i in range(23, 23 - links, -1)] +
                ["run_chain", "main"])
    outdir = os.path.join(tmp, f"run-{time.monotonic_ns()}")
    seconds = args.seconds
    cpus = os.cpu_count()
    work = subprocess.Popen([binary, f"chain{links}", str(seconds + 5), str(cpus)])
    try:
        time.sleep(0.3)
        pids = process_tree(work.pid)
        stats = profile_steady_state(args, mode, pids, outdir, seconds)
    finally:
        work.wait()
    files = sorted(glob.glob(os.path.join(outdir, "fornax-*.pb.gz")))
    if not args.with_startup:
        files = files[1:]
    total = workload = complete = exact = to_main = 0
    for f in files:
        for s in ft.read_pprof(f).samples:
            total += s.count
            if s.labels.get("pid") not in pids:
                continue
            frames = user_functions(s)
            if frames[:1] not in (["leaf_a"], ["leaf_b"]):
                continue
            workload += s.count
            if frames[1:len(expected) + 1] == expected:
                to_main += s.count
            if frames and frames[-1] == "_start":
                complete += s.count
                tail = frames[len(expected) + 1:]
                if frames[1:len(expected) + 1] == expected and 1 <= len(tail) <= 3:
                    exact += s.count
    shutil.rmtree(outdir, ignore_errors=True)
    ns = None
    if stats and filtered_ns is not None and total:
        ns = (stats[0] - (stats[1] - total) * filtered_ns) / total
    return {
        "complete": 100.0 * complete / workload if workload else 0.0,
        "exact": 100.0 * exact / workload if workload else 0.0,
        "to_main": 100.0 * to_main / workload if workload else 0.0,
        "ns": ns,
        "samples": total,
    }


def summary(values):
    values = [v for v in values if v is not None]
    if not values:
        return "n/a"
    return f"{statistics.median(values):7.1f} [{min(values):.1f}..{max(values):.1f}]"


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build-dir", default=os.path.join(here, "..", "build"))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=6)
    parser.add_argument("--frequency", type=int, default=499)
    parser.add_argument("--links", type=int, default=24, choices=range(0, 25))
    parser.add_argument("--kernel-stacks", action="store_true")
    parser.add_argument("--with-startup", action="store_true")
    args = parser.parse_args()
    args.fornax = os.path.join(args.build_dir, "agent", "fornax")
    builds = {"no frame pointers": os.path.join(args.build_dir, "tests", "unwind_workload"),
              "frame pointers": os.path.join(args.build_dir, "tests", "unwind_workload_fp")}
    for path in [args.fornax] + list(builds.values()):
        if not os.path.exists(path):
            sys.exit(f"{path}: not built (cmake --build {args.build_dir})")
    if os.geteuid() != 0:
        sys.exit("needs root (BPF)")

    with open("/proc/sys/kernel/bpf_stats_enabled") as f:
        stats_before = f.read().strip()
    with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
        f.write("1")
    # A SIGTERM must still restore the sysctl.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    results, filtered = {}, []
    tmp = tempfile.mkdtemp(prefix="fornax-unwind-bench-")
    try:
        combos = [(b, m) for b in builds for m in ("auto", "fp")]
        for r in range(args.rounds):
            filtered_ns = filtered_run_cost(args, tmp)
            filtered.append(filtered_ns)
            print(f"round {r + 1}: a filtered-out run costs {filtered_ns or 0:.0f} ns", flush=True)
            # Alternate the order so drift on a noisy machine spreads over all four.
            for build, mode in (combos if r % 2 == 0 else combos[::-1]):
                res = one_run(args, builds[build], mode, tmp, filtered_ns)
                results.setdefault((build, mode), []).append(res)
                print(f"round {r + 1}: {build:18} --unwind={mode:4}  complete {res['complete']:5.1f}%"
                      f"  exact {res['exact']:5.1f}%  to main {res['to_main']:5.1f}%"
                      f"  ns/sample {res['ns'] or 0:7.1f}  ({res['samples']} samples)",
                      flush=True)
    finally:
        with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
            f.write(stats_before)
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"\nchain{args.links} ({args.links + 7} user frames with the C runtime's), "
          f"{args.frequency} Hz, {args.rounds} rounds of {args.seconds:.0f}s, kernel stacks "
          f"{'on' if args.kernel_stacks else 'off'}, first second "
          f"{'included' if args.with_startup else 'left out'}, median [min..max]:")
    print(f"a filtered-out run: {summary(filtered)} ns")
    print(f"{'build':18} {'mode':6} {'complete %':>22} {'exact %':>22} {'exact to main %':>22} "
          f"{'BPF ns/sample':>22}")
    for (build, mode), runs in results.items():
        print(f"{build:18} {mode:6} {summary([x['complete'] for x in runs]):>22} "
              f"{summary([x['exact'] for x in runs]):>22} "
              f"{summary([x['to_main'] for x in runs]):>22} "
              f"{summary([x['ns'] for x in runs]):>22}")


if __name__ == "__main__":
    main()
