"""Slow and idle clients cannot starve the others (the contract's "Transport"), over real sockets.

The server is started as ``make run`` starts it. Latencies are compared with a
baseline measured in the same test, never with a wall-clock constant.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import pytest

from config.bridge import MAX_HEAD_BYTES
from persistence.migrations import upgrade
from scripts.slowclients import HEADS, slow_connections, timed_requests
from tests.live_server import Server, fetch, local_request, read_until_closed, server_env, serving

pytestmark = [pytest.mark.live, pytest.mark.budget]

THREADS = 4
TIMEOUT_SECONDS = 3  # header and body read timeouts of the server under test
MIX = {"idle": 86, "headers": 85, "body": 85}  # 256 in all


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # A database of its own: this module's server outlives any one test's clean-up.
    tmp = tmp_path_factory.mktemp("slow")
    env = server_env(
        f"sqlite:///{tmp / 'slow.sqlite3'}",
        tmp / "var",
        HEADER_READ_TIMEOUT_SECONDS=str(TIMEOUT_SECONDS),
        BODY_READ_TIMEOUT_SECONDS=str(TIMEOUT_SECONDS),
    )
    upgrade(env["DATABASE_URL"])
    with serving(env, tmp / "server.log", workers=2, threads=THREADS) as live:
        yield live


def test_256_idle_trickling_and_stalled_clients_do_not_slow_the_others(server: Server) -> None:
    timed_requests(server.port, count=10, seconds=10)  # warm both workers
    baseline = timed_requests(server.port, count=60, seconds=15)
    with slow_connections(server.port, MIX) as groups:
        deadline = time.monotonic() + 10
        while sum(g.open_now() for g in groups) < 256 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert sum(g.open_now() for g in groups) == 256
        time.sleep(1)  # the tricklers have sent more than their first bytes
        loaded = timed_requests(server.port, count=60, seconds=15)
        held = sum(g.open_now() for g in groups)
    assert baseline.failures == 0
    assert loaded.failures == 0, f"{loaded.failures} of 60 requests failed"
    assert held >= 200  # the slow clients were really there while we timed
    assert loaded.p50 <= 3 * baseline.p50, (baseline.p50, loaded.p50)
    assert loaded.quantile(0.9) <= 5 * baseline.quantile(0.9), (baseline.seconds, loaded.seconds)


def _exchange(port: int, data: bytes, *, wait: float = 15) -> tuple[bytes, float]:
    """Send ``data``, then read until the server closes; the answer and seconds it took."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        sock.sendall(data)
        answer = read_until_closed(sock)
    return answer, time.monotonic() - started


def test_a_request_head_not_finished_in_time_is_dropped(server: Server) -> None:
    answer, seconds = _exchange(server.port, HEADS["headers"])
    assert not answer.startswith(b"HTTP/1.1 2"), answer[:200]
    assert TIMEOUT_SECONDS - 0.5 <= seconds <= TIMEOUT_SECONDS + 3


def test_an_idle_connection_is_closed_after_the_header_timeout(server: Server) -> None:
    answer, seconds = _exchange(server.port, b"")
    assert answer == b""
    assert TIMEOUT_SECONDS - 0.5 <= seconds <= TIMEOUT_SECONDS + 3


def test_a_body_not_finished_in_time_gets_408_in_the_graphql_error_shape(server: Server) -> None:
    answer, seconds = _exchange(server.port, HEADS["body"])
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), answer[:200]
    assert json.loads(body)["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert TIMEOUT_SECONDS - 0.5 <= seconds <= TIMEOUT_SECONDS + 3


def test_a_head_over_the_apps_cap_gets_the_contracts_json_431(server: Server) -> None:
    # Over the bridge's cap (config/bridge.py), within granian's own buffer.
    big = b"X-Big: " + b"a" * (MAX_HEAD_BYTES + 1024) + b"\r\n"
    head = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n" + big + b"\r\n"
    answer, _ = _exchange(server.port, head)
    status, _, body = answer.partition(b"\r\n\r\n")
    assert status.startswith(b"HTTP/1.1 431"), answer[:200]
    assert b"content-type: application/json" in status.lower()
    assert b"x-request-id: " in status.lower()
    (error,) = json.loads(body)["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "maxHeadBytes": MAX_HEAD_BYTES}


@pytest.mark.parametrize(
    "headers",
    [
        b"X-Big: " + b"a" * 256 * 1024 + b"\r\n",  # over granian's 64 KiB head buffer
        b"".join(b"X-Many-%d: a\r\n" % i for i in range(150)),  # over 100 fields
    ],
    ids=["one-huge-header", "too-many-headers"],
)
def test_a_head_over_granians_own_limits_gets_its_431(server: Server, headers: bytes) -> None:
    # granian's own answer, before the app: no body, and no setting for one (docs/server.md).
    head = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n" + headers + b"\r\n"
    answer, _ = _exchange(server.port, head)
    assert answer.startswith(b"HTTP/1.1 431"), answer[:200]


def test_413_answers_hold_no_thread_waiting_for_a_body(server: Server) -> None:
    # More refused requests than the workers have threads, none of which ever
    # sends its body: each is answered at once, and the others are still served.
    head = (
        b"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: 52428800\r\n\r\n"
    )
    socks = [socket.create_connection(("127.0.0.1", server.port), timeout=5) for _ in range(20)]
    try:
        for sock in socks:
            sock.sendall(head)
        for sock in socks:
            answer = sock.recv(65536)
            assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
            assert b'"code": "PAYLOAD_TOO_LARGE"' in answer
        assert timed_requests(server.port, count=4, seconds=10).failures == 0
    finally:
        for sock in socks:
            sock.close()


def test_readyz_is_200_once_every_worker_is_up(server: Server) -> None:
    status, raw = fetch(local_request(f"{server.base}/readyz"), timeout=5)
    assert (status, json.loads(raw)) == (200, {"status": "ready"})
