"""Real servers for tests that need HTTP over a socket (several processes, request
bodies on the wire, memory of a worker), started as ``make run`` starts them
(``python -m config.serve``, through devkit)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

import pytest

from devkit import server as devkit_server
from devkit.client import GraphQLClient
from devkit.server import PROJECT, ServerError

__all__ = ["PROJECT", "SHARED_JWT_SECRET", "Server", "server_env", "start_server"]

STARTUP_SECONDS = 60


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

    def wait_healthy(self, timeout: float = STARTUP_SECONDS, path: str = "/healthz") -> None:
        try:
            super().wait_healthy(timeout, path)
        except ServerError as exc:
            pytest.fail(str(exc))


def start_server(env: dict[str, str], log: Path, *, workers: int = 1, threads: int = 4) -> Server:
    """Start ``python -m config.serve`` serving the app with ``env``; its output goes to ``log``."""
    started = devkit_server.start_server(env, log, workers=workers, threads=threads)
    return Server(process=started.process, port=started.port, log=started.log)


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
