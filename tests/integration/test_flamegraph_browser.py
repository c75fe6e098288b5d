# SPDX-License-Identifier: Apache-2.0
"""fornax's flame graphs in a real browser: Debian's headless Chromium.

The SVG is written by `fornax convert` from the Parca-style fixture (kernel
frames, unsymbolized frames, C++ and Rust names full of <, > and &), opened
from a file:// URL, and used the way a person would: real mouse clicks and
hovers, the search button answering its prompt. Screenshots land in
BUILD/test-artifacts for a look.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import chromium  # noqa: E402
import fornaxtest as ft  # noqa: E402

FIXTURES = os.environ.get("FORNAX_FIXTURES",
                          os.path.join(os.path.dirname(__file__), "..", "fixtures", "pprof"))
ARTIFACTS = os.path.join(os.environ.get("FORNAX_BUILD_DIR", tempfile.gettempdir()),
                         "test-artifacts")
PUSH = "std::vector<std::pair<int, char>>::push_back(std::pair<int, char> const&)"
DROP = "<alloc::vec::Vec<T> as core::ops::Drop>::drop"

FRAME_JS = """((name) => {
    const f = fornaxFlame.frames.find(f => fornaxFlame.name(f) === name);
    const b = f.r.getBoundingClientRect();
    return {x: +f.r.getAttribute('x'), w: +f.r.getAttribute('width'),
            cx: b.x + b.width / 2, cy: b.y + b.height / 2, shown: b.width > 0,
            label: f.t ? f.t.textContent : '', fill: f.r.getAttribute('fill'),
            cls: f.g.getAttribute('class') || ''};
})(%r)"""


def centre(page, element_id):
    return page.eval(f"""(() => {{ const b = document.getElementById({element_id!r})
        .getBoundingClientRect(); return [b.x + b.width / 2, b.y + b.height / 2]; }})()""")


class Browser(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="fornax-browser-")
        os.makedirs(ARTIFACTS, exist_ok=True)
        cls.svg = os.path.join(cls.tmp, "parca style.svg")  # a space, to test the URL too
        subprocess.run([ft.FORNAX, "convert", os.path.join(FIXTURES, "parca_style.pb.gz"),
                        "-o", cls.svg, "--title", "fixture <&>"], check=True, timeout=60)
        cls.browser = chromium.Browser(1200, 400)
        cls.page = cls.browser.open("file://" + cls.svg.replace(" ", "%20"))

    @classmethod
    def tearDownClass(cls):
        cls.browser.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def frame(self, name):
        return self.page.eval(FRAME_JS % name)

    def tearDown(self):
        # Every step leaves the page free of script errors.
        self.assertEqual(self.page.errors(), [])
        self.page.eval("fornaxFlame.zoom(0), fornaxFlame.search(null), 0")

    def test_1_loads_offline_and_renders(self):
        p = self.page
        self.assertEqual(p.eval("document.documentElement.getAttribute('data-ready')"), "1")
        self.assertEqual(p.requests(), ["file://" + self.svg.replace(" ", "%20")])
        self.assertEqual(p.eval("document.getElementById('title').textContent"), "fixture <&>")
        self.assertEqual(p.eval("fornaxFlame.frames.length"), 11)
        # Names arrive intact through the escaping.
        names = p.eval("fornaxFlame.frames.map(fornaxFlame.name)")
        self.assertIn(PUSH, names)
        self.assertIn(DROP, names)
        self.assertIn("operator&&<\"quoted\" & 'single'>", names)
        png = p.screenshot(os.path.join(ARTIFACTS, "flamegraph.png"))
        _, _, rows = chromium.png_pixels(png)
        pixels = [px for row in rows for px in row]
        blue = sum(1 for r, g, b in pixels if b > r + 60)       # kernel frames
        warm = sum(1 for r, g, b in pixels if r > 190 and b < 90)  # native frames
        grey = sum(1 for r, g, b in pixels if abs(r - g) < 4 and abs(g - b) < 4 and 150 < r < 215)
        self.assertGreater(blue, 2000)
        self.assertGreater(warm, 2000)
        self.assertGreater(grey, 2000)

    def test_2_hover_shows_details(self):
        f = self.frame(PUSH)
        self.page.hover(f["cx"], f["cy"])
        details = self.page.eval("document.getElementById('details').textContent")
        self.assertIn(PUSH, details)
        self.assertIn("/usr/include/c++/12/bits/stl_vector.h:1290", details)
        self.assertIn("15 samples, 15.00%", details)
        # The native tooltip carries the same.
        title = self.page.eval(
            "fornaxFlame.frames.find(f => fornaxFlame.name(f) === %r).g.querySelector('title').textContent"
            % PUSH)
        self.assertEqual(title.split("\n"), [PUSH, "/usr/include/c++/12/bits/stl_vector.h:1290",
                                             "15 samples, 15.00%"])

    def test_3_click_zooms_and_reset_restores(self):
        p = self.page
        before = {n: self.frame(n) for n in ("worker", "app", "main", PUSH)}
        self.assertTrue(before[PUSH]["label"].endswith(".."), before[PUSH])
        shot_before = p.screenshot(os.path.join(ARTIFACTS, "flamegraph-before-zoom.png"))
        p.click(before["worker"]["cx"], before["worker"]["cy"])
        after = {n: self.frame(n) for n in ("worker", "app", "main", "all", PUSH)}
        self.assertEqual((after["worker"]["x"], after["worker"]["w"]), (10, 1180))
        self.assertEqual((after["main"]["x"], after["main"]["w"]), (10, 1180))
        self.assertFalse(after["app"]["shown"])
        self.assertEqual(after["all"]["cls"], "dim")
        # 15 of worker's 20 samples: three quarters of the width, and room for the whole name.
        self.assertAlmostEqual(after[PUSH]["w"], 885, delta=0.01)
        self.assertEqual(after[PUSH]["label"], PUSH)
        shot_after = p.screenshot(os.path.join(ARTIFACTS, "flamegraph-zoomed.png"))
        self.assertNotEqual(shot_before, shot_after)
        p.click(*centre(p, "reset"))
        for n in ("worker", "main", PUSH):
            now = self.frame(n)
            self.assertEqual((now["x"], now["w"]), (before[n]["x"], before[n]["w"]), n)
        self.assertTrue(self.frame("app")["shown"])

    def test_4_search_shows_matched_share(self):
        p = self.page
        cases = [
            ("std::|Vec", "Matched: 20.00% (2 frames)"),
            # Nested matches count once: worker holds main holds push_back.
            ("worker|main|push_back", "Matched: 20.00% (3 frames)"),
            ("_read$", "Matched: 30.00% (1 frames)"),
        ]
        for query, want in cases:
            with self.subTest(query=query):
                self.browser.prompt_answer = query
                mark = len(self.browser.events)
                p.click(*centre(p, "search"))
                self.browser.wait_event("Page.javascriptDialogClosed", since=mark, timeout=10)
                self.assertEqual(p.eval("document.getElementById('matched').textContent"), want)
        self.assertEqual(self.frame("ksys_read")["fill"], "#e040fb")
        self.assertNotEqual(self.frame("do_syscall_64")["fill"], "#e040fb")
        # Escape clears the search and the highlight.
        p.send("Input.dispatchKeyEvent", {"type": "keyDown", "key": "Escape", "code": "Escape",
                                           "windowsVirtualKeyCode": 27})
        self.assertEqual(p.eval("document.getElementById('matched').textContent"), "")
        self.assertNotEqual(self.frame("ksys_read")["fill"], "#e040fb")


if __name__ == "__main__":
    if not ft.FORNAX or not os.path.exists(ft.FORNAX):
        print("FORNAX does not name the fornax binary", file=sys.stderr)
        sys.exit(1)
    if not chromium.available():
        ft.skip_or_fail(f"{chromium.CHROMIUM} not found (Debian's chromium; scripts/setup.sh)")
    unittest.main()
