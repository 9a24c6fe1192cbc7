"""devkit, the shared test tooling: standard library only, the APQ client, the launcher."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from devkit.client import GraphQLClient, sha256_hex
from devkit.ports import free_port
from devkit.server import PROJECT, rss, start_server


def test_devkit_imports_with_the_standard_library_alone() -> None:
    # -S: no site-packages, so any third-party import (Django included) fails.
    completed = subprocess.run(
        [sys.executable, "-S", "-c", "import devkit.client, devkit.ports, devkit.server"],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr


class _ApqServer(ThreadingHTTPServer):
    """Answers like an APQ server: unknown hash -> PERSISTED_QUERY_NOT_FOUND."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _ApqHandler)
        self.documents: dict[str, str] = {}
        self.bodies: list[dict[str, Any]] = []
        self.authorizations: list[str | None] = []
        self.connections = 0
        self.peers: list[str] = []


class _ApqHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _ApqServer

    def setup(self) -> None:
        super().setup()
        self.server.connections += 1
        self.server.peers.append(self.client_address[0])

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.bodies.append(body)
        self.server.authorizations.append(self.headers.get("Authorization"))
        digest = body.get("extensions", {}).get("persistedQuery", {}).get("sha256Hash")
        if "query" in body and digest:
            self.server.documents[digest] = body["query"]
        if "query" in body or digest in self.server.documents:
            answer: dict[str, Any] = {"data": {"ok": True}}
        else:
            answer = {
                "errors": [
                    {
                        "message": "PersistedQueryNotFound",
                        "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"},
                    }
                ]
            }
        raw = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *_args: Any) -> None:
        pass


@pytest.fixture
def apq_server() -> Iterator[_ApqServer]:
    server = _ApqServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def test_a_persisted_query_sends_the_hash_alone_and_the_document_once_when_unknown(
    apq_server: _ApqServer,
) -> None:
    query = "query GetPosts { getPosts { id } }"
    with GraphQLClient(f"http://127.0.0.1:{apq_server.server_address[1]}") as client:
        first = client.graphql(query, token="t0k", operation_name="GetPosts", persisted=True)
        second = client.graphql(query, token="t0k", operation_name="GetPosts", persisted=True)

    assert first.data("ok") is True
    assert first.apq_retried
    assert second.data("ok") is True
    assert not second.apq_retried
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(query)}}
    hash_only = {"variables": {}, "operationName": "GetPosts", "extensions": extensions}
    assert apq_server.bodies == [hash_only, {"query": query, **hash_only}, hash_only]
    assert apq_server.authorizations == ["Bearer t0k"] * 3
    assert apq_server.connections == 1  # one kept-alive connection for all three


def test_a_client_connects_from_the_source_address_it_is_given(apq_server: _ApqServer) -> None:
    base = f"http://127.0.0.1:{apq_server.server_address[1]}"
    with GraphQLClient(base, source_address="127.0.0.23") as client:
        assert client.graphql("{ ok }").data("ok") is True
    with GraphQLClient(base) as client:
        assert client.graphql("{ ok }").data("ok") is True
    assert apq_server.peers == ["127.0.0.23", "127.0.0.1"]


def test_free_port_is_one_nothing_listens_on_and_a_server_can_take() -> None:
    port = free_port()
    assert 1024 <= port <= 65535
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0, "something already listens there"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
        sock.listen()
        assert sock.getsockname() == ("127.0.0.1", port)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
            assert client.getpeername() == ("127.0.0.1", port)


_FAKE_SERVER = textwrap.dedent(
    """
    import os, subprocess, sys, time
    from http.server import BaseHTTPRequestHandler, HTTPServer
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    class Health(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
        def log_message(self, *args):
            pass
    print("workers", os.environ["WORKERS"], "threads", os.environ["THREADS"], flush=True)
    HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Health).serve_forever()
    """
)


def test_a_started_server_is_watched_and_stopped_with_its_workers(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    server = start_server(
        {"PATH": "/usr/bin:/bin"},
        log,
        workers=3,
        threads=5,
        argv=[sys.executable, "-c", _FAKE_SERVER],
    )
    try:
        server.wait_healthy(timeout=30)
        workers = server.worker_pids()
        assert len(workers) == 1
        assert server.master_pid() == server.process.pid
        assert server.rss_bytes() > sum(server.worker_rss().values()) > 0
        assert server.alive()
    finally:
        server.stop()
    assert server.process.poll() is not None
    deadline = time.monotonic() + 10
    while any(rss(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)  # the worker got SIGTERM with its master; init reaps it
    assert not any(rss(pid) for pid in workers)
    assert "workers 3 threads 5" in log.read_text()
