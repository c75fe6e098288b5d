# SPDX-License-Identifier: Apache-2.0
"""A stand-in Kubernetes API server for tests/unit/k8s/k8s_test.c.

It speaks the part of the API the k8s module uses, as the real one does:
HTTPS with a bearer token (re-read from --token-file for every request),
GET /api/v1/pods with fieldSelector=spec.nodeName=NODE, limit and continue
tokens, and watch=1 from a resourceVersion with bookmarks, timeoutSeconds,
chunked streaming, and an ERROR event with code 410 for an expired one.

The test drives it with one command per line on stdin and reads one answer
per line on stdout:
    add JSON          a pod (added, or modified when its uid exists)
    delete UID
    mode NAME         normal | garbage | wrongshape | slow | error500 | reset
    expire            end every watch, and make older resource versions expire
    drop-watches      end every watch
    stats             {"list": n, "watch": n, "unauthorized": n, ...} as JSON
    quit
"""
import argparse
import json
import socket
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class State:
    def __init__(self, node, token_file):
        self.node, self.token_file = node, token_file
        self.cond = threading.Condition()
        self.rv = 100
        self.pods = {}
        self.history = []  # (rv, type, pod)
        self.expired_below = 0
        self.generation = 0
        self.mode = "normal"
        self.counts = {"list": 0, "watch": 0, "unauthorized": 0, "bad_selector": 0}

    def token(self):
        with open(self.token_file) as f:
            return f.read().strip()


def status(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send_json(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def do_GET(self):
        st = self.server.state
        url = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        q = {k: v[0] for k, v in q.items()}
        if self.headers.get("Authorization") != "Bearer " + st.token():
            with st.cond:
                st.counts["unauthorized"] += 1
            return self.send_json(401, status(401, "Unauthorized", "Unauthorized"))
        if url.path != "/api/v1/pods":
            return self.send_json(404, status(404, "NotFound", "the server could not find it"))
        if q.get("fieldSelector") != "spec.nodeName=" + st.node:
            with st.cond:
                st.counts["bad_selector"] += 1
            return self.send_json(400, status(400, "BadRequest", "wrong field selector"))
        mode = st.mode
        if mode == "slow":
            # accepts, reads the request, never answers
            while st.mode == "slow":
                time.sleep(0.05)
            self.close_connection = True
            return
        if mode == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
            self.close_connection = True
            return
        if mode == "error500":
            return self.send_json(500, status(500, "InternalError", "etcd is sad"))
        if q.get("watch") == "1":
            return self.watch(st, q, mode)
        return self.list(st, q, mode)

    def list(self, st, q, mode):
        with st.cond:
            st.counts["list"] += 1
            pods = sorted((p for p in st.pods.values() if p["spec"]["nodeName"] == st.node),
                          key=lambda p: p["metadata"]["uid"])
            rv = st.rv
        if mode == "garbage":
            body = b"<html>this is not json {{{"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            return self.wfile.write(body)
        if mode == "wrongshape":
            return self.send_json(200, {"kind": "PodList", "items": "nope"})
        start = 0
        if q.get("continue"):
            # "/" "+" "=" on purpose: the client must escape the token
            start = int(q["continue"].split("/")[1].rstrip("+="))
        limit = int(q.get("limit", "0")) or len(pods)
        page = pods[start:start + limit]
        meta = {"resourceVersion": str(rv)}
        if start + limit < len(pods):
            meta["continue"] = f"offset/{start + limit}+=="
        self.send_json(200, {"kind": "PodList", "apiVersion": "v1", "metadata": meta,
                             "items": page})

    def watch(self, st, q, mode):
        since = int(q.get("resourceVersion") or 0)
        timeout = float(q.get("timeoutSeconds", "300"))
        bookmarks = q.get("allowWatchBookmarks") == "true"
        with st.cond:
            st.counts["watch"] += 1
            generation = st.generation
            expired = since < st.expired_below
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if mode == "garbage":
            self.chunk(b'{"type":"ADDED","object":{"metadata":{"na')
            self.chunk(b"}}}} not json\n")
            return self.chunk(b"")
        if mode == "wrongshape":
            self.chunk(b'{"type":"ADDED","object":"a string"}\n')
            return self.chunk(b"")
        if expired:
            self.chunk(json.dumps({"type": "ERROR", "object": status(
                410, "Expired", f"too old resource version: {since}")}).encode() + b"\n")
            return self.chunk(b"")
        end = time.monotonic() + timeout
        next_bookmark = time.monotonic() + 1
        sent = since
        while True:
            with st.cond:
                events = [e for e in st.history if e[0] > sent]
                if not events:
                    st.cond.wait(0.1)
                    events = [e for e in st.history if e[0] > sent]
                if st.generation != generation or st.mode != "normal":
                    break
                rv = st.rv
            for ev_rv, ev_type, pod in events:
                sent = ev_rv
                if pod["spec"]["nodeName"] != st.node:
                    continue
                self.chunk(json.dumps({"type": ev_type, "object": pod}).encode() + b"\n")
            now = time.monotonic()
            if bookmarks and now >= next_bookmark:
                self.chunk(json.dumps({"type": "BOOKMARK", "object": {
                    "kind": "Pod", "apiVersion": "v1",
                    "metadata": {"resourceVersion": str(max(sent, rv))}}}).encode() + b"\n")
                next_bookmark = now + 1
            if now >= end:
                break
        self.chunk(b"")


class Server(ThreadingHTTPServer):
    allow_reuse_address = True
    daemon_threads = True

    def handle_error(self, request, client_address):
        # a client that gives up on a watch or a slow answer is part of the tests
        if not isinstance(sys.exc_info()[1], (ConnectionError, ssl.SSLError, TimeoutError)):
            super().handle_error(request, client_address)


def command(st, line):
    word, _, rest = line.strip().partition(" ")
    with st.cond:
        if word == "add":
            pod = json.loads(rest)
            st.rv += 1
            pod["metadata"]["resourceVersion"] = str(st.rv)
            uid = pod["metadata"]["uid"]
            kind = "MODIFIED" if uid in st.pods else "ADDED"
            st.pods[uid] = pod
            st.history.append((st.rv, kind, pod))
        elif word == "delete":
            pod = st.pods.pop(rest)
            st.rv += 1
            pod = dict(pod, metadata=dict(pod["metadata"], resourceVersion=str(st.rv)))
            st.history.append((st.rv, "DELETED", pod))
        elif word == "mode":
            st.mode = rest
        elif word == "expire":
            st.rv += 1
            st.expired_below = st.rv
            st.generation += 1
        elif word == "drop-watches":
            st.generation += 1
        elif word == "stats":
            st.cond.notify_all()
            return json.dumps(st.counts)
        else:
            return f"error unknown command {word}"
        st.cond.notify_all()
    return "ok"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--token-file", required=True)
    ap.add_argument("--node", required=True)
    args = ap.parse_args()

    server = Server(("127.0.0.1", args.port), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    server.state = State(args.node, args.token_file)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"ready {server.server_address[1]}", flush=True)
    for line in sys.stdin:
        if line.strip() == "quit":
            break
        print(command(server.state, line), flush=True)
    with server.state.cond:
        server.state.mode = "normal"
        server.state.generation += 1
        server.state.cond.notify_all()
    server.shutdown()


if __name__ == "__main__":
    main()
