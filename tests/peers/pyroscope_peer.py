# SPDX-License-Identifier: Apache-2.0
"""A Pyroscope-compatible push endpoint for tests: Connect unary over HTTP/1.1.

POST /push.v1.PusherService/Push with Content-Type application/proto and a
bare PushRequest; answers 200 with an (empty) PushResponse, or a Connect
error: a non-200 status with {"code": ..., "message": ...}. It checks what
Pyroscope checks (__name__ and service_name present, valid unique label
names, at most 30 labels, a UUID per sample, decodable pprof) and records
every series. Faults on command:

  set_mode("ok" | "unavailable" (503) | "invalid" (400) | "unauthenticated" (401)
           | "throttled" (429) | "hang" | "garbage")
  kill() / start()

Run standalone: python3 pyroscope_peer.py --port 4040
"""
import argparse
import json
import os
import socket
import ssl
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import protos  # noqa: E402

PATH = "/push.v1.PusherService/Push"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Server(ThreadingHTTPServer):
    allow_reuse_address = True
    daemon_threads = True


class PyroscopePeer:
    def __init__(self, port=None, token=None, tls=None, prefix=""):
        # token: one accepted bearer token, or a set of them (a rotation in progress)
        self.port = port or free_port()
        self.token = token
        self.tls = tls
        self.prefix = prefix.rstrip("/")
        self.lock = threading.Lock()
        self.mode = "ok"
        self.received = []
        self.rejected = []
        self.requests = []
        self.release = threading.Event()
        self.httpd = None
        self.thread = None
        _, self.push_pb2, _ = protos.load()

    def start(self):
        peer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt, *args):
                pass

            def do_POST(self):
                peer._handle(self)

        self.release.clear()
        self.httpd = _Server(("127.0.0.1", self.port), Handler)
        if self.tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(self.tls[0], self.tls[1])
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        return self

    def kill(self):
        self.release.set()
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None

    stop = kill

    def set_mode(self, mode):
        with self.lock:
            self.mode = mode
        if mode == "hang":
            self.release.clear()
        else:
            self.release.set()

    def windows(self):
        with self.lock:
            return sorted({s["time_nanos"] for s in self.received})

    def rejected_windows(self):
        with self.lock:
            return sorted({s["time_nanos"] for s in self.rejected if s.get("time_nanos")})

    def series(self):
        with self.lock:
            return list(self.received)

    # ---- the endpoint --------------------------------------------------
    @staticmethod
    def _error(h, status, code, message):
        body = json.dumps({"code": code, "message": message}).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def _check(self, req):
        out = []
        for s in req.series:
            pairs = [(l.name, l.value) for l in s.labels]
            err = protos.check_labels(pairs, required=("__name__", "service_name"), max_labels=30)
            if err:
                return err, out
            for sample in s.samples:
                try:
                    uuid.UUID(sample.ID)
                except ValueError:
                    return f"sample ID {sample.ID!r} is not a UUID", out
                try:
                    p = protos.decode_profile(sample.raw_profile)
                except ValueError as e:
                    return str(e), out
                err = protos.validate_profile(p)
                if err:
                    return err, out
                summary = protos.summarize(p)
                summary["labels"] = dict(pairs)
                summary["id"] = sample.ID
                summary["raw"] = sample.raw_profile
                out.append(summary)
        return None, out

    def _handle(self, h):
        length = int(h.headers.get("Content-Length", "0"))
        body = h.rfile.read(length) if length else b""
        with self.lock:
            mode = self.mode
        entry = {"path": h.path, "content_type": h.headers.get("Content-Type"),
                 "connect_version": h.headers.get("Connect-Protocol-Version"),
                 "tenant": h.headers.get("X-Scope-OrgID"),
                 "authorization": h.headers.get("Authorization"),
                 "expect": h.headers.get("Expect"),
                 "user_agent": h.headers.get("User-Agent"), "mode": mode, "time": time.time()}
        with self.lock:
            self.requests.append(entry)
        if h.path != self.prefix + PATH:
            return self._error(h, 404, "not_found", f"no route {h.path}")
        if not (entry["content_type"] or "").startswith("application/proto"):
            return self._error(h, 415, "invalid_argument", "content type must be application/proto")
        tokens = self.token if isinstance(self.token, (set, frozenset)) else {self.token}
        if self.token and entry["authorization"] not in {f"Bearer {t}" for t in tokens}:
            return self._error(h, 401, "unauthenticated", "bad or missing bearer token")
        if mode == "hang":
            self.release.wait(3600)
            h.close_connection = True
            return
        if mode == "garbage":
            h.wfile.write(b"\x00\x01garbage, not HTTP\r\n\r\n" * 4)
            h.close_connection = True
            return
        if mode == "unavailable":
            return self._error(h, 503, "unavailable", "ingester ring is not ready")
        if mode == "throttled":
            return self._error(h, 429, "resource_exhausted", "push rate limit reached")
        req = self.push_pb2.PushRequest()
        try:
            req.ParseFromString(body)
        except Exception as e:  # protobuf DecodeError
            return self._error(h, 400, "invalid_argument", f"not a PushRequest: {e}")
        err, summaries = self._check(req)
        if mode == "unauthenticated":
            for s in summaries:
                s["reason"] = "unauthenticated"
            with self.lock:
                self.rejected.extend(summaries)
            return self._error(h, 401, "unauthenticated", "token expired")
        if mode == "invalid" and not err:
            err = "rejected on purpose (test)"
        if err:
            rejected = summaries or [{}]
            for s in rejected:
                s["reason"] = err
            with self.lock:
                self.rejected.extend(rejected)
            return self._error(h, 400, "invalid_argument", err)
        with self.lock:
            self.received.extend(summaries)
        h.send_response(200)
        h.send_header("Content-Type", "application/proto")
        h.send_header("Content-Length", "0")
        h.end_headers()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    peer = PyroscopePeer(port=args.port or None).start()
    print(f"listening on 127.0.0.1:{peer.port}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        peer.stop()


if __name__ == "__main__":
    main()
