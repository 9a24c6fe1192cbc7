"""Per-user quotas: POSTS_MAX_PER_USER and POSTS_MAX_BYTES_PER_USER, exact and race-free."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from sqlalchemy import text

from persistence.db import get_engine
from tests.conftest import Api, error_code, gid
from tests.integration.test_concurrency import run_together

ALICE = "alice@example.com"
BOB = "bob@example.com"


def totals(email: str) -> tuple[int, int]:
    """The running totals on the user row."""
    with get_engine().connect() as conn:
        row = conn.execute(
            text("SELECT posts_count, posts_bytes FROM users WHERE email = :e"), {"e": email}
        ).one()
    return int(row[0]), int(row[1])


def real(email: str) -> tuple[int, int]:
    """What the posts table really holds for the user: count and UTF-8 bytes."""
    with get_engine().connect() as conn:
        texts = conn.execute(
            text("SELECT p.text FROM posts p JOIN users u ON u.id = p.user_id WHERE u.email = :e"),
            {"e": email},
        ).scalars()
        encoded = [value.encode("utf-8") for value in texts]
    return len(encoded), sum(len(value) for value in encoded)


def assert_consistent(email: str, expected: tuple[int, int]) -> None:
    assert real(email) == expected
    assert totals(email) == expected


def add(api: Api, token: str, value: str) -> str:
    body = api.add_post(value, token=token)
    assert "errors" not in body, body
    post_id: str = body["data"]["addPost"]["postId"]
    return post_id


def assert_quota_exceeded(body: dict[str, Any], limit: str) -> None:
    assert error_code(body) == "QUOTA_EXCEEDED"
    assert body["errors"][0]["extensions"]["limit"] == limit
    assert body["data"] is None


@pytest.fixture
def max_posts_3() -> None:
    settings.POSTS_MAX_PER_USER = 3


@pytest.fixture
def max_bytes_10() -> None:
    settings.POSTS_MAX_BYTES_PER_USER = 10


# Count


@pytest.mark.usefixtures("max_posts_3")
def test_an_add_past_the_post_count_quota_is_quota_exceeded_and_stores_nothing(
    api: Api, alice: str
) -> None:
    for n in range(3):
        add(api, alice, f"post {n}")
    listed = api.posts(alice)
    body = api.add_post("one too many", token=alice)
    assert_quota_exceeded(body, "POSTS_MAX_PER_USER")
    assert body["errors"][0]["extensions"]["maximum"] == 3
    assert api.posts(alice) == listed
    assert_consistent(ALICE, (3, 18))


@pytest.mark.usefixtures("max_posts_3")
def test_after_a_delete_one_more_post_fits_the_count_quota(api: Api, alice: str) -> None:
    ids = [add(api, alice, f"post {n}") for n in range(3)]
    assert_quota_exceeded(api.add_post("too many", token=alice), "POSTS_MAX_PER_USER")
    assert "errors" not in api.delete_post(ids[0], token=alice)
    add(api, alice, "fits again")
    assert_quota_exceeded(api.add_post("too many again", token=alice), "POSTS_MAX_PER_USER")
    assert [p["text"] for p in api.posts(alice)] == ["fits again", "post 2", "post 1"]
    assert_consistent(ALICE, (3, 6 + 6 + 10))


@pytest.mark.usefixtures("max_posts_3")
def test_each_user_has_their_own_count_quota(api: Api, alice: str, bob: str) -> None:
    for n in range(3):
        add(api, alice, f"alice {n}")
    assert_quota_exceeded(api.add_post("alice 3", token=alice), "POSTS_MAX_PER_USER")
    for n in range(3):
        add(api, bob, f"bob {n}")
    assert_quota_exceeded(api.add_post("bob 3", token=bob), "POSTS_MAX_PER_USER")
    assert_consistent(ALICE, (3, 21))
    assert_consistent(BOB, (3, 15))


# Bytes


@pytest.mark.usefixtures("max_bytes_10")
def test_a_post_that_exactly_fills_the_byte_quota_is_accepted(api: Api, alice: str) -> None:
    add(api, alice, "0123456789")
    assert_consistent(ALICE, (1, 10))


@pytest.mark.usefixtures("max_bytes_10")
def test_one_byte_past_the_byte_quota_is_quota_exceeded_and_stores_nothing(
    api: Api, alice: str
) -> None:
    body = api.add_post("0123456789a", token=alice)
    assert_quota_exceeded(body, "POSTS_MAX_BYTES_PER_USER")
    assert body["errors"][0]["extensions"]["maximum"] == 10
    assert_consistent(ALICE, (0, 0))
    add(api, alice, "012345")
    assert_quota_exceeded(api.add_post("abcde", token=alice), "POSTS_MAX_BYTES_PER_USER")
    add(api, alice, "abcd")
    assert_quota_exceeded(api.add_post("x", token=alice), "POSTS_MAX_BYTES_PER_USER")
    assert [p["text"] for p in api.posts(alice)] == ["abcd", "012345"]
    assert_consistent(ALICE, (2, 10))


@pytest.mark.usefixtures("max_bytes_10")
def test_the_byte_quota_counts_utf8_bytes_not_characters(api: Api, alice: str) -> None:
    # Three characters, twelve bytes.
    assert_quota_exceeded(
        api.add_post("\N{GRINNING FACE}" * 3, token=alice), "POSTS_MAX_BYTES_PER_USER"
    )
    add(api, alice, "\N{GRINNING FACE}\N{EURO SIGN}\N{LATIN SMALL LETTER E WITH ACUTE}z")  # 4+3+2+1
    assert_consistent(ALICE, (1, 10))
    assert_quota_exceeded(api.add_post("z", token=alice), "POSTS_MAX_BYTES_PER_USER")


@pytest.mark.usefixtures("max_bytes_10")
def test_deleting_a_post_frees_its_bytes(api: Api, alice: str) -> None:
    first = add(api, alice, "\N{GRINNING FACE}\N{GRINNING FACE}")  # 8 bytes
    assert_quota_exceeded(api.add_post("abc", token=alice), "POSTS_MAX_BYTES_PER_USER")
    assert "errors" not in api.delete_post(first, token=alice)
    assert_consistent(ALICE, (0, 0))
    add(api, alice, "0123456789")
    assert_consistent(ALICE, (1, 10))


@pytest.mark.usefixtures("max_bytes_10")
def test_each_user_has_their_own_byte_quota(api: Api, alice: str, bob: str) -> None:
    add(api, alice, "0123456789")
    add(api, bob, "9876543210")
    assert_quota_exceeded(api.add_post("a", token=alice), "POSTS_MAX_BYTES_PER_USER")
    assert_quota_exceeded(api.add_post("b", token=bob), "POSTS_MAX_BYTES_PER_USER")


# Denied and failed deletes change nothing


def test_denied_and_failed_deletes_do_not_change_the_totals(api: Api, alice: str, bob: str) -> None:
    mine = add(api, alice, "alice's \N{GRINNING FACE}")
    gone = add(api, alice, "deleted")
    assert "errors" not in api.delete_post(gone, token=alice)
    bobs = add(api, bob, "bob's")
    expected_alice, expected_bob = (1, 12), (1, 5)
    attempts = [
        (bobs, alice, "NOT_FOUND"),  # someone else's post
        (gone, alice, "NOT_FOUND"),  # already deleted
        (gid("Post", 2**62), alice, "NOT_FOUND"),  # never existed
        (gid("User", 1), alice, "NOT_FOUND"),  # not a post at all
        ("not an id", alice, "BAD_USER_INPUT"),
        (mine, "not-a-token", "UNAUTHENTICATED"),
        (mine, bob, "NOT_FOUND"),
    ]
    for post_id, token, code in attempts:
        assert error_code(api.delete_post(post_id, token=token)) == code, (post_id, code)
        assert_consistent(ALICE, expected_alice)
        assert_consistent(BOB, expected_bob)


@pytest.mark.usefixtures("max_posts_3")
def test_a_refused_add_leaves_the_totals_as_they_were(api: Api, alice: str) -> None:
    for n in range(3):
        add(api, alice, f"post {n}")
    for _ in range(3):
        assert_quota_exceeded(api.add_post("again", token=alice), "POSTS_MAX_PER_USER")
    assert error_code(api.add_post("   ", token=alice)) == "BAD_USER_INPUT"
    assert_consistent(ALICE, (3, 18))


# Races


def test_racing_adds_never_overshoot_the_count_quota(api: Api, alice: str) -> None:
    settings.POSTS_MAX_PER_USER = 5
    bodies = run_together(
        [lambda c, n=n: c.add_post(f"race {n:02}", token=alice) for n in range(20)]
    )
    accepted = [b for b in bodies if "errors" not in b]
    refused = [b for b in bodies if "errors" in b]
    assert len(accepted) == 5
    assert {error_code(b) for b in refused} == {"QUOTA_EXCEEDED"}
    assert_consistent(ALICE, (5, 5 * 7))
    assert len(api.posts(alice)) == 5


def test_racing_adds_never_overshoot_the_byte_quota(api: Api, alice: str) -> None:
    settings.POSTS_MAX_BYTES_PER_USER = 50
    bodies = run_together(
        [lambda c, n=n: c.add_post(f"racer {n:02}", token=alice) for n in range(20)]  # 8 bytes
    )
    assert sum("errors" not in b for b in bodies) == 6
    assert_consistent(ALICE, (6, 48))


def test_racing_adds_and_deletes_keep_the_totals_exact(api: Api, alice: str) -> None:
    settings.POSTS_MAX_PER_USER = 8
    ids = [add(api, alice, f"old {n}") for n in range(6)]
    jobs = [lambda c, pid=pid: c.delete_post(pid, token=alice) for pid in ids]
    jobs += [lambda c, n=n: c.add_post(f"new \N{EURO SIGN}{n:02}", token=alice) for n in range(14)]
    bodies = run_together(jobs)
    codes = {b["errors"][0]["extensions"]["code"] for b in bodies if "errors" in b}
    assert codes <= {"QUOTA_EXCEEDED"}
    count, size = real(ALICE)
    assert count <= 8
    assert totals(ALICE) == (count, size)
