# SPDX-License-Identifier: Apache-2.0
"""The real agent sending to a Pyroscope-compatible Connect endpoint
(tests/peers/pyroscope_peer.py), through 503s, throttling, hangs, garbage and
rejections. Windows are named by their time_nanos."""
import os
import re
import sys
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fornaxtest as ft  # noqa: E402
import storetest as st  # noqa: E402


class Pyroscope(st.StoreTestCase):
    def test_windows_arrive_with_labels_and_decode(self):
        token = self.path("token")
        with open(token, "w") as f:
            f.write("py-token\n")
        peer = self.peer(st.pyroscope_peer.PyroscopePeer(token="py-token", prefix="/pyro").start())
        w = self.workload()
        a = self.agent(self.store_args(f"pyroscope+http://127.0.0.1:{peer.port}/pyro", "-F", "49",
                                       "--label", "env=e2e", "--tenant", "team-a",
                                       "--bearer-token-file", token, "-v"))
        a.wait_windows("delivered", 2)
        # The token is rotated in place: the agent picks up the new one without a restart.
        peer.token = {"py-token", "rotated-token"}
        with open(token + ".new", "w") as f:
            f.write("rotated-token\n")
        os.rename(token + ".new", token)
        a.wait_for(r"changed, using the new token")
        peer.token = "rotated-token"
        a.wait_windows("delivered", len(a.windows("delivered")) + 2)
        self.assertEqual(a.stop(), 0)
        self.assertAccounted(a, peer.windows())
        # -vv traces every exchange with the store, but never the token.
        self.assertIn("curl > Authorization: (redacted)", a.text())
        self.assertNotIn("py-token", a.text())
        self.assertNotIn("rotated-token", a.text())

        ids = set()
        for s in peer.series():
            labels = s["labels"]
            self.assertEqual(labels["__name__"], "process_cpu")
            self.assertEqual(labels["env"], "e2e")
            self.assertEqual(labels["hostname"], os.uname().nodename)
            self.assertTrue(labels["service_name"])
            # Pyroscope makes a series of every sample label: only per-process ones are sent.
            self.assertLessEqual(s["sample_label_keys"], {"cgroup", "container_id", "pod_uid"})
            self.assertEqual(str(uuid.UUID(s["id"])), s["id"])
            ids.add(s["id"])
        self.assertEqual(len(ids), len(peer.series()), "profile ids repeat")
        mine = [s for s in peer.series() if s["labels"]["pid"] == str(w.pid)]
        self.assertTrue(mine)
        for s in mine:
            # Derived per process from the executable.
            self.assertEqual(s["labels"]["service_name"], "fornax_workload")
            self.assertEqual(s["labels"]["executable"], os.path.realpath(ft.WORKLOAD))
        funcs = set().union(*(s["functions"] for s in mine))
        self.assertTrue({"leaf_a", "leaf_b", "leaf_c", "dispatch", "main"} <= funcs, funcs)
        p = st.go_pprof(max(mine, key=lambda s: s["samples"])["raw"], self.tmp, "pushed.pb.gz")
        self.assertIn("dispatch", {f for smp in p.samples for f in smp.frames()})

        auths = [r["authorization"] for r in peer.requests]
        self.assertEqual(auths[0], "Bearer py-token")
        self.assertEqual(auths[-1], "Bearer rotated-token")
        for r in peer.requests:
            self.assertEqual(r["path"], "/pyro/push.v1.PusherService/Push")
            self.assertEqual(r["content_type"], "application/proto")
            self.assertEqual(r["connect_version"], "1")
            self.assertEqual(r["tenant"], "team-a")
            self.assertIsNone(r["expect"])

    def test_faults(self):
        """503 for a while, 429, a hang past the timeout, garbage, a 400 and a 401:
        the windows sent during the 400 and 401 are dropped and counted, all others arrive."""
        w = self.workload()
        peer = self.peer(st.pyroscope_peer.PyroscopePeer().start())
        a = self.agent(self.store_args(f"pyroscope+http://127.0.0.1:{peer.port}", "-p", str(w.pid),
                                       "-F", "49", "--service-name", "checkout",
                                       "--spool-dir", self.path("spool"), "--store-timeout", "1s"))
        a.wait_windows("delivered", 1)

        def through(mode, pattern, count=2):
            before = len(re.findall(pattern, a.text()))
            peer.set_mode(mode)
            a.wait_for(pattern, count=before + count, timeout=20)
            peer.set_mode("ok")
            self.wait_until(lambda: a.windows("produced") <= set(peer.windows()) |
                            a.windows("dropped"), 30, f"windows delivered after {mode}")

        through("unavailable", r"retry \(HTTP 503: ingester ring is not ready\)")
        through("throttled", r"retry \(HTTP 429: push rate limit reached\)")
        through("hang", r"retry \(curl: Timeout was reached")
        through("garbage", r"retry \(curl: ")
        through("invalid", r"dropped \(rejected\)")
        through("unauthenticated", r"dropped \(auth\)")
        a.wait_windows("delivered", len(peer.windows()) + 1)
        self.assertEqual(a.stop(), 0)

        produced, dropped = self.assertAccounted(a, peer.windows(), ("rejected", "auth"))
        self.assertTrue(a.windows("dropped", "rejected") and a.windows("dropped", "auth"))
        self.assertEqual(a.windows("dropped", "rejected") | a.windows("dropped", "auth"),
                         set(peer.rejected_windows()))
        self.assertIn("HTTP 400: rejected on purpose (test)", a.text())
        self.assertIn("refused our credentials", a.text())
        for s in peer.series():
            self.assertEqual(s["labels"]["service_name"], "checkout")
        self.assertGreater(a.summary()["retries"], 6)


if __name__ == "__main__":
    unittest.main()
