#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Programs nobody here wrote, profiled by fornax and by its peers, one after another.

Workloads (each skipped, with a line saying so, when its program is missing):
  python3     Debian's /usr/bin/python3 in a pure-Python loop (json, re, hashlib)
  node        a JavaScript loop; node-perfmap: the same with --perf-basic-prof
  xz          xz -9 compressing pseudo-random text
  chromium    three `chromium --headless --dump-dom about:blank` starts (churn)
  make        `make -j2` of a small generated C project, cleaned and rebuilt (churn)
  exec-loop   two busy shells beside a loop exec'ing true, ls and python3 -c pass (churn)
  short-lived tests/fornax_churn: dynamically linked processes of 2..30 ms, exec'd two at
              a time (churn); only their samples count
  python-heavy three Debian python3 loops beside a loop of short `python3 -c` runs (churn);
              only python3's samples count
Profilers, alternated round by round on the same workload:
  fornax      -d SECONDS, --pid for the steady workloads, the whole machine for churn
  perf-fp     perf record -g, then perf script (what makes its output symbolized)
  perf-dwarf  perf record --call-graph dwarf, then perf script
  bpftrace    profile:hz with ustack, where bpftrace is installed
  bcc         BCC's profile (profile-bpfcc -U -f), where bpfcc-tools is installed
Per workload and profiler, the median (min..max) over the rounds of:
  complete    share of the workload's samples whose user stack reaches _start (or a
              thread's start routine); fornax: its `unwind=complete` label
  named       share whose user frames are all named
  cpu-s       the profiler's CPU seconds, recording plus the post-processing that names frames
  rss-MB      its peak RSS (the largest of its processes); for fornax also the peak without
              the BPF maps it mmap()s (ring buffers, arrays), and those maps' pages apart
and the top-10 leaf functions' shares over all rounds beside perf-dwarf's.

  sudo bench/real_programs.py [--fornax build/agent/fornax] [--rounds 3] [--seconds 8]
                              [--only python3,xz] [--frequency 99]
                              [--fornax-arg=--unwind-cache=off]
                              [--profilers fornax,perf-fp] [--keep DIR]

--keep DIR copies each fornax round's profile and log (-v) into DIR, named by workload and
time, so an odd round can be looked at afterwards.
"""
import argparse
import collections
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
import fornaxtest as ft  # noqa: E402

NODE_LOOP = """
const end = Date.now() + 1000 * Number(process.argv[process.argv.length - 1]);
function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }
function work() { let s = 0; for (let i = 0; i < 20; i++) s += fib(18); return JSON.stringify({s}); }
while (Date.now() < end) work();
"""
THREAD_STARTS = ("_start", "clone3", "clone", "start_thread")


def workloads(tmp, seconds, churn_bin):
    py = ["/usr/bin/python3", "-c", ft.PYTHON_LOOP, str(seconds + 3)]
    node_js = os.path.join(tmp, "loop.js")
    with open(node_js, "w") as f:
        f.write(NODE_LOOP)
    text = os.path.join(tmp, "input.txt")
    with open(text, "w") as f:
        for i in range(400000):
            f.write(f"{(i * 2654435761) % 1000003} {i:x} lorem ipsum {i % 97}\n")
    proj = make_project(tmp)
    py_loop = os.path.join(tmp, "loop.py")
    with open(py_loop, "w") as f:
        f.write(ft.PYTHON_LOOP)
    py_loops = " ".join([f"/usr/bin/python3 {py_loop} {seconds + 3} &"] * 3)
    out = [
        ("python3", "/usr/bin/python3", py, False),
        ("node", "/usr/bin/node", ["/usr/bin/node", node_js, str(seconds + 3)], False),
        ("node-perfmap", "/usr/bin/node",
         ["/usr/bin/node", "--perf-basic-prof", node_js, str(seconds + 3)], False),
        ("xz", "/usr/bin/xz", ["sh", "-c", f"for i in 1 2 3 4 5 6; do xz -9 -T1 -c {text} "
                                           "> /dev/null; done"], False),
        ("chromium", "/usr/bin/chromium",
         ["sh", "-c", "for i in 1 2 3; do chromium --headless --no-sandbox --disable-gpu "
                      "--dump-dom about:blank > /dev/null 2>&1; sleep 1; done"], True),
        ("make", "/usr/bin/make", ["sh", "-c", f"cd {proj} && while :; do make -s clean; "
                                              "make -s -j2 >/dev/null; done"], True),
        ("exec-loop", "/usr/bin/python3",
         ["sh", "-c", "(while :; do :; done) & (while :; do :; done) & "
                      "while :; do true; ls /usr/bin > /dev/null; /usr/bin/python3 -c pass; done"],
         True),
        ("short-lived", churn_bin, [churn_bin, "100000", "2", "30", "2"], True),
        ("python-heavy", "/usr/bin/python3",
         ["sh", "-c", f"{py_loops} while :; do /usr/bin/python3 -c "
                      "'import json; json.dumps([list(range(50))] * 2000)'; done"], True),
    ]
    comm = {"short-lived": "fornax_churn", "python-heavy": "python3"}
    return [{"name": n, "argv": a, "churn": c, "comm": comm.get(n)}
            for n, prog, a, c in out if os.path.exists(prog)], \
        [n for n, prog, _, _ in out if not os.path.exists(prog)]


def make_project(tmp):
    proj = os.path.join(tmp, "proj")
    os.makedirs(proj, exist_ok=True)
    objs = []
    for i in range(24):
        with open(os.path.join(proj, f"m{i}.c"), "w") as f:
            f.write(f"#include <stdio.h>\n#include <string.h>\n#include <stdlib.h>\n"
                    f"int f{i}(int x) {{ char b[64]; snprintf(b, sizeof b, \"%d\", x); "
                    f"return (int)strlen(b) + atoi(b); }}\n")
        objs.append(f"m{i}.o")
    with open(os.path.join(proj, "main.c"), "w") as f:
        f.write("int main(void) { return 0; }\n")
    with open(os.path.join(proj, "Makefile"), "w") as f:
        f.write(f"CFLAGS = -O2 -g\nprog: main.o {' '.join(objs)}\n\t$(CC) -o $@ $^\n"
                "clean:\n\trm -f *.o prog\n")
    return proj


def bpf_map_rss(pid):
    """(RSS, the part of it in mmap()ed BPF maps), in kB, of pid now; None once it is gone."""
    total = bpf = 0
    in_map = False
    try:
        with open(f"/proc/{pid}/smaps") as f:
            for line in f:
                if line[0] in "0123456789abcdef" and "-" in line.split(" ", 1)[0]:
                    in_map = "anon_inode:bpf-map" in line
                elif line.startswith("Rss:"):
                    kb = int(line.split()[1])
                    total += kb
                    bpf += kb if in_map else 0
    except (OSError, ValueError):
        return None
    return total, bpf


def run_measured(argv, env=None, stdout=subprocess.DEVNULL, split_bpf=False):
    """Runs argv to its end; returns (CPU seconds, peak RSS in MB) of it and its children.

    split_bpf: also polls the process's smaps every 100 ms and leaves in
    run_measured.split the peak of its RSS without the BPF maps it mapped,
    and the peak of those maps' pages, in MB (what the issue's RSS target
    counts apart).
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.Popen(argv, stdout=stdout, stderr=subprocess.PIPE, env=env)
    peaks = [0, 0]
    done = threading.Event()

    def poll():
        while not done.wait(0.1):
            r = bpf_map_rss(proc.pid)
            if r:
                peaks[0] = max(peaks[0], r[0] - r[1])
                peaks[1] = max(peaks[1], r[1])
    poller = threading.Thread(target=poll) if split_bpf else None
    if poller:
        poller.start()
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    _, status, ru = os.wait4(proc.pid, 0)
    done.set()
    if poller:
        poller.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{argv[0]} failed: {err[-400:]}")
    run_measured.stderr = err
    run_measured.split = (peaks[0] / 1024, peaks[1] / 1024)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, ru.ru_maxrss / 1024


def leaf_shares(stacks, n=10):
    """The top n (None: all) leaf (flat) functions: name → share of samples."""
    total = sum(c for _, c in stacks) or 1
    flat = collections.Counter()
    for frames, c in stacks:
        flat[frames[0] if frames else "[no stack]"] += c
    return {k: v / total for k, v in flat.most_common(n)}


def fornax_round(args, wl, pids, tmp, seconds):
    """One capture; its RSS without and with BPF maps goes to fornax_round.split."""
    out = os.path.join(tmp, f"fornax-{wl['name']}.pb.gz")
    argv = [args.fornax, "-d", f"{seconds}s", "-F", str(args.frequency), "--no-kernel",
            "-o", out] + [f"--pid={p}" for p in pids] + args.fornax_arg + \
        (["-v"] if args.keep else [])
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORNAX_")}
    cpu, rss = run_measured(argv, env, split_bpf=True)
    fornax_round.split.append(run_measured.split)
    if args.keep:
        os.makedirs(args.keep, exist_ok=True)
        stem = os.path.join(args.keep, f"{wl['name']}-{time.strftime('%H%M%S')}")
        shutil.copyfile(out, stem + ".pb.gz")
        with open(stem + ".log", "w") as f:
            f.write(run_measured.stderr)
    for line in run_measured.stderr.splitlines():
        if line.startswith(("fornax: warning", "fornax: error")):
            print(f"fornax ({wl['name']}): {line}")
    prof = ft.read_pprof(out)
    py_maps = {i for i, m in prof.mappings.items() if "[python]" in m["flags"]}
    stacks = []
    complete = named = total = 0
    for s in prof.samples:
        if pids and s.labels.get("pid") not in pids:
            continue
        if wl.get("comm") and s.labels.get("comm") != wl["comm"]:
            continue
        user = [loc for loc in s.stack if not loc.kernel]
        frames = [n for loc in user for n in loc.names()]
        total += s.count
        complete += s.count if s.labels.get("unwind", "").startswith("complete") else 0
        named += s.count if frames and "[unknown]" not in frames and \
            "[truncated]" not in frames else 0
        # The outer function of the leaf: perf names a location by its symbol, not inlines.
        # Python frames stand for the interpreter loop's activation they replaced.
        leaf = user[0] if user else None
        if leaf is not None and leaf.mapping_id in py_maps:
            stacks.append((["_PyEval_EvalFrameDefault"], s.count))
        else:
            stacks.append(([leaf.lines[-1].function if leaf.lines else "[unknown]"]
                           if leaf is not None else [], s.count))
    return total, complete, named, cpu, rss, stacks


def parse_perf_script(text, pids, comm=None):
    """perf script output → [(frames leaf first, 1)], kernel frames dropped."""
    stacks, cur, keep = [], None, False
    for line in text.splitlines():
        if not line.strip():
            if cur is not None and keep:
                stacks.append((cur, 1))
            cur = None
            continue
        if cur is None:
            fields = line.split()
            pid = fields[1].split("/")[0] if len(fields) > 1 else ""
            keep = (not pids or pid in pids) and (not comm or fields[0] == comm)
            cur = []
            continue
        parts = line.split(None, 1)
        if len(parts) < 2:
            continue
        sym, dso = parts[1].rsplit(" (", 1) if " (" in parts[1] else (parts[1], "")
        if "kernel.kallsyms" in dso or dso.startswith("[kernel"):
            continue
        sym = sym.split("+0x")[0]
        cur.append("[unknown]" if sym in ("[unknown]", "") else sym)
    if cur is not None and keep:
        stacks.append((cur, 1))
    return stacks


def perf_round(args, wl, pids, tmp, seconds, mode):
    data = os.path.join(tmp, f"perf-{wl['name']}-{mode}.data")
    target = ["-p", ",".join(sorted(pids))] if pids else ["-a"]
    graph = ["-g"] if mode == "fp" else ["--call-graph", "dwarf"]
    cpu1, rss1 = run_measured(["perf", "record", "-q", "-F", str(args.frequency), "-e",
                               "cpu-clock", *graph, *target, "-o", data, "--", "sleep",
                               str(seconds)])
    script = os.path.join(tmp, "perf.txt")
    with open(script, "w") as f:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        p = subprocess.Popen(["perf", "script", "-i", data, "-F", "comm,pid,tid,ip,sym,dso"],
                             stdout=f, stderr=subprocess.DEVNULL)
        _, _, ru = os.wait4(p.pid, 0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu2 = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    with open(script) as f:
        stacks = parse_perf_script(f.read(), pids, wl.get("comm"))
    os.unlink(data)
    total = len(stacks)
    complete = sum(1 for fr, _ in stacks if fr and fr[-1] in THREAD_STARTS)
    named = sum(1 for fr, _ in stacks if fr and "[unknown]" not in fr)
    return total, complete, named, cpu1 + cpu2, max(rss1, ru.ru_maxrss / 1024), \
        [(fr[:1], 1) for fr, _ in stacks]


def bpftrace_round(args, wl, pids, tmp, seconds):
    if not shutil.which("bpftrace"):
        return None
    filt = f"/pid == {next(iter(pids))}/" if pids else \
        f"/comm == \"{wl['comm']}\"/" if wl.get("comm") else ""
    prog = (f"profile:hz:{args.frequency} {filt} {{ @[ustack] = count(); }} "
            f"interval:s:{seconds} {{ exit(); }}")
    out = os.path.join(tmp, "bt.txt")
    cpu, rss = run_measured(["bpftrace", "-o", out, "-e", prog])
    stacks = []
    with open(out) as f:
        frames = None
        for line in f:
            line = line.strip()
            if line.startswith("@["):
                frames = []
            elif line.startswith("]:") and frames is not None:
                stacks.append((frames, int(line.split(":")[1])))
                frames = None
            elif frames is not None and line:
                frames.append(line.split("+")[0])
    total = sum(c for _, c in stacks)
    complete = sum(c for fr, c in stacks if fr and fr[-1] in THREAD_STARTS)
    named = sum(c for fr, c in stacks if fr and not any(f.startswith("0x") for f in fr))
    return total, complete, named, cpu, rss, [(fr[:1], c) for fr, c in stacks]


def bcc_round(args, wl, pids, tmp, seconds):
    """BCC's profile tool, user stacks folded; one pid at most, as it takes."""
    tool = shutil.which("profile-bpfcc")
    if not tool:
        return None
    argv = [tool, "-F", str(args.frequency), "-U", "-f"]
    if pids:
        argv += ["-p", min(pids, key=int)]
    out = os.path.join(tmp, "bcc.txt")
    with open(out, "w") as f:
        try:
            cpu, rss = run_measured(argv + [str(seconds)], stdout=f)
        except RuntimeError as e:
            # BCC compiles its program against this kernel's headers, which not every
            # kernel has installed (nor /sys/kernel/kheaders.tar.xz)
            print(f"bcc: {str(e).splitlines()[-1]}: skipped")
            return None
    stacks = []
    with open(out) as f:
        for line in f:
            path, _, count = line.rstrip("\n").rpartition(" ")
            parts = path.split(";")
            if not count.isdigit() or (wl.get("comm") and parts[0] != wl["comm"]):
                continue
            stacks.append(([p.split("+")[0] for p in reversed(parts[1:])], int(count)))
    total = sum(c for _, c in stacks)
    complete = sum(c for fr, c in stacks if fr and fr[-1] in THREAD_STARTS)
    named = sum(c for fr, c in stacks if fr and "[unknown]" not in fr)
    return total, complete, named, cpu, rss, [(fr[:1], c) for fr, c in stacks]


def fmt(values, scale=1.0, digits=1):
    if not values:
        return "n/a"
    v = [x * scale for x in values]
    return f"{statistics.median(v):.{digits}f} ({min(v):.{digits}f}..{max(v):.{digits}f})"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fornax", default="build/agent/fornax")
    ap.add_argument("--fornax-arg", action="append", default=[],
                    help="one more argument for fornax (repeatable), e.g. --unwind-cache=off")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=8)
    ap.add_argument("--frequency", type=int, default=99)
    ap.add_argument("--only", default="")
    ap.add_argument("--keep", default="", help="copy each fornax profile and -v log here")
    ap.add_argument("--profilers", default="",
                    help="comma-separated subset of fornax,perf-fp,perf-dwarf,bpftrace,bcc")
    args = ap.parse_args()
    args.fornax = os.path.abspath(args.fornax)
    profilers = {
        "fornax": lambda wl, p, t, s: fornax_round(args, wl, p, t, s),
        "perf-fp": lambda wl, p, t, s: perf_round(args, wl, p, t, s, "fp"),
        "perf-dwarf": lambda wl, p, t, s: perf_round(args, wl, p, t, s, "dwarf"),
        "bpftrace": lambda wl, p, t, s: bpftrace_round(args, wl, p, t, s),
        "bcc": lambda wl, p, t, s: bcc_round(args, wl, p, t, s),
    }
    if args.profilers:
        profilers = {k: v for k, v in profilers.items() if k in args.profilers.split(",")}
    with tempfile.TemporaryDirectory(prefix="fornax-real-") as tmp:
        churn_bin = os.path.join(os.path.dirname(os.path.dirname(args.fornax)), "tests",
                                 "fornax_churn")
        wls, missing = workloads(tmp, args.seconds, churn_bin)
        for name in missing:
            print(f"{name}: not installed, skipped")
        if args.only:
            wls = [w for w in wls if w["name"] in args.only.split(",")]
        for wl in wls:
            results = collections.defaultdict(list)
            fornax_round.split = []
            every_stack = collections.defaultdict(list)
            for rnd in range(args.rounds):
                order = list(profilers) if rnd % 2 == 0 else list(reversed(profilers))
                for prof in order:
                    work = subprocess.Popen(wl["argv"], stdout=subprocess.DEVNULL,
                                            stderr=subprocess.DEVNULL, start_new_session=True)
                    try:
                        time.sleep(1.0)
                        pids = set() if wl["churn"] else {str(work.pid)} | \
                            ft.process_tree(work.pid)
                        r = profilers[prof](wl, pids, tmp, args.seconds)
                    finally:
                        os.killpg(work.pid, 15)
                        work.wait()
                    if r is None:
                        continue
                    total, complete, named, cpu, rss, stacks = r
                    results[prof].append((complete / total if total else 0,
                                          named / total if total else 0, cpu, rss, total))
                    every_stack[prof] += stacks
            print(f"\n== {wl['name']} ({args.rounds} rounds, {args.seconds} s, "
                  f"{args.frequency} Hz)")
            print(f"{'profiler':<11} {'samples':>14} {'complete %':>20} {'named %':>20} "
                  f"{'cpu-s':>20} {'rss-MB':>20}")
            for prof, rs in results.items():
                print(f"{prof:<11} {fmt([r[4] for r in rs], digits=0):>14} "
                      f"{fmt([r[0] for r in rs], 100):>20} {fmt([r[1] for r in rs], 100):>20} "
                      f"{fmt([r[2] for r in rs], digits=2):>20} {fmt([r[3] for r in rs]):>20}")
            if fornax_round.split:
                print(f"fornax peak RSS without its BPF maps: "
                      f"{fmt([a for a, _ in fornax_round.split])} MB; "
                      f"the maps' pages: {fmt([b for _, b in fornax_round.split])} MB")
            ref = leaf_shares(every_stack["perf-dwarf"], None)
            if every_stack["fornax"] and ref:
                top = leaf_shares(every_stack["fornax"])
                print("top-10 leaf functions, all rounds: fornax % / perf-dwarf % (difference)")
                for fn, sh in top.items():
                    print(f"  {fn[:48]:<48} {100 * sh:6.1f} {100 * ref.get(fn, 0):6.1f} "
                          f"{100 * (sh - ref.get(fn, 0)):+6.1f}")
                print(f"  largest difference: "
                      f"{100 * max(abs(sh - ref.get(fn, 0)) for fn, sh in top.items()):.1f} points")


if __name__ == "__main__":
    main()
