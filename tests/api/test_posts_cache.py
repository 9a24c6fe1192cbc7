"""The getPosts cache seen through the API: it spares the database, expires, and never
hides the caller's own writes."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from pytest_django import Settings
from sqlalchemy import text

from config import bootstrap
from persistence.db import get_engine
from tests.conftest import Api, gid, reset_caches, row_id
from tests.statements import Statements

FROM_POSTS = re.compile(r"\bFROM\s+[`\"]?posts\b", re.IGNORECASE)
FROM_USERS = re.compile(r"\bFROM\s+[`\"]?users\b", re.IGNORECASE)


def user_id(email: str) -> int:
    with get_engine().connect() as conn:
        found: int = conn.execute(
            text("SELECT id FROM users WHERE email = :e"), {"e": email}
        ).scalar_one()
    return found


def insert_behind_the_apis_back(owner_id: int, body: str) -> int:
    """A post written straight to the table, without bumping the owner's posts_version."""
    with get_engine().begin() as conn:
        conn.execute(
            text("INSERT INTO posts (user_id, text, created_at) VALUES (:u, :t, :c)"),
            {"u": owner_id, "t": body, "c": datetime.now(UTC).replace(tzinfo=None)},
        )
        new_id: int = conn.execute(
            text("SELECT id FROM posts WHERE user_id = :u AND text = :t"),
            {"u": owner_id, "t": body},
        ).scalar_one()
    return new_id


def add(api: Api, token: str, body: str) -> dict[str, Any]:
    response = api.add_post(body, token=token)
    assert "errors" not in response, response
    post: dict[str, Any] = response["data"]["addPost"]["post"]
    return post


@pytest.fixture
def alice(api: Api) -> str:
    return api.token_for("alice@example.com")


def test_a_cache_hit_issues_no_query_on_posts(api: Api, alice: str, statements: Statements) -> None:
    first = add(api, alice, "cached")
    statements.clear()
    assert api.posts(alice) == [first]
    assert statements.matching(FROM_POSTS), statements.seen  # the miss reads the table

    statements.clear()
    assert api.posts(alice) == [first]
    assert statements.matching(FROM_POSTS) == []
    # The token's user is still looked up, which is where posts_version comes from.
    assert statements.matching(FROM_USERS)


def test_a_hit_serves_an_empty_list_too(api: Api, alice: str, statements: Statements) -> None:
    assert api.posts(alice) == []
    statements.clear()
    assert api.posts(alice) == []
    assert statements.matching(FROM_POSTS) == []


def test_row_written_behind_the_apis_back_appears_only_after_the_ttl(
    api: Api, alice: str, settings: Settings
) -> None:
    settings.POSTS_CACHE_TTL_SECONDS = 1
    reset_caches()
    visible = add(api, alice, "through the API")
    assert api.posts(alice) == [visible]

    hidden_id = insert_behind_the_apis_back(user_id("alice@example.com"), "behind the back")
    assert api.posts(alice) == [visible]

    time.sleep(1.2)
    listed = api.posts(alice)
    assert [p["id"] for p in listed] == [gid("Post", hidden_id), visible["id"]]
    assert listed[0]["text"] == "behind the back"


def test_ttl_zero_reads_the_database_every_time(api: Api, alice: str, settings: Settings) -> None:
    settings.POSTS_CACHE_TTL_SECONDS = 0
    reset_caches()
    visible = add(api, alice, "through the API")
    assert api.posts(alice) == [visible]
    hidden_id = insert_behind_the_apis_back(user_id("alice@example.com"), "behind the back")
    assert [p["id"] for p in api.posts(alice)] == [gid("Post", hidden_id), visible["id"]]


def test_read_your_writes_after_add_with_a_warm_cache(api: Api, alice: str) -> None:
    first = add(api, alice, "first")
    assert api.posts(alice) == [first]
    assert api.posts(alice) == [first]  # served from the cache
    second = add(api, alice, "second")
    assert api.posts(alice) == [second, first]


def test_read_your_writes_after_delete_with_a_warm_cache(api: Api, alice: str) -> None:
    first = add(api, alice, "first")
    second = add(api, alice, "second")
    assert api.posts(alice) == [second, first]
    assert api.posts(alice) == [second, first]
    body = api.delete_post(second["id"], token=alice)
    assert "errors" not in body, body
    assert api.posts(alice) == [first]
    api.delete_post(first["id"], token=alice)
    assert api.posts(alice) == []


def test_read_your_writes_holds_when_the_process_cache_is_not_told(
    api: Api, alice: str, statements: Statements
) -> None:
    # A write served by another process cannot discard this process's entry; the
    # bumped posts_version alone must make the entry a miss. Simulate that by
    # bumping the version the way a write does, with nothing told to the cache.
    first = add(api, alice, "first")
    assert api.posts(alice) == [first]
    hidden_id = insert_behind_the_apis_back(user_id("alice@example.com"), "from another process")
    with get_engine().begin() as conn:
        conn.execute(text("UPDATE users SET posts_version = posts_version + 1"))
    listed = api.posts(alice)
    assert [p["id"] for p in listed] == [gid("Post", hidden_id), first["id"]]


def test_a_failed_write_does_not_hide_or_invent_posts(api: Api, alice: str) -> None:
    first = add(api, alice, "first")
    assert api.posts(alice) == [first]
    assert api.delete_post(gid("Post", row_id(first["id"]) + 999), token=alice)["errors"]
    assert api.add_post("   ", token=alice)["errors"]
    assert api.posts(alice) == [first]


def test_writes_of_one_user_leave_another_users_list_correct(api: Api, alice: str) -> None:
    bob = api.token_for("bob@example.com")
    bobs = add(api, bob, "bob's")
    assert api.posts(bob) == [bobs]
    alices = add(api, alice, "alice's")
    assert api.posts(bob) == [bobs]
    assert api.posts(alice) == [alices]


def test_posts_too_large_for_the_byte_bound_are_still_listed_correctly(
    api: Api, alice: str, settings: Settings
) -> None:
    settings.POSTS_CACHE_MAX_BYTES = settings.RESPONSE_CACHE_MAX_BYTES = 4096
    reset_caches()
    big = "\N{GRINNING FACE}" * 5000  # 20,000 bytes of UTF-8, far over the bound
    first = add(api, alice, big)
    for _ in range(3):
        assert api.posts(alice) == [first]
    assert bootstrap.current().posts_cache.current_bytes <= 4096

    second = add(api, alice, big + " again")
    assert api.posts(alice) == [second, first]
    assert api.posts(alice) == [second, first]
    api.delete_post(first["id"], token=alice)
    assert api.posts(alice) == [second]

    # Nothing stale is held for this user: a row added behind the API's back shows at once.
    hidden_id = insert_behind_the_apis_back(user_id("alice@example.com"), "small")
    assert [p["id"] for p in api.posts(alice)] == [gid("Post", hidden_id), second["id"]]
    assert bootstrap.current().posts_cache.current_bytes <= 4096


def test_small_lists_stay_cached_beside_one_too_large_for_the_bound(
    api: Api, alice: str, settings: Settings, statements: Statements
) -> None:
    settings.POSTS_CACHE_MAX_BYTES = settings.RESPONSE_CACHE_MAX_BYTES = 4096
    reset_caches()
    bob = api.token_for("bob@example.com")
    small = add(api, bob, "small")
    add(api, alice, "x" * 10_000)
    assert api.posts(bob) == [small]
    assert len(api.posts(alice)) == 1
    statements.clear()
    assert api.posts(bob) == [small]
    assert statements.matching(FROM_POSTS) == []
