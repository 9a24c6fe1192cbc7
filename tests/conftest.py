"""Shared fixtures: a migrated test database (SQLite, or MySQL via TEST_DATABASE_URL),
emptied after every test, and a GraphQL client speaking real HTTP through Django."""

from __future__ import annotations

import base64
import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url

from config import bootstrap
from persistence.db import get_engine, reset_engine
from persistence.migrations import upgrade
from tests.statements import Statements, recording

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
IS_MYSQL = TEST_DATABASE_URL.startswith("mysql")
PASSWORD = "correct horse battery staple"
# Emptied after every test, children before their parents.
CLEANED_TABLES = (
    "auth_request_counts",
    "login_attempts",
    "known_addresses",
    "sessions",
    "persisted_queries",
    "posts",
    "users",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if IS_MYSQL:
        return
    mysql_only = [item for item in items if "mysql" in item.keywords]
    if os.environ.get("CI"):
        # CI runs them in its MySQL pass, where they fail if the server is missing.
        config.hook.pytest_deselected(items=mysql_only)
        items[:] = [item for item in items if "mysql" not in item.keywords]
        return
    skip = pytest.mark.skip(reason="MySQL-only: run `make test-mysql` (CI does)")
    for item in mysql_only:
        item.add_marker(skip)


def _server_url(url: str) -> URL:
    """``url`` without its database (URL.set(database=None) keeps it in SQLAlchemy 2.1)."""
    return make_url(url)._replace(database=None)


def _create_mysql_database(url: str) -> str:
    """A fresh, uniquely named database on the server of ``url``; fails if unreachable."""
    parsed = make_url(url)
    name = f"{parsed.database or 'posts_api_test'}_{uuid.uuid4().hex[:8]}"
    server = create_engine(_server_url(url))
    with server.connect() as conn:
        conn.execute(
            text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        )
    server.dispose()
    return parsed.set(database=name).render_as_string(hide_password=False)


def _drop_mysql_database(url: str) -> None:
    parsed = make_url(url)
    server = create_engine(_server_url(url))
    with server.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS `{parsed.database}`"))
    server.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database for this test session."""
    if IS_MYSQL:
        url = _create_mysql_database(TEST_DATABASE_URL)
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
    upgrade(url)
    yield url
    if IS_MYSQL:
        reset_engine()
        _drop_mysql_database(url)


@pytest.fixture(autouse=True)
def _test_settings(database_url: str) -> Iterator[None]:
    """Point the app at the test database, fast bcrypt, an empty cache; empty tables after."""
    # Tests may change any setting directly; every one is put back afterwards.
    saved = {name: getattr(settings, name) for name in dir(settings) if name.isupper()}
    settings.DATABASE_URL = database_url
    settings.BCRYPT_ROUNDS = 4
    reset_engine()
    reset_caches()
    yield
    with get_engine().begin() as conn:
        for table in CLEANED_TABLES:
            conn.execute(text(f"DELETE FROM {table}"))  # noqa: S608 - fixed names
    for name, value in saved.items():
        setattr(settings, name, value)
    reset_engine()
    reset_caches()


def reset_caches() -> None:
    """Drop the process's shared state (caches, pipeline, token verifier) so the next
    request builds it from settings again (config/bootstrap.py)."""
    bootstrap.reset()


AUTH_FIELDS = "token refreshToken tokenExpiresAt user { id email }"
SIGNUP_FULL = (
    f"mutation($e: String!, $p: String!) {{ signup(email: $e, password: $p) {{ {AUTH_FIELDS} }} }}"
)
LOGIN_FULL = (
    f"mutation($e: String!, $p: String!) {{ login(email: $e, password: $p) {{ {AUTH_FIELDS} }} }}"
)


@dataclass
class Api:
    """Real GraphQL-over-HTTP requests through Django's test client."""

    client: Client

    def post(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
        response = self.client.post(
            "/graphql",
            json.dumps({"query": query, "variables": variables or {}}),
            content_type="application/json",
            **headers,
            **extra,
        )
        assert response["Content-Type"].startswith("application/json"), response.content[:200]
        body: dict[str, Any] = response.json()
        body["_status"] = response.status_code
        return body

    def send(
        self, payload: dict[str, Any], *, token: str | None = None, **extra: Any
    ) -> dict[str, Any]:
        """POST ``payload`` as the whole JSON body (APQ extensions, operationName, no query)."""
        headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
        response = self.client.post(
            "/graphql", json.dumps(payload), content_type="application/json", **headers, **extra
        )
        assert response["Content-Type"].startswith("application/json"), response.content[:200]
        body: dict[str, Any] = response.json()
        body["_status"] = response.status_code
        return body

    def signup(self, email: str, password: str = PASSWORD) -> dict[str, Any]:
        return self.post(
            "mutation($e: String!, $p: String!) { signup(email: $e, password: $p) { token user { id email } } }",
            {"e": email, "p": password},
        )

    def login(self, email: str, password: str = PASSWORD) -> dict[str, Any]:
        return self.post(
            "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token user { id email } } }",
            {"e": email, "p": password},
        )

    def new_account(self, email: str, password: str = PASSWORD) -> dict[str, Any]:
        """Sign up and return the whole AuthPayload (token, refreshToken, tokenExpiresAt, user)."""
        body = self.post(SIGNUP_FULL, {"e": email, "p": password})
        assert "errors" not in body, body
        payload: dict[str, Any] = body["data"]["signup"]
        return payload

    def new_session(self, email: str, password: str = PASSWORD) -> dict[str, Any]:
        """Log in and return the whole AuthPayload."""
        body = self.post(LOGIN_FULL, {"e": email, "p": password})
        assert "errors" not in body, body
        payload: dict[str, Any] = body["data"]["login"]
        return payload

    def refresh(self, refresh_token: Any) -> dict[str, Any]:
        return self.post(
            f"mutation($r: String!) {{ refreshToken(refreshToken: $r) {{ {AUTH_FIELDS} }} }}",
            {"r": refresh_token},
        )

    def logout(self, *, token: str | None = None, token_arg: str | None = None) -> dict[str, Any]:
        return self.post(
            "mutation($k: String) { logout(token: $k) { endedSessions } }",
            {"k": token_arg},
            token=token,
        )

    def logout_everywhere(
        self, *, token: str | None = None, token_arg: str | None = None
    ) -> dict[str, Any]:
        return self.post(
            "mutation($k: String) { logoutEverywhere(token: $k) { endedSessions } }",
            {"k": token_arg},
            token=token,
        )

    def change_password(
        self, current: str, new: str, *, token: str | None = None, token_arg: str | None = None
    ) -> dict[str, Any]:
        return self.post(
            "mutation($c: String!, $n: String!, $k: String) {"
            f" changePassword(currentPassword: $c, newPassword: $n, token: $k) {{ {AUTH_FIELDS} }} }}",
            {"c": current, "n": new, "k": token_arg},
            token=token,
        )

    def delete_account(
        self, password: str, *, token: str | None = None, token_arg: str | None = None
    ) -> dict[str, Any]:
        return self.post(
            "mutation($p: String!, $k: String) { deleteAccount(password: $p, token: $k) { deletedUserId } }",
            {"p": password, "k": token_arg},
            token=token,
        )

    def token_for(self, email: str) -> str:
        body = self.signup(email)
        assert "errors" not in body, body
        token: str = body["data"]["signup"]["token"]
        return token

    def add_post(
        self, text: str, *, token: str | None = None, token_arg: str | None = None
    ) -> dict[str, Any]:
        return self.post(
            "mutation($t: String!, $k: String) { addPost(text: $t, token: $k) { postId post { id text createdAt } } }",
            {"t": text, "k": token_arg},
            token=token,
        )

    def get_posts(
        self, *, token: str | None = None, token_arg: str | None = None
    ) -> dict[str, Any]:
        return self.post(
            "query($k: String) { getPosts(token: $k) { id text createdAt } }",
            {"k": token_arg},
            token=token,
        )

    def delete_post(
        self, post_id: Any, *, token: str | None = None, token_arg: str | None = None
    ) -> dict[str, Any]:
        return self.post(
            "mutation($id: ID!, $k: String) { deletePost(postId: $id, token: $k) { postId } }",
            {"id": post_id, "k": token_arg},
            token=token,
        )

    def posts(self, token: str) -> list[dict[str, Any]]:
        body = self.get_posts(token=token)
        assert "errors" not in body, body
        posts: list[dict[str, Any]] = body["data"]["getPosts"]
        return posts


# Texts with no visible character although not all white space: format characters
# (zero-width space, BOM, word joiner, soft hyphen, direction marks) and fillers that
# Unicode classes as letters or symbols. Each is blank to addPost.
INVISIBLE_TEXTS = {
    "zero_width_space": "\u200b",
    "bom": "\ufeff",
    "word_joiner": "\u2060",
    "hangul_filler": "\u3164",
    "braille_pattern_blank": "\u2800",
    "hangul_choseong_and_jungseong_fillers": "\u115f\u1160",
    "halfwidth_hangul_filler": "\uffa0",
    "khmer_inherent_vowels": "\u17b4\u17b5",
    "joiners_soft_hyphen_and_marks": "\u200c\u200d\u00ad\u200e\u200f",
    "mixed_with_spaces_and_newlines": (
        " \u200b\n\ufeff\t\u2060 \u3164\r\n\u2800\u115f\u1160\uffa0\u3000 \n"
    ),
    "many_zero_width_spaces": "\u200b" * 10_000,
}
# The same characters around one visible one: an ordinary text.
ONE_VISIBLE_AMONG_INVISIBLE = " \u200b\n\ufeff\u2060\u3164\u2800x\u115f\u1160\uffa0\u17b4 \n"


# Signs of a leaked stack trace, SQL driver, exception class or path in a response.
LEAK_MARKERS = (
    "Traceback",
    'File "',
    '.py"',
    "sqlalchemy",
    "MySQLdb",
    "sqlite3",
    "IntegrityError",
    "OperationalError",
    "/work/",
    "site-packages",
)


def leaks_in(text: str, *, extra: tuple[str, ...] = (), sent: str = "") -> list[str]:
    """The leak markers found in ``text`` (case-insensitively), ignoring any the client sent."""
    lowered, sent_lowered = text.lower(), sent.lower()
    return [
        marker
        for marker in (*LEAK_MARKERS, *extra)
        if marker.lower() in lowered and marker.lower() not in sent_lowered
    ]


def gid(type_name: str, key: int) -> str:
    """The global id (Strawberry's relay.GlobalID encoding) of row ``key`` of a type."""
    return base64.b64encode(f"{type_name}:{key}".encode()).decode()


def row_id(global_id: str) -> int:
    """The database id inside a global id."""
    _type_name, key = base64.b64decode(global_id).decode().split(":", 1)
    return int(key)


def db_scalar(sql: str, **params: Any) -> Any:
    """One value from the test database, read behind the API's back."""
    with get_engine().connect() as conn:
        return conn.execute(text(sql), params).scalar()


def error_code(body: dict[str, Any]) -> str:
    """The code of the only error in ``body``."""
    assert body.get("errors"), body
    assert len(body["errors"]) == 1, body
    code: str = body["errors"][0]["extensions"]["code"]
    return code


@pytest.fixture
def api() -> Api:
    return Api(Client())


@pytest.fixture
def alice(api: Api) -> str:
    """A token for a freshly signed-up alice@example.com."""
    return api.token_for("alice@example.com")


@pytest.fixture
def statements() -> Iterator[Statements]:
    """Every data statement the app sends to the database during the test."""
    with recording() as recorder:
        yield recorder


@pytest.fixture
def bob(api: Api) -> str:
    """A token for a freshly signed-up bob@example.com."""
    return api.token_for("bob@example.com")
