"""A short run of scripts/loadtest.py against a real server on the test database (as CI runs it)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.live_server import PROJECT, server_env

pytestmark = pytest.mark.live

SCRIPT = PROJECT / "scripts" / "loadtest.py"


def test_a_short_mixed_load_loses_nothing_and_never_fails(
    database_url: str, tmp_path: Path
) -> None:
    # server_env: the test database, BCRYPT_ROUNDS=4, shared secrets, a private var dir.
    # Every client is 127.0.0.1: lift the per-address limit on password work.
    env = server_env(database_url, tmp_path / "var", AUTH_MAX_PER_ADDRESS_PER_MINUTE="1000000")
    log = tmp_path / "server.log"
    completed = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--start-server",
            "--server",
            "direct",
            "--duration",
            "8",
            "--clients",
            "8",
            "--users",
            "4",
            "--server-log",
            str(log),
            "--json",
        ],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    report = f"{completed.stderr[-6000:]}\n--- server log tail ---\n{_tail(log)}"
    assert completed.returncode == 0, report
    summary = json.loads(completed.stdout)
    totals = summary["totals"]
    integrity = summary["integrity"]
    assert summary["pass"] is True, report
    assert totals["5xx"] == 0, report
    assert totals["internal_errors"] == 0, report
    assert totals["transport_errors"] == 0, report
    assert totals["bad_bodies"] == 0, report
    assert totals["unexpected_errors"] == 0, report
    for name in ("lost", "duplicated", "unexpected", "unknown", "resurrected", "corrupted"):
        assert integrity[name] == 0, (name, report)
    assert summary["stale_reads"] == 0, report
    assert summary["order_violations"] == 0, report
    assert summary["client_exceptions"] == 0, report
    assert summary["server_alive_at_end"] is True, report
    assert summary["memory"]["growth_bytes"] < summary["memory"]["growth_limit_bytes"], report
    # The mix really ran: every operation, and posts that survived.
    for op in ("signup", "login", "addPost", "getPosts", "deletePost"):
        assert summary["ops"][op]["requests"] > 0, (op, summary["ops"])
    assert integrity["acknowledged_adds"] > 0
    assert integrity["listed"] == integrity["expected_live"]


def _tail(path: Path, lines: int = 60) -> str:
    """The end of the server's log without its access-log lines."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    kept = [line for line in text.splitlines() if '" 200 ' not in line]
    return "\n".join(kept[-lines:])
