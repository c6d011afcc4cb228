#!/usr/bin/env python3
"""Cold starts of every function binary, beside two floors, under a Lambda Runtime API stand-in.

    python infra/bench_cold.py --bin-dir target/release --port 6040 --rounds 20

The stand-in serves the three calls a Rust runtime makes (GET .../invocation/next, POST
.../invocation/ID/response or /error, POST .../init/error) on 127.0.0.1. Each start is timed
from just before the process is spawned until its first poll for an event, and until it has
posted the answer to that event; then the process is killed. The binaries alternate (one start
of each per round) so drift of a shared machine spreads over all of them.

The functions come from template.yaml (each function's Metadata.BuildProperties.Binary and its
first HttpApi route), so functions added there are measured without editing this file. Every
function's first event is its first route with the body "{}" (what most answer 422 to without
a store call), except login's, which is a real login of an account this script registers
through the register binary first (so the hash and the store calls are in it).

--memory N: serves N sequential logins to one login process and prints its peak resident
memory (VmHWM of /proc/PID/status). Prints figures only; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from routes import load_routes  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
FIXTURE = ROOT / "tests" / "fixtures" / "apigw-http-v2.json"
FLOORS = ("floor_hello", "floor_sdk")
# The SDK floor once more with SSL_CERT_FILE naming the system bundle, as the functions run: the
# TLS client reads that one file instead of the bundle and every file of the directories.
ONE_CERT_FILE = "floor_sdk/certfile"
SYSTEM_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
TRUST_STORE_VARIABLES = ("SSL_CERT_FILE", "SSL_CERT_DIR")
# glibc's malloc setting that template.yaml fixes (README, "Performance").
MALLOC_VARIABLE = "MALLOC_MMAP_THRESHOLD_"
PASSWORD = "violet anchor drifts past 9 moons"
PREFIX = "/2018-06-01/runtime"
START_TIMEOUT = 30.0


@dataclass
class Run:
    """One process's events and what the stand-in saw of it (times from perf_counter_ns)."""

    events: list[dict]
    started: int = 0
    first_poll: int | None = None
    answers: list[tuple[int, dict]] = field(default_factory=list)
    failed: str | None = None
    done: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    served: int = 0


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        pass  # a killed process resets its held poll


class StandIn:
    """The current run, shared by the server's handler threads."""

    def __init__(self) -> None:
        self.run: Run | None = None

    @staticmethod
    def next_event(run: Run) -> tuple[str, dict] | None:
        """The next event of `run` (the run the poll arrived in, never a later one)."""
        with run.lock:
            if run.first_poll is None:
                run.first_poll = time.perf_counter_ns()
            if run.served >= len(run.events) or run.served > len(run.answers):
                return None
            run.served += 1
            return f"bench-{run.served}-{uuid.uuid4()}", run.events[run.served - 1]

    def answered(self, body: bytes, error: str | None) -> None:
        run = self.run
        if run is None:
            return
        now = time.perf_counter_ns()
        with run.lock:
            if error:
                run.failed = f"{error}: {body[:300]!r}"
                run.done.set()
                return
            run.answers.append((now, json.loads(body or b"{}")))
            if len(run.answers) >= len(run.events):
                run.done.set()


def handler_for(stand_in: StandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_args) -> None:  # quiet
            pass

        def reply(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                self.wfile.write(body)
            except OSError:  # the process was killed while its poll was held
                pass

        def do_GET(self) -> None:
            if self.path != f"{PREFIX}/invocation/next":
                return self.reply(404, b"{}")
            run = stand_in.run
            if run is None:
                return
            while (served := stand_in.next_event(run)) is None:
                # Nothing to serve yet (or any more): hold the poll, as Lambda does.
                if stand_in.run is not run:
                    return
                time.sleep(0.002)
            request_id, event = served
            deadline = int(time.time() * 1000) + 30_000
            self.reply(200, json.dumps(event).encode(), {
                "Lambda-Runtime-Aws-Request-Id": request_id,
                "Lambda-Runtime-Deadline-Ms": str(deadline),
                "Lambda-Runtime-Invoked-Function-Arn":
                    "arn:aws:lambda:us-east-1:111122223333:function:bench",
                "Lambda-Runtime-Trace-Id": "Root=1-00000000-000000000000000000000000",
            })

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if self.path.endswith("/response"):
                stand_in.answered(body, None)
            elif self.path.endswith("/error"):
                stand_in.answered(body, f"error posted to {self.path}")
            else:
                return self.reply(404, b"{}")
            self.reply(202, b"{}")

    return Handler


def event_for(method: str, path: str, body: dict) -> dict:
    event = json.loads(FIXTURE.read_text())
    event = copy.deepcopy(event)
    event["routeKey"] = f"{method} {path}"
    event["rawPath"] = path
    event["requestContext"]["routeKey"] = f"{method} {path}"
    event["requestContext"]["http"]["method"] = method
    event["requestContext"]["http"]["path"] = path
    event["requestContext"]["requestId"] = str(uuid.uuid4())
    text = json.dumps(body)
    event["body"] = text
    event["headers"]["content-length"] = str(len(text.encode()))
    return event


def functions() -> dict[str, tuple[str, str]]:
    """binary -> (method, path) of its first route in template.yaml."""
    first: dict[str, tuple[str, str]] = {}
    for route in load_routes():
        method = "POST" if route.method == "ANY" else route.method
        first.setdefault(route.binary, (method, route.path))
    return dict(sorted(first.items()))


def packages(binaries: list[str]) -> list[str]:
    """The workspace packages whose bin targets are `binaries` (from cargo metadata)."""
    metadata = json.loads(subprocess.run(
        ["cargo", "metadata", "--no-deps", "--format-version", "1"], cwd=ROOT,
        check=True, capture_output=True).stdout)
    owner = {target["name"]: package["name"] for package in metadata["packages"]
             for target in package["targets"] if "bin" in target["kind"]}
    missing = [name for name in binaries if name not in owner]
    if missing:
        raise SystemExit(f"no workspace bin target named {missing}")
    return sorted({owner[name] for name in binaries})


def spawn(bin_dir: Path, name: str, port: int, events: list[dict],
          unset: tuple[str, ...] = ()) -> Run:
    """Starts `binary` under a stand-in of its own: a poll still buffered from a killed
    process reaches only the stand-in that served that process."""
    run = Run(events=events)
    stand_in = StandIn()
    stand_in.run = run
    server = QuietServer((HOST, port), handler_for(stand_in))
    threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True).start()
    run.server = server  # type: ignore[attr-defined]
    run.stand_in = stand_in  # type: ignore[attr-defined]
    env = dict(os.environ)
    binary = name.split("/")[0]
    # As on Lambda, no SSL_CERT_DIR; the functions get SSL_CERT_FILE as template.yaml sets
    # it, the SDK floor the TLS client's default probe of the system's paths.
    for variable in unset + TRUST_STORE_VARIABLES:
        env.pop(variable, None)
    if (name == ONE_CERT_FILE or name not in FLOORS) and SYSTEM_BUNDLE.exists():
        env["SSL_CERT_FILE"] = str(SYSTEM_BUNDLE)
    env.update({
        "AWS_LAMBDA_RUNTIME_API": f"{HOST}:{port}",
        "AWS_LAMBDA_FUNCTION_NAME": binary,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
        "AWS_LAMBDA_LOG_GROUP_NAME": "bench",
        "RUST_LOG": env.get("BENCH_RUST_LOG", "warn"),
    })
    run.started = time.perf_counter_ns()
    process = subprocess.Popen(
        [str(bin_dir / binary)], env=env, stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    finished = run.done.wait(START_TIMEOUT)
    run.process = process  # type: ignore[attr-defined]
    if not finished and run.failed is None:
        run.failed = "no answer within the timeout"
    return run


def stop(run: Run) -> str:
    process = run.process  # type: ignore[attr-defined]
    process.kill()
    _, stderr = process.communicate(timeout=10)
    run.stand_in.run = None  # type: ignore[attr-defined]  (held polls return)
    run.server.shutdown()  # type: ignore[attr-defined]
    run.server.server_close()  # type: ignore[attr-defined]
    return stderr.decode(errors="replace")[-2000:]


def one_start(bin_dir: Path, binary: str, port: int, event: dict) -> tuple[float, float]:
    run = spawn(bin_dir, binary, port, [event])
    stderr = stop(run)
    if run.failed or run.first_poll is None or not run.answers:
        raise SystemExit(f"{binary}: {run.failed or 'no poll'}\n{stderr}")
    poll = (run.first_poll - run.started) / 1e6
    answer = (run.answers[0][0] - run.started) / 1e6
    return poll, answer


def register_account(bin_dir: Path, port: int, email: str) -> None:
    body = {"email": email, "password": PASSWORD, "accept_terms": True,
            "accept_privacy": True}
    run = spawn(bin_dir, "register", port, [event_for("POST", "/auth/register", body)])
    stderr = stop(run)
    status = run.answers[0][1].get("statusCode") if run.answers else None
    if status not in (201, 202):
        raise SystemExit(f"registering the bench account failed ({status}): {stderr}")


def login_event(email: str) -> dict:
    return event_for("POST", "/auth/login", {"email": email, "password": PASSWORD})


def cold_starts(args: argparse.Namespace) -> None:
    email = f"bench-cold-{uuid.uuid4().hex[:12]}@example.com"
    register_account(args.bin_dir, args.port, email)
    events = {name: event_for(method, path, {}) for name, (method, path) in functions().items()}
    if "login" in events:
        events["login"] = login_event(email)
    floors = list(FLOORS) + ([ONE_CERT_FILE] if SYSTEM_BUNDLE.exists() else [])
    for floor in floors:
        events[floor] = event_for("GET", "/", {})
    names = floors + [name for name in events if name not in floors]
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
    for round_no in range(args.rounds):
        shift = round_no % len(names)
        for name in names[shift:] + names[:shift]:
            samples[name].append(one_start(args.bin_dir, name, args.port, events[name]))
    report(samples, names, args.rounds)


def report(samples: dict[str, list[tuple[float, float]]], names: list[str], rounds: int) -> None:
    median = {name: (statistics.median(s[0] for s in samples[name]),
                     statistics.median(s[1] for s in samples[name])) for name in names}
    hello, sdk = median["floor_hello"][0], median["floor_sdk"][0]
    print(f"cold starts: median of {rounds} starts each, binaries alternating")
    print(f"{'binary':<18}{'first poll':>12}{'first answer':>14}"
          f"{'poll/hello':>12}{'poll/sdk':>10}   first event")
    for name in names:
        poll, answer = median[name]
        what = "GET / (hello)" if name.startswith("floor") else (
            "login, hash included" if name == "login" else "first route, body {}")
        print(f"{name:<18}{poll:>9.2f} ms{answer:>11.2f} ms"
              f"{poll / hello:>11.2f}x{poll / sdk:>9.2f}x   {what}")


def memory(args: argparse.Namespace) -> None:
    email = f"bench-memory-{uuid.uuid4().hex[:12]}@example.com"
    register_account(args.bin_dir, args.port, email)
    print(f"login peak resident memory (VmHWM) over {args.memory} sequential logins:")
    variants = [("as configured", ())]
    if os.environ.get(MALLOC_VARIABLE):
        variants.append((f"without {MALLOC_VARIABLE}", (MALLOC_VARIABLE,)))
    for label, unset in variants:
        peak, threads = peak_memory(args, email, unset)
        print(f"  {label:<36}{peak:7.1f} MiB  ({threads} threads)")


def peak_memory(args: argparse.Namespace, email: str, unset: tuple[str, ...]) -> tuple[float, str]:
    events = [login_event(email) for _ in range(args.memory)]
    run = spawn(args.bin_dir, "login", args.port, events, unset)
    process = run.process  # type: ignore[attr-defined]
    status = Path(f"/proc/{process.pid}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    peak, threads = fields["VmHWM"].split()[0], fields["Threads"].strip()
    stderr = stop(run)
    codes = [answer.get("statusCode") for _, answer in run.answers]
    if run.failed or codes.count(200) != args.memory:
        raise SystemExit(f"login memory run failed: {run.failed} {codes}\n{stderr}")
    return int(peak) / 1024, threads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin-dir", type=Path, default=ROOT / "target" / "release")
    parser.add_argument("--port", type=int, default=6040)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--memory", type=int, default=0)
    parser.add_argument("--list", action="store_true", help="print the functions and exit")
    parser.add_argument("--packages", action="store_true",
                        help="print the workspace packages of the functions and exit")
    args = parser.parse_args()
    if args.packages:
        print("\n".join(packages(list(functions()))))
        return
    if args.list:
        for name, (method, path) in functions().items():
            print(f"{name} {method} {path}")
        return
    if args.memory:
        memory(args)
    else:
        cold_starts(args)

if __name__ == "__main__":
    main()
