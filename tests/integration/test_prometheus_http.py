# SPDX-License-Identifier: Apache-2.0
"""A real Prometheus scrapes the HTTP server module.

The server runs in tests/helpers/http_demo.c the way the agent will run it
(a loop raising fornax_samples_total, the server on its own threads), so
the agent's own test is this one with the real binary in the demo's place.
"""
import os
import re
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import promtest  # noqa: E402

DEMO = os.environ.get("FORNAX_HTTP_DEMO", "")


class PrometheusScrapesTheServer(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="fornax-prom-")
        self.demo = subprocess.Popen([DEMO, "127.0.0.1:0"], stdout=subprocess.PIPE, text=True)
        line = self.demo.stdout.readline()
        m = re.fullmatch(r"port (\d+)\n", line)
        self.assertTrue(m, f"demo said {line!r}")
        self.port = int(m.group(1))

    def tearDown(self):
        self.demo.terminate()
        self.assertEqual(self.demo.wait(timeout=30), 0, "the demo did not stop cleanly")
        self.tmp.cleanup()

    def test_counter_grows_over_scrapes(self):
        target = f"127.0.0.1:{self.port}"
        with promtest.Prometheus([target], self.tmp.name) as prom:
            prom.wait_for(
                lambda: (prom.value("count_over_time(fornax_samples_total[1m])") or 0) >= 3,
                60, "three scrapes of fornax_samples_total")
            samples = prom.range_samples('fornax_samples_total{job="fornax"}', "1m")
            self.assertGreaterEqual(len(samples), 3, samples)
            values = [v for _, v in samples]
            self.assertEqual(values, sorted(values), f"a counter went down: {samples}")
            self.assertGreater(values[-1], values[0], samples)
            # the scrape itself is up and error-free
            self.assertEqual(prom.value(f'up{{instance="{target}"}}'), 1)
            self.assertEqual(prom.targets_health(),
                             [(f"http://{target}/metrics", "up", "")])
            # the server's own and the process's families arrive too
            self.assertGreaterEqual(
                prom.value('fornax_http_requests_total{handler="/metrics",code="200"}'), 2)
            self.assertGreater(prom.value("process_resident_memory_bytes"), 1 << 20)
            self.assertEqual(prom.value('fornax_build_info{version="demo"}'), 1)
            # a counter Prometheus can take the rate of: the demo adds 190 a second
            (t0, v0), (t1, v1) = samples[0], samples[-1]
            self.assertGreater((v1 - v0) / (t1 - t0), 50, samples)
            self.assertGreater(prom.value("irate(fornax_samples_total[1m])") or 0, 50)

    def test_promtool_and_health(self):
        base = f"http://127.0.0.1:{self.port}"
        status, body, headers = promtest.http_get(base + "/metrics")
        self.assertEqual(status, 200)
        self.assertEqual(headers["Content-Type"], "text/plain; version=0.0.4; charset=utf-8")
        ok, said = promtest.promtool_check_metrics(body)
        self.assertTrue(ok, said)
        status, body, _ = promtest.http_get(base + "/healthz")
        self.assertEqual((status, body), (200, b"[+]loop ok\nhealthz check passed\n"))


if __name__ == "__main__":
    if not DEMO or not os.access(DEMO, os.X_OK):
        print("FORNAX_HTTP_DEMO does not name the demo server", file=sys.stderr)
        sys.exit(1)
    promtest.require_prometheus()
    unittest.main()
