"""Real gunicorn servers for tests that need HTTP over a socket (several processes,
request bodies on the wire, memory of a worker)."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from scripts.loadtest import descendants, rss

PROJECT = Path(__file__).resolve().parents[1]
STARTUP_SECONDS = 60


def local_request(url: str, **kwargs: Any) -> urllib.request.Request:
    """A request to one of the test's own servers (always http://127.0.0.1)."""
    assert url.startswith("http://127.0.0.1:")
    return urllib.request.Request(url, **kwargs)  # noqa: S310 - checked just above


def fetch(request: urllib.request.Request, timeout: float) -> tuple[int, bytes]:
    """The status and body of ``request``, for error statuses too."""
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - local_request
            return int(response.status), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@dataclass
class Server:
    """One gunicorn process serving the app."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def graphql(
        self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None
    ) -> dict[str, Any]:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        request = local_request(
            f"{self.base}/graphql",
            data=json.dumps({"query": query, "variables": variables or {}}).encode(),
            headers=headers,
            method="POST",
        )
        status, raw = fetch(request, timeout=30)
        body: dict[str, Any] = json.loads(raw)
        body["_status"] = status
        return body

    def wait_healthy(self) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"gunicorn exited with {self.process.returncode}:\n{self.output()}")
            try:
                if fetch(local_request(f"{self.base}/healthz"), timeout=2)[0] == 200:
                    return
            except OSError:  # not listening yet (URLError is an OSError)
                pass
            time.sleep(0.1)
        pytest.fail(f"gunicorn on port {self.port} never became healthy:\n{self.output()}")

    def rss_bytes(self) -> int:
        """Resident memory of the gunicorn master and its workers."""
        return sum(rss(pid) for pid in descendants(self.process.pid) | {self.process.pid})

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def start_server(env: dict[str, str], log: Path, *, workers: int = 1, threads: int = 4) -> Server:
    """Start the server as ``make run`` does (``python -m config.serve``); output to ``log``."""
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "config.serve"],
            cwd=PROJECT,
            env={**env, "PORT": str(port), "WORKERS": str(workers), "THREADS": str(threads)},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return Server(process=process, port=port, log=log)


def server_env(database_url: str, var_dir: Path, **extra: str) -> dict[str, str]:
    """Environment for a server on the test database, with keys shared by every server."""
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "BCRYPT_ROUNDS": "4",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "JWT_SECRET": SHARED_JWT_SECRET,
        "SECRET_KEY": SHARED_JWT_SECRET + "-django",
        "POSTS_VAR_DIR": str(var_dir),
        **extra,
    }


# Servers of one test run must sign and check tokens with the same key.
SHARED_JWT_SECRET = secrets.token_urlsafe(48)
