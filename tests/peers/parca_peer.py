# SPDX-License-Identifier: Apache-2.0
"""A Parca-compatible profile store for tests: real gRPC (Debian's python3-grpcio).

It serves /parca.profilestore.v1alpha1.ProfileStoreService/WriteRaw on
127.0.0.1, checks what Parca checks (a __name__ label, valid and unique
label names, decodable pprof with ids 1..N), and records every series it
accepted or rejected. Faults on command:

  set_mode("ok" | "unavailable" | "invalid" | "unauthenticated" | "hang")
  kill() / start()         the port refuses connections in between
  garbage(True)            a raw TCP listener on the port answers junk bytes

Run standalone (for the benchmark or by hand):
  python3 parca_peer.py --port 7070 [--record DIR]
"""
import argparse
import json
import os
import socket
import sys
import threading
import time
from concurrent import futures

import grpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import protos  # noqa: E402

SERVICE = "parca.profilestore.v1alpha1.ProfileStoreService"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class GarbageServer:
    """Accepts connections and answers junk: neither HTTP/2 nor anything else."""

    def __init__(self, port, payload=b"\x00\xffthis is not a gRPC server\r\n\r\n" * 8):
        self.port, self.payload = port, payload
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(16)
        self.stopped = False
        self.connections = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stopped:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            try:
                conn.settimeout(1)
                try:
                    conn.recv(65536)
                except OSError:
                    pass
                conn.sendall(self.payload)
            except OSError:
                pass
            finally:
                conn.close()

    def stop(self):
        self.stopped = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.thread.join(5)


class ParcaPeer:
    def __init__(self, port=None, token=None, tls=None, record_dir=None):
        self.port = port or free_port()
        self.token = token
        self.tls = tls  # (cert_pem_path, key_pem_path)
        self.record_dir = record_dir
        self.lock = threading.Lock()
        self.mode = "ok"
        self.received = []   # accepted series
        self.rejected = []   # series of rejected requests (with the reason)
        self.requests = []   # every request: metadata and outcome
        self.server = None
        self.garbage_server = None
        self.release = threading.Event()
        self.store_pb2, _, _ = protos.load()

    # ---- control -------------------------------------------------------
    def start(self):
        self.release.clear()
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=16),
                             options=[("grpc.max_receive_message_length", 64 << 20)])
        handler = grpc.method_handlers_generic_handler(SERVICE, {
            "WriteRaw": grpc.unary_unary_rpc_method_handler(
                self._write_raw,
                request_deserializer=self.store_pb2.WriteRawRequest.FromString,
                response_serializer=self.store_pb2.WriteRawResponse.SerializeToString),
        })
        server.add_generic_rpc_handlers((handler,))
        addr = f"127.0.0.1:{self.port}"
        if self.tls:
            with open(self.tls[0], "rb") as c, open(self.tls[1], "rb") as k:
                creds = grpc.ssl_server_credentials([(k.read(), c.read())])
            bound = server.add_secure_port(addr, creds)
        else:
            bound = server.add_insecure_port(addr)
        if bound != self.port:
            raise RuntimeError(f"cannot bind {addr}")
        server.start()
        self.server = server
        return self

    def kill(self):
        """Stops at once: open requests are cancelled, new connections refused."""
        self.release.set()
        if self.server:
            self.server.stop(grace=None).wait(5)
            self.server = None

    def garbage(self, on):
        if on:
            self.kill()
            self.garbage_server = GarbageServer(self.port)
        elif self.garbage_server:
            self.garbage_server.stop()
            self.garbage_server = None

    def set_mode(self, mode):
        with self.lock:
            self.mode = mode
        if mode != "hang":
            self.release.set()
        else:
            self.release.clear()

    def stop(self):
        self.garbage(False)
        self.kill()

    # ---- queries -------------------------------------------------------
    def windows(self):
        """time_nanos of every window that has at least one accepted series."""
        with self.lock:
            return sorted({s["time_nanos"] for s in self.received})

    def rejected_windows(self):
        with self.lock:
            return sorted({s["time_nanos"] for s in self.rejected if s["time_nanos"]})

    def series(self):
        with self.lock:
            return list(self.received)

    # ---- the service ---------------------------------------------------
    def _record_request(self, context, request, outcome):
        md = dict(context.invocation_metadata())
        entry = {"outcome": outcome, "authorization": md.get("authorization"),
                 "user_agent": md.get("user-agent", ""), "tenant": request.tenant,
                 "normalized": request.normalized, "series": len(request.series),
                 "time": time.time()}
        self.requests.append(entry)

    def _check(self, request):
        out = []
        for s in request.series:
            pairs = [(l.name, l.value) for l in s.labels.labels]
            err = protos.check_labels(pairs)
            if err:
                return err, out
            if len(s.samples) != 1:
                return f"{len(s.samples)} samples in one series", out
            try:
                p = protos.decode_profile(s.samples[0].raw_profile)
            except ValueError as e:
                return str(e), out
            err = protos.validate_profile(p)
            if err:
                return err, out
            summary = protos.summarize(p)
            summary["labels"] = dict(pairs)
            summary["raw"] = s.samples[0].raw_profile
            out.append(summary)
        return None, out

    def _write_raw(self, request, context):
        with self.lock:
            mode = self.mode
        md = dict(context.invocation_metadata())
        if self.token and md.get("authorization") != f"Bearer {self.token}":
            self._record_request(context, request, "unauthenticated")
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "bad or missing bearer token")
        if mode == "hang":
            self.release.wait(3600)
            context.abort(grpc.StatusCode.UNAVAILABLE, "released after a hang")
        if mode == "unavailable":
            self._record_request(context, request, "unavailable")
            context.abort(grpc.StatusCode.UNAVAILABLE, "store is warming up")
        if mode == "unauthenticated":
            self._record_request(context, request, "unauthenticated")
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "token expired")
        err, summaries = self._check(request)
        if mode == "invalid" and not err:
            err = "rejected on purpose: profile is invalid (test)"
        if err:
            with self.lock:
                rejected = summaries or [{"time_nanos": self._first_time(request)}]
                for s in rejected:
                    s["reason"] = err
                self.rejected.extend(rejected)
            self._record_request(context, request, "invalid")
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"invalid profile: {err} (100% sure)")
        with self.lock:
            self.received.extend(summaries)
            if self.record_dir:
                for s in summaries:
                    self._save(s)
        self._record_request(context, request, "ok")
        return self.store_pb2.WriteRawResponse()

    @staticmethod
    def _first_time(request):
        for s in request.series:
            try:
                return protos.decode_profile(s.samples[0].raw_profile).time_nanos
            except (ValueError, IndexError):
                continue
        return 0

    def _save(self, s):
        os.makedirs(self.record_dir, exist_ok=True)
        base = os.path.join(self.record_dir, f"{s['time_nanos']}-{s['labels'].get('pid', 'x')}")
        with open(base + ".pb.gz", "wb") as f:
            f.write(s["raw"])
        with open(base + ".json", "w") as f:
            json.dump({k: (sorted(v) if isinstance(v, set) else v)
                       for k, v in s.items() if k != "raw"}, f)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--record", help="directory for the received profiles")
    args = ap.parse_args()
    peer = ParcaPeer(port=args.port or None, record_dir=args.record).start()
    print(f"listening on 127.0.0.1:{peer.port}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        peer.stop()


if __name__ == "__main__":
    main()
