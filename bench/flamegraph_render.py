#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Flame graph figures: SVG size, and time to interactive in headless Chromium.

Runs bench/flamegraph_bench (a synthetic profile of ~50k distinct stacks,
rendered with the defaults, with 0.01 px frames under the same byte budget,
and with every frame drawn, which no browser opens in reasonable time),
then opens the first two RUNS times each in a fresh Debian Chromium,
alternating with a baseline (the small Parca-style fixture, converted: the
browser's fixed cost on this machine now), and prints medians and ranges:

  load          navigation to the load event (parse, layout, the script's setup)
  interactive   navigation to the first frame painted after the script ran
  zoom          a zoom into a frame of ~2% of the samples, to the next painted frame

  bench/flamegraph_render.py BUILD_DIR [STACKS] [RUNS]
"""
import os
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "integration"))
import chromium  # noqa: E402

PAINTED = "new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"
ZOOM = """(async () => {
    const F = fornaxFlame.frames, total = F[0].n;
    let best = F.length > 1 ? 1 : 0;
    for (let i = 1; i < F.length; i++)
        if (Math.abs(F[i].n - 0.02 * total) < Math.abs(F[best].n - 0.02 * total)) best = i;
    const t = performance.now();
    fornaxFlame.zoom(best);
    await %s;
    return performance.now() - t;
})()""" % PAINTED


def measure(path):
    with chromium.Browser(1280, 900) as b:
        page = b.open("file://" + path, timeout=120)
        ready = page.eval("document.documentElement.getAttribute('data-ready')")
        if ready != "1" or page.errors():
            raise SystemExit(f"{path}: not ready ({ready}), errors {page.errors()}")
        interactive = page.eval(f"(async () => {{ await {PAINTED}; return performance.now(); }})()",
                                timeout=120)
        zoom = page.eval(ZOOM, timeout=120)
        return page.load_seconds * 1e3, interactive, zoom


def summary(values):
    return f"{statistics.median(values):8.0f} ms ({min(values):.0f}..{max(values):.0f})"


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    stacks = sys.argv[2] if len(sys.argv) > 2 else "50000"
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    out = tempfile.mkdtemp(prefix="fornax-flamebench-")
    subprocess.run([os.path.join(build, "bench", "flamegraph_bench"), out, stacks, "5"],
                   check=True)
    fixture = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures",
                           "pprof", "parca_style.pb.gz")
    subprocess.run([os.path.join(build, "agent", "fornax"), "convert", fixture, "-o",
                    os.path.join(out, "baseline.svg")], check=True)
    names = ["baseline.svg", "flame.svg", "flame-fine.svg"]
    results = {n: [] for n in names}
    for _ in range(runs):
        for n in names:  # alternate, so machine noise falls on both alike
            results[n].append(measure(os.path.join(out, n)))
    print(f"\nChromium {subprocess.run([chromium.CHROMIUM, '--version'], capture_output=True, text=True).stdout.strip()}, "
          f"{runs} runs each, alternating; median (min..max)")
    for n in names:
        size = os.path.getsize(os.path.join(out, n)) / 1e6
        load, inter, zoom = zip(*results[n])
        print(f"{n:14s} {size:6.2f} MB  load {summary(load)}  interactive {summary(inter)}  "
              f"zoom {summary(zoom)}")
    print(f"files kept in {out}")


if __name__ == "__main__":
    main()
