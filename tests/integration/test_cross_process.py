"""Read-your-writes across processes: two real gunicorn servers sharing one database."""

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
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from persistence.db import get_engine

PROJECT = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).parent / "gunicorn"
STARTUP_SECONDS = 60

pytestmark = pytest.mark.slow


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

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def start_server(env: dict[str, str], log: Path) -> Server:
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                str(GUNICORN),
                "config.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "1",
                "--threads",
                "4",
                "--timeout",
                "60",
            ],
            cwd=PROJECT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return Server(process=process, port=port, log=log)


@pytest.fixture
def servers(database_url: str, tmp_path: Path) -> Iterator[tuple[Server, Server]]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "BCRYPT_ROUNDS": "4",
        "POSTS_CACHE_TTL_SECONDS": "300",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        # Both servers must sign and check tokens with the same keys.
        "JWT_SECRET": secrets.token_urlsafe(48),
        "SECRET_KEY": secrets.token_urlsafe(48),
        "POSTS_VAR_DIR": str(tmp_path / "var"),
    }
    started: list[Server] = []
    try:
        for name in ("a", "b"):
            started.append(start_server(env, tmp_path / f"gunicorn-{name}.log"))
        for server in started:
            server.wait_healthy()
        yield started[0], started[1]
    finally:
        for server in started:
            server.stop()


ADD = "mutation($t: String!) { addPost(text: $t) { postId post { id text createdAt } } }"
LIST = "query { getPosts { id text createdAt } }"
DELETE = "mutation($id: ID!) { deletePost(postId: $id) { postId } }"


def ok(body: dict[str, Any]) -> dict[str, Any]:
    assert "errors" not in body, body
    assert body["_status"] == 200, body
    data: dict[str, Any] = body["data"]
    return data


def listed_ids(server: Server, token: str) -> list[str]:
    return [post["id"] for post in ok(server.graphql(LIST, token=token))["getPosts"]]


def test_writes_through_one_server_are_read_at_once_through_another(
    servers: tuple[Server, Server],
) -> None:
    a, b = servers
    signup = ok(
        a.graphql(
            "mutation($e: String!, $p: String!) { signup(email: $e, password: $p) { token user { id } } }",
            {"e": "cross@example.com", "p": "correct horse battery staple"},
        )
    )
    token = signup["signup"]["token"]
    user_id = int(signup["signup"]["user"]["id"])

    assert listed_ids(b, token) == []  # fills B's cache

    # B really serves from its cache: a row written without bumping posts_version
    # stays unseen there (the TTL is 300 s).
    with get_engine().begin() as conn:
        conn.execute(
            text("INSERT INTO posts (user_id, text, created_at) VALUES (:u, :t, :c)"),
            {"u": user_id, "t": "behind the back", "c": datetime(2000, 1, 1)},
        )
        hidden = str(conn.execute(text("SELECT MAX(id) FROM posts")).scalar_one())
    assert listed_ids(b, token) == []

    first = ok(a.graphql(ADD, {"t": "written via A"}, token=token))["addPost"]
    assert listed_ids(b, token) == [first["postId"], hidden]
    assert ok(b.graphql(LIST, token=token))["getPosts"][0] == first["post"]

    second = ok(a.graphql(ADD, {"t": "second via A"}, token=token))["addPost"]
    assert listed_ids(b, token) == [second["postId"], first["postId"], hidden]

    ok(a.graphql(DELETE, {"id": second["postId"]}, token=token))
    assert listed_ids(b, token) == [first["postId"], hidden]

    # And the other way round: B writes, A (whose cache is warm too) reads.
    assert listed_ids(a, token) == [first["postId"], hidden]
    ok(b.graphql(DELETE, {"id": first["postId"]}, token=token))
    assert listed_ids(a, token) == [hidden]
    assert listed_ids(b, token) == [hidden]
