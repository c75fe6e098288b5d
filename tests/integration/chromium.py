# SPDX-License-Identifier: Apache-2.0
"""Debian's headless Chromium, driven through the DevTools protocol.

The protocol runs over a pipe (--remote-debugging-pipe: JSON messages ended
by NUL on fds 3 and 4), so no port is opened and nothing beyond Python's
standard library is needed. Flags follow what works on a machine with no
network: no sandbox (root), no GPU, no background traffic, a fresh profile.
"""
import base64
import json
import os
import shutil
import struct
import subprocess
import tempfile
import threading
import time
import zlib

CHROMIUM = os.environ.get("FORNAX_CHROMIUM", "/usr/bin/chromium")


def available():
    return os.access(CHROMIUM, os.X_OK)


class ProtocolError(Exception):
    pass


class Browser:
    def __init__(self, width=1280, height=900):
        self.width, self.height = width, height
        self.tmp = tempfile.mkdtemp(prefix="fornax-chromium-")
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()

        def wire_fds():
            # Chromium reads commands on fd 3 and answers on fd 4.
            a, b = os.dup(to_chrome_r), os.dup(from_chrome_w)
            os.dup2(a, 3)
            os.dup2(b, 4)

        args = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-extensions",
                "--disable-default-apps", "--mute-audio", "--hide-scrollbars",
                f"--user-data-dir={self.tmp}/profile", "--remote-debugging-pipe",
                f"--window-size={width},{height}", "about:blank"]
        self.proc = subprocess.Popen(args, preexec_fn=wire_fds, pass_fds=(3, 4),
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=open(os.path.join(self.tmp, "stderr"), "wb"))
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._next_id = 0
        self._replies = {}
        self.events = []
        self.prompt_answer = None
        self._closed = False
        self._reader = threading.Thread(target=self._read_loop, daemon=True)
        self._reader.start()

    # --- wire ---------------------------------------------------------------------
    def _read_loop(self):
        buf = b""
        while True:
            try:
                chunk = os.read(self._from_chrome, 1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                with self._cond:
                    self._closed = True
                    self._cond.notify_all()
                return
            buf += chunk
            while b"\0" in buf:
                raw, buf = buf.split(b"\0", 1)
                msg = json.loads(raw)
                with self._cond:
                    if "id" in msg:
                        self._replies[msg["id"]] = msg
                    else:
                        self.events.append(msg)
                        if msg.get("method") == "Page.javascriptDialogOpening":
                            self._answer_dialog(msg)
                    self._cond.notify_all()

    def _answer_dialog(self, msg):
        # Runs on the reader thread: only send, never wait for the reply.
        params = {"accept": self.prompt_answer is not None}
        if self.prompt_answer is not None:
            params["promptText"] = self.prompt_answer
        self._send_raw("Page.handleJavaScriptDialog", params, msg.get("sessionId"))

    def _send_raw(self, method, params, session):
        self._next_id += 1
        msg = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._to_chrome, json.dumps(msg).encode() + b"\0")
        return self._next_id

    def send(self, method, params=None, session=None, timeout=30):
        with self._cond:
            mid = self._send_raw(method, params, session)
            deadline = time.monotonic() + timeout
            while mid not in self._replies:
                if self._closed:
                    raise ProtocolError(f"{method}: chromium went away")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ProtocolError(f"{method}: no reply in {timeout}s")
                self._cond.wait(left)
            reply = self._replies.pop(mid)
        if "error" in reply:
            raise ProtocolError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def wait_event(self, method, session=None, timeout=30, since=0):
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for ev in self.events[since:]:
                    if ev.get("method") == method and (session is None or
                                                       ev.get("sessionId") == session):
                        return ev
                left = deadline - time.monotonic()
                if left <= 0 or self._closed:
                    raise ProtocolError(f"no {method} in {timeout}s")
                self._cond.wait(left)

    def close(self):
        try:
            self.send("Browser.close", timeout=5)
        except ProtocolError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._to_chrome, self._from_chrome):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- pages ----------------------------------------------------------------------
    def open(self, url, timeout=60):
        """Opens url in a new tab; returns a Page once its load event has fired."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget",
                            {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, session)
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable", session=session)
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": self.width, "height": self.height, "deviceScaleFactor": 1,
                   "mobile": False}, session=session)
        page.mark = len(self.events)
        started = time.monotonic()
        self.send("Page.navigate", {"url": url}, session=session)
        self.wait_event("Page.loadEventFired", session=session, timeout=timeout,
                        since=page.mark)
        page.load_seconds = time.monotonic() - started
        return page


class Page:
    def __init__(self, browser, session):
        self.b, self.session, self.mark, self.load_seconds = browser, session, 0, None

    def send(self, method, params=None, timeout=30):
        return self.b.send(method, params, session=self.session, timeout=timeout)

    def eval(self, expr, timeout=30):
        r = self.send("Runtime.evaluate", {"expression": expr, "returnByValue": True,
                                           "awaitPromise": True}, timeout=timeout)
        if "exceptionDetails" in r:
            raise ProtocolError(f"{expr}: {r['exceptionDetails']}")
        return r["result"].get("value")

    def errors(self):
        """Script exceptions, console errors and error log entries since the page opened."""
        out = []
        for ev in self.b.events[self.mark:]:
            if ev.get("sessionId") != self.session:
                continue
            m, p = ev.get("method"), ev.get("params", {})
            if m == "Runtime.exceptionThrown":
                out.append(p["exceptionDetails"].get("exception", {}).get("description")
                           or p["exceptionDetails"].get("text"))
            elif m == "Runtime.consoleAPICalled" and p.get("type") == "error":
                out.append(" ".join(str(a.get("value")) for a in p.get("args", [])))
            elif m == "Log.entryAdded" and p["entry"].get("level") == "error":
                out.append(p["entry"].get("text"))
        return out

    def requests(self):
        """URLs the page asked for (file:// included)."""
        return [ev["params"]["request"]["url"] for ev in self.b.events[self.mark:]
                if ev.get("sessionId") == self.session
                and ev.get("method") == "Network.requestWillBeSent"]

    def click(self, x, y):
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            params = {"type": kind, "x": x, "y": y}
            if kind != "mouseMoved":
                params.update(button="left", clickCount=1)
            self.send("Input.dispatchMouseEvent", params)

    def hover(self, x, y):
        self.send("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x, "y": y})

    def screenshot(self, path):
        data = base64.b64decode(self.send("Page.captureScreenshot", {"format": "png"})["data"])
        with open(path, "wb") as f:
            f.write(data)
        return data


def png_pixels(data):
    """Decodes an 8-bit RGB or RGBA PNG (what Chromium writes) to (width, height, rows)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and color in (2, 6), (depth, color)
            bpp = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 0xff
            elif f == 2:
                line[i] = (line[i] + b) & 0xff
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xff
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xff
        rows.append([tuple(line[i:i + 3]) for i in range(0, stride, bpp)])
        prev = line
    return width, height, rows
