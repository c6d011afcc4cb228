#!/usr/bin/env python3
"""Local API Gateway stand-in: the template's HTTP routes on one port.

`cargo-lambda watch` serves each function under
http://127.0.0.1:<watch-port>/lambda-url/<binary>/<path>. This proxy reads the
route table from template.yaml (HttpApi events: Method + Path -> the
function's BuildProperties.Binary) and forwards each request there, passing
method, path, query string, headers and body through and returning the
function's status, headers and body. So the local URLs are the deployed
ones: POST http://127.0.0.1:9000/auth/login, and so on.

    python infra/router.py --port 9000 --upstream http://127.0.0.1:9001
    python infra/router.py --list          # print the route table and exit

* unknown route -> 404 {"error":{"code":"not_found","message":...}}
* upstream unreachable -> 502 {"error":{"code":"bad_gateway",...}}
* CORS as the template's HttpApi CorsConfiguration (parameter defaults),
  so run `cargo-lambda watch --disable-cors` behind it.
* GET /_local/routes returns the live route table as JSON (for tests).

Binds to 127.0.0.1 only, and forwards only to a loopback upstream.
"""

from __future__ import annotations

import argparse
import http.client
import json
import uuid
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cfn_yaml import load_template, resources_of_type  # noqa: E402
from routes import DEFAULT_TEMPLATE, Route, known_path, load_routes, match  # noqa: E402

HOST = "127.0.0.1"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
ROUTES_PATH = "/_local/routes"
# Hop-by-hop headers (RFC 9110 7.6.1) and ones the proxy recomputes.
HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
    "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade",
    "content-length", "host",
}


def _resolve(value: Any, params: dict[str, Any]) -> Any:
    """Resolve {"Ref": Param} to the parameter's default (lists split)."""
    if isinstance(value, dict) and set(value) == {"Ref"} and value["Ref"] in params:
        p = params[value["Ref"]]
        default = p.get("Default", "")
        if p.get("Type") == "CommaDelimitedList":
            return [v.strip() for v in str(default).split(",") if v.strip()]
        return default
    return value


def load_cors(template_path: str | Path) -> dict[str, Any] | None:
    template = load_template(template_path)
    params = template.get("Parameters") or {}
    apis = resources_of_type(template, "AWS::Serverless::HttpApi")
    for res in apis.values():
        cors = (res.get("Properties") or {}).get("CorsConfiguration")
        if isinstance(cors, dict):
            return {k: _resolve(v, params) for k, v in cors.items()}
    return None


def error_body(code: str, message: str) -> bytes:
    return json.dumps({"error": {"code": code, "message": message}}).encode()


class Router:
    def __init__(self, routes: list[Route], cors: dict[str, Any] | None,
                 upstream: str, timeout: float):
        parts = urlsplit(upstream)
        if parts.scheme != "http" or parts.hostname not in LOOPBACK:
            raise SystemExit(f"router: upstream must be http on loopback, got {upstream!r}")
        self.routes = routes
        self.cors = cors
        self.up_host = parts.hostname
        self.up_port = parts.port or 80
        self.timeout = timeout

    def cors_headers(self, origin: str | None, preflight: bool) -> list[tuple[str, str]]:
        if not self.cors or not origin:
            return []
        allowed = [o.lower() for o in self.cors.get("AllowOrigins") or []]
        if "*" in allowed:
            allow_origin = "*"
        elif origin.lower() in allowed:
            allow_origin = origin
        else:
            return []
        out = [("Access-Control-Allow-Origin", allow_origin)]
        if allow_origin != "*":
            out.append(("Vary", "Origin"))
        if self.cors.get("AllowCredentials"):
            out.append(("Access-Control-Allow-Credentials", "true"))
        if self.cors.get("ExposeHeaders"):
            out.append(("Access-Control-Expose-Headers", ",".join(self.cors["ExposeHeaders"])))
        if preflight:
            if self.cors.get("AllowMethods"):
                out.append(("Access-Control-Allow-Methods", ",".join(self.cors["AllowMethods"])))
            if self.cors.get("AllowHeaders"):
                out.append(("Access-Control-Allow-Headers", ",".join(self.cors["AllowHeaders"])))
            if self.cors.get("MaxAge") is not None:
                out.append(("Access-Control-Max-Age", str(self.cors["MaxAge"])))
        return out

    def route_table(self) -> list[dict[str, str]]:
        return [
            {"method": r.method, "path": r.path, "function": r.function, "binary": r.binary}
            for r in self.routes
        ]


def make_handler(router: Router, quiet: bool):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "capecontrol-local-router"
        sys_version = ""

        def version_string(self) -> str:  # no trailing space after an empty sys_version
            return self.server_version

        def log_message(self, fmt, *args):  # noqa: N802 - stdlib API
            if not quiet:
                sys.stderr.write("router: %s\n" % (fmt % args))

        def _send(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _json(self, status: int, body: bytes, extra: list[tuple[str, str]] = ()) -> None:
            # The router's own answers carry the headers every function response carries.
            own = [("Content-Type", "application/json"), ("Cache-Control", "no-store"),
                   ("x-request-id", str(uuid.uuid4()))]
            self._send(status, [*own, *extra], body)

        def _read_body(self) -> bytes:
            if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                chunks = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        break
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
                return b"".join(chunks)
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _handle(self) -> None:
            body = self._read_body()
            target = urlsplit(self.path)
            path = target.path or "/"
            origin = self.headers.get("Origin")

            if path == ROUTES_PATH and self.command == "GET":
                self._json(200, json.dumps({"routes": router.route_table()}).encode())
                return

            if (self.command == "OPTIONS" and router.cors
                    and self.headers.get("Access-Control-Request-Method")):
                if known_path(router.routes, path):
                    self._send(204, router.cors_headers(origin, preflight=True), b"")
                    return

            route = match(router.routes, self.command, path)
            if route is None:
                self._json(404, error_body("not_found", f"no route for {self.command} {path}"),
                           router.cors_headers(origin, preflight=False))
                return

            upstream_path = f"/lambda-url/{route.binary}{path}"
            if target.query:
                upstream_path += "?" + target.query
            conn = http.client.HTTPConnection(router.up_host, router.up_port, timeout=router.timeout)
            try:
                conn.putrequest(self.command, upstream_path, skip_host=True, skip_accept_encoding=True)
                conn.putheader("Host", f"{router.up_host}:{router.up_port}")
                for k, v in self.headers.items():
                    if k.lower() not in HOP_BY_HOP:
                        conn.putheader(k, v)
                conn.putheader("Content-Length", str(len(body)))
                conn.endheaders(body)
                resp = conn.getresponse()
                resp_body = resp.read()
                headers = [(k, v) for k, v in resp.getheaders()
                           if k.lower() not in HOP_BY_HOP
                           and k.lower() not in ("date", "server")
                           and not k.lower().startswith("access-control-")]
            except (OSError, http.client.HTTPException) as exc:
                self._json(502, error_body("bad_gateway",
                                           f"function {route.binary} unreachable: {exc}"))
                return
            finally:
                conn.close()
            headers += router.cors_headers(origin, preflight=False)
            self._send(resp.status, headers, resp_body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _handle

    return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Route template.yaml's HTTP API to cargo-lambda watch")
    parser.add_argument("--template", default=str(DEFAULT_TEMPLATE))
    parser.add_argument("--port", type=int, default=9000, help="listen port on 127.0.0.1")
    parser.add_argument("--upstream", default="http://127.0.0.1:9001",
                        help="cargo-lambda watch invoke address (loopback only)")
    parser.add_argument("--timeout", type=float, default=600.0,
                        help="seconds to wait for a function (first call compiles it)")
    parser.add_argument("--list", action="store_true", help="print the route table and exit")
    parser.add_argument("--json", action="store_true", help="with --list: JSON output")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)

    routes = load_routes(args.template)
    router = Router(routes, load_cors(args.template), args.upstream, args.timeout)
    if args.list:
        if args.json:
            print(json.dumps(router.route_table(), indent=2))
        else:
            for r in routes:
                print(f"{r.method}\t{r.path}\t{r.binary}")
        return 0

    server = ThreadingHTTPServer((HOST, args.port), make_handler(router, args.quiet))
    server.daemon_threads = True

    def stop(signum, _frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"router ready on http://{HOST}:{args.port} -> {args.upstream}", flush=True)
    for r in routes:
        print(f"  {r.method:6} {r.path:24} -> {r.binary}", flush=True)
    server.serve_forever()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
