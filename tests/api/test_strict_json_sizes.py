"""Strict JSON at both body sizes (orjson below 64 KiB, the lean parser above): the
same body is refused alike, with the contract's JSON 400, never a 5xx (issue 22)."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from gql.json_body import LEAN_ABOVE_BYTES
from tests.conftest import db_scalar

ADD = json.dumps("mutation($t: String!) { addPost(text: $t) { postId } }")
SIZES = ["small", "large"]


def body_of(size: str, members: str) -> bytes:
    """A request adding a post, with ``members`` in its variables, under or over 64 KiB."""
    text = "x" * (LEAN_ABOVE_BYTES if size == "large" else 10)
    body = f'{{"query": {ADD}, "variables": {{"t": "{text}", {members}}}}}'.encode()
    assert (len(body) > LEAN_ABOVE_BYTES) == (size == "large")
    return body


def post(body: bytes, token: str) -> tuple[int, dict[str, object]]:
    client = Client(raise_request_exception=False)
    response = client.post(
        "/graphql", body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert response["Content-Type"].startswith("application/json")
    return response.status_code, response.json()


def assert_refused(status: int, answer: dict[str, object]) -> None:
    assert status == 400, answer
    assert answer["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"  # type: ignore[index]
    assert db_scalar("SELECT COUNT(*) FROM posts") == 0


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("digits", [309, 4301, 50_000])
def test_an_integer_too_large_for_a_double_is_400_at_every_size(
    alice: str, size: str, digits: int
) -> None:
    assert_refused(*post(body_of(size, f'"n": {"9" * digits}'), alice))


@pytest.mark.parametrize("size", SIZES)
def test_a_64_bit_integer_and_a_larger_one_are_read_at_every_size(alice: str, size: str) -> None:
    members = f'"n": {2**64 - 1}, "m": {"1" * 40}'
    status, answer = post(body_of(size, members), alice)
    assert status == 200
    assert "errors" not in answer, answer


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize(
    "members",
    ['"t": "y"', '"n": 1, "n": 1', '"o": {"k": ":", "k": ":"}', '"\\u0074": "y"'],
    ids=["variable", "extra", "nested", "escaped"],
)
def test_a_key_repeated_in_one_object_is_400_at_every_size(
    alice: str, size: str, members: str
) -> None:
    assert_refused(*post(body_of(size, members), alice))
