"""GraphQL over HTTP as the contract's Transport section states it (the graphql-over-http
specification): GET for queries with the request's fields as URL parameters, a
mutation over GET refused with 405 and ``Allow: POST``, both response media types
(``application/graphql-response+json`` with the specification's status codes,
``application/json`` with 200 for every well-formed GraphQL response), persisted
documents by ``documentId``, and no GET query string in any log line."""

from __future__ import annotations

import json
import logging
import secrets
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.http import HttpResponse
from django.test import Client

from devkit.client import sha256_hex
from tests.conftest import Api, db_scalar, error_code, reset_caches

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"

LIST = "query Mine { getPosts { text } }"
ADD = "mutation Add($t: String!) { addPost(text: $t) { postId } }"
# Two operations, so that operationName has to pick one; $first must coerce to Int!.
PAGE = (
    "query Page($first: Int!) { viewer { posts(first: $first) { edges { node { text } } } } } "
    "query Count { viewer { posts { totalCount } } }"
)


def accepting(accept: str | None) -> dict[str, str]:
    return {} if accept is None else {"HTTP_ACCEPT": accept}


def bearer(token: str | None) -> dict[str, str]:
    return {} if token is None else {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def get(
    client: Client,
    params: dict[str, Any],
    *,
    accept: str | None = JSON,
    token: str | None = None,
) -> HttpResponse:
    """A GET /graphql with ``params`` as URL parameters (variables and extensions
    JSON-encoded, as the specification says)."""
    encoded = {
        name: json.dumps(value) if name in {"variables", "extensions"} else value
        for name, value in params.items()
    }
    response: HttpResponse = client.get("/graphql", encoded, **accepting(accept), **bearer(token))
    return response


def post(
    client: Client,
    body: dict[str, Any] | str,
    *,
    accept: str | None = None,
    token: str | None = None,
) -> HttpResponse:
    """A POST /graphql with ``body`` (JSON-encoded unless already a string)."""
    response: HttpResponse = client.post(
        "/graphql",
        body if isinstance(body, str) else json.dumps(body),
        content_type="application/json",
        **accepting(accept),
        **bearer(token),
    )
    return response


def media_type(response: HttpResponse) -> str:
    return str(response["Content-Type"]).split(";", 1)[0].strip().lower()


def codes(response: HttpResponse) -> set[str]:
    return {error["extensions"]["code"] for error in response.json().get("errors", [])}


def posts() -> int:
    return int(db_scalar("SELECT COUNT(*) FROM posts"))


def register(api: Api, document: str, token: str | None, **variables: Any) -> dict[str, Any]:
    """Register ``document`` through APQ (hash and text), running it once."""
    body = api.send(
        {
            "query": document,
            "variables": variables,
            "extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(document)}},
        },
        token=token,
    )
    assert "errors" not in body, body
    return body


# GET runs queries


@pytest.mark.parametrize("accept", [None, JSON, GRAPHQL_RESPONSE])
def test_a_query_over_get_runs_with_its_url_parameters(
    api: Api, alice: str, accept: str | None
) -> None:
    for text in ("older", "newer"):
        assert "errors" not in api.add_post(text, token=alice)
    params = {
        "query": PAGE,
        "variables": {"first": 1},
        "operationName": "Page",
        "extensions": {"tracing": False},
    }
    response = get(api.client, params, accept=accept, token=alice)
    assert response.status_code == 200, response.content[:300]
    assert media_type(response) == (accept or JSON)
    assert response.json() == {
        "data": {"viewer": {"posts": {"edges": [{"node": {"text": "newer"}}]}}}
    }


def test_the_operation_name_of_a_get_picks_the_operation(api: Api, alice: str) -> None:
    assert "errors" not in api.add_post("one", token=alice)
    response = get(api.client, {"query": PAGE, "operationName": "Count"}, token=alice)
    assert response.status_code == 200, response.content[:300]
    assert response.json() == {"data": {"viewer": {"posts": {"totalCount": 1}}}}


def mutation_over_get(api: Api, token: str, accept: str | None) -> HttpResponse:
    params = {"query": ADD, "variables": {"t": "over GET"}, "operationName": "Add"}
    return get(api.client, params, accept=accept, token=token)


@pytest.mark.parametrize("accept", [None, JSON, GRAPHQL_RESPONSE])
def test_a_mutation_over_get_is_405_and_runs_nothing(
    api: Api, alice: str, accept: str | None
) -> None:
    response = mutation_over_get(api, alice, accept)
    assert response.status_code == 405, response.content[:300]
    assert response.json()["errors"], response.content[:300]
    assert posts() == 0


@pytest.mark.parametrize("accept", [None, JSON, GRAPHQL_RESPONSE])
def test_a_mutation_over_get_is_answered_allow_post(
    api: Api, alice: str, accept: str | None
) -> None:
    response = mutation_over_get(api, alice, accept)
    assert response.status_code == 405, response.content[:300]
    assert response["Allow"] == "POST"
    assert posts() == 0


# application/graphql-response+json: the specification's status codes


@pytest.mark.parametrize(
    ("case", "body"),
    [
        ("does_not_parse", {"query": "{ getPosts { text "}),
        ("does_not_validate", {"query": "{ noSuchField }"}),
        (
            "variables_do_not_coerce",
            {"query": "query($n: String!) { __type(name: $n) { name } }", "variables": {"n": 5}},
        ),
        (
            "required_variable_missing",
            {"query": "query($n: String!) { __type(name: $n) { name } }"},
        ),
    ],
)
def test_with_graphql_response_json_a_request_failing_before_execution_is_400(
    client: Client, case: str, body: dict[str, Any]
) -> None:
    response = post(client, body, accept=GRAPHQL_RESPONSE)
    assert response.status_code == 400, (case, response.content[:300])
    assert media_type(response) == GRAPHQL_RESPONSE
    answer = response.json()
    assert "data" not in answer, answer
    assert codes(response) == {"BAD_USER_INPUT"}, answer


@pytest.mark.parametrize(
    "body",
    [
        "{not json",
        "[]",
        json.dumps({"notquery": "{ __typename }"}),
        json.dumps({"query": 42}),
        json.dumps({"query": "{ __typename }", "variables": "not a map"}),
        json.dumps({"query": "{ __typename }", "operationName": ["not", "a", "string"]}),
        json.dumps({"query": "{ __typename }", "extensions": "not a map"}),
    ],
)
def test_with_graphql_response_json_a_body_that_is_not_a_graphql_request_is_400(
    client: Client, body: str
) -> None:
    response = post(client, body, accept=GRAPHQL_RESPONSE)
    assert response.status_code == 400, response.content[:300]
    assert "data" not in response.json()
    assert codes(response) == {"BAD_USER_INPUT"}


def test_with_graphql_response_json_a_response_with_data_is_200_in_that_media_type(
    api: Api, alice: str
) -> None:
    assert "errors" not in api.add_post("hello", token=alice)
    response = post(api.client, {"query": LIST}, accept=GRAPHQL_RESPONSE, token=alice)
    assert response.status_code == 200, response.content[:300]
    assert media_type(response) == GRAPHQL_RESPONSE
    assert response.json() == {"data": {"getPosts": [{"text": "hello"}]}}


def test_with_graphql_response_json_a_refused_body_is_in_that_media_type(client: Client) -> None:
    response = post(client, {"notquery": "{ __typename }"}, accept=GRAPHQL_RESPONSE)
    assert response.status_code == 400, response.content[:300]
    assert media_type(response) == GRAPHQL_RESPONSE


# application/json, or no Accept: 200 for every well-formed GraphQL response


@pytest.mark.parametrize("accept", [None, JSON])
@pytest.mark.parametrize(
    ("case", "body", "code"),
    [
        ("does_not_parse", {"query": "{ getPosts { text "}, "BAD_USER_INPUT"),
        ("does_not_validate", {"query": "{ noSuchField }"}, "BAD_USER_INPUT"),
        (
            "variables_do_not_coerce",
            {"query": "query($n: String!) { __type(name: $n) { name } }", "variables": {"n": 5}},
            "BAD_USER_INPUT",
        ),
        ("field_error", {"query": LIST}, "UNAUTHENTICATED"),
        ("data", {"query": "{ __typename }"}, None),
    ],
)
def test_with_json_or_no_accept_every_well_formed_graphql_response_is_200(
    client: Client, accept: str | None, case: str, body: dict[str, Any], code: str | None
) -> None:
    response = post(client, body, accept=accept)
    assert response.status_code == 200, (case, response.content[:300])
    assert media_type(response) == JSON
    assert codes(response) == ({code} if code else set()), response.content[:300]


# Persisted documents by documentId


def test_a_document_id_in_a_post_body_runs_the_apq_stored_document(api: Api, alice: str) -> None:
    register(api, ADD, alice, t="registered")
    body = api.send(
        {"documentId": f"sha256:{sha256_hex(ADD)}", "variables": {"t": "by id"}}, token=alice
    )
    assert "errors" not in body, body
    assert posts() == 2
    assert [post["text"] for post in api.posts(alice)] == ["by id", "registered"]


def test_a_document_id_in_a_get_parameter_runs_the_apq_stored_document(
    api: Api, alice: str
) -> None:
    assert "errors" not in api.add_post("mine", token=alice)
    register(api, LIST, alice)
    response = get(api.client, {"documentId": f"sha256:{sha256_hex(LIST)}"}, token=alice)
    assert response.status_code == 200, response.content[:300]
    assert response.json() == {"data": {"getPosts": [{"text": "mine"}]}}


def test_a_document_id_runs_a_trusted_document(api: Api, alice: str, tmp_path: Path) -> None:
    manifest = {
        "format": "apollo-persisted-query-manifest",
        "version": 1,
        "operations": [{"id": sha256_hex(ADD), "name": "Add", "type": "mutation", "body": ADD}],
    }
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest), encoding="utf-8")
    settings.GRAPHQL_TRUSTED_DOCUMENTS = str(path)
    reset_caches()
    body = api.send(
        {"documentId": f"sha256:{sha256_hex(ADD)}", "variables": {"t": "trusted"}}, token=alice
    )
    assert "errors" not in body, body
    assert posts() == 1


def test_an_unknown_document_id_in_a_post_body_is_not_found_and_runs_nothing(
    api: Api, alice: str
) -> None:
    body = api.send(
        {"documentId": f"sha256:{sha256_hex(ADD)}", "variables": {"t": "never"}}, token=alice
    )
    assert error_code(body) == "PERSISTED_QUERY_NOT_FOUND"
    assert body.get("data") is None
    assert posts() == 0


def test_an_unknown_document_id_in_a_get_parameter_is_not_found(api: Api, alice: str) -> None:
    response = get(api.client, {"documentId": f"sha256:{sha256_hex(LIST)}"}, token=alice)
    assert response["Content-Type"].startswith(JSON), response.content[:300]
    body = response.json()
    assert error_code(body) == "PERSISTED_QUERY_NOT_FOUND"
    assert body.get("data") is None


# Logs


def _texts(records: list[logging.LogRecord]) -> list[str]:
    """Every message of ``records``, formatted and as written, and every argument."""
    texts: list[str] = []
    for record in records:
        texts.extend([record.getMessage(), str(record.msg)])
        args = record.args if isinstance(record.args, tuple) else (record.args,)
        texts.extend(repr(arg) for arg in args if arg is not None)
    return texts


@pytest.mark.parametrize(
    "shape",
    [
        "answered",
        "does_not_parse",
        "does_not_validate",
        "mutation",
    ],
)
def test_the_query_string_of_a_get_never_reaches_a_log_line(
    api: Api, alice: str, caplog: pytest.LogCaptureFixture, shape: str
) -> None:
    marker = f"secret{secrets.token_hex(8)}"
    # The token in the document and a marker in a variable, an alias and the
    # extensions: every part of the query string carries something secret, but for
    # the operation's name, which every request's log line names (the contract).
    documents = {
        "answered": f"query {marker}Op($t: String) {{ {marker}: viewer(token: $t) {{ email }} }}",
        "does_not_parse": f'query {marker}Op {{ viewer(token: "{alice}") {{ ',
        "does_not_validate": f'query {marker}Op {{ {marker}: viewer(token: "{alice}") '
        f"{{ {marker} }} }}",
        "mutation": f'mutation {marker}Op {{ addPost(text: "{marker}", token: "{alice}") '
        "{ postId } }",
    }
    params = {
        "query": documents[shape],
        "variables": {"v": marker, "t": alice} if shape == "answered" else {"v": marker},
        "operationName": f"{marker}Op",
        "extensions": {"note": marker},
    }
    caplog.set_level(logging.DEBUG)
    response = get(api.client, params)
    if shape == "answered":
        # The GET ran: the path checked is the one that executes.
        assert response.status_code == 200, response.content[:300]
        assert response.json()["data"][marker] == {"email": "alice@example.com"}
    assert caplog.records, "nothing was logged at all: is capturing wired up?"
    for logged in [*_texts(caplog.records), caplog.text]:
        text = logged.replace(f"{marker}Op", "Op")
        assert marker not in text, text[:500]
        assert alice not in text, text[:500]
        assert alice.rsplit(".", 1)[-1] not in text, text[:500]
    assert posts() == 0
