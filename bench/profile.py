"""CPU per request of each hot operation, in one process, with its profile.

    python -m bench.profile [--database-url URL] [--requests N] [--top N] [OPERATION ...]

Requests go to the WSGI application the server runs (``config.wsgi``), with a
WSGI environ built once per operation, so the figures are the app's own work:
no socket, no server, no client. CPU is ``time.process_time()``, the minimum
over interleaved rounds, so other processes on the machine do not count. Then
each operation runs once more under cProfile and its heaviest functions are
printed (cumulative time): where the remaining time goes, as text.

The database is a fresh SQLite file unless ``--database-url`` names another
(MariaDB: ``mysql+mysqldb://root@127.0.0.1:3306/posts_api_profile?charset=utf8mb4``,
created and dropped here).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import os
import pstats
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import orjson

GET_POSTS = "query GetPosts { getPosts { id text createdAt } }"
ADD_POST = "mutation AddPost($text: String!) { addPost(text: $text) { post { id } } }"
PASSWORD = "correct horse battery staple"
OPERATIONS = ("getPosts-hit", "getPosts-miss", "addPost")


def _environ(body: bytes, token: str | None) -> dict[str, Any]:
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/graphql",
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    if token is not None:
        environ["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return environ


class App:
    """The WSGI application, called as a server calls it."""

    def __init__(self) -> None:
        from config.wsgi import application

        self.application = application

    def call(self, body: bytes, token: str | None = None) -> bytes:
        environ = _environ(body, token)
        environ["wsgi.input"] = io.BytesIO(body)
        status: list[str] = []
        chunks = self.application(environ, lambda s, _h, _e=None: status.append(s))
        try:
            out = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        if not status[0].startswith("200") or b'"errors"' in out:
            raise RuntimeError(f"{status[0]}: {out[:300]!r}")
        return out

    def graphql(self, document: str, token: str | None = None, **variables: Any) -> Any:
        payload = {"query": document, "variables": variables}
        return orjson.loads(self.call(orjson.dumps(payload), token))["data"]


def _operations(app: App) -> dict[str, tuple[Callable[[], object], Callable[[], None]]]:
    """Each operation: the request, and what runs before each (untimed)."""
    from config import bootstrap

    def sign_up() -> str:
        token: str = app.graphql(
            "mutation S($email: String!, $password: String!) "
            "{ signup(email: $email, password: $password) { token } }",
            email=f"profile-{uuid.uuid4().hex[:8]}@example.com",
            password=PASSWORD,
        )["signup"]["token"]
        return token

    # The reader keeps its 10 posts; the writer's grow with every addPost measured.
    reader, writer = sign_up(), sign_up()
    for n in range(10):
        app.graphql(ADD_POST, reader, text=f"post {n} " + "x" * 90)
    get_posts = orjson.dumps({"query": GET_POSTS, "operationName": "GetPosts"})
    add_post = orjson.dumps({"query": ADD_POST, "variables": {"text": "a short post"}})
    app.call(get_posts, reader)
    app.call(add_post, writer)
    responses = bootstrap.pipeline().responses

    def nothing() -> None:
        return None

    return {
        "getPosts-hit": (lambda: app.call(get_posts, reader), nothing),
        # The response cache emptied: the posts come from the services' cache, and the
        # document is executed and encoded (what a hit skips).
        "getPosts-miss": (lambda: app.call(get_posts, reader), responses.clear),
        "addPost": (lambda: app.call(add_post, writer), nothing),
    }


def _cpu(request: Callable[[], object], before: Callable[[], None], n: int) -> float:
    total = 0.0
    for _ in range(n):
        before()
        started = time.process_time()
        request()
        total += time.process_time() - started
    return total / n


def _profile(
    request: Callable[[], object], before: Callable[[], None], n: int, top: int, sort: str
) -> str:
    profiler = cProfile.Profile()
    for _ in range(n):
        before()
        profiler.enable()
        request()
        profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.strip_dirs().sort_stats(sort).print_stats(top)
    return out.getvalue()


def _setup(database_url: str | None, work: Path) -> Callable[[], None]:
    """Point the app at a fresh database and migrate it; returns the clean-up."""
    cleanup: Callable[[], None] = lambda: None  # noqa: E731
    if database_url is None:
        database_url = f"sqlite:///{work / 'profile.sqlite3'}"
    elif database_url.startswith("mysql"):
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url

        url = make_url(database_url)
        name = f"{url.database or 'posts_api'}_{uuid.uuid4().hex[:8]}"
        server = create_engine(url._replace(database=None))
        with server.begin() as connection:
            connection.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
        database_url = url._replace(database=name).render_as_string(hide_password=False)

        def cleanup() -> None:
            from persistence.db import get_engine, get_read_engine

            get_engine().dispose()
            get_read_engine().dispose()
            with server.begin() as connection:
                connection.execute(text(f"DROP DATABASE `{name}`"))

    os.environ.update(
        DATABASE_URL=database_url,
        DJANGO_SETTINGS_MODULE="config.settings",
        POSTS_VAR_DIR=str(work / "var"),
        BCRYPT_ROUNDS="4",
        LOG_LEVEL="WARNING",  # no access line per request (about 25 us in the server)
        # One caller makes every request here: the per-address throttle would stop it.
        AUTH_MAX_PER_ADDRESS_PER_MINUTE="100000",
    )
    import django

    django.setup()
    from persistence.migrations import upgrade

    upgrade()
    return cleanup


def main(argv: Iterable[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("operations", nargs="*", default=list(OPERATIONS))
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--requests", type=int, default=300, help="per round (default 300)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--top", type=int, default=35, help="profile lines (0: none)")
    parser.add_argument(
        "--sort",
        default="cumulative",
        choices=("cumulative", "tottime", "ncalls"),
        help="profile order: cumulative (default), or tottime for each function's own time",
    )
    args = parser.parse_args(list(argv) if argv is not None else None)
    with tempfile.TemporaryDirectory(prefix="posts-profile-") as work:
        cleanup = _setup(args.database_url, Path(work))
        try:
            operations = _operations(App())
            unknown = set(args.operations) - set(OPERATIONS)
            if unknown:
                parser.error(f"unknown operations: {sorted(unknown)}; known: {sorted(operations)}")
            chosen = {name: operations[name] for name in args.operations}
            for request, before in chosen.values():  # warm every path
                _cpu(request, before, 20)
            best: dict[str, float] = {}
            gc.collect()
            for _ in range(args.rounds):
                for name, (request, before) in chosen.items():
                    cpu = _cpu(request, before, args.requests)
                    best[name] = min(best.get(name, cpu), cpu)
            base = best.get("getPosts-hit")
            for name, cpu in best.items():
                ratio = f"  ({cpu / base:.2f}x a hit)" if base else ""
                print(f"{name:16} {cpu * 1e6:8.0f} us CPU per request{ratio}")
            if args.top:
                for name, (request, before) in chosen.items():
                    print(f"\n## {name}: cProfile, {args.requests} requests\n")
                    print(_profile(request, before, args.requests, args.top, args.sort))
        finally:
            cleanup()


if __name__ == "__main__":
    main()
