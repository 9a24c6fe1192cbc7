"""SIGTERM drains a real server: /readyz turns 503, the request in flight finishes,
new connections are refused, and the process exits within the graceful timeout."""

from __future__ import annotations

import json
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from persistence.migrations import upgrade
from tests.conftest import PASSWORD
from tests.live_server import Server, fetch, local_request, server_env, serving

pytestmark = pytest.mark.live

GRACEFUL_SECONDS = 20
DRAIN_DELAY_SECONDS = 1


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    # Its own database: the server outlives the per-test clean-up of the shared one.
    env = server_env(
        f"sqlite:///{tmp_path / 'drain.sqlite3'}",
        tmp_path / "var",
        # A genuinely slow request: one signup hashes with bcrypt at cost 16 (seconds).
        BCRYPT_ROUNDS="16",
        GRACEFUL_TIMEOUT_SECONDS=str(GRACEFUL_SECONDS),
        DRAIN_DELAY_SECONDS=str(DRAIN_DELAY_SECONDS),
    )
    upgrade(env["DATABASE_URL"])
    with serving(env, tmp_path / "server.log", workers=1, threads=2) as live:
        yield live


def _readyz(server: Server) -> tuple[int, Any]:
    status, raw = fetch(local_request(f"{server.base}/readyz"), timeout=5)
    return status, json.loads(raw)


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def test_sigterm_finishes_the_request_in_flight_then_refuses_and_exits(server: Server) -> None:
    assert _readyz(server) == (200, {"status": "ready"})
    outcome: dict[str, Any] = {}

    def slow_signup() -> None:
        outcome["body"] = server.graphql(
            "mutation($e: String!, $p: String!) { signup(email: $e, password: $p) { token } }",
            {"e": "drain@example.com", "p": PASSWORD},
        )
        outcome["at"] = time.monotonic()

    in_flight = threading.Thread(target=slow_signup)
    in_flight.start()
    time.sleep(0.5)  # the request is in the worker, hashing
    assert "body" not in outcome, "the signup was not slow enough to be in flight"
    terminated = time.monotonic()
    server.process.send_signal(signal.SIGTERM)

    # Draining: still answering during the drain delay, but no longer ready (the
    # signal reaches the server asynchronously: give it a moment, well inside the delay).
    deadline = time.monotonic() + DRAIN_DELAY_SECONDS / 2
    answer = _readyz(server)
    while answer != (503, {"status": "draining"}) and time.monotonic() < deadline:
        time.sleep(0.05)
        answer = _readyz(server)
    assert answer == (503, {"status": "draining"})

    # After the delay the listener is gone, although the signup is still running.
    time.sleep(DRAIN_DELAY_SECONDS + 0.5)
    assert "body" not in outcome, "the signup ended before the listener could be checked"
    assert _refused(server.port)

    in_flight.join(timeout=GRACEFUL_SECONDS)
    assert outcome["body"]["_status"] == 200, outcome
    assert outcome["body"]["data"]["signup"]["token"]

    server.process.wait(timeout=GRACEFUL_SECONDS + DRAIN_DELAY_SECONDS)
    assert time.monotonic() - terminated <= GRACEFUL_SECONDS + DRAIN_DELAY_SECONDS
    assert server.process.returncode == 0, server.output()
    assert not list((server.log.parent / "var" / "run").iterdir())  # runtime dir removed
