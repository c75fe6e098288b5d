# SPDX-License-Identifier: Apache-2.0
"""A real Prometheus (Debian's prometheus package) for tests.

Started on 127.0.0.1 with a free port and its own storage directory,
scraping the targets given at a short interval; queried through its HTTP
API, as a user's dashboards and alerts would.

    with Prometheus(["127.0.0.1:7071"], tmp) as prom:
        prom.wait_for(lambda: prom.value('up{job="fornax"}') == 1, 30, "a scrape")
        samples = prom.range_samples("fornax_samples_total", "1m")
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

SKIP = 77
PROMETHEUS = os.environ.get("PROMETHEUS", "/usr/bin/prometheus")
PROMTOOL = os.environ.get("PROMTOOL", "/usr/bin/promtool")


def require_prometheus():
    """Skips (exit 77) without Prometheus; under CI=true that is a failure."""
    for path in (PROMETHEUS, PROMTOOL):
        if not os.access(path, os.X_OK):
            why = f"{path} is missing (Debian's prometheus package)"
            if os.environ.get("CI", "").lower() == "true":
                print(f"FAIL: {why}", file=sys.stderr)
                sys.exit(1)
            print(f"SKIP: {why}", file=sys.stderr)
            sys.exit(SKIP)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url, timeout=10):
    """(status, body bytes, headers) of a GET; HTTP errors are answers too."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read(), r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers


def promtool_check_metrics(text):
    """promtool's parser and linter on an exposition: (ok, what it said)."""
    p = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True)
    return p.returncode == 0, (p.stdout + p.stderr).decode(errors="replace")


class Prometheus:
    def __init__(self, targets, tmp, job="fornax", scrape_interval="1s", metrics_path="/metrics"):
        self.targets, self.tmp, self.job = list(targets), tmp, job
        self.scrape_interval, self.metrics_path = scrape_interval, metrics_path
        self.proc, self.port, self.log = None, None, None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def _write_config(self):
        # JSON is YAML: no YAML writer needed.
        config = {
            "global": {"scrape_interval": self.scrape_interval,
                       "scrape_timeout": self.scrape_interval,
                       "evaluation_interval": self.scrape_interval},
            "scrape_configs": [{
                "job_name": self.job,
                "metrics_path": self.metrics_path,
                "static_configs": [{"targets": self.targets}],
            }],
        }
        path = os.path.join(self.tmp, "prometheus.yml")
        with open(path, "w") as f:
            json.dump(config, f, indent=1)
        return path

    def start(self, timeout=60):
        config = self._write_config()
        for _ in range(5):  # a free port can be taken before Prometheus binds it
            self.port = free_port()
            data = os.path.join(self.tmp, f"prometheus-data-{self.port}")
            self.log = open(os.path.join(self.tmp, f"prometheus-{self.port}.log"), "w+")
            self.proc = subprocess.Popen(
                [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={data}",
                 f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn",
                 f"--web.console.templates={self.tmp}", f"--web.console.libraries={self.tmp}"],
                stdout=self.log, stderr=subprocess.STDOUT)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    if http_get(self.url + "/-/ready", timeout=2)[0] == 200:
                        return
                except OSError:
                    pass
                time.sleep(0.2)
            if self.proc.poll() is None:
                self.stop()
                raise AssertionError(f"Prometheus not ready after {timeout} s:\n{self.tail()}")
            if "address already in use" not in self.tail():
                raise AssertionError(f"Prometheus exited {self.proc.returncode}:\n{self.tail()}")
        raise AssertionError("no free port for Prometheus")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def tail(self, n=40):
        if not self.log:
            return ""
        self.log.flush()
        self.log.seek(0)
        return "".join(self.log.readlines()[-n:])

    def api(self, path, **params):
        """GET /api/v1/<path>; returns "data" of a successful answer."""
        url = f"{self.url}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        status, body, _ = http_get(url)
        answer = json.loads(body)
        if status != 200 or answer.get("status") != "success":
            raise AssertionError(f"{url}: {status} {answer}")
        return answer["data"]

    def query(self, expr):
        """An instant query: the result list (each {"metric": ..., "value": [t, "v"]})."""
        return self.api("query", query=expr)["result"]

    def value(self, expr):
        """The value of a query with one series, as a float; None when empty."""
        result = self.query(expr)
        if not result:
            return None
        if len(result) != 1:
            raise AssertionError(f"{expr}: {len(result)} series")
        return float(result[0]["value"][1])

    def range_samples(self, selector, window):
        """The raw samples of selector[window] (one series): [(time, value)], oldest first."""
        result = self.query(f"{selector}[{window}]")
        if len(result) != 1:
            raise AssertionError(f"{selector}[{window}]: {len(result)} series")
        return [(float(t), float(v)) for t, v in result[0]["values"]]

    def targets_health(self):
        """[(scrape url, health, last error)] of the active targets."""
        return [(t["scrapeUrl"], t["health"], t["lastError"])
                for t in self.api("targets")["activeTargets"]]

    def wait_for(self, cond, timeout, what):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if cond():
                return
            time.sleep(0.25)
        raise AssertionError(f"timed out after {timeout} s waiting for {what}; targets: "
                             f"{self.targets_health()}\n{self.tail()}")
