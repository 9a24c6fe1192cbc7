"""Slow readers of large responses cannot grow a worker's memory (issue 22; the contract's
"Bounded memory"), on a real server: stalled readers of a large getPosts hold at most
RESPONSE_BUFFER_MAX_BYTES of it, the others get a retryable 503, and the memory comes
back once they leave.

Before the bound, each stalled reader held a whole copy of its response in the worker,
and much of it stayed after they closed. Also pins what config/granian_compat.py
relies on of granian's ASGI stream (a response is counted until hyper has taken it).
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devkit.server import rss
from persistence.migrations import upgrade
from tests.live_server import Server, server_env, serving

pytestmark = pytest.mark.live

MiB = 1024 * 1024
POSTS = 16
POST_TEXT = "a" * (MiB - 64)
CACHE_BOUND = 4 * MiB  # below the response: nothing of it is kept by a cache
STALLED_READERS = 12


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    # A database of its own: the server outlives the per-test clean-up of the shared one.
    env = server_env(
        f"sqlite:///{tmp_path / 'readers.sqlite3'}",
        tmp_path / "var",
        POSTS_CACHE_MAX_BYTES=str(CACHE_BOUND),
        RESPONSE_CACHE_MAX_BYTES=str(CACHE_BOUND),
        # Two responses of POSTS MiB and a little more (the bound is set from it below).
        RESPONSE_BUFFER_MAX_BYTES=str(2 * POSTS * MiB + 2 * MiB),
    )
    upgrade(env["DATABASE_URL"])
    # One thread: the stalled requests are answered one after the other, and each
    # thread's malloc arena would otherwise add its own noise.
    with serving(env, tmp_path / "server.log", workers=1, threads=1) as live:
        yield live


def _request(token: str) -> bytes:
    body = json.dumps({"query": "query { getPosts { id text createdAt } }"}).encode()
    return (
        f"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {token}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def _read_whole(port: int, request: bytes) -> int:
    """Send ``request`` on a connection of its own, read the answer to the end: its size."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as conn:
        conn.sendall(request.replace(b"\r\n", b"\r\nConnection: close\r\n", 1))
        size = 0
        while part := conn.recv(MiB):
            size += len(part)
        return size


def _stalled(port: int, request: bytes) -> socket.socket:
    """A connection that sends ``request`` and then reads nothing (a tiny receive window)."""
    conn = socket.socket()
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    conn.connect(("127.0.0.1", port))
    conn.sendall(request)
    return conn


def _first_bytes(conn: socket.socket, timeout: float = 60) -> bytes:
    """What has arrived on ``conn`` so far (at least something), left unread."""
    conn.settimeout(timeout)
    return conn.recv(4096, socket.MSG_PEEK)


def _settled(pid: int, *, below: int, wait: float = 20.0) -> int:
    """The worker's RSS once under ``below`` and steady, or its last reading after ``wait``."""
    deadline = time.monotonic() + wait
    previous = rss(pid)
    while time.monotonic() < deadline:
        time.sleep(0.2)
        current = rss(pid)
        if current < below and abs(current - previous) < MiB:
            return current
        previous = current
    return previous


def test_stalled_readers_of_a_large_response_hold_at_most_the_bound_and_give_it_back(
    server: Server,
) -> None:
    token = server.graphql(
        'mutation { signup(email: "reader@example.com", password: "correct horse battery") '
        "{ token } }"
    )["data"]["signup"]["token"]
    for _ in range(POSTS):
        added = server.graphql(
            "mutation ($t: String!) { addPost(text: $t) { postId } }", {"t": POST_TEXT}, token=token
        )
        assert "errors" not in added, added
    request = _request(token)
    (worker,) = server.worker_pids()
    response = 0
    for _ in range(2):  # warm the worker: its arenas are sized by the first large answers
        response = _read_whole(server.port, request)
    assert response > POSTS * (MiB - 64)
    bound = 2 * POSTS * MiB + 2 * MiB
    admitted = bound // response  # 2: the bound holds two responses, not three
    assert admitted == 2
    before = _settled(worker, below=rss(worker) + MiB)

    readers = [_stalled(server.port, request) for _ in range(STALLED_READERS)]
    try:
        heads = [_first_bytes(conn).split(b"\r\n", 1)[0] for conn in readers]
        held = _settled(worker, below=before + bound + response) - before
        figures = (
            f"{STALLED_READERS} stalled readers of {response / MiB:.1f} MiB: worker "
            f"+{held / MiB:.0f} MiB (bound {bound / MiB:.0f} MiB)"
        )
        print(figures)
        # Two held responses, and the allocator's noise: never one per reader.
        assert held <= bound + response, figures
        assert heads.count(b"HTTP/1.1 200 OK") == admitted, heads
        assert heads.count(b"HTTP/1.1 503 Service Unavailable") == STALLED_READERS - admitted
        refused = [conn for conn, head in zip(readers, heads, strict=True) if b"503" in head]
        answer = refused[0].recv(65536)
        head, _, body = answer.partition(b"\r\n\r\n")
        assert b"\r\nretry-after: " in head.lower()
        error = json.loads(body)["errors"][0]
        assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
        assert error["extensions"]["retryable"] is True
    finally:
        for conn in readers:
            conn.close()

    after = _settled(worker, below=before + response // 2) - before
    print(f"after they closed: worker +{after / MiB:.0f} MiB")
    assert after <= response // 2, f"+{after / MiB:.0f} MiB kept after the readers left"
    # And the worker serves large responses again, once the readers have left.
    deadline = time.monotonic() + 10
    while (answered := _read_whole(server.port, request)) != response:
        assert time.monotonic() < deadline, f"still refused: {answered} bytes"
        time.sleep(0.2)
