#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Share of short-lived processes' samples that get symbolized: fornax and
`perf record -a -g`, side by side, alternating runs.

Each run profiles every CPU at 999 Hz while the churn helper starts 300
processes of 2..30 ms (two at a time) that burn CPU in churn_burn(). A
sample of a child (any fornax_churn process but the parent) that has a user
stack counts as symbolized when its user leaf frame has a function name.

    bench/churn_share.py BUILD_DIR [RUNS]     (root; default 5 runs each)
"""
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "integration"))
import fornaxtest as ft  # noqa: E402

FREQ = 999
CHURN_ARGS = ["300", "2", "30", "2"]


def run_churn(churn):
    proc = subprocess.Popen([churn] + CHURN_ARGS)
    proc.wait()
    return proc.pid


def fornax_run(build, tmp):
    out = os.path.join(tmp, "churn.pb.gz")
    agent = subprocess.Popen([os.path.join(build, "agent", "fornax"), "--duration", "6s",
                              "-F", str(FREQ), "-o", out], stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)
    parent = run_churn(os.path.join(build, "tests", "fornax_churn"))
    agent.communicate(timeout=120)
    total = named = burn = 0
    for s in ft.read_pprof(out).by_comm("fornax_churn"):
        if s.labels["pid"] == str(parent):
            continue
        user = [loc for loc in s.stack if not loc.kernel]
        if not user:
            continue
        total += s.count
        if user[0].lines:
            named += s.count
            burn += s.count if user[0].lines[-1].function == "churn_burn" else 0
    return total, named, burn


def perf_run(build, tmp):
    data = os.path.join(tmp, "perf.data")
    rec = subprocess.Popen(["perf", "record", "-q", "-a", "-g", "-F", str(FREQ), "-o", data,
                            "--", "sleep", "6"], stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    parent = run_churn(os.path.join(build, "tests", "fornax_churn"))
    rec.wait()
    script = subprocess.run(["perf", "script", "-i", data, "-F", "comm,pid,ip,sym,dso"],
                            capture_output=True, text=True)
    total = named = burn = 0
    for block in script.stdout.split("\n\n"):
        lines = [l for l in block.splitlines() if l.strip()]
        if not lines:
            continue
        head = lines[0].split()
        if len(head) < 2 or head[0] != "fornax_churn" or head[1] == str(parent):
            continue
        # callchain, leaf first: "addr sym+off (dso)"; the user leaf is the first outside the kernel
        user = [l for l in lines[1:] if "[kernel.kallsyms]" not in l and "(bpf_prog" not in l]
        if not user:
            continue
        total += 1
        parts = user[0].split(None, 1)
        sym = parts[1].rsplit(" (", 1)[0] if len(parts) > 1 else "[unknown]"
        if not sym.startswith("[unknown]"):
            named += 1
            burn += sym.startswith("churn_burn")
    return total, named, burn


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    shares = {"fornax": [], "perf": []}
    with tempfile.TemporaryDirectory(prefix="fornax-churn-") as tmp:
        for i in range(runs):
            for name, fn in (("fornax", fornax_run), ("perf", perf_run)):
                total, named, burn = fn(build, tmp)
                share = named / total if total else 0.0
                shares[name].append(share)
                print(f"run {i + 1} {name:6s}: {named}/{total} samples symbolized "
                      f"({100 * share:.2f} %), {burn} in churn_burn", flush=True)
    for name, vals in shares.items():
        print(f"{name}: median {100 * statistics.median(vals):.2f} %, "
              f"min {100 * min(vals):.2f} %, max {100 * max(vals):.2f} % over {len(vals)} runs")


if __name__ == "__main__":
    main()
