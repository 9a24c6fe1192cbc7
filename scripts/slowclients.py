"""Slow and idle clients against a server: are the other clients still served at normal latency?

Opens N connections of one kind and keeps them open (reopening any the server
closes, as an attacker would), while another client times ordinary requests
(``GET /healthz`` and a small GraphQL POST, alternately, each on a new
connection). Kinds:

- ``idle``: connect, then send nothing;
- ``headers``: trickle a request head, one byte a second, never finishing it;
- ``body``: send a whole head declaring a 1000-byte body, then 10 bytes of it, then stop.

With ``--start granian gunicorn ...`` it starts each server itself on a free
port and a scratch database (``granian``: ``python -m config.serve``, what ``make
run`` serves; ``granian-wsgi`` and ``gunicorn``: ``python -m bench.servers``, for
comparison only), and prints a Markdown table; rounds interleave the servers, so a
noisy machine hurts them alike. Standard library only; loopback only.

    .venv/bin/python scripts/slowclients.py --start granian gunicorn --connections 256
    .venv/bin/python scripts/slowclients.py --port 8000 --kinds idle --connections 64
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import selectors
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
KINDS = ("idle", "headers", "body")
GRAPHQL_BODY = json.dumps({"query": "{ __typename }"}).encode()
HEADS = {
    "idle": b"",
    "headers": b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Trickle: ",
    "body": (
        b"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: 1000\r\n\r\n" + b'{"query": "'
    ),
}


@dataclass
class SlowConnections:
    """``count`` connections of ``kind``, kept open from one thread until :meth:`stop`."""

    port: int
    kind: str
    count: int
    interval: float = 1.0
    opened: int = 0
    closed_by_server: int = 0
    _socks: list[socket.socket | None] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> SlowConnections:
        self._socks = [self._open() for _ in range(self.count)]
        self._thread = threading.Thread(target=self._run, name=f"slow-{self.kind}", daemon=True)
        self._thread.start()
        return self

    def open_now(self) -> int:
        return sum(sock is not None for sock in self._socks)

    def _open(self) -> socket.socket | None:
        try:
            sock = socket.create_connection((HOST, self.port), timeout=5)
            if HEADS[self.kind]:
                sock.sendall(HEADS[self.kind])
            sock.setblocking(False)
        except OSError:
            return None
        self.opened += 1
        return sock

    def _run(self) -> None:
        selector = selectors.DefaultSelector()
        while not self._stop.is_set():
            selector = selectors.DefaultSelector()
            for index, sock in enumerate(self._socks):
                if sock is not None:
                    selector.register(sock, selectors.EVENT_READ, index)
            # Anything readable is an answer (408, 431, ...) or a close: either way
            # the server let go of it, and a new one takes its place.
            for key, _ in selector.select(timeout=self.interval):
                self._replace(key.data)
            selector.close()
            if self.kind == "headers":
                for index, sock in enumerate(self._socks):
                    if sock is None:
                        continue
                    try:
                        sock.send(b"a")
                    except OSError:
                        self._replace(index)
            for index, sock in enumerate(self._socks):
                if sock is None:
                    self._socks[index] = self._open()

    def _replace(self, index: int) -> None:
        sock = self._socks[index]
        if sock is not None:
            sock.close()
            self.closed_by_server += 1
        self._socks[index] = self._open()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        for sock in self._socks:
            if sock is not None:
                sock.close()
        self._socks = []


@contextlib.contextmanager
def slow_connections(port: int, mix: dict[str, int]) -> Iterator[list[SlowConnections]]:
    """Open ``mix[kind]`` slow connections of each kind for the duration of the block."""
    groups = [SlowConnections(port, kind, count).start() for kind, count in mix.items() if count]
    try:
        yield groups
    finally:
        for group in groups:
            group.stop()


def one_request(port: int, index: int, timeout: float) -> float | None:
    """Seconds for one ordinary request on a new connection, or None when it failed."""
    started = time.perf_counter()
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        if index % 2:
            conn.request(
                "POST", "/graphql", GRAPHQL_BODY, headers={"Content-Type": "application/json"}
            )
        else:
            conn.request("GET", "/healthz")
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            return None
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()
    return time.perf_counter() - started


@dataclass
class Timings:
    """Latencies of the requests that succeeded, and the count of those that did not."""

    seconds: list[float]
    failures: int

    def quantile(self, q: float) -> float:
        if not self.seconds:
            return float("nan")
        ordered = sorted(self.seconds)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    @property
    def p50(self) -> float:
        return statistics.median(self.seconds) if self.seconds else float("nan")

    @property
    def p99(self) -> float:
        return self.quantile(0.99)


def timed_requests(port: int, *, count: int, seconds: float, timeout: float = 5.0) -> Timings:
    """Up to ``count`` ordinary requests, one after another, for at most ``seconds``."""
    done: list[float] = []
    failures = 0
    deadline = time.monotonic() + seconds
    for index in range(count):
        if time.monotonic() > deadline:
            break
        elapsed = one_request(port, index, timeout)
        if elapsed is None:
            failures += 1
        else:
            done.append(elapsed)
    return Timings(done, failures)


# --------------------------------------------------------------------------- the comparison


@dataclass
class Started:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
    return port


def start(name: str, scratch: Path, workers: int, threads: int) -> Started:
    port = free_port()
    log = scratch / f"{name}.log"
    env = {
        **os.environ,
        "PORT": str(port),
        "WORKERS": str(workers),
        "THREADS": str(threads),
        "POSTS_VAR_DIR": str(scratch / name),
    }
    env.pop("DATABASE_URL", None)
    with log.open("wb") as out:
        # make run's own server, or one of those it was measured against (bench/servers.py).
        module = "config.serve" if name == "granian" else "bench.servers"
        argv = [sys.executable, "-m", module, *([] if name == "granian" else [name]), "--migrate"]
        process = subprocess.Popen(  # noqa: S603 - our own launchers, fixed arguments
            argv,
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{name} exited:\n{log.read_text()[-2000:]}")
        if one_request(port, 0, 2) is not None:
            return Started(name, port, process, log)
        time.sleep(0.2)
    process.kill()
    raise SystemExit(f"{name} never answered:\n{log.read_text()[-2000:]}")


def compare(args: argparse.Namespace) -> None:
    rows: dict[tuple[str, str], list[Timings]] = {}
    extra: dict[tuple[str, str], list[int]] = {}
    with tempfile.TemporaryDirectory(prefix="slowclients-") as tmp:
        servers = [start(name, Path(tmp), args.workers, args.threads) for name in args.start]
        try:
            for _ in range(args.rounds):
                for server in servers:
                    for kind in ("none", *args.kinds):
                        mix = {} if kind == "none" else {kind: args.connections}
                        with slow_connections(server.port, mix) as groups:
                            time.sleep(args.settle)
                            timings = timed_requests(
                                server.port, count=args.requests, seconds=args.seconds
                            )
                            open_at_end = sum(group.open_now() for group in groups)
                        rows.setdefault((server.name, kind), []).append(timings)
                        extra.setdefault((server.name, kind), []).append(open_at_end)
        finally:
            for server in servers:
                server.process.terminate()
                server.process.wait(timeout=30)
    print(
        f"\n{args.connections} slow connections of each kind, {args.workers} workers x "
        f"{args.threads} threads, {os.cpu_count()} cores, {args.rounds} round(s)\n"
    )
    print("| server | slow connections | p50 ms | p99 ms | failed / requests |")
    print("|---|---|---:|---:|---:|")
    for (name, kind), runs in rows.items():
        seconds = [s for run in runs for s in run.seconds]
        failures = sum(run.failures for run in runs)
        merged = Timings(seconds, failures)
        label = "none" if kind == "none" else f"{args.connections} {kind}"
        p50, p99 = (
            (f"{merged.p50 * 1000:.1f}", f"{merged.p99 * 1000:.1f}") if seconds else ("-", "-")
        )
        print(f"| {name} | {label} | {p50} | {p99} | {failures} / {failures + len(seconds)} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, help="a server already running on 127.0.0.1")
    parser.add_argument("--start", nargs="+", choices=("granian", "granian-wsgi", "gunicorn"))
    parser.add_argument("--connections", type=int, default=256, help="per kind")
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    parser.add_argument("--requests", type=int, default=200, help="timed requests per phase")
    parser.add_argument("--seconds", type=float, default=15, help="at most, per phase")
    parser.add_argument("--settle", type=float, default=2, help="seconds before timing")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    if args.start:
        compare(args)
        return
    if not args.port:
        parser.error("--port or --start")
    for kind in ("none", *args.kinds):
        mix = {} if kind == "none" else {kind: args.connections}
        with slow_connections(args.port, mix):
            time.sleep(args.settle)
            timings = timed_requests(args.port, count=args.requests, seconds=args.seconds)
        print(
            f"{kind:8} p50 {timings.p50 * 1000:7.1f} ms  p99 {timings.p99 * 1000:7.1f} ms  "
            f"failed {timings.failures} / {timings.failures + len(timings.seconds)}"
        )


if __name__ == "__main__":
    main()
