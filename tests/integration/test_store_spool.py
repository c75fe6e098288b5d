# SPDX-License-Identifier: Apache-2.0
"""The spool across the two things that test it hardest: its byte limit, and an
agent killed with SIGKILL and started again on the same spool."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import storetest as st  # noqa: E402


def spool_files(path):
    return sorted(f for f in os.listdir(path) if f.endswith(".window"))


class Spool(st.StoreTestCase):
    def test_byte_limit_drops_oldest_first(self):
        w = self.workload()
        port = st.parca_peer.free_port()
        spool = self.path("spool")
        a = self.agent(self.store_args(f"grpc://127.0.0.1:{port}", "-p", str(w.pid), "-F", "49",
                                       "--spool-dir", spool, "--spool-max-bytes", "4K"))
        # The store stays down until the spool has had to drop windows to stay under 4 KiB.
        a.wait_for(r"upload: window \d+ dropped \(spool_full\)", count=2, timeout=60)
        self.assertLessEqual(sum(os.path.getsize(os.path.join(spool, f))
                                 for f in spool_files(spool)), 4 << 10)
        peer = self.peer(st.parca_peer.ParcaPeer(port=port).start())
        self.wait_until(lambda: a.windows("produced") - a.windows("dropped") <= set(peer.windows()),
                        30, "the spooled windows delivered")
        self.assertEqual(a.stop(), 0)

        produced, dropped = self.assertAccounted(a, peer.windows(), ("spool_full",))
        # Oldest first: every dropped window is older than every delivered one.
        self.assertLess(max(dropped), min(peer.windows()))
        self.assertEqual(sorted(produced)[:len(dropped)], sorted(dropped))
        self.assertIn("spool full: dropped the oldest window", a.text())
        self.assertEqual(spool_files(spool), [])

    def test_sigkill_and_restart_replays_the_spool(self):
        w = self.workload()
        port = st.parca_peer.free_port()
        spool = self.path("spool")
        args = self.store_args(f"grpc://127.0.0.1:{port}", "-p", str(w.pid), "-F", "49",
                               "--spool-dir", spool)
        first = self.agent(args, name="first")
        first.wait_windows("spooled", 4)
        # Right after a window reached the spool, so none is between the drain loop and the disk.
        first.kill()
        spooled = first.windows("spooled")
        # At most the window on its way from the drain loop to the disk dies with the process.
        self.assertTrue(spooled <= first.windows("produced"))
        self.assertLessEqual(len(first.windows("produced") - spooled), 1)
        self.assertEqual(len(spool_files(spool)), len(spooled))
        self.assertFalse([f for f in os.listdir(spool) if f.startswith(".tmp-")])

        peer = self.peer(st.parca_peer.ParcaPeer(port=port).start())
        second = self.agent(args, name="second")
        second.wait_for(rf"spool: {len(spooled)} windows \(\d+ bytes\) left by an earlier run")
        second.wait_windows("delivered", len(spooled) + 2)
        self.assertEqual(second.stop(), 0)

        self.assertTrue(spooled <= set(peer.windows()), "windows of the killed run were lost")
        self.assertAccounted(second, peer.windows())
        s = second.summary()
        self.assertEqual(s["found_in_spool"], len(spooled))
        self.assertGreaterEqual(s["replayed"], len(spooled))
        self.assertEqual(set(peer.windows()), spooled | second.windows("produced"))
        self.assertEqual(spool_files(spool), [])


if __name__ == "__main__":
    unittest.main()
