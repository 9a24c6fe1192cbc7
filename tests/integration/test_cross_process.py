"""Read-your-writes across processes: two real gunicorn servers sharing one database."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from persistence.db import get_engine
from tests.conftest import gid, row_id
from tests.live_server import Server, server_env, serving_two

pytestmark = pytest.mark.live


@pytest.fixture
def servers(database_url: str, tmp_path: Path) -> Iterator[tuple[Server, Server]]:
    env = server_env(database_url, tmp_path / "var", POSTS_CACHE_TTL_SECONDS="300")
    with serving_two(env, tmp_path, threads=4) as both:
        yield both


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
    user_id = row_id(signup["signup"]["user"]["id"])

    assert listed_ids(b, token) == []  # fills B's cache

    # B really serves from its cache: a row written without bumping posts_version
    # stays unseen there (the TTL is 300 s).
    with get_engine().begin() as conn:
        conn.execute(
            text("INSERT INTO posts (user_id, text, created_at) VALUES (:u, :t, :c)"),
            {"u": user_id, "t": "behind the back", "c": datetime(2000, 1, 1)},
        )
        hidden = gid("Post", conn.execute(text("SELECT MAX(id) FROM posts")).scalar_one())
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
