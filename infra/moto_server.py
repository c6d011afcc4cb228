#!/usr/bin/env python3
"""Local AWS stand-in for CapeControl Auth: moto, one request at a time.

Why not plain `moto_server`: it runs werkzeug threaded, and moto's
TransactWriteItems (and its condition checks) are not atomic when two
requests run at once. Conditional writes are what our token rotation and
uniqueness guarantees rest on, so this launcher serves requests strictly
one after another, with HTTP/1.0 (one request per connection) so that no
client can hold the single worker with an idle keep-alive connection.

It binds to 127.0.0.1 only. Every service moto knows is reachable through
the one port (requests are dispatched by their SigV4 scope / X-Amz-Target);
the ones we use are DynamoDB, Secrets Manager and SES (v1 and v2).

    python infra/moto_server.py PORT [--ready-file PATH]

moto keeps a reference to every model instance it ever made (every DynamoDB
item of every test table) for its /moto-api/data.json dashboard, and that
endpoint serializes them all: after a test suite's worth of tables one call
takes seconds. The tests read only sent mail there, so this launcher tracks
instances of the SES models alone (TRACKED_MODULES).

Prints "moto ready on http://127.0.0.1:PORT" once the socket is listening,
and writes PATH (if given) at the same moment. `python infra/moto_server.py
--wait PORT [TIMEOUT]` polls a running server until it answers.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
import urllib.error
import urllib.request

HOST = "127.0.0.1"
HEALTH_PATH = "/moto-api/data.json"
# Models whose instances /moto-api/data.json lists (moto.ses and moto.sesv2).
TRACKED_MODULES = ("moto.ses",)


def wait_ready(port: int, timeout: float) -> bool:
    """Poll the moto API on HOST:port until it answers or timeout expires."""
    deadline = time.monotonic() + timeout
    url = f"http://{HOST}:{port}{HEALTH_PATH}"
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return True
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            pass
        time.sleep(0.2)
    return False


def track_only(modules: tuple[str, ...]) -> None:
    """Record new model instances for the dashboard only when their class is from `modules`."""
    from moto.core.common_models import BaseModel

    def new(cls, *args, **kwargs):
        instance = object.__new__(cls)
        if cls.__module__.startswith(modules):
            cls.instances_tracked.append(instance)
        return instance

    BaseModel.__new__ = new


def serve(port: int, ready_file: str | None, quiet: bool) -> None:
    # Fake, fixed credentials: moto ignores them, but some moto code paths
    # read the region/port from the environment.
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    os.environ["MOTO_PORT"] = str(port)

    from werkzeug.serving import make_server

    track_only(TRACKED_MODULES)

    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )

    class SerialHandler(MotoRequestHandler):
        # One request per connection: with a single worker, a kept-alive idle
        # connection would block every other client.
        protocol_version = "HTTP/1.0"

        def log_request(self, code="-", size="-"):  # noqa: D401 - werkzeug API
            if not quiet:
                super().log_request(code, size)

    app = DomainDispatcherApplication(create_backend_app)
    server = make_server(
        HOST,
        port,
        app,
        threaded=False,
        processes=1,
        request_handler=SerialHandler,
    )

    def stop(signum, _frame):
        print(f"moto: signal {signum}, shutting down", flush=True)
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    print(f"moto ready on http://{HOST}:{port} (single-threaded)", flush=True)
    if ready_file:
        with open(ready_file, "w", encoding="utf-8") as fh:
            fh.write(f"{os.getpid()}\n")
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        if ready_file:
            try:
                os.unlink(ready_file)
            except FileNotFoundError:
                pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("port", type=int, help="TCP port on 127.0.0.1")
    parser.add_argument("timeout", type=float, nargs="?", default=30.0,
                        help="with --wait: seconds to wait (default 30)")
    parser.add_argument("--wait", action="store_true",
                        help="do not serve; wait until a server on PORT answers")
    parser.add_argument("--ready-file", help="file to write once listening")
    parser.add_argument("--quiet", action="store_true", help="no per-request log lines")
    args = parser.parse_args(argv)

    if args.wait:
        if wait_ready(args.port, args.timeout):
            return 0
        print(f"moto on {HOST}:{args.port} did not answer within {args.timeout}s",
              file=sys.stderr)
        return 1
    serve(args.port, args.ready_file, args.quiet)
    return 0


if __name__ == "__main__":
    sys.exit(main())
