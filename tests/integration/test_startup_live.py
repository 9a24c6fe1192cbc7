"""Start-up as a new user meets it: every documented configuration starts from a fresh
checkout, and a bad setting stops the launcher with one line that names it."""

from __future__ import annotations

import http.client
import json
import os
import secrets
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.live_server import PROJECT, fetch, free_port, local_request

pytestmark = pytest.mark.live

# Settings the launcher reads, cleared so that each test says exactly what it sets.
OURS = (
    "DATABASE_URL",
    "JWT_SECRET",
    "SECRET_KEY",
    "APP_ENV",
    "POSTS_VAR_DIR",
    "POSTS_RUNTIME_DIR",
    "LOG_FORMAT",
    "DEBUG",
    "HTTPS",
)


def _env(**settings: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if k not in OURS}
    return {**base, "BCRYPT_ROUNDS": "4", "WORKERS": "1", "THREADS": "2", **settings}


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """What a fresh clone of this tree holds: the tracked (and new, unignored) files only."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=PROJECT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    target = tmp_path / "posts-api"
    for name in filter(None, listed):
        source = PROJECT / name.decode()
        if source.is_file():
            (target / name.decode()).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name.decode())
    assert not (target / "var").exists()
    return target


@contextmanager
def launched(cwd: Path, env: dict[str, str], log: Path) -> Iterator[int]:
    """``python -m config.serve --migrate`` (what ``make run`` runs) in ``cwd``, until healthy."""
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "config.serve", "--migrate"],
            cwd=cwd,
            env={**env, "PORT": str(port)},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            try:
                status, _ = fetch(local_request(f"http://127.0.0.1:{port}/healthz"), timeout=2)
            except OSError:
                status = 0
            if status == 200:
                break
            time.sleep(0.2)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


HEALTHY = {"status": "ok", "database": "ok"}


def _get(port: int, path: str) -> tuple[int, str | None, object]:
    """GET ``path`` without following redirects: (status, Location, JSON body or None)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers={"Accept": "application/json"})
        response = connection.getresponse()
        raw = response.read()
        body = json.loads(raw) if raw and "json" in response.getheader("Content-Type", "") else None
        return response.status, response.getheader("Location"), body
    finally:
        connection.close()


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_fresh_checkout_starts_with_nothing_configured(checkout: Path, tmp_path: Path) -> None:
    with launched(checkout, _env(), tmp_path / "out.log") as port:
        status, _ = fetch(local_request(f"http://127.0.0.1:{port}/readyz"), timeout=5)
        assert status == 200
    assert _mode(checkout / "var") == 0o700
    assert _mode(checkout / "var" / "posts.sqlite3") == 0o600
    assert _mode(checkout / "var" / "secrets.json") == 0o600
    printed = (tmp_path / "out.log").read_text()
    assert f"posts-api: database sqlite:///{checkout}/var/posts.sqlite3" in printed


def test_a_fresh_checkout_starts_with_secrets_set_and_no_database_url(
    checkout: Path, tmp_path: Path
) -> None:
    env = _env(JWT_SECRET=secrets.token_urlsafe(48), SECRET_KEY=secrets.token_urlsafe(48))
    with launched(checkout, env, tmp_path / "out.log") as port:
        assert _get(port, "/healthz")[::2] == (200, HEALTHY)
    assert _mode(checkout / "var") == 0o700
    assert _mode(checkout / "var" / "posts.sqlite3") == 0o600
    assert not (checkout / "var" / "secrets.json").exists()


def test_a_fresh_checkout_starts_in_production_with_strong_secrets(
    checkout: Path, tmp_path: Path
) -> None:
    env = _env(
        APP_ENV="production",
        JWT_SECRET=secrets.token_urlsafe(48),
        SECRET_KEY=secrets.token_urlsafe(48),
        BCRYPT_ROUNDS="12",  # production refuses less
    )
    with launched(checkout, env, tmp_path / "out.log") as port:
        # Probes reach the instance directly over HTTP: no redirect to HTTPS for them.
        assert _get(port, "/healthz")[::2] == (200, HEALTHY)
        assert _get(port, "/readyz")[::2] == (200, {"status": "ready"})
        # Anything else over plain HTTP is sent to HTTPS (production turns HTTPS on).
        status, location, _ = _get(port, "/graphql")
        assert status == 301
        assert location == f"https://127.0.0.1:{port}/graphql"


@pytest.mark.mysql
def test_a_fresh_checkout_starts_on_mariadb(
    checkout: Path, tmp_path: Path, database_url: str
) -> None:
    with launched(checkout, _env(DATABASE_URL=database_url), tmp_path / "out.log") as port:
        assert _get(port, "/healthz")[::2] == (200, HEALTHY)
    assert not (checkout / "var" / "posts.sqlite3").exists()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DATABASE_TIMEOUT_SECONDS", "soon"),
        ("HEADER_READ_TIMEOUT_SECONDS", "120"),
        ("WORKERS", "many"),
        ("LOG_FORMAT", "xml"),
        ("DATABASE_URL", "postgresql://user@127.0.0.1/posts"),
        ("DATABASE_URL", "not a url"),
        ("PORT", "eighty"),
    ],
)
def test_a_bad_setting_stops_start_up_with_one_line_naming_it(
    tmp_path: Path, name: str, value: str
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "config.serve", "--migrate"],
        cwd=PROJECT,
        env={**_env(POSTS_VAR_DIR=str(tmp_path)), name: value},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert name in lines[0]
    assert "Traceback" not in result.stderr


def test_the_launcher_says_where_on_which_database_and_how_with_the_password_masked(
    tmp_path: Path,
) -> None:
    url = "mysql+mysqldb://posts:hunter2-secret@db.internal:3306/posts?charset=utf8mb4"
    result = subprocess.run(
        [sys.executable, "-m", "config.serve", "--check"],
        cwd=PROJECT,
        env={**_env(POSTS_VAR_DIR=str(tmp_path)), "DATABASE_URL": url, "PORT": "8123"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "serving http://127.0.0.1:8123 with granian (1 workers x 2 threads" in result.stderr
    assert "header read timeout 10 s" in result.stderr
    assert "database mysql+mysqldb://posts:***@db.internal:3306/posts" in result.stderr
    assert "hunter2" not in result.stderr


def test_missing_mariadb_headers_stop_make_at_once_with_one_line(tmp_path: Path) -> None:
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "pkg-config").write_text("#!/bin/sh\nexit 1\n")
    (fake / "pkg-config").chmod(0o755)
    result = subprocess.run(
        ["make", "--no-print-directory", "mysql-headers"],
        cwd=PROJECT,
        env={**_env(), "PATH": f"{fake}:{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "libmariadb-dev pkg-config" in lines[0]
