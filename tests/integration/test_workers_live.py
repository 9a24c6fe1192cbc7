"""Workers are replaced, however often they die (issue 22): a real server whose worker is
killed again and again, each replacement as soon as it appears, still answers.

granian's own master exits ("Worker crash loop detected") when a worker it replaced
dies again within a few seconds; config/serve.py replaces every dead worker instead, after a
pause that grows with early deaths in a row. This test also pins the granian
internals that override relies on (see config/granian_compat.py).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from config.serve import RESPAWN_MAX_DELAY_SECONDS
from persistence.migrations import upgrade
from tests.live_server import Server, fetch, local_request, server_env, serving

pytestmark = pytest.mark.live

KILLS_IN_A_ROW = 4


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    # Its own database: the server may outlive the per-test clean-up of the shared one.
    env = server_env(f"sqlite:///{tmp_path / 'workers.sqlite3'}", tmp_path / "var")
    upgrade(env["DATABASE_URL"])
    with serving(env, tmp_path / "server.log", workers=1, threads=1) as live:
        yield live


def _next_worker(server: Server, other_than: int | None, timeout: float) -> int:
    """The pid of the server's one worker once it is not ``other_than``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert server.process.poll() is None, f"the server exited:\n{server.output()}"
        workers = server.worker_pids() - {other_than}
        if workers:
            (worker,) = workers
            return worker
        time.sleep(0.01)
    pytest.fail(f"no worker replaced {other_than} within {timeout} s:\n{server.output()}")


def _healthy(server: Server) -> int:
    # granian's workers each listen (SO_REUSEPORT): with the one worker dead, connections
    # are refused until its replacement listens. So wait for health, then ask once more.
    server.wait_healthy(timeout=RESPAWN_MAX_DELAY_SECONDS + 60)
    status, _ = fetch(local_request(f"{server.base}/healthz"), timeout=30)
    return status


def _ready_markers(server: Server) -> set[int]:
    (runtime,) = Path(server.log.parent / "var" / "run").iterdir()
    return {int(marker.name) for marker in (runtime / "ready").iterdir()}


def test_a_worker_killed_again_and_again_is_replaced_and_the_instance_answers(
    server: Server,
) -> None:
    assert _healthy(server) == 200
    worker = _next_worker(server, None, timeout=5)
    # Each replacement killed as soon as it exists: far inside granian's crash-loop window.
    for _ in range(KILLS_IN_A_ROW):
        os.kill(worker, signal.SIGKILL)
        worker = _next_worker(server, worker, timeout=RESPAWN_MAX_DELAY_SECONDS + 30)
    assert _healthy(server) == 200
    # And once more after it served: the reported case (a kill, another 3 s later).
    os.kill(worker, signal.SIGKILL)
    worker = _next_worker(server, worker, timeout=RESPAWN_MAX_DELAY_SECONDS + 30)
    assert _healthy(server) == 200
    assert server.process.poll() is None
    output = server.output(100_000)
    assert "crash loop" not in output
    assert output.count("replacing it in") == KILLS_IN_A_ROW + 1
    # A dead worker's readiness marker goes with it: only the live worker counts.
    assert _ready_markers(server) == {worker}
