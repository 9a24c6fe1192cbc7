"""Protected operations take a token from the Authorization header or the token argument."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from django.conf import settings
from sqlalchemy import text

from persistence.db import get_engine
from resolvers_services.tokens import issue_access_token
from tests.conftest import Api, error_code, row_id

GET_POSTS = "query($k: String) { getPosts(token: $k) { id text } }"
ADD_POST = "mutation($t: String!, $k: String) { addPost(text: $t, token: $k) { postId } }"


def post_count() -> int:
    with get_engine().connect() as conn:
        rows: int = conn.execute(text("SELECT COUNT(*) FROM posts")).scalar_one()
    return rows


def texts(api: Api, token: str) -> list[str]:
    return [post["text"] for post in api.posts(token)]


def raw(api: Api, query: str, variables: dict[str, Any], authorization: str) -> dict[str, Any]:
    """A request with exactly this Authorization header."""
    response = api.client.post(
        "/graphql",
        json.dumps({"query": query, "variables": variables}),
        content_type="application/json",
        HTTP_AUTHORIZATION=authorization,
    )
    body: dict[str, Any] = response.json()
    return body


def assert_denied(body: dict[str, Any], field: str) -> None:
    assert error_code(body) == "UNAUTHENTICATED"
    assert body["data"] is None
    assert body["errors"][0]["path"] == [field]


def _claims_for(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


def _alg_none(token: str) -> str:
    return jwt.encode(_claims_for(token), None, algorithm="none")


def _wrong_key(token: str) -> str:
    return jwt.encode(_claims_for(token), "x" * 32 + "another key", algorithm="HS256")


def _hs512(token: str) -> str:
    return jwt.encode(_claims_for(token), settings.JWT_SECRET, algorithm="HS512")


def _with_subject(token: str, sub: str) -> str:
    """``token``'s header and signature around a payload naming another subject."""
    header, payload, signature = token.split(".")
    claims = {**_claims_for(token), "sub": sub}
    forged = jwt.encode(claims, "irrelevant key, 32 bytes or more!").split(".")[1]
    assert forged != payload
    return f"{header}.{forged}.{signature}"


def _tampered(token: str) -> str:
    return _with_subject(token, str(int(_claims_for(token)["sub"]) + 1))


def _expired_for(token: str) -> str:
    # Expired by more than the leeway allowed for clock skew.
    past = datetime.now(UTC) - timedelta(
        seconds=settings.JWT_LIFETIME_SECONDS + settings.JWT_LEEWAY_SECONDS + 30
    )
    claims = _claims_for(token)
    expired, _ = issue_access_token(
        user_id=int(claims["sub"]), session_id=int(claims["sid"]), now=past
    )
    return expired


BAD_TOKENS: dict[str, Callable[[str], str]] = {
    "garbage": lambda _token: "not-a-jwt",
    "truncated": lambda token: token[:-5],
    "two segments": lambda token: token.rsplit(".", 1)[0],
    "tampered": _tampered,
    "wrong key": _wrong_key,
    "alg none": _alg_none,
    "hs512 same secret": _hs512,
    "expired": _expired_for,
}


# Accepted ways to present a token


def test_get_posts_with_the_authorization_header(api: Api, alice: str) -> None:
    body = api.get_posts(token=alice)
    assert body["data"] == {"getPosts": []}


def test_get_posts_with_the_token_argument(api: Api, alice: str) -> None:
    body = api.get_posts(token_arg=alice)
    assert body["data"] == {"getPosts": []}


def test_add_post_with_the_authorization_header(api: Api, alice: str) -> None:
    body = api.add_post("via header", token=alice)
    assert "errors" not in body, body
    assert texts(api, alice) == ["via header"]


def test_add_post_with_the_token_argument(api: Api, alice: str) -> None:
    body = api.add_post("via argument", token_arg=alice)
    assert "errors" not in body, body
    assert texts(api, alice) == ["via argument"]


def test_header_and_argument_may_both_be_given_when_equal(api: Api, alice: str) -> None:
    body = api.add_post("both", token=alice, token_arg=alice)
    assert "errors" not in body, body
    assert api.get_posts(token=alice, token_arg=alice)["data"]["getPosts"][0]["text"] == "both"


def test_the_bearer_scheme_is_case_insensitive(api: Api, alice: str) -> None:
    body = raw(api, GET_POSTS, {}, f"bearer {alice}")
    assert body["data"] == {"getPosts": []}


def test_each_user_is_who_their_token_says(api: Api, alice: str, bob: str) -> None:
    assert "errors" not in api.add_post("alice's", token=alice)
    assert texts(api, bob) == []
    assert texts(api, alice) == ["alice's"]


# Denied


def test_header_and_argument_that_differ_are_unauthenticated(
    api: Api, alice: str, bob: str
) -> None:
    assert_denied(api.get_posts(token=alice, token_arg=bob), "getPosts")
    assert_denied(api.add_post("mixed", token=alice, token_arg=bob), "addPost")
    assert_denied(api.add_post("mixed", token=bob, token_arg=alice), "addPost")
    assert post_count() == 0


def test_missing_token_is_unauthenticated(api: Api) -> None:
    assert_denied(api.get_posts(), "getPosts")
    assert_denied(api.add_post("anonymous"), "addPost")
    assert_denied(api.get_posts(token_arg=""), "getPosts")
    assert_denied(api.add_post("anonymous", token_arg=""), "addPost")
    assert post_count() == 0


@pytest.mark.parametrize(
    "authorization",
    ["Bearer", "Bearer ", "Basic xyz", "Basic {token}", "{token}", "Token {token}", "Bearer a b"],
)
def test_malformed_authorization_header_is_unauthenticated(
    api: Api, alice: str, authorization: str
) -> None:
    header = authorization.format(token=alice)
    assert_denied(raw(api, GET_POSTS, {}, header), "getPosts")
    assert_denied(raw(api, ADD_POST, {"t": "sneaky"}, header), "addPost")
    assert post_count() == 0


def test_malformed_header_is_not_rescued_by_a_good_token_argument(api: Api, alice: str) -> None:
    assert_denied(raw(api, ADD_POST, {"t": "sneaky", "k": alice}, "Basic xyz"), "addPost")
    assert post_count() == 0


@pytest.mark.parametrize("kind", sorted(BAD_TOKENS))
def test_bad_token_in_the_header_is_unauthenticated(api: Api, alice: str, kind: str) -> None:
    bad = BAD_TOKENS[kind](alice)
    assert_denied(api.get_posts(token=bad), "getPosts")
    assert_denied(api.add_post("forged", token=bad), "addPost")
    assert post_count() == 0


@pytest.mark.parametrize("kind", sorted(BAD_TOKENS))
def test_bad_token_in_the_argument_is_unauthenticated(api: Api, alice: str, kind: str) -> None:
    bad = BAD_TOKENS[kind](alice)
    assert_denied(api.get_posts(token_arg=bad), "getPosts")
    assert_denied(api.add_post("forged", token_arg=bad), "addPost")
    assert post_count() == 0


def test_tampered_token_cannot_reach_another_users_posts(api: Api, alice: str, bob: str) -> None:
    # alice's valid signature, around a payload with bob's id pasted in.
    assert "errors" not in api.add_post("bob's secret", token=bob)
    forged = _with_subject(alice, _claims_for(bob)["sub"])
    assert_denied(api.get_posts(token=forged), "getPosts")
    assert_denied(api.add_post("as bob", token=forged), "addPost")
    assert texts(api, bob) == ["bob's secret"]
    assert post_count() == 1


def test_token_of_a_deleted_user_is_unauthenticated(api: Api, alice: str) -> None:
    with get_engine().begin() as conn:
        conn.execute(text("DELETE FROM users WHERE email = 'alice@example.com'"))
    assert_denied(api.get_posts(token=alice), "getPosts")
    assert_denied(api.add_post("ghost", token=alice), "addPost")
    assert_denied(api.add_post("ghost", token_arg=alice), "addPost")
    assert post_count() == 0


def test_a_denied_request_says_nothing_about_the_token_internals(api: Api, alice: str) -> None:
    for make in BAD_TOKENS.values():
        message = api.get_posts(token=make(alice))["errors"][0]["message"]
        for leak in ("Traceback", "jwt", "PyJWT", "Signature", ".py", "Error"):
            assert leak not in message, message


def test_denied_get_posts_leaves_no_partial_data(api: Api) -> None:
    body = api.post("query { __typename getPosts { id } }")
    assert error_code(body) == "UNAUTHENTICATED"
    assert body["data"] is None


def test_expired_token_of_an_existing_user_is_unauthenticated(api: Api, alice: str) -> None:
    expired = _expired_for(alice)
    assert _claims_for(expired)["sub"] == _claims_for(alice)["sub"]
    assert_denied(api.get_posts(token=expired), "getPosts")
    assert_denied(api.add_post("late", token=expired), "addPost")
    assert post_count() == 0


def test_a_deleted_users_token_never_fits_the_next_user_to_sign_up(api: Api) -> None:
    first = api.signup("first@example.com")["data"]["signup"]
    last = api.signup("last@example.com")["data"]["signup"]
    with get_engine().begin() as conn:  # the newest account goes away
        conn.execute(text("DELETE FROM users WHERE id = :id"), {"id": row_id(last["user"]["id"])})
    newcomer = api.signup("newcomer@example.com")["data"]["signup"]
    assert row_id(newcomer["user"]["id"]) > row_id(last["user"]["id"]) > row_id(first["user"]["id"])
    assert error_code(api.get_posts(token=last["token"])) == "UNAUTHENTICATED"
