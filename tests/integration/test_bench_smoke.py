"""`make bench` in --quick mode on SQLite: the harness runs end to end and reports, the
streams case (live updates) included."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from devkit.server import PROJECT
from tests.conftest import IS_MYSQL

pytestmark = pytest.mark.live


def _wrk() -> None:
    if shutil.which("wrk"):
        return
    message = "wrk is missing: `apt-get install -y wrk` (.ci/run installs it)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.mark.skipif(
    IS_MYSQL, reason="runs on SQLite whatever the database: the SQLite pass runs it"
)
def test_a_quick_bench_reports_getposts_against_every_reference(tmp_path: Path) -> None:
    _wrk()
    out = tmp_path / "report"
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--quick",
            "--databases=sqlite",
            # viewer is not in every version of the schema: then it must be n/a, not a crash.
            # streams: live updates to 1 and 10 subscribers (10 addPosts each).
            "--cases=getPosts,viewer,addPost,streams",
            "--subscribers=1,10",
            "--stream-events=10",
            "--stream-interval=0.3",
            "--warmup=0",
            "--background-users=20",
            # A few seconds of the mix, read against what the caches hold (from /metrics).
            "--soak=8",
            f"--out={out}",
        ],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]

    report = json.loads((out / "report.json").read_text())
    markdown = (out / "report.md").read_text()
    rows = {(row["name"], row["database"], row["connections"]): row for row in report["rows"]}

    for reference in ("django", "fastapi", "fastapi-standard"):
        row = rows[(reference, None, 16)]
        assert row["status"] == "ok", row
        assert row["rps"] > 0
        assert report["meta"]["reference_same_bytes"][reference] is True
    # The typical peers, on the app's database: a read with the user loaded through an
    # ORM session, and addPost written through one.
    for reference in ("fastapi-orm", "fastapi-orm-write"):
        row = rows[(reference, "sqlite", 16)]
        assert row["status"] == "ok", row
        assert row["rps"] > 0
        assert row["x_fastapi_orm"] == 1.0
    assert report["meta"]["reference_same_bytes"]["fastapi-orm (sqlite)"] is True
    assert rows[("fastapi-orm-write", "sqlite", 16)]["headline_kind"] == "addPost"
    get_posts = rows[("getPosts", "sqlite", 16)]
    assert get_posts["status"] == "ok", get_posts
    assert get_posts["rps"] > 0
    assert get_posts["failed"] == 0
    assert get_posts["p50_ms"] is not None
    assert get_posts["p99_ms"] is not None
    assert get_posts["x_django"] > 0
    assert get_posts["x_fastapi"] > 0
    assert get_posts["x_fastapi_standard"] > 0
    assert get_posts["x_fastapi_orm"] > 0
    assert get_posts["rss_peak_bytes"] > 0
    assert get_posts["cpu_us_per_request"] > 0
    # What the load generator took, beside the server: both a share of the machine.
    assert 0 < get_posts["client_cpu_share"] < 1
    assert 0 < get_posts["server_cpu_share"] <= 1
    add_post = rows[("addPost", "sqlite", 16)]
    assert add_post["status"] == "ok", add_post
    assert add_post["x_fastapi_orm"] > 0
    viewer = rows[("viewer", "sqlite", 16)]
    assert viewer["status"] in {"ok", "n/a"}, viewer
    if viewer["status"] == "n/a":
        assert viewer["failed"] > 0

    assert "| case | database | conns | req/s | p50 ms | p99 ms |" in markdown
    assert "| getPosts | sqlite | 16 |" in markdown
    assert "| reference: FastAPI + uvicorn (h11, asyncio) | - | 16 |" in markdown
    assert "| reference: FastAPI + uvicorn[standard] (httptools, uvloop) | - | 16 |" in markdown
    database = report["meta"]["databases"][0]
    assert database["database"] == "sqlite"
    assert database["largest_post_bytes"] > 1_000_000  # some posts near 1 MiB
    # Live updates: every subscriber read every event of its user, and only those.
    one, ten = report["streams"]
    assert (one["subscribers"], one["users"], ten["subscribers"], ten["users"]) == (1, 1, 10, 2)
    for streams in (one, ten):
        assert streams["status"] == "ok", streams
        assert streams["database"] == "sqlite"
        assert streams["opened"] == streams["subscribers"]
        assert streams["posted"] == 10
        # Each addPost reaches its author's streams: 10 for one stream, 10 x 5 for 2 x 5.
        assert streams["deliveries"] == 10 * max(streams["per_user"]), streams
        assert streams["missing"] == 0
        assert streams["strays"] == streams["duplicates"] == streams["ended_early"] == 0
        for name in ("p50_ms", "p99_ms", "max_ms"):
            assert 0 < streams[name] < 5000, streams
        assert streams["p50_ms"] <= streams["p99_ms"] <= streams["max_ms"]
        assert streams["rss_before_bytes"] > 0
        assert streams["rss_after_bytes"] > 0
    assert "## Live updates (subscriptions)" in markdown
    assert "| sqlite | 10 | 2 x 5 | 50 | 0 |" in markdown
    (soak,) = report["soak"]
    assert soak["failed"] == 0
    assert soak["flat"] is not None
    # The mix's getPosts fill both caches: the scrape of every worker's gauge was read.
    assert soak["cache_end_mib"] > 0, soak
    assert "of which the caches" in markdown
    assert not (out / "work").exists()  # databases and configs are cleaned up


def test_the_profiler_reports_cpu_per_request_and_where_it_goes(database_url: str) -> None:
    """`python -m bench.profile`: each operation's CPU against a hit, then its profile."""
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    argv = [sys.executable, "-m", "bench.profile", "--requests=5", "--rounds=1", "--top=5"]
    if database_url.startswith("mysql"):
        argv.append(f"--database-url={database_url}")
    completed = subprocess.run(
        argv, cwd=PROJECT, env=env, capture_output=True, text=True, timeout=240, check=False
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    lines = completed.stdout.splitlines()
    for operation in ("getPosts-hit", "getPosts-miss", "addPost"):
        [line] = [line for line in lines if line.startswith(f"{operation} ")]
        assert "us CPU per request" in line
        assert f"## {operation}: cProfile, 5 requests" in completed.stdout
    assert "x a hit" in completed.stdout
    assert "function calls" in completed.stdout
