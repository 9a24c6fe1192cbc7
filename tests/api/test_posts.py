"""addPost, getPosts and deletePost through real GraphQL requests, with the contract's codes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import text

from persistence.db import get_engine
from tests.conftest import (
    INVISIBLE_TEXTS,
    ONE_VISIBLE_AMONG_INVISIBLE,
    Api,
    error_code,
    gid,
    row_id,
)

MIB = 1024 * 1024
EMOJI = "\N{GRINNING FACE}"  # 4 bytes of UTF-8


def post_count() -> int:
    with get_engine().connect() as conn:
        count: int = conn.execute(text("SELECT COUNT(*) FROM posts")).scalar_one()
    return count


def added(body: dict[str, Any]) -> dict[str, Any]:
    assert "errors" not in body, str(body)[:500]
    payload: dict[str, Any] = body["data"]["addPost"]
    return payload


class Snapshot:
    """Both users' lists and the table's row count, to compare after a denial."""

    def __init__(self, api: Api, *tokens: str) -> None:
        self.api = api
        self.tokens = tokens
        self.before = self.take()

    def take(self) -> tuple[Any, ...]:
        return (post_count(), *(self.api.posts(token) for token in self.tokens))

    def assert_unchanged(self) -> None:
        assert self.take() == self.before


# addPost


def test_add_post_returns_its_id_and_the_post(api: Api, alice: str) -> None:
    payload = added(api.add_post("hello world", token=alice))
    post = payload["post"]
    assert payload["postId"] == post["id"]
    assert row_id(post["id"]) > 0
    assert post["text"] == "hello world"
    created = datetime.fromisoformat(post["createdAt"])
    assert created.utcoffset() is not None
    assert api.posts(alice) == [post]


def test_add_post_with_the_token_argument(api: Api, alice: str) -> None:
    payload = added(api.add_post("via argument", token_arg=alice))
    assert payload["post"]["text"] == "via argument"
    body = api.get_posts(token_arg=alice)
    assert "errors" not in body, body
    assert body["data"]["getPosts"] == [payload["post"]]


def test_add_post_with_the_same_token_in_header_and_argument(api: Api, alice: str) -> None:
    payload = added(api.add_post("both", token=alice, token_arg=alice))
    assert api.posts(alice) == [payload["post"]]


def test_add_post_with_different_tokens_in_header_and_argument_is_unauthenticated(
    api: Api, alice: str, bob: str
) -> None:
    snapshot = Snapshot(api, alice, bob)
    assert error_code(api.add_post("mixed", token=alice, token_arg=bob)) == "UNAUTHENTICATED"
    snapshot.assert_unchanged()


def test_get_posts_lists_newest_first(api: Api, alice: str) -> None:
    ids = [added(api.add_post(f"post {n}", token=alice))["postId"] for n in range(5)]
    listed = api.posts(alice)
    assert [p["id"] for p in listed] == list(reversed(ids))
    assert [p["text"] for p in listed] == [f"post {n}" for n in reversed(range(5))]
    times = [datetime.fromisoformat(p["createdAt"]) for p in listed]
    assert times == sorted(times, reverse=True)


def test_get_posts_shows_only_the_callers_posts(api: Api, alice: str, bob: str) -> None:
    a1 = added(api.add_post("alice 1", token=alice))["post"]
    b1 = added(api.add_post("bob 1", token=bob))["post"]
    a2 = added(api.add_post("alice 2", token=alice))["post"]
    assert api.posts(alice) == [a2, a1]
    assert api.posts(bob) == [b1]


def test_one_document_answers_each_requests_variables_and_directives(api: Api, alice: str) -> None:
    """The same text, sent again with other variables, selects what those say: how a
    document is completed is shared between its requests only when it has none."""
    added(api.add_post("hello", token=alice))
    query = "query($x: Boolean!) { getPosts { id text @include(if: $x) } }"
    shown, hidden = (
        api.post(query, {"x": x}, token=alice)["data"]["getPosts"] for x in (True, False)
    )
    assert [sorted(p) for p in shown] == [["id", "text"]]
    assert [sorted(p) for p in hidden] == [["id"]]
    for literal, fields in (("true", ["id", "text"]), ("false", ["id"])):
        document = f"{{ getPosts {{ id text @include(if: {literal}) }} }}"
        for _ in range(2):
            listed = api.post(document, token=alice)["data"]["getPosts"]
            assert [sorted(p) for p in listed] == [fields]


def test_get_posts_of_a_new_user_is_empty(api: Api, alice: str) -> None:
    assert api.posts(alice) == []


TRICKY_TEXTS = {
    "emoji": "\N{GRINNING FACE}\N{PILE OF POO} family: \U0001f468\u200d\U0001f469\u200d\U0001f467",
    "combining": "e\u0301 vs \u00e9, a\u030a\u0323, Z\u0351\u0362\u0334",
    "cjk": "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8 \ud55c\uad6d\uc5b4 \u4e2d\u6587",
    "rtl": "\u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627 \u202eevil\u202c",
    "surrounding_whitespace": "  \t padded text \n\n ",
    "crlf": "line one\r\nline two\rline three\nend\r\n",
    "nul_inside": "before\x00after",
    "nul_first": "\x00leading nul",
    "control_chars": "\x01\x07\x1b[31mred\x1b[0m\x7f",
    "astral_and_bmp_edges": "\ufeff\uffff\U0010ffff\U0001d11e",
    "json_and_sql_lookalikes": '\'"\\ \\u0000 \'); DROP TABLE posts; -- {"a": [1]}',
    "zero_width": "a\u200bb\u200d",
}


ROUND_TRIPS = {**TRICKY_TEXTS, "one visible among invisible ones": ONE_VISIBLE_AMONG_INVISIBLE}


@pytest.mark.parametrize("value", ROUND_TRIPS.values(), ids=ROUND_TRIPS.keys())
def test_text_round_trips_byte_for_byte(api: Api, alice: str, value: str) -> None:
    payload = added(api.add_post(value, token=alice))
    assert payload["post"]["text"].encode("utf-8") == value.encode("utf-8")
    # Listed from the database (first read), then from the cache (second read).
    for _ in range(2):
        (listed,) = api.posts(alice)
        assert listed["text"].encode("utf-8") == value.encode("utf-8")
    with get_engine().connect() as conn:
        stored = conn.execute(
            text("SELECT text FROM posts WHERE id = :id"), {"id": row_id(payload["postId"])}
        ).scalar_one()
    assert stored.encode("utf-8") == value.encode("utf-8")


@pytest.mark.parametrize(
    "value",
    ["", " ", "   ", "\t", "\n", "\r\n", " \t\r\n ", "\u3000", "\u00a0\u2003\u2029"],
    ids=[
        "empty",
        "space",
        "spaces",
        "tab",
        "newline",
        "crlf",
        "mixed",
        "ideographic",
        "unicode_spaces",
    ],
)
def test_empty_or_blank_text_is_bad_user_input(api: Api, alice: str, bob: str, value: str) -> None:
    added(api.add_post("existing", token=alice))
    snapshot = Snapshot(api, alice, bob)
    body = api.add_post(value, token=alice)
    assert error_code(body) == "BAD_USER_INPUT"
    assert "text" in body["errors"][0]["extensions"]["fields"]
    snapshot.assert_unchanged()


@pytest.mark.parametrize("value", INVISIBLE_TEXTS.values(), ids=INVISIBLE_TEXTS.keys())
def test_text_with_no_visible_character_is_bad_user_input(
    api: Api, alice: str, bob: str, value: str
) -> None:
    added(api.add_post("existing", token=alice))
    snapshot = Snapshot(api, alice, bob)
    body = api.add_post(value, token=alice)
    assert error_code(body) == "BAD_USER_INPUT"
    assert "text" in body["errors"][0]["extensions"]["fields"]
    snapshot.assert_unchanged()


def test_one_mib_of_four_byte_emoji_is_accepted_and_round_trips(api: Api, alice: str) -> None:
    value = EMOJI * (MIB // 4)
    assert len(value.encode("utf-8")) == MIB
    payload = added(api.add_post(value, token=alice))
    assert payload["post"]["text"] == value
    (listed,) = api.posts(alice)
    assert listed["text"].encode("utf-8") == value.encode("utf-8")


def test_one_mib_of_ascii_is_accepted(api: Api, alice: str) -> None:
    value = "a" * MIB
    payload = added(api.add_post(value, token=alice))
    assert api.posts(alice)[0]["text"] == value
    assert payload["post"]["text"] == value


def test_one_byte_over_one_mib_is_payload_too_large_and_not_stored(
    api: Api, alice: str, bob: str
) -> None:
    added(api.add_post("existing", token=alice))
    snapshot = Snapshot(api, alice, bob)
    value = EMOJI * (MIB // 4) + "a"
    assert len(value.encode("utf-8")) == MIB + 1
    assert error_code(api.add_post(value, token=alice)) == "PAYLOAD_TOO_LARGE"
    snapshot.assert_unchanged()


def test_one_mib_of_emoji_plus_one_more_emoji_is_payload_too_large(api: Api, alice: str) -> None:
    snapshot = Snapshot(api, alice)
    value = EMOJI * (MIB // 4 + 1)
    assert error_code(api.add_post(value, token=alice)) == "PAYLOAD_TOO_LARGE"
    snapshot.assert_unchanged()


# deletePost


def test_delete_of_own_post_removes_it_from_get_posts(api: Api, alice: str) -> None:
    keep = added(api.add_post("keep", token=alice))["post"]
    gone = added(api.add_post("gone", token=alice))["postId"]
    assert len(api.posts(alice)) == 2
    body = api.delete_post(gone, token=alice)
    assert "errors" not in body, body
    assert body["data"]["deletePost"]["postId"] == gone
    assert api.posts(alice) == [keep]
    assert post_count() == 1


def test_delete_with_the_token_argument(api: Api, alice: str) -> None:
    post_id = added(api.add_post("bye", token=alice))["postId"]
    body = api.delete_post(post_id, token_arg=alice)
    assert body["data"]["deletePost"]["postId"] == post_id
    assert api.posts(alice) == []


def test_delete_of_an_already_deleted_post_is_not_found(api: Api, alice: str, bob: str) -> None:
    post_id = added(api.add_post("once", token=alice))["postId"]
    added(api.add_post("other", token=alice))
    assert "errors" not in api.delete_post(post_id, token=alice)
    snapshot = Snapshot(api, alice, bob)
    assert error_code(api.delete_post(post_id, token=alice)) == "NOT_FOUND"
    snapshot.assert_unchanged()


def test_delete_of_someone_elses_post_is_not_found(api: Api, alice: str, bob: str) -> None:
    alices = added(api.add_post("alice's", token=alice))["post"]
    bobs = added(api.add_post("bob's", token=bob))["post"]
    snapshot = Snapshot(api, alice, bob)
    body = api.delete_post(alices["id"], token=bob)
    assert error_code(body) == "NOT_FOUND"
    snapshot.assert_unchanged()
    assert api.posts(alice) == [alices]
    assert api.posts(bob) == [bobs]


def test_not_found_is_the_same_for_missing_deleted_and_foreign_posts(
    api: Api, alice: str, bob: str
) -> None:
    foreign = added(api.add_post("alice's", token=alice))["postId"]
    deleted = added(api.add_post("bob's", token=bob))["postId"]
    api.delete_post(deleted, token=bob)
    missing = gid("Post", row_id(foreign) + 1000)
    errors = [
        api.delete_post(post_id, token=bob)["errors"][0] for post_id in (foreign, deleted, missing)
    ]
    assert errors[0] == errors[1] == errors[2]
    assert errors[0]["extensions"]["code"] == "NOT_FOUND"


def test_delete_of_a_nonexistent_id_is_not_found(api: Api, alice: str, bob: str) -> None:
    post_id = row_id(added(api.add_post("real", token=alice))["postId"])
    snapshot = Snapshot(api, alice, bob)
    for missing in (post_id + 1, post_id + 10_000, 2**63 - 1):
        assert error_code(api.delete_post(gid("Post", missing), token=alice)) == "NOT_FOUND"
    snapshot.assert_unchanged()


def test_delete_with_the_global_id_as_a_literal_works(api: Api, alice: str) -> None:
    post_id = added(api.add_post("literal", token=alice))["postId"]
    body = api.post(f'mutation {{ deletePost(postId: "{post_id}") {{ postId }} }}', token=alice)
    assert body["data"]["deletePost"]["postId"] == post_id
    assert api.posts(alice) == []


def test_delete_with_the_plain_row_id_is_bad_user_input(api: Api, alice: str) -> None:
    post_id = row_id(added(api.add_post("numeric", token=alice))["postId"])
    body = api.post(f"mutation {{ deletePost(postId: {post_id}) {{ postId }} }}", token=alice)
    assert error_code(body) == "BAD_USER_INPUT"
    assert len(api.posts(alice)) == 1


@pytest.mark.parametrize(
    "post_id",
    ["abc", "-1", "0", "1.5", "", "99999999999999999999999", "9223372036854775808", "1e3"],
)
def test_delete_with_a_malformed_id_is_bad_user_input(
    api: Api, alice: str, bob: str, post_id: str
) -> None:
    added(api.add_post("mine", token=alice))
    added(api.add_post("his", token=bob))
    snapshot = Snapshot(api, alice, bob)
    body = api.delete_post(post_id, token=alice)
    assert error_code(body) == "BAD_USER_INPUT"
    assert "postId" in body["errors"][0]["extensions"]["fields"]
    snapshot.assert_unchanged()


# Authentication


def test_add_post_without_a_token_is_unauthenticated(api: Api, alice: str) -> None:
    snapshot = Snapshot(api, alice)
    body = api.add_post("anonymous")
    assert error_code(body) == "UNAUTHENTICATED"
    assert body["data"] is None
    snapshot.assert_unchanged()


def test_get_posts_without_a_token_is_unauthenticated(api: Api, alice: str) -> None:
    added(api.add_post("private", token=alice))
    body = api.get_posts()
    assert error_code(body) == "UNAUTHENTICATED"
    assert body["data"] is None
    assert "private" not in str(body)


def test_delete_post_without_a_token_is_unauthenticated(api: Api, alice: str) -> None:
    post_id = added(api.add_post("stays", token=alice))["postId"]
    snapshot = Snapshot(api, alice)
    assert error_code(api.delete_post(post_id)) == "UNAUTHENTICATED"
    snapshot.assert_unchanged()


@pytest.mark.parametrize("bad_token", ["not-a-jwt", "a.b.c", " "])
def test_posts_operations_with_a_bad_token_are_unauthenticated(
    api: Api, alice: str, bad_token: str
) -> None:
    post_id = added(api.add_post("stays", token=alice))["postId"]
    snapshot = Snapshot(api, alice)
    assert error_code(api.add_post("x", token_arg=bad_token)) == "UNAUTHENTICATED"
    assert error_code(api.get_posts(token_arg=bad_token)) == "UNAUTHENTICATED"
    assert error_code(api.delete_post(post_id, token_arg=bad_token)) == "UNAUTHENTICATED"
    snapshot.assert_unchanged()


def test_token_of_a_deleted_user_is_unauthenticated(api: Api, alice: str) -> None:
    with get_engine().begin() as conn:
        conn.execute(text("DELETE FROM users"))
    assert error_code(api.add_post("ghost", token=alice)) == "UNAUTHENTICATED"
    assert error_code(api.get_posts(token=alice)) == "UNAUTHENTICATED"
    assert post_count() == 0
