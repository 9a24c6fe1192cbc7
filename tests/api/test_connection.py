"""viewer { posts }: a Relay cursor connection, newest first, with stable keyset cursors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings

from gql import ids
from tests.conftest import Api, db_scalar, error_code, reset_caches

PAGE = """
query($first: Int, $after: String, $last: Int, $before: String) {
  viewer {
    posts(first: $first, after: $after, last: $last, before: $before) {
      edges { cursor node { id text createdAt } }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      totalCount
    }
  }
}
"""


def page(api: Api, token: str, **arguments: Any) -> dict[str, Any]:
    body = api.post(PAGE, arguments, token=token)
    assert "errors" not in body, body
    connection: dict[str, Any] = body["data"]["viewer"]["posts"]
    return connection


def page_error(api: Api, token: str, **arguments: Any) -> str:
    body = api.post(PAGE, arguments, token=token)
    assert body["data"] is None, body
    return error_code(body)


def texts(connection: dict[str, Any]) -> list[str]:
    return [edge["node"]["text"] for edge in connection["edges"]]


def add(api: Api, token: str, value: str) -> str:
    body = api.add_post(value, token=token)
    assert "errors" not in body, body
    post_id: str = body["data"]["addPost"]["postId"]
    return post_id


def delete(api: Api, token: str, post_id: str) -> None:
    body = api.delete_post(post_id, token=token)
    assert "errors" not in body, body


def add_many(api: Api, token: str, count: int, prefix: str = "post") -> list[str]:
    """Add ``count`` posts, oldest first; their texts are ``prefix 0`` .. ``prefix n-1``."""
    return [add(api, token, f"{prefix} {n}") for n in range(count)]


def forward(api: Api, token: str, first: int) -> Iterator[dict[str, Any]]:
    """Every page from the newest, following endCursor."""
    after = None
    while True:
        connection = page(api, token, first=first, after=after)
        yield connection
        if not connection["pageInfo"]["hasNextPage"]:
            return
        after = connection["pageInfo"]["endCursor"]


def posts_count() -> int:
    return int(db_scalar("SELECT COUNT(*) FROM posts"))


# Shape and sizes


def test_posts_are_newest_first_with_page_info_and_total_count(api: Api, alice: str) -> None:
    ids_ = add_many(api, alice, 3)
    connection = page(api, alice)
    assert [edge["node"]["id"] for edge in connection["edges"]] == ids_[::-1]
    assert texts(connection) == ["post 2", "post 1", "post 0"]
    assert connection["totalCount"] == 3
    cursors = [edge["cursor"] for edge in connection["edges"]]
    assert len(set(cursors)) == 3
    assert connection["pageInfo"] == {
        "hasNextPage": False,
        "hasPreviousPage": False,
        "startCursor": cursors[0],
        "endCursor": cursors[-1],
    }


def test_an_empty_connection_has_no_cursors(api: Api, alice: str) -> None:
    assert page(api, alice) == {
        "edges": [],
        "pageInfo": {
            "hasNextPage": False,
            "hasPreviousPage": False,
            "startCursor": None,
            "endCursor": None,
        },
        "totalCount": 0,
    }


def test_the_connection_shows_only_the_callers_posts(api: Api, alice: str, bob: str) -> None:
    add_many(api, alice, 2, "alice")
    add_many(api, bob, 3, "bob")
    connection = page(api, alice)
    assert texts(connection) == ["alice 1", "alice 0"]
    assert connection["totalCount"] == 2


def test_the_default_page_is_20(api: Api, alice: str) -> None:
    add_many(api, alice, 25)
    connection = page(api, alice)
    assert texts(connection) == [f"post {n}" for n in range(24, 4, -1)]
    assert connection["pageInfo"]["hasNextPage"] is True
    assert connection["totalCount"] == 25


def test_first_100_is_allowed(api: Api, alice: str) -> None:
    add_many(api, alice, 3)
    assert len(page(api, alice, first=100)["edges"]) == 3


def test_first_0_is_an_empty_page(api: Api, alice: str) -> None:
    add_many(api, alice, 3)
    connection = page(api, alice, first=0)
    assert connection["edges"] == []
    assert connection["totalCount"] == 3


@pytest.mark.parametrize(
    "arguments",
    [{"first": 101}, {"first": -1}, {"last": 101}, {"last": -1}, {"first": 2, "last": 2}],
    ids=["first 101", "first -1", "last 101", "last -1", "first and last"],
)
def test_page_sizes_outside_0_to_100_or_both_directions_are_bad_user_input(
    api: Api, alice: str, arguments: dict[str, int]
) -> None:
    add_many(api, alice, 3)
    assert page_error(api, alice, **arguments) == "BAD_USER_INPUT"


def test_without_a_token_the_connection_is_unauthenticated(api: Api, alice: str) -> None:
    add_many(api, alice, 1)
    assert page_error(api, "") == "UNAUTHENTICATED"


# Paging


def test_paging_forward_yields_every_post_once_in_order(api: Api, alice: str) -> None:
    ids_ = add_many(api, alice, 45)
    pages = list(forward(api, alice, first=10))
    assert [len(p["edges"]) for p in pages] == [10, 10, 10, 10, 5]
    seen = [edge["node"]["id"] for p in pages for edge in p["edges"]]
    assert seen == ids_[::-1]
    assert [p["pageInfo"]["hasNextPage"] for p in pages] == [True, True, True, True, False]
    assert {p["totalCount"] for p in pages} == {45}


def test_paging_backward_yields_every_post_once_in_order(api: Api, alice: str) -> None:
    ids_ = add_many(api, alice, 45)
    seen: list[str] = []
    before, pages = None, 0
    while True:
        connection = page(api, alice, last=10, before=before)
        pages += 1
        seen = [edge["node"]["id"] for edge in connection["edges"]] + seen
        assert connection["totalCount"] == 45
        if not connection["pageInfo"]["hasPreviousPage"]:
            break
        before = connection["pageInfo"]["startCursor"]
    assert pages == 5
    assert seen == ids_[::-1]


def test_a_page_after_the_last_post_is_empty(api: Api, alice: str) -> None:
    add_many(api, alice, 3)
    end = page(api, alice)["pageInfo"]["endCursor"]
    connection = page(api, alice, after=end)
    assert connection["edges"] == []
    assert connection["pageInfo"]["hasNextPage"] is False


def test_after_and_before_together_give_the_posts_between(api: Api, alice: str) -> None:
    add_many(api, alice, 6)
    cursors = [edge["cursor"] for edge in page(api, alice)["edges"]]
    between = page(api, alice, after=cursors[0], before=cursors[4])
    assert texts(between) == ["post 4", "post 3", "post 2"]


# Cursors


def test_a_malformed_cursor_is_bad_user_input(api: Api, alice: str) -> None:
    add_many(api, alice, 3)
    for cursor in ["", "garbage", "YXJyYXljb25uZWN0aW9uOjE=", "!!!!", "a" * 40]:
        assert page_error(api, alice, first=2, after=cursor) == "BAD_USER_INPUT", cursor
        assert page_error(api, alice, last=2, before=cursor) == "BAD_USER_INPUT", cursor


def test_a_cursor_with_any_one_character_changed_is_bad_user_input(api: Api, alice: str) -> None:
    add_many(api, alice, 3)
    cursor = page(api, alice, first=1)["pageInfo"]["endCursor"]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for position, char in enumerate(cursor):
        replacement = alphabet[(alphabet.index(char) + 1) % 64] if char in alphabet else "A"
        tampered = cursor[:position] + replacement + cursor[position + 1 :]
        code = page_error(api, alice, first=2, after=tampered)
        assert code == "BAD_USER_INPUT", (position, tampered)


def test_a_cursor_signed_by_another_secret_is_bad_user_input(api: Api, alice: str) -> None:
    add_many(api, alice, 3)
    home = page(api, alice, first=1)["pageInfo"]["endCursor"]
    original = settings.SECRET_KEY
    try:
        settings.SECRET_KEY = original + "-another-process"
        ids._cursor_key.cache_clear()
        reset_caches()  # the cached response carries this process's cursors
        foreign = page(api, alice, first=1)["pageInfo"]["endCursor"]
    finally:
        settings.SECRET_KEY = original
        ids._cursor_key.cache_clear()
        reset_caches()
    assert foreign != home
    assert texts(page(api, alice, first=2, after=home)) == ["post 1", "post 0"]
    assert page_error(api, alice, first=2, after=foreign) == "BAD_USER_INPUT"


# Stability while posts are added and deleted


def test_paging_while_posts_are_added_and_deleted_never_repeats_or_skips(
    api: Api, alice: str
) -> None:
    ids_ = add_many(api, alice, 45)  # oldest first
    newest_first = ids_[::-1]
    deleted: set[str] = set()
    seen: list[str] = []
    after = None
    for round_ in range(20):
        connection = page(api, alice, first=10, after=after)
        got = [edge["node"]["id"] for edge in connection["edges"]]
        seen.extend(got)
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
        # Between pages: newer posts arrive (an offset would repeat), posts already
        # seen go (an offset would skip), the post the cursor points at goes, and
        # so does one not reached yet.
        add(api, alice, f"new {round_} a")
        add(api, alice, f"new {round_} b")
        for victim in (got[0], got[3], got[-1]):
            delete(api, alice, victim)
            deleted.add(victim)
        ahead = next(p for p in newest_first if p not in seen and p not in deleted)
        delete(api, alice, ahead)
        deleted.add(ahead)
    throughout = [p for p in newest_first if p not in deleted]
    assert len(seen) == len(set(seen)), "a post was repeated"
    assert [p for p in seen if p in throughout] == throughout, "a post was skipped"
    assert set(seen) <= set(ids_), "a post added after paging began was shown behind the cursor"


def test_backward_paging_while_posts_are_added_and_deleted_never_repeats_or_skips(
    api: Api, alice: str
) -> None:
    ids_ = add_many(api, alice, 45)
    deleted: set[str] = set()
    seen: list[str] = []  # newest first
    before = None
    for round_ in range(20):
        connection = page(api, alice, last=10, before=before)
        got = [edge["node"]["id"] for edge in connection["edges"]]
        seen = got + seen
        if not connection["pageInfo"]["hasPreviousPage"]:
            break
        before = connection["pageInfo"]["startCursor"]
        add(api, alice, f"new {round_}")
        for victim in (got[0], got[-1]):  # got[0] is where startCursor points
            delete(api, alice, victim)
            deleted.add(victim)
    throughout = [p for p in ids_[::-1] if p not in deleted]
    assert len(seen) == len(set(seen)), "a post was repeated"
    assert [p for p in seen if p in throughout] == throughout, "a post was skipped"


def test_a_cursor_of_a_deleted_post_still_pages_on_from_where_it_stood(
    api: Api, alice: str
) -> None:
    ids_ = add_many(api, alice, 5)
    first = page(api, alice, first=2)
    delete(api, alice, ids_[3])  # the post endCursor points at
    rest = page(api, alice, first=10, after=first["pageInfo"]["endCursor"])
    assert texts(rest) == ["post 2", "post 1", "post 0"]


# Read-your-writes


def test_a_page_reflects_an_add_at_once_even_when_the_response_was_cached(
    api: Api, alice: str
) -> None:
    add_many(api, alice, 3)
    assert page(api, alice, first=2) == page(api, alice, first=2)  # the second is a cache hit
    new = add(api, alice, "newest")
    connection = page(api, alice, first=2)
    assert connection["edges"][0]["node"]["id"] == new
    assert texts(connection) == ["newest", "post 2"]
    assert connection["totalCount"] == 4


def test_a_page_reflects_a_delete_at_once_even_when_the_response_was_cached(
    api: Api, alice: str
) -> None:
    ids_ = add_many(api, alice, 3)
    page(api, alice)
    page(api, alice)
    delete(api, alice, ids_[2])
    connection = page(api, alice)
    assert texts(connection) == ["post 1", "post 0"]
    assert connection["totalCount"] == 2


def test_total_count_matches_the_posts_stored(api: Api, alice: str, bob: str) -> None:
    ids_ = add_many(api, alice, 7)
    add_many(api, bob, 2)
    delete(api, alice, ids_[1])
    delete(api, alice, ids_[5])
    stored = int(
        db_scalar(
            "SELECT COUNT(*) FROM posts p JOIN users u ON u.id = p.user_id "
            "WHERE u.email = 'alice@example.com'"
        )
    )
    assert stored == 5
    assert page(api, alice, first=1)["totalCount"] == stored
    assert posts_count() == 7
