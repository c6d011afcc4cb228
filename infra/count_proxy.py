#!/usr/bin/env python3
"""A recording proxy in front of the emulator, for counting DynamoDB round trips on the wire.

    python infra/count_proxy.py --port 6041 --upstream http://127.0.0.1:6030

Forwards every request unchanged to the upstream emulator and answers with its response. Each
DynamoDB request (X-Amz-Target DynamoDB_20120810.<Operation>) is recorded with its JSON body
and the emulator's JSON answer. GET /_bench/log returns the records since the last such call
and forgets them: {"calls": [{"operation", "status", "request", "response"}, ...]}.

Binds to 127.0.0.1 only; the upstream must be on 127.0.0.1 too.
"""

from __future__ import annotations

import argparse
import http.client
import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOST = "127.0.0.1"
TARGET_PREFIX = "DynamoDB_20120810."
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade"}


class Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: list[dict] = []

    def add(self, record: dict) -> None:
        with self.lock:
            self.calls.append(record)

    def take(self) -> list[dict]:
        with self.lock:
            calls, self.calls = self.calls, []
        return calls


def handler_for(upstream: urllib.parse.SplitResult,
                recorder: Recorder) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_args) -> None:
            pass

        def answer(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
            self.send_response(status)
            for name, value in headers:
                if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def forward(self) -> None:
            if self.command == "GET" and self.path == "/_bench/log":
                body = json.dumps({"calls": recorder.take()}).encode()
                return self.answer(200, [("Content-Type", "application/json")], body)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            connection = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=60)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            connection.request(self.command, self.path, body=body, headers=headers)
            response = connection.getresponse()
            answer = response.read()
            connection.close()
            target = self.headers.get("X-Amz-Target") or ""
            if target.startswith(TARGET_PREFIX):
                recorder.add({
                    "operation": target[len(TARGET_PREFIX):],
                    "status": response.status,
                    "request": json.loads(body or b"{}"),
                    "response": json.loads(answer or b"{}"),
                })
            self.answer(response.status, response.getheaders(), answer)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = forward

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True)
    args = parser.parse_args()
    upstream = urllib.parse.urlsplit(args.upstream)
    if upstream.hostname != HOST or upstream.port is None:
        raise SystemExit(f"the upstream must be http://{HOST}:PORT")
    server = ThreadingHTTPServer((HOST, args.port), handler_for(upstream, Recorder()))
    server.daemon_threads = True
    print(f"count proxy on http://{HOST}:{args.port} -> {args.upstream}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
