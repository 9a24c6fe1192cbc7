"""The servers a run measures: the app on each database, and the two references."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import math
import os
import secrets
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench.cases import GET_POSTS, Case
from bench.seed import EMAIL_DOMAIN, PASSWORD, Account, Seeder, post_ids, sign_up, token_subject
from bench.streams import MAX_PER_USER
from devkit.client import GraphQLClient
from devkit.server import Server, migrate, start_server

DEFAULT_MYSQL_URL = "mysql+mysqldb://root@127.0.0.1:3306/?charset=utf8mb4"
STARTUP_SECONDS = 120

# Token groups: posts each member starts with. deleters get theirs before each run.
GROUPS: dict[str, int] = {
    "readers": 10,
    "pagers": 50,
    "writers": 10,
    "cyclers": 10,
    "mixers": 10,
    "deleters": 0,
    "heavy": 0,  # long lists of mixed sizes (Seeder.heavy_posts)
    "subscribers": 0,  # the streams case's (Settings.subscriber_users of them)
}
HEAVY_USERS = 8
LOGIN_USERS = 8
# deletePost's supply: enough ids for this many deletes a second over warm-up and run.
DELETE_RATE_CAP = 2500


@dataclass
class Settings:
    """What every app server of a run shares (the environment of ``make run`` plus these)."""

    run_dir: Path
    duration: int
    warmup: int
    group_size: int
    background_users: int
    huge_posts: int
    workers: int | None
    threads: int | None
    expected_seconds: float
    subscriber_users: int = 0
    jwt_secret: str = field(default_factory=lambda: secrets.token_urlsafe(48))

    def base_env(self) -> dict[str, str]:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "JWT_SECRET": self.jwt_secret,
            "SECRET_KEY": self.jwt_secret + "-django",
            # Tokens signed before the first case must still be valid after the last.
            "JWT_LIFETIME_SECONDS": str(max(3600, math.ceil(2 * self.expected_seconds))),
            # Every request comes from 127.0.0.1: the per-address limit of login and
            # signup (20 a minute) would turn the login case into RATE_LIMITED answers.
            "AUTH_MAX_PER_ADDRESS_PER_MINUTE": "1000000000",
        }
        return env


class AppTarget:
    """The app served as ``make run`` serves it, on one database, seeded."""

    def __init__(self, database: str, settings: Settings, *, mysql_url: str) -> None:
        self.database = database
        self.settings = settings
        self.dir = settings.run_dir / "work" / database
        self.logs = settings.run_dir / "logs"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.mysql_db: str | None = None
        if database == "sqlite":
            self.url = f"sqlite:///{self.dir / 'bench.sqlite3'}"
        else:
            name = f"posts_bench_{uuid.uuid4().hex[:8]}"
            self.mysql_db = name
            self.mysql_server_url = mysql_url
            self.url = make_url(mysql_url).set(database=name).render_as_string(hide_password=False)
        # /metrics on, behind a token: the soak reads what the caches hold from it.
        self.metrics_token = secrets.token_urlsafe(24)
        self.env = {
            **settings.base_env(),
            "DATABASE_URL": self.url,
            "POSTS_VAR_DIR": str(self.dir / "var"),
            "METRICS_ENABLED": "1",
            "METRICS_TOKEN": self.metrics_token,
            # The streams case opens up to MAX_PER_USER subscriptions per user (default 10).
            "SUBSCRIPTIONS_MAX_PER_USER": str(MAX_PER_USER),
        }
        self.server: Server | None = None
        self.groups: dict[str, list[Account]] = {}
        self.logins: list[tuple[str, str]] = []
        self.seeder: Seeder | None = None
        self.seed_seconds = 0.0
        self.phases: dict[str, float] = {}
        self.workers = 0

    # ------------------------------------------------------------------ lifecycle

    def create_database(self) -> None:
        if self.mysql_db is None:
            return
        engine = create_engine(self.mysql_server_url)
        try:
            with engine.connect() as conn:
                conn.execute(
                    text(
                        f"CREATE DATABASE `{self.mysql_db}` "
                        "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
                    )
                )
        finally:
            engine.dispose()

    def drop_database(self) -> None:
        if self.mysql_db is None:
            return
        engine = create_engine(self.mysql_server_url)
        try:
            with engine.connect() as conn:
                conn.execute(text(f"DROP DATABASE IF EXISTS `{self.mysql_db}`"))
        finally:
            engine.dispose()

    def _start(self, env: dict[str, str], log_name: str) -> Server:
        return start_server(
            env,
            self.logs / log_name,
            workers=self.settings.workers,
            threads=self.settings.threads,
        )

    def prepare(self, groups: Sequence[str], *, logins: bool) -> None:
        """Create and migrate the database, seed it, and start the server to measure."""
        started = clock = time.monotonic()

        def phase(name: str) -> None:
            nonlocal clock
            now = time.monotonic()
            self.phases[name] = round(now - clock, 1)
            clock = now

        self.create_database()
        migrate(self.env, self.logs / f"migrate-{self.database}.log")
        phase("migrate")
        # Sign up through a server with cheap bcrypt (only seeding uses it), then
        # serve the measurements with the environment of `make run`.
        sizes = {"heavy": HEAVY_USERS, "subscribers": self.settings.subscriber_users}
        emails = {
            group: [
                f"{self.database}-{group}-{n}@{EMAIL_DOMAIN}"
                for n in range(sizes.get(group, self.settings.group_size))
            ]
            for group in groups
        }
        everyone = [email for names in emails.values() for email in names]
        seeding = self._start({**self.env, "BCRYPT_ROUNDS": "4"}, f"seed-{self.database}.log")
        try:
            seeding.wait_healthy(STARTUP_SECONDS)
            phase("seeding server start")
            accounts = dict(zip(everyone, sign_up(seeding.base, everyone), strict=True))
            phase("signups")
        except BaseException:
            seeding.stop()
            raise
        seeding.terminate()
        # The server to measure boots while the posts go in (and the seeding one exits).
        self.server = self._start(self.env, f"app-{self.database}.log")
        try:
            self._seed_posts(accounts, emails)
            phase("posts (SQL)")
            self.server.wait_healthy(STARTUP_SECONDS)
            self.workers = self.settings.workers or _settled_workers(self.server)
            phase("server start")
        finally:
            seeding.stop()
        if logins:
            # At the server's own bcrypt cost: the login case measures it.
            login_emails = [f"{self.database}-login-{n}@{EMAIL_DOMAIN}" for n in range(LOGIN_USERS)]
            sign_up(self.server.base, login_emails, concurrency=4)
            self.logins = [(email, PASSWORD) for email in login_emails]
            phase("login accounts")
        self.seed_seconds = time.monotonic() - started

    def _seed_posts(self, accounts: dict[str, Account], emails: dict[str, list[str]]) -> None:
        self.groups = {
            group: [accounts[email] for email in names] for group, names in emails.items()
        }
        seeder = Seeder(make_engine(self.url))
        self.seeder = seeder
        seeder.resolve(list(accounts.values()))
        seeder.stats.users += len(accounts)
        for group, members in self.groups.items():
            if group == "heavy":
                seeder.heavy_posts(members)
            elif GROUPS[group]:
                seeder.short_posts(members, GROUPS[group])
        if accounts and self.settings.background_users:
            seeder.background(
                self.settings.background_users,
                password_hash=seeder.tables.password_hash(next(iter(accounts))),
                huge=self.settings.huge_posts,
                prefix=self.database,
            )

    @property
    def live(self) -> Server:
        """The running server to measure."""
        if self.server is None:
            raise RuntimeError(f"the {self.database} server is not running")
        return self.server

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    # ------------------------------------------------------------------ per case

    def tokens(self, group: str) -> list[str]:
        return [account.token for account in self.groups.get(group, [])]

    def register(self, documents: Sequence[str]) -> None:
        """Store persisted-query documents (the app may not support them: then nothing)."""
        if self.server is None or not documents:
            return
        token = self.tokens("readers")[:1] or self.tokens("pagers")[:1]
        with GraphQLClient(self.server.base) as client:
            for document in documents:
                client.graphql(document, token=token[0] if token else None, persisted=True)

    def delete_pools(self, case: Case, connections: int) -> tuple[list[list[str]], list[list[str]]]:
        """Fresh post ids per deleter: (for the warm-up, for the run). Tops the supply up."""
        members = self.groups["deleters"]
        if self.server is None or self.seeder is None or not members:
            return [], []
        s = self.settings
        per_user = math.ceil(DELETE_RATE_CAP * (s.warmup + s.duration) / len(members)) + 10
        have = post_ids(self.server.base, members)
        missing = [max(0, per_user - len(ids)) for ids in have]
        if any(missing):
            self.seeder.tiny_posts(members, missing)
            have = post_ids(self.server.base, members)
        warm_share = s.warmup / (s.warmup + s.duration) if s.warmup else 0.0
        warm = [ids[: math.ceil(len(ids) * warm_share)] for ids in have]
        run = [ids[len(w) :] for ids, w in zip(have, warm, strict=True)]
        return warm, run

    def reference_answers(self) -> dict[str, str]:
        """The app's getPosts answer for each reader, by token subject (what the references serve)."""
        answers: dict[str, str] = {}
        with GraphQLClient(self.live.base) as client:
            for account in self.groups.get("readers", []):
                reply = client.graphql(GET_POSTS, token=account.token, operation_name="GetPosts")
                if reply.data("getPosts") is None:
                    raise RuntimeError(f"getPosts failed: {reply.error or reply.body}")
                answers[token_subject(account.token)] = reply.raw.decode("utf-8")
        return answers

    def describe(self) -> dict[str, Any]:
        stats = self.seeder.stats if self.seeder else None
        return {
            "database": self.database,
            "url": make_url(self.url).render_as_string(hide_password=True),
            "workers": self.workers,
            "group_size": self.settings.group_size,
            "users": stats.users if stats else 0,
            "posts": stats.posts if stats else 0,
            "text_bytes": stats.text_bytes if stats else 0,
            "largest_post_bytes": stats.largest_post_bytes if stats else 0,
            "prepare_seconds": round(self.seed_seconds, 1),
            "prepare_phases": self.phases,
        }


def make_engine(url: str) -> Any:
    return create_engine(url, pool_pre_ping=True)


def _settled_workers(server: Server, wait: float = 5.0) -> int:
    """The server's worker processes once their number stops changing."""
    deadline = time.monotonic() + wait
    last, stable_since = -1, time.monotonic()
    while time.monotonic() < deadline:
        count = len(server.worker_pids())
        if count != last:
            last, stable_since = count, time.monotonic()
        elif time.monotonic() - stable_since > 0.5:
            break
        time.sleep(0.1)
    return max(1, last)


# What uvicorn[standard] adds that the standard flavour runs on.
STANDARD_MODULES = ("httptools", "uvloop")
# The FastAPI references: uvicorn's flavour (bench/references/fastapi_serve.py), label.
FASTAPI_FLAVOURS = {
    "fastapi": ("plain", "FastAPI + uvicorn (h11, asyncio)"),
    "fastapi-standard": ("standard", "FastAPI + uvicorn[standard] (httptools, uvloop)"),
}
# The typical peers (bench/references/fastapi_orm.py), one server per database serving
# both: name -> (case they answer, path, token group, label).
ORM_REFERENCES = {
    "fastapi-orm": (
        "getPosts",
        "/graphql",
        "readers",
        "FastAPI + uvicorn[standard], the user loaded through an ORM session",
    ),
    "fastapi-orm-write": (
        "addPost",
        "/posts",
        "writers",
        "FastAPI + uvicorn[standard], addPost through an ORM session",
    ),
}


@dataclass
class Reference:
    """A reference server: what a user would write instead, for one case.

    ``database`` is None for the references that answer from memory alone, the
    database they share with the app otherwise (their ratios are taken against the
    app on that database only).
    """

    name: str
    label: str
    server: Server
    case: str = "getPosts"
    path: str = "/graphql"
    database: str | None = None
    tokens: list[str] = field(default_factory=list)

    def stop(self) -> None:
        self.server.stop()


def _check_standard(name: str) -> None:
    missing = [m for m in STANDARD_MODULES if importlib.util.find_spec(m) is None]
    if missing:
        raise RuntimeError(f"{name} needs {' and '.join(missing)} (in the dev lock: make install)")


def _fastapi_argv(workers: int, flavour: str, app: str) -> list[str]:
    # uvicorn --workers N, with TCP_NODELAY (see fastapi_serve.py).
    return [
        sys.executable,
        "-m",
        "bench.references.fastapi_serve",
        "{port}",
        str(workers),
        flavour,
        app,
    ]


def start_references(
    names: Sequence[str],
    *,
    answers: dict[str, str],
    settings: Settings,
    workers: int,
    tokens: list[str],
) -> list[Reference]:
    """Start the references that need no database (in parallel); wait until they answer."""
    data = settings.run_dir / "work" / "reference-answers.json"
    data.write_text(json.dumps(answers, ensure_ascii=False), encoding="utf-8")
    env = {**settings.base_env(), "BENCH_REFERENCE_DATA": str(data)}
    logs = settings.run_dir / "logs"
    started: list[Reference] = []
    try:
        for name in names:
            if name == "django":
                server = start_server(
                    {**env, "DJANGO_SETTINGS_MODULE": "bench.references.django_settings"},
                    logs / "reference-django.log",
                    workers=workers,
                    threads=settings.threads,
                )
                started.append(
                    Reference(name, "bare Django view (same server)", server, tokens=tokens)
                )
            elif name in FASTAPI_FLAVOURS:
                flavour, label = FASTAPI_FLAVOURS[name]
                if flavour == "standard":
                    _check_standard(name)
                argv = _fastapi_argv(workers, flavour, "lean")
                server = start_server(env, logs / f"reference-{name}.log", argv=argv)
                started.append(Reference(name, label, server, tokens=tokens))
            elif name not in ORM_REFERENCES:
                raise ValueError(f"unknown reference {name}")
        for reference in started:
            reference.server.wait_healthy(STARTUP_SECONDS)
    except BaseException:
        for reference in started:
            reference.stop()
        raise
    return started


def start_orm_references(
    names: Sequence[str], target: AppTarget, *, settings: Settings, workers: int
) -> list[Reference]:
    """The typical FastAPI peers on ``target``'s database (one server for both)."""
    wanted = [name for name in names if name in ORM_REFERENCES]
    if not wanted:
        return []
    _check_standard("fastapi-orm")
    data = settings.run_dir / "work" / f"reference-answers-{target.database}.json"
    data.write_text(json.dumps(target.reference_answers(), ensure_ascii=False), encoding="utf-8")
    env = {**settings.base_env(), "BENCH_REFERENCE_DATA": str(data), "DATABASE_URL": target.url}
    server = start_server(
        env,
        settings.run_dir / "logs" / f"reference-fastapi-orm-{target.database}.log",
        argv=_fastapi_argv(workers, "standard", "orm"),
    )
    try:
        server.wait_healthy(STARTUP_SECONDS)
    except BaseException:
        server.stop()
        raise
    references = []
    for name in wanted:
        case, path, group, label = ORM_REFERENCES[name]
        references.append(
            Reference(
                name,
                label,
                server,
                case=case,
                path=path,
                database=target.database,
                tokens=target.tokens(group),
            )
        )
    return references


def same_bytes(reference: Reference, token: str, expected: str) -> bool:
    """True when the reference answers getPosts with exactly the app's bytes."""
    with GraphQLClient(reference.server.base) as client:
        reply = client.graphql(GET_POSTS, token=token, operation_name="GetPosts")
    return reply.raw.decode("utf-8", errors="replace") == expected


def drop_quietly(target: AppTarget) -> None:
    with contextlib.suppress(Exception):
        target.drop_database()
