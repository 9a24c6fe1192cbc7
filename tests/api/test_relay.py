"""Relay's Global Object Identification: global ids everywhere, node, nodes and viewer."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from sqlalchemy import text
from strawberry.relay import GlobalID

from persistence.db import get_engine
from tests.conftest import Api, db_scalar, error_code, gid, row_id

VIEWER = "query($k: String) { viewer(token: $k) { __typename id email } }"
NODE = (
    "query($id: ID!, $k: String) { node(id: $id, token: $k) "
    "{ __typename id ... on Post { text createdAt } ... on User { email } } }"
)
NODES = (
    "query($ids: [ID!]!, $k: String) { nodes(ids: $ids, token: $k) "
    "{ __typename id ... on Post { text } ... on User { email } } }"
)
NOT_GLOBAL_IDS = [
    "1",  # a bare row id
    "not base64!",
    base64.b64encode(b"Post").decode(),  # no key
    base64.b64encode(b"Post:abc").decode(),  # a key that is not a row id
    base64.b64encode(b"Post:0").decode(),
    base64.b64encode(b"Post:-1").decode(),
    base64.b64encode(b":1").decode(),  # no type name
    "UG9zdDoxMg",  # "Post:12" without its padding: not the canonical spelling
    "UG9zdDoxMg==\n",
    "",
]


def data(body: dict[str, Any]) -> dict[str, Any]:
    assert "errors" not in body, body
    assert body["_status"] == 200, body
    result: dict[str, Any] = body["data"]
    return result


def strawberry_id(type_name: str, key: int) -> str:
    """The id Strawberry's own relay.GlobalID gives (an oracle independent of the app)."""
    return str(GlobalID(type_name, str(key)))


def user_row(email: str) -> int:
    return int(db_scalar("SELECT id FROM users WHERE email = :e", e=email))


def add(api: Api, token: str, value: str) -> dict[str, Any]:
    post: dict[str, Any] = data(api.add_post(value, token=token))["addPost"]
    return post


def post_rows() -> list[tuple[int, int, str]]:
    with get_engine().connect() as conn:
        rows = conn.execute(text("SELECT id, user_id, text FROM posts ORDER BY id")).all()
    return [(int(r[0]), int(r[1]), str(r[2])) for r in rows]


def node(api: Api, node_id: str, token: str | None) -> dict[str, Any]:
    return api.post(NODE, {"id": node_id}, token=token)


# Ids are global ids everywhere


def test_signup_returns_the_users_global_id(api: Api) -> None:
    body = data(api.signup("alice@example.com"))["signup"]
    assert body["user"]["id"] == strawberry_id("User", user_row("alice@example.com"))


def test_add_post_returns_the_same_global_id_as_post_id_and_post_id(api: Api, alice: str) -> None:
    added = add(api, alice, "hello")
    [(key, _user, _text)] = post_rows()
    assert added["postId"] == added["post"]["id"] == strawberry_id("Post", key)


def test_get_posts_returns_global_ids(api: Api, alice: str) -> None:
    add(api, alice, "one")
    add(api, alice, "two")
    expected = [strawberry_id("Post", key) for key, _user, _text in reversed(post_rows())]
    assert [post["id"] for post in api.posts(alice)] == expected


def test_viewer_returns_the_users_global_id(api: Api, alice: str) -> None:
    viewer = data(api.post(VIEWER, token=alice))["viewer"]
    assert viewer["id"] == strawberry_id("User", user_row("alice@example.com"))


def test_a_user_and_a_post_with_the_same_row_id_have_different_ids(api: Api, alice: str) -> None:
    key = user_row("alice@example.com")
    # A post whose row id equals alice's own, written as the API would count it.
    with get_engine().begin() as conn:
        conn.execute(
            text(
                "INSERT INTO posts (id, user_id, text, created_at) "
                "VALUES (:id, :u, 'same row id', '2024-01-01 00:00:00')"
            ),
            {"id": key, "u": key},
        )
        conn.execute(
            text(
                "UPDATE users SET posts_count = posts_count + 1, posts_bytes = posts_bytes + 11, "
                "posts_version = posts_version + 1 WHERE id = :u"
            ),
            {"u": key},
        )
    viewer_id = data(api.post(VIEWER, token=alice))["viewer"]["id"]
    [post] = api.posts(alice)
    assert row_id(viewer_id) == row_id(post["id"]) == key
    assert viewer_id != post["id"]
    assert data(node(api, viewer_id, alice))["node"]["__typename"] == "User"
    assert data(node(api, post["id"], alice))["node"] == {
        "__typename": "Post",
        "id": post["id"],
        "text": "same row id",
        "createdAt": post["createdAt"],
    }


# node(id:)


def test_node_resolves_the_callers_own_post(api: Api, alice: str) -> None:
    added = add(api, alice, "mine")
    assert data(node(api, added["postId"], alice))["node"] == {
        "__typename": "Post",
        "id": added["postId"],
        "text": "mine",
        "createdAt": added["post"]["createdAt"],
    }


def test_node_resolves_the_caller_themselves(api: Api, alice: str) -> None:
    me = gid("User", user_row("alice@example.com"))
    assert data(node(api, me, alice))["node"] == {
        "__typename": "User",
        "id": me,
        "email": "alice@example.com",
    }


def test_node_with_the_token_argument_resolves_like_the_header(api: Api, alice: str) -> None:
    added = add(api, alice, "mine")
    body = api.post(NODE, {"id": added["postId"], "k": alice})
    assert data(body)["node"]["text"] == "mine"


def _someone_elses_ids(api: Api, alice: str, bob: str) -> dict[str, str]:
    bobs = add(api, bob, "bob's secret")["postId"]
    add(api, alice, "alice's")
    gone = add(api, alice, "deleted")["postId"]
    data(api.delete_post(gone, token=alice))
    return {
        "someone else's post": bobs,
        "someone else's user": gid("User", user_row("bob@example.com")),
        "a deleted post": gone,
        "a post that never existed": gid("Post", 2**62),
        "a user that never existed": gid("User", 2**62),
        "an unknown type": gid("Comment", row_id(bobs)),
        "a type that is not a node": gid("PostConnection", 1),
    }


def test_node_of_anything_not_the_callers_is_null_without_an_error(
    api: Api, alice: str, bob: str
) -> None:
    ids = _someone_elses_ids(api, alice, bob)
    for what, node_id in ids.items():
        body = node(api, node_id, alice)
        assert body == {"data": {"node": None}, "_status": 200}, what


def test_node_gives_no_hint_that_someone_elses_post_exists(api: Api, alice: str, bob: str) -> None:
    bobs = add(api, bob, "bob's secret")["postId"]
    missing = gid("Post", row_id(bobs) + 1000)
    assert node(api, bobs, alice) == node(api, missing, alice)


@pytest.mark.parametrize("token", [None, "not-a-token"], ids=["missing", "bad"])
def test_node_without_a_valid_token_is_unauthenticated(
    api: Api, alice: str, token: str | None
) -> None:
    added = add(api, alice, "mine")
    body = node(api, added["postId"], token)
    assert error_code(body) == "UNAUTHENTICATED"
    assert body["data"] == {"node": None}  # node is nullable: the error says why


@pytest.mark.parametrize("value", NOT_GLOBAL_IDS)
def test_node_with_a_string_that_is_not_a_global_id_is_bad_user_input(
    api: Api, alice: str, value: str
) -> None:
    add(api, alice, "mine")
    body = node(api, value, alice)
    assert error_code(body) == "BAD_USER_INPUT"
    assert body["data"] == {"node": None}


# nodes(ids:)


def test_nodes_keeps_the_order_and_gives_null_for_what_is_not_the_callers(
    api: Api, alice: str, bob: str
) -> None:
    first = add(api, alice, "first")["postId"]
    second = add(api, alice, "second")["postId"]
    bobs = add(api, bob, "bob's")["postId"]
    me = gid("User", user_row("alice@example.com"))
    ids = [second, bobs, me, gid("Comment", 1), first, gid("Post", 2**62), second]
    assert data(api.post(NODES, {"ids": ids}, token=alice))["nodes"] == [
        {"__typename": "Post", "id": second, "text": "second"},
        None,
        {"__typename": "User", "id": me, "email": "alice@example.com"},
        None,
        {"__typename": "Post", "id": first, "text": "first"},
        None,
        {"__typename": "Post", "id": second, "text": "second"},
    ]


def test_nodes_accepts_50_ids(api: Api, alice: str) -> None:
    mine = add(api, alice, "mine")["postId"]
    found = data(api.post(NODES, {"ids": [mine] * 50}, token=alice))["nodes"]
    assert len(found) == 50
    assert {item["id"] for item in found} == {mine}


def test_nodes_with_more_than_50_ids_is_bad_user_input(api: Api, alice: str) -> None:
    mine = add(api, alice, "mine")["postId"]
    body = api.post(NODES, {"ids": [mine] * 51}, token=alice)
    assert error_code(body) == "BAD_USER_INPUT"
    assert body["data"] is None


def test_nodes_with_one_malformed_id_is_bad_user_input(api: Api, alice: str) -> None:
    mine = add(api, alice, "mine")["postId"]
    body = api.post(NODES, {"ids": [mine, "1"]}, token=alice)
    assert error_code(body) == "BAD_USER_INPUT"
    assert body["data"] is None


def test_nodes_without_a_token_is_unauthenticated(api: Api, alice: str) -> None:
    mine = add(api, alice, "mine")["postId"]
    body = api.post(NODES, {"ids": [mine]})
    assert error_code(body) == "UNAUTHENTICATED"
    assert body["data"] is None


# deletePost with ids of the wrong kind


def test_delete_post_with_a_users_id_is_not_found_and_deletes_nothing(api: Api, alice: str) -> None:
    posts = [add(api, alice, f"post {n}")["postId"] for n in range(3)]
    before = post_rows()
    totals = db_scalar("SELECT posts_count FROM users WHERE email = 'alice@example.com'")
    # The User ids with the same row ids as alice's own posts, and alice's own user id.
    candidates = [gid("User", row_id(p)) for p in posts]
    candidates.append(gid("User", user_row("alice@example.com")))
    for user_id in candidates:
        body = api.delete_post(user_id, token=alice)
        assert error_code(body) == "NOT_FOUND", user_id
        assert body["data"] is None
    assert post_rows() == before
    assert [p["id"] for p in api.posts(alice)] == posts[::-1]
    assert db_scalar("SELECT posts_count FROM users WHERE email = 'alice@example.com'") == totals


@pytest.mark.parametrize("value", NOT_GLOBAL_IDS)
def test_delete_post_with_a_string_that_is_not_a_global_id_is_bad_user_input(
    api: Api, alice: str, value: str
) -> None:
    add(api, alice, "keep")
    before = post_rows()
    body = api.delete_post(value, token=alice)
    assert error_code(body) == "BAD_USER_INPUT"
    assert post_rows() == before


# viewer


def test_viewer_with_the_header_is_the_caller(api: Api, alice: str, bob: str) -> None:
    assert data(api.post(VIEWER, token=alice))["viewer"]["email"] == "alice@example.com"
    assert data(api.post(VIEWER, token=bob))["viewer"]["email"] == "bob@example.com"


def test_viewer_with_the_token_argument_is_the_caller(api: Api, alice: str, bob: str) -> None:
    assert data(api.post(VIEWER, {"k": bob}))["viewer"] == {
        "__typename": "User",
        "id": gid("User", user_row("bob@example.com")),
        "email": "bob@example.com",
    }


def test_viewer_with_the_same_token_in_header_and_argument_is_the_caller(
    api: Api, alice: str
) -> None:
    assert data(api.post(VIEWER, {"k": alice}, token=alice))["viewer"]["email"] == (
        "alice@example.com"
    )


@pytest.mark.parametrize("token", [None, "not-a-token"], ids=["missing", "bad"])
def test_viewer_without_a_valid_token_is_unauthenticated(
    api: Api, alice: str, token: str | None
) -> None:
    body = api.post(VIEWER, token=token)
    assert error_code(body) == "UNAUTHENTICATED"
    assert body["data"] is None


def test_viewer_with_header_and_argument_differing_is_unauthenticated(
    api: Api, alice: str, bob: str
) -> None:
    body = api.post(VIEWER, {"k": bob}, token=alice)
    assert error_code(body) == "UNAUTHENTICATED"
    assert body["data"] is None


def test_nested_viewer_posts_see_the_caller_of_the_token_argument(
    api: Api, alice: str, bob: str
) -> None:
    add(api, alice, "alice's post")
    add(api, bob, "bob's post")
    query = "query($k: String) { viewer(token: $k) { email posts { edges { node { text } } } } }"
    # Only the argument names the caller: the nested field has no token of its own.
    assert data(api.post(query, {"k": bob}))["viewer"] == {
        "email": "bob@example.com",
        "posts": {"edges": [{"node": {"text": "bob's post"}}]},
    }
    assert data(api.post(query, token=alice))["viewer"]["posts"] == {
        "edges": [{"node": {"text": "alice's post"}}]
    }
