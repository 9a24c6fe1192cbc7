"""Real servers for tests that need HTTP over a socket (several processes, request
bodies on the wire, memory of a worker), started as ``make run`` starts them
(``python -m config.serve``, through devkit)."""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devkit import server as devkit_server
from devkit.client import GraphQLClient
from devkit.ports import free_port
from devkit.server import PROJECT, ServerError

__all__ = [
    "PROJECT",
    "SHARED_JWT_SECRET",
    "Server",
    "fetch",
    "free_port",
    "local_request",
    "read_until_closed",
    "server_env",
    "serving",
    "start_server",
]

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


# The password of the accounts tests make on live servers (long enough for the rules).
TEST_PASSWORD = "correct horse battery staple"


class Server(devkit_server.Server):
    """One server serving the app, with a GraphQL helper for tests."""

    def graphql(
        self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None
    ) -> dict[str, Any]:
        """The JSON answer to ``query``, with the HTTP status under ``_status``."""
        with GraphQLClient(self.base, timeout=30) as client:
            reply = client.graphql(query, variables, token=token)
        assert reply.body is not None, reply.error
        return {**reply.body, "_status": reply.status}

    def signup(self, email: str, password: str = TEST_PASSWORD) -> str:
        """A new account's access token."""
        body = self.graphql(
            "mutation($e: String!, $p: String!) { signup(email: $e, password: $p) { token } }",
            {"e": email, "p": password},
        )
        assert "errors" not in body, body
        token: str = body["data"]["signup"]["token"]
        return token

    def wait_healthy(self, timeout: float = STARTUP_SECONDS, path: str = "/healthz") -> None:
        try:
            super().wait_healthy(timeout, path)
        except ServerError as exc:
            pytest.fail(str(exc))


def start_server(
    env: dict[str, str], log: Path, *, workers: int | None = 1, threads: int | None = 4
) -> Server:
    """Start ``python -m config.serve`` serving the app with ``env``; its output goes to ``log``.

    ``None`` for ``workers`` or ``threads``: the launcher's own default, as ``make run``.
    """
    started = devkit_server.start_server(env, log, workers=workers, threads=threads)
    return Server(process=started.process, port=started.port, log=started.log)


@contextlib.contextmanager
def serving(
    env: dict[str, str], log: Path, *, workers: int | None = 1, threads: int | None = 4
) -> Iterator[Server]:
    """A server started with ``env``, healthy, stopped when the block ends."""
    live = start_server(env, log, workers=workers, threads=threads)
    try:
        live.wait_healthy()
        yield live
    finally:
        live.stop()


@contextlib.contextmanager
def serving_two(
    env: dict[str, str], logs: Path, *, threads: int
) -> Iterator[tuple[Server, Server]]:
    """Two instances of the app on one database (``env``), healthy, stopped when the
    block ends: what a load balancer spreads clients over. Logs in ``logs``/server-*.log."""
    started: list[Server] = []
    try:
        for name in ("a", "b"):
            started.append(start_server(env, logs / f"server-{name}.log", threads=threads))
        for server in started:
            server.wait_healthy()
        yield started[0], started[1]
    finally:
        for server in started:
            server.stop()


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends on ``sock`` until it closes (or the read times out)."""
    answer = b""
    try:
        while part := sock.recv(65536):
            answer += part
    except OSError:
        pass
    return answer


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
