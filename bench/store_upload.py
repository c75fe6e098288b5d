#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Figures of the upload path, measured with the real agent, real BPF and the
test stores of tests/peers/ on 127.0.0.1. Needs root.

  outage   windows delivered / produced across a store outage at 1 s windows
  bytes    request bytes per window and per hour at 19 Hz with both CPUs busy,
           for Parca and Pyroscope, whole host and the busy process alone
  jitter   how late the drain loop wakes while the store hangs, against a
           healthy store in the same run (alternating)
  rss      agent RSS with -o only vs -o and --store (alternating): what the
           upload path adds
  faults   (only when asked for) random store faults at a fast pace: are all
           windows accounted for?

  sudo bench/store_upload.py --fornax build/agent/fornax \\
       --workload build/tests/fornax_workload [--only outage,bytes,jitter,rss] [--quick]

The machine is shared and noisy: every figure is the median over alternated
runs, with the spread (min..max) beside it.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, os.path.join(ROOT, "tests", "peers"))


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def spread(xs, fmt="{:.1f}"):
    if not xs:
        return "n/a"
    return f"{fmt.format(med(xs))} (min {fmt.format(min(xs))}, max {fmt.format(max(xs))}, n={len(xs)})"


def percentile(xs, p):
    if not xs:
        return float("nan")
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


class Bench:
    def __init__(self, args):
        import storetest
        import fornaxtest
        fornaxtest.FORNAX = os.path.abspath(args.fornax)
        fornaxtest.WORKLOAD = os.path.abspath(args.workload)
        self.st = storetest
        self.args = args
        self.tmp = tempfile.mkdtemp(prefix="fornax-bench-store-")
        self.n = 0
        self.workload = None

    def busy(self, seconds):
        """Both CPUs busy for the whole measurement, as on a loaded host."""
        return subprocess.Popen([self.args.workload, "split", str(seconds), "2"])

    def agent(self, args):
        self.n += 1
        return self.st.Agent(args, self.tmp, name=f"agent-{self.n}")

    @staticmethod
    def wait(cond, timeout):
        deadline = time.time() + timeout
        while not cond() and time.time() < deadline:
            time.sleep(0.2)
        return cond()

    # ---- outage ------------------------------------------------------------
    def outage(self):
        secs = self.args.outage
        print(f"\n== outage: store killed for {secs}s, 1 s windows, spool on, whole host at 19 Hz")
        for r in range(self.args.outage_rounds):
            peer = self.st.parca_peer.ParcaPeer().start()
            w = self.busy(secs + 120)
            spool = os.path.join(self.tmp, f"spool-outage-{r}")
            a = self.agent(["-i", "1s", "-v", "--store", f"grpc://127.0.0.1:{peer.port}",
                            "--spool-dir", spool, "--store-timeout", "5s"])
            a.wait_windows("delivered", 5, timeout=60)
            peer.kill()
            down_at = time.time()
            time.sleep(secs)
            produced_during = len(a.windows("produced"))
            peer.start()
            up_at = time.time()
            ok = self.wait(lambda: a.windows("produced") <= set(peer.windows()), 120)
            caught_up = time.time() - up_at
            a.stop()
            w.kill()
            w.wait()
            produced = a.windows("produced")
            delivered = produced & set(peer.windows())
            s = a.summary()
            late = a.lateness_ms()
            print(f"round {r + 1}: delivered {len(delivered)}/{len(produced)} windows "
                  f"({100.0 * len(delivered) / len(produced):.1f} %), outage {up_at - down_at:.0f}s, "
                  f"{produced_during} produced by its end, replay done {caught_up:.1f}s after the "
                  f"store came back{'' if ok else ' (NOT caught up)'}; spooled {s['spooled']}, "
                  f"replayed {s['replayed']}, retries {s['retries']}, dropped {s['dropped']}; "
                  f"drain wake-up lateness p50 {med(late):.2f} ms, max {max(late):.2f} ms")
            peer.stop()

    # ---- bytes -------------------------------------------------------------
    def bytes(self):
        secs = self.args.bytes_seconds
        print(f"\n== bytes: 19 Hz, 10 s windows, both CPUs busy, {secs}s per run")
        results = {}
        for r in range(self.args.rounds):
            for store in ("parca", "pyroscope"):
                for scope in ("host", "process"):
                    if store == "parca":
                        peer = self.st.parca_peer.ParcaPeer().start()
                        url = f"grpc://127.0.0.1:{peer.port}"
                    else:
                        peer = self.st.pyroscope_peer.PyroscopePeer().start()
                        url = f"pyroscope+http://127.0.0.1:{peer.port}"
                    w = self.busy(secs + 30)
                    extra = ["-p", str(w.pid)] if scope == "process" else []
                    # The busy process is one of two forked ones: -p follows the parent only.
                    a = self.agent(["-i", "10s", "-v", "--store", url] + extra)
                    time.sleep(secs)
                    a.stop()
                    w.kill()
                    w.wait()
                    s = a.summary()
                    series = [int(x) for x in __import__("re").findall(
                        r"produced \((\d+) series", a.text())]
                    if s["delivered"]:
                        per = s["bytes_sent"] / s["delivered"]
                        results.setdefault((store, scope), []).append(
                            (per, med(series)))
                    peer.stop()
        for (store, scope), vals in sorted(results.items()):
            per = [v[0] / 1024 for v in vals]
            print(f"{store:9} {scope:7}: {spread(per)} KiB per window, "
                  f"{med(per) * 360 / 1024:.2f} MiB per hour; series per window "
                  f"{med([v[1] for v in vals]):.0f}")

    # ---- jitter ------------------------------------------------------------
    def jitter(self):
        secs = self.args.jitter_seconds
        print(f"\n== jitter: drain loop wake-up lateness, 1 s drains and windows, {secs}s per run, "
              "whole host at 19 Hz: local files only, a healthy store, a store that hangs "
              "(2 s timeout); alternating")
        modes = ("no-store", "healthy", "hang")
        out = {m: [] for m in modes}
        periods = {m: [] for m in modes}
        for r in range(self.args.rounds):
            for mode in modes:
                peer = self.st.parca_peer.ParcaPeer().start()
                if mode == "hang":
                    peer.set_mode("hang")
                w = self.busy(secs + 30)
                spool = os.path.join(self.tmp, f"spool-jitter-{r}-{mode}")
                if mode == "no-store":
                    target = ["-o", os.path.join(self.tmp, f"out-jitter-{r}")]
                else:
                    target = ["--store", f"grpc://127.0.0.1:{peer.port}", "--store-timeout", "2s",
                              "--spool-dir", spool]
                a = self.agent(["-i", "1s", "-v"] + target)
                time.sleep(secs)
                a.stop()
                w.kill()
                w.wait()
                late = a.lateness_ms()
                out[mode].extend(late)
                periods[mode].extend(abs(b - a_) for a_, b in zip(late, late[1:]))
                if mode == "hang":
                    s = a.summary()
                    print(f"round {r + 1} hang: {s['retries']} timed-out requests, "
                          f"{s['spooled']} windows spooled, {len(late)} drains")
                peer.stop()
        for mode in modes:
            xs = out[mode]
            print(f"{mode:8}: lateness p50 {med(xs):.2f} ms, p99 {percentile(xs, 99):.2f} ms, "
                  f"max {max(xs):.2f} ms; period deviation p50 {med(periods[mode]):.2f} ms, "
                  f"max {max(periods[mode]):.2f} ms (n={len(xs)})")

    # ---- faults ------------------------------------------------------------
    def faults(self):
        """Random faults, fast: every window must still be accounted for."""
        import random
        secs = self.args.faults_seconds
        print(f"\n== faults: {secs}s of random store faults (ok, UNAVAILABLE, INVALID_ARGUMENT, "
              "UNAUTHENTICATED, hang, killed, garbage) every 0.1-1.5 s; 200 ms windows, 300 ms "
              "timeout, 8 KiB spool, queue of 1")
        rng = random.Random(self.args.seed)
        peer = self.st.parca_peer.ParcaPeer().start()
        w = subprocess.Popen([self.args.workload, "split", str(secs + 60), "1"])
        a = self.agent(["-i", "200ms", "--drain-interval", "100ms", "-v", "-F", "199",
                        "--store", f"grpc://127.0.0.1:{peer.port}", "--store-timeout", "300ms",
                        "--store-connect-timeout", "200ms", "--store-queue", "1",
                        "--spool-dir", os.path.join(self.tmp, "spool-faults"),
                        "--spool-max-bytes", "8K", "-p", str(w.pid)])
        up, changes, end = True, 0, time.time() + secs
        while time.time() < end and a.proc.poll() is None:
            mode = rng.choice(["ok", "ok", "unavailable", "invalid", "unauthenticated", "hang",
                               "kill", "garbage"])
            changes += 1
            peer.garbage(False)
            if mode in ("kill", "garbage"):
                if up:
                    peer.kill()
                    up = False
                if mode == "garbage":
                    peer.garbage(True)
            else:
                if not up:
                    peer.start()
                    up = True
                peer.set_mode(mode)
            time.sleep(rng.uniform(0.1, 1.5))
        alive = a.proc.poll() is None
        peer.garbage(False)
        if not up:
            peer.start()
        peer.set_mode("ok")
        time.sleep(2)
        rc = a.stop()
        w.kill()
        w.wait()
        s = a.summary()
        produced, got, dropped = a.windows("produced"), set(peer.windows()), a.windows("dropped")
        books = (s["produced"] - s["empty"] + s["found_in_spool"],
                 s["delivered"] + s["dropped"] + s["in_spool"] + s["queued"])
        print(f"{changes} fault changes; agent alive throughout: {alive}, exit status {rc}")
        print(f"produced {s['produced']}, delivered {s['delivered']} (replayed {s['replayed']}), "
              f"dropped {s['dropped']} (" + ", ".join(f"{k[8:]} {v}" for k, v in s.items()
                                                     if k.startswith("dropped_") and v) +
              f"), left in the spool {s['in_spool']}; retries {s['retries']}")
        print(f"books balance: {books[0]} == {books[1]}: {books[0] == books[1]}; windows neither "
              f"received nor dropped: {len(produced - got - dropped)} (in the spool: {s['in_spool']})")
        peer.stop()

    # ---- rss ---------------------------------------------------------------
    @staticmethod
    def rss_kib(pid):
        """VmRSS and VmHWM, RssAnon (private memory) and RssFile (mapped library pages), Pss."""
        vals = {}
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                    vals[k] = int(v.split()[0])
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    vals["Pss"] = int(line.split()[1])
        return vals

    def rss(self):
        secs = self.args.rss_seconds
        print(f"\n== rss: -o only vs -o plus --store, 10 s windows, 19 Hz, both CPUs busy, "
              f"{secs}s per run, alternating; 'process' samples only the busy process (-p), so "
              f"symbol caches are the same in every run, 'host' samples everything")
        plan = [("process", m) for m in ("local", "parca", "pyroscope", "parca-down")] + \
               [("host", m) for m in ("local", "parca")]
        res = {}
        for r in range(self.args.rounds):
            for scope, mode in plan:
                out = os.path.join(self.tmp, f"out-{r}-{scope}-{mode}")
                extra = []
                peer = None
                if mode == "parca":
                    peer = self.st.parca_peer.ParcaPeer().start()
                    extra = ["--store", f"grpc://127.0.0.1:{peer.port}"]
                elif mode == "pyroscope":
                    peer = self.st.pyroscope_peer.PyroscopePeer().start()
                    extra = ["--store", f"pyroscope+http://127.0.0.1:{peer.port}"]
                elif mode == "parca-down":
                    port = self.st.parca_peer.free_port()
                    extra = ["--store", f"grpc://127.0.0.1:{port}",
                             "--spool-dir", os.path.join(self.tmp, f"spool-rss-{r}")]
                w = self.busy(secs + 30)
                if scope == "process":
                    extra += ["-p", str(w.pid)]
                a = self.agent(["-i", "10s", "-o", out] + extra)
                samples = {k: [] for k in ("VmRSS", "RssAnon", "RssFile", "Pss")}
                t_end = time.time() + secs
                time.sleep(min(15, secs / 2))  # warm-up: symbol caches, first windows
                while time.time() < t_end:
                    if a.proc.poll() is not None:
                        raise RuntimeError(f"fornax exited {a.proc.returncode} during the "
                                           f"{scope}/{mode} run:\n{a.tail(40)}")
                    now = self.rss_kib(a.proc.pid)
                    for k in samples:
                        samples[k].append(now[k])
                    time.sleep(1)
                hwm = self.rss_kib(a.proc.pid)["VmHWM"]
                a.stop()
                w.kill()
                w.wait()
                res.setdefault((scope, mode), []).append(
                    (med(samples["VmRSS"]), hwm, med(samples["RssAnon"]), med(samples["RssFile"]),
                     med(samples["Pss"])))
                if peer:
                    peer.stop()
                shutil.rmtree(out, ignore_errors=True)
        for (scope, mode), vals in res.items():
            rss = [v[0] / 1024 for v in vals]
            hwm = [v[1] / 1024 for v in vals]
            line = f"{scope:7} {mode:10}: RSS {spread(rss, '{:.2f}')} MiB, peak {med(hwm):.2f} MiB"
            if mode != "local":
                base = res[(scope, "local")]

                def added(i):
                    return [(v[i] - b[i]) / 1024 for v, b in zip(vals, base)]
                line += (f"; added (paired by round): RSS {spread(added(0), '{:+.2f}')} MiB, of "
                         f"which private (RssAnon) {med(added(2)):+.2f} and library pages "
                         f"(RssFile) {med(added(3)):+.2f}; PSS {med(added(4)):+.2f} MiB")
            print(line)


def main():
    ap = argparse.ArgumentParser(description="figures of the upload path")
    ap.add_argument("--fornax", default=os.path.join(ROOT, "build", "agent", "fornax"))
    ap.add_argument("--workload", default=os.path.join(ROOT, "build", "tests", "fornax_workload"))
    ap.add_argument("--only", default="outage,bytes,jitter,rss")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--outage", type=int, default=120, help="outage length in seconds")
    ap.add_argument("--outage-rounds", type=int, default=1)
    ap.add_argument("--bytes-seconds", type=int, default=65)
    ap.add_argument("--jitter-seconds", type=int, default=30)
    ap.add_argument("--rss-seconds", type=int, default=45)
    ap.add_argument("--faults-seconds", type=int, default=120)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="short runs, for a smoke test")
    args = ap.parse_args()
    if args.quick:
        args.rounds, args.outage, args.bytes_seconds = 1, 10, 25
        args.jitter_seconds, args.rss_seconds, args.faults_seconds = 10, 20, 20
    if os.geteuid() != 0:
        sys.exit("needs root (BPF)")
    b = Bench(args)
    try:
        for what in args.only.split(","):
            getattr(b, what)()
    finally:
        shutil.rmtree(b.tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
