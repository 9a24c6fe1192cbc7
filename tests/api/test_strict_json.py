"""Strict JSON bodies (RFC 8259: UTF-8, no NaN or Infinity, one request) and no-store tokens."""

from __future__ import annotations

import json

import pytest
from django.http import HttpResponse
from django.test import Client

from tests.conftest import PASSWORD, Api, db_scalar

ADD = 'mutation { addPost(text: "x") { postId } }'


@pytest.fixture
def client() -> Client:
    return Client(raise_request_exception=False)


def send(
    client: Client,
    body: bytes,
    content_type: str = "application/json",
    token: str | None = None,
) -> HttpResponse:
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    response: HttpResponse = client.post("/graphql", body, content_type=content_type, **headers)
    return response


def assert_json_400(response: HttpResponse) -> None:
    assert response.status_code == 400, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "data" not in body or body["data"] is None


def posts() -> int:
    return int(db_scalar("SELECT COUNT(*) FROM posts"))


# A lenient parser would run this: the extra variable is ignored by GraphQL.
ADD_T = json.dumps("mutation($t: String!) { addPost(text: $t) { postId } }")


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_in_variables_are_400_and_run_nothing(
    client: Client, alice: str, constant: str
) -> None:
    body = f'{{"query": {ADD_T}, "variables": {{"t": "x", "n": {constant}}}}}'.encode()
    assert_json_400(send(client, body, token=alice))
    assert posts() == 0


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_anywhere_in_the_body_are_400(client: Client, constant: str) -> None:
    body = f'{{"query": "{{ __typename }}", "extensions": {{"x": [{constant}]}}}}'.encode()
    assert_json_400(send(client, body))


def test_the_same_body_with_a_finite_number_is_served(client: Client, alice: str) -> None:
    body = f'{{"query": {ADD_T}, "variables": {{"t": "x", "n": 1e308}}}}'.encode()
    response = send(client, body, token=alice)
    assert response.status_code == 200
    assert "errors" not in response.json()
    assert posts() == 1


@pytest.mark.parametrize("charset", ["latin-1", "iso-8859-1", "utf-16", "us-ascii"])
def test_a_charset_other_than_utf8_is_400_and_runs_nothing(
    client: Client, alice: str, charset: str
) -> None:
    body = json.dumps({"query": ADD}).encode()
    response = send(client, body, f"application/json; charset={charset}", token=alice)
    assert_json_400(response)
    assert posts() == 0


@pytest.mark.parametrize("charset", ["utf-8", "UTF-8", "utf8"])
def test_utf8_may_be_named_as_the_charset(client: Client, alice: str, charset: str) -> None:
    body = json.dumps({"query": ADD}).encode()
    response = send(client, body, f"application/json; charset={charset}", token=alice)
    assert response.status_code == 200
    assert posts() == 1


@pytest.mark.parametrize(
    "body",
    [
        b'{"query": "mutation { addPost(text: \\"\xe9\\") { postId } }"}',  # Latin-1 e-acute
        b'{"query": "mutation { addPost(text: \\"\xed\xa0\x80\\") { postId } }"}',  # surrogate
        b'{"query": "mutation { addPost(text: \\"\xc0\xaf\\") { postId } }"}',  # overlong
        b"\xef\xbb\xbf" + b'{"query": "{ __typename }"}',  # a byte-order mark
    ],
    ids=["latin-1 byte", "encoded surrogate", "overlong", "byte-order mark"],
)
def test_a_body_that_is_not_valid_utf8_json_is_400_and_runs_nothing(
    client: Client, alice: str, body: bytes
) -> None:
    assert_json_400(send(client, body, token=alice))
    assert posts() == 0


@pytest.mark.parametrize("count", [1, 2])
def test_a_batched_array_is_400_and_runs_nothing(client: Client, alice: str, count: int) -> None:
    body = json.dumps([{"query": ADD}] * count).encode()
    assert_json_400(send(client, body, token=alice))
    assert posts() == 0


# Token responses are not stored by caches


def _auth_response(api: Api, operation: str) -> HttpResponse:
    query = (
        f"mutation($e: String!, $p: String!) {{ {operation}(email: $e, password: $p) "
        "{ token user { id } } }"
    )
    response: HttpResponse = api.client.post(
        "/graphql",
        json.dumps({"query": query, "variables": {"e": "nostore@example.com", "p": PASSWORD}}),
        content_type="application/json",
    )
    assert response.status_code == 200
    assert response.json()["data"][operation]["token"]
    return response


def test_signup_responses_are_not_stored(api: Api) -> None:
    assert _auth_response(api, "signup")["Cache-Control"] == "no-store"


def test_login_responses_are_not_stored(api: Api) -> None:
    api.signup("nostore@example.com")
    assert _auth_response(api, "login")["Cache-Control"] == "no-store"


def _session_response(api: Api, query: str, variables: dict[str, str], token: str) -> HttpResponse:
    response: HttpResponse = api.client.post(
        "/graphql",
        json.dumps({"query": query, "variables": variables}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 200
    payload = next(iter(response.json()["data"].values()))
    assert payload["token"]
    assert payload["refreshToken"]
    return response


def test_refresh_token_responses_are_not_stored(api: Api) -> None:
    session = api.new_account("nostore@example.com")
    query = "mutation($r: String!) { refreshToken(refreshToken: $r) { token refreshToken } }"
    response = _session_response(api, query, {"r": session["refreshToken"]}, session["token"])
    assert response["Cache-Control"] == "no-store"


def test_change_password_responses_are_not_stored(api: Api) -> None:
    session = api.new_account("nostore@example.com")
    query = (
        "mutation($c: String!, $n: String!) {"
        " changePassword(currentPassword: $c, newPassword: $n) { token refreshToken } }"
    )
    variables = {"c": PASSWORD, "n": "a brand new passphrase"}
    response = _session_response(api, query, variables, session["token"])
    assert response["Cache-Control"] == "no-store"


def test_a_failed_login_response_is_not_stored_either(api: Api) -> None:
    response = api.client.post(
        "/graphql",
        json.dumps(
            {"query": 'mutation { login(email: "x@example.com", password: "wrong") { token } }'}
        ),
        content_type="application/json",
    )
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert response["Cache-Control"] == "no-store"
