"""Request size over a real socket: oversized bodies are refused before they are read."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.live_server import Server, read_until_closed, server_env, serving

pytestmark = pytest.mark.live

MiB = 1024 * 1024


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[Server]:
    with serving(server_env(database_url, tmp_path / "var"), tmp_path / "gunicorn.log") as live:
        yield live


def _send(port: int, head: bytes, body_size: int, chunk: bytes = b"a" * 65536) -> bytes:
    """Send ``head`` then up to ``body_size`` bytes, and return whatever the server answers."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        with contextlib.suppress(OSError):  # answered (and closed) before it was all sent
            sock.sendall(head)
        sent = 0
        try:
            while sent < body_size:
                sent += sock.send(chunk[: body_size - sent])
        except OSError:
            pass  # the server answered and closed: exactly what we want
        if sent >= body_size:
            with contextlib.suppress(OSError):  # the server may have answered and closed
                sock.shutdown(socket.SHUT_WR)
        answer = read_until_closed(sock)
    return answer


def test_a_50_mib_body_is_refused_quickly_without_the_worker_growing(server: Server) -> None:
    before = server.rss_bytes()
    head = (
        b"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\nConnection: close\r\n\r\n" % (50 * MiB)
    )
    started = time.monotonic()
    answer = _send(server.port, head, 50 * MiB)
    elapsed = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b'"code": "PAYLOAD_TOO_LARGE"' in answer
    assert elapsed < 10  # a hang guard, not a benchmark
    assert server.rss_bytes() - before < 10 * MiB


def _chunked(payload: bytes, size: int = 65536) -> bytes:
    return (
        b"".join(
            b"%x\r\n%s\r\n" % (len(payload[i : i + size]), payload[i : i + size])
            for i in range(0, len(payload), size)
        )
        + b"0\r\n\r\n"
    )


CHUNKED_HEAD = (
    b"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
)


def test_a_chunked_body_without_length_is_read_whole_and_answered(server: Server) -> None:
    # The server buffers the body (within the cap) before the app sees it, so a
    # chunked body is served like any other rather than refused with 411.
    body = b'{"query": "{ __typename }"}'
    # No half-close after sending: the server (hyper) drops a connection whose
    # client shuts its write side, as most servers may.
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(CHUNKED_HEAD + _chunked(body, size=7))
        answer = b""
        while part := sock.recv(65536):
            answer += part
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    assert answer.endswith(b'{"data":{"__typename":"Query"}}'), answer[-200:]


def test_a_chunked_body_over_the_cap_is_refused_with_413(server: Server) -> None:
    before = server.rss_bytes()
    # 9 MiB, over the 8 MiB default cap, in 64 KiB chunks.
    answer = _send(server.port, CHUNKED_HEAD + _chunked(b"x" * (9 * MiB)), 0)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b'"code": "PAYLOAD_TOO_LARGE"' in answer
    assert server.rss_bytes() - before < 20 * MiB


def test_a_legal_1_mib_post_passes_over_the_wire(server: Server) -> None:
    token = server.graphql(
        "mutation($e: String!, $p: String!) { signup(email: $e, password: $p) { token } }",
        {"e": "wire@example.com", "p": "correct horse battery staple"},
    )["data"]["signup"]["token"]
    text = "ü" * (MiB // 2)  # 2 bytes each: exactly 1 MiB, escaped as \\u00fc on the wire
    body = server.graphql(
        "mutation($t: String!) { addPost(text: $t) { postId post { text } } }",
        {"t": text},
        token=token,
    )
    assert "errors" not in body, str(body)[:300]
    assert body["data"]["addPost"]["post"]["text"] == text


def test_a_client_gone_before_its_body_ends_costs_nothing_and_logs_no_error(
    server: Server,
) -> None:
    """Content-Length promises 1,000 bytes, 10 come, then the client goes: the server
    drops the request (nothing runs, nothing is logged as failed) and serves on."""
    head = (
        b"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: 1000\r\n\r\n"
    )
    for _ in range(3):
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(head + b'{"query":"')
            time.sleep(0.2)  # the bridge is reading the body when the client goes
    answer = server.graphql("{ __typename }")
    assert answer["data"] == {"__typename": "Query"}
    time.sleep(0.5)  # anything the dropped requests would log is written by now
    log = server.log.read_text()
    assert "Traceback" not in log, log[-3000:]
    assert " ERROR " not in log, log[-3000:]
    assert log.count("POST /graphql") == 1, log[-3000:]  # only the answered request
