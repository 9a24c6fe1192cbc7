"""Apollo's automatic persisted queries (APQ, version 1), exactly as the contract states."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from sqlalchemy import text

from config import bootstrap
from devkit.client import sha256_hex
from persistence.db import get_engine
from tests.conftest import Api, db_scalar, error_code, reset_caches

ADD = "mutation Add($t: String!) { addPost(text: $t) { post { text } } }"
LIST = "query Mine { getPosts { text } }"
# Two operations: the client must say which one to run.
BOTH = (
    "query Mine { getPosts { text } } "
    "mutation Add($t: String!) { addPost(text: $t) { post { text } } }"
)


def persisted(digest: str, version: object = 1) -> dict[str, Any]:
    return {"persistedQuery": {"version": version, "sha256Hash": digest}}


def hash_only(
    api: Api,
    document: str,
    token: str | None = None,
    *,
    variables: dict[str, Any] | None = None,
    operation: str | None = None,
) -> dict[str, Any]:
    """What Apollo's link sends first: the hash, no document."""
    payload: dict[str, Any] = {"extensions": persisted(sha256_hex(document))}
    if variables is not None:
        payload["variables"] = variables
    if operation is not None:
        payload["operationName"] = operation
    return api.send(payload, token=token)


def with_query(
    api: Api,
    document: str,
    token: str | None = None,
    *,
    variables: dict[str, Any] | None = None,
    operation: str | None = None,
    digest: str | None = None,
) -> dict[str, Any]:
    """What Apollo's link sends after PERSISTED_QUERY_NOT_FOUND: hash and document."""
    payload: dict[str, Any] = {
        "query": document,
        "variables": variables or {},
        "extensions": persisted(digest or sha256_hex(document)),
    }
    if operation is not None:
        payload["operationName"] = operation
    return api.send(payload, token=token)


def stored() -> set[str]:
    """The hashes in the shared table."""
    with get_engine().connect() as conn:
        return {str(row[0]) for row in conn.execute(text("SELECT sha256 FROM persisted_queries"))}


def posts() -> int:
    return int(db_scalar("SELECT COUNT(*) FROM posts"))


def users() -> int:
    return int(db_scalar("SELECT COUNT(*) FROM users"))


def assert_not_found(body: dict[str, Any]) -> None:
    """Apollo's link retries with the document only on exactly this answer."""
    assert body["_status"] == 200, body
    assert body["errors"] == [
        {"message": "PersistedQueryNotFound", "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"}}
    ]
    assert body.get("data") is None


# The protocol


def test_an_unknown_hash_alone_is_persisted_query_not_found_at_http_200(
    api: Api, alice: str
) -> None:
    body = hash_only(api, ADD, alice, variables={"t": "never"})
    assert_not_found(body)
    assert posts() == 0
    assert stored() == set()


def test_hash_with_its_query_registers_the_document_and_runs_it(api: Api, alice: str) -> None:
    body = with_query(api, ADD, alice, variables={"t": "first"})
    assert "errors" not in body, body
    assert body["data"] == {"addPost": {"post": {"text": "first"}}}
    assert stored() == {sha256_hex(ADD)}
    assert posts() == 1


def test_a_registered_hash_alone_runs_the_document_with_variables(api: Api, alice: str) -> None:
    with_query(api, ADD, alice, variables={"t": "first"})
    body = hash_only(api, ADD, alice, variables={"t": "second"})
    assert body == {"data": {"addPost": {"post": {"text": "second"}}}, "_status": 200}
    assert [p["text"] for p in api.posts(alice)] == ["second", "first"]


def test_a_registered_hash_alone_runs_the_operation_it_names(api: Api, alice: str) -> None:
    first = with_query(api, BOTH, alice, variables={"t": "one"}, operation="Add")
    assert first["data"] == {"addPost": {"post": {"text": "one"}}}
    body = hash_only(api, BOTH, alice, variables={"t": "two"}, operation="Add")
    assert body["data"] == {"addPost": {"post": {"text": "two"}}}
    body = hash_only(api, BOTH, alice, operation="Mine")
    assert body["data"] == {"getPosts": [{"text": "two"}, {"text": "one"}]}


def test_a_registered_hash_alone_without_a_needed_operation_name_runs_nothing(
    api: Api, alice: str
) -> None:
    with_query(api, BOTH, alice, variables={"t": "one"}, operation="Add")
    body = hash_only(api, BOTH, alice, variables={"t": "two"})
    assert error_code(body) == "BAD_USER_INPUT"
    assert posts() == 1


def test_a_registered_document_is_still_found_once_this_process_forgets_it(
    api: Api, alice: str
) -> None:
    with_query(api, LIST, alice)
    reset_caches()  # a new pipeline: the process LRU is empty, the table is not
    api.add_post("stored", token=alice)
    body = hash_only(api, LIST, alice)
    assert body == {"data": {"getPosts": [{"text": "stored"}]}, "_status": 200}


def test_a_registered_hash_runs_for_another_caller_with_their_own_token(
    api: Api, alice: str, bob: str
) -> None:
    api.add_post("alice's", token=alice)
    api.add_post("bob's", token=bob)
    with_query(api, LIST, alice)
    assert hash_only(api, LIST, bob)["data"] == {"getPosts": [{"text": "bob's"}]}


def test_a_hash_only_request_still_needs_a_token(api: Api, alice: str) -> None:
    with_query(api, ADD, alice, variables={"t": "first"})
    body = hash_only(api, ADD, variables={"t": "anonymous"})
    assert error_code(body) == "UNAUTHENTICATED"
    assert posts() == 1


# Refusals: nothing stored, nothing run


def test_a_hash_that_is_not_the_sha256_of_the_query_is_bad_user_input(api: Api, alice: str) -> None:
    wrong = sha256_hex(LIST)
    body = with_query(api, ADD, alice, variables={"t": "x"}, digest=wrong)
    assert error_code(body) == "BAD_USER_INPUT"
    assert body.get("data") is None
    assert posts() == 0
    assert stored() == set()
    # Neither hash now names anything.
    assert_not_found(hash_only(api, LIST, alice))
    assert_not_found(hash_only(api, ADD, alice, variables={"t": "x"}))


@pytest.mark.parametrize(
    "document",
    [
        "mutation Add($t: String!) { addPost(text: $t) { post { text } }",  # does not parse
        "query { getPosts { nope } }",  # does not validate
        "query { getPosts { text } } query { getPosts { text } }",  # anonymous twice
        "mutation($t: String!) { addPost(text: $t) { post { text } } getPosts }",
    ],
    ids=["syntax", "unknown field", "two anonymous", "leaf without selection"],
)
def test_a_document_that_does_not_parse_or_validate_is_not_stored(
    api: Api, alice: str, document: str
) -> None:
    body = with_query(api, document, alice, variables={"t": "x"})
    assert error_code(body) == "BAD_USER_INPUT"
    assert stored() == set()
    assert posts() == 0
    assert_not_found(hash_only(api, document, alice, variables={"t": "x"}))


@pytest.mark.parametrize("version", [2, 0, "1", None, 1.5])
def test_a_version_other_than_1_is_bad_user_input(api: Api, alice: str, version: object) -> None:
    body = api.send(
        {"query": ADD, "variables": {"t": "x"}, "extensions": persisted(sha256_hex(ADD), version)},
        token=alice,
    )
    assert error_code(body) == "BAD_USER_INPUT"
    assert posts() == 0
    assert stored() == set()


@pytest.mark.parametrize(
    "digest",
    [
        sha256_hex(ADD).upper(),
        sha256_hex(ADD)[:63],
        sha256_hex(ADD) + "0",
        "g" * 64,
        "",
        None,
        12345,
        ["a" * 64],
    ],
    ids=["upper case", "63 digits", "65 digits", "not hex", "empty", "null", "number", "list"],
)
def test_a_malformed_hash_is_bad_user_input(api: Api, alice: str, digest: object) -> None:
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
    for payload in (
        {"query": ADD, "variables": {"t": "x"}, "extensions": extensions},
        {"variables": {"t": "x"}, "extensions": extensions},
    ):
        body = api.send(payload, token=alice)
        assert error_code(body) == "BAD_USER_INPUT", payload
    assert posts() == 0
    assert stored() == set()


def test_a_persisted_query_that_is_not_an_object_is_bad_user_input(api: Api, alice: str) -> None:
    body = api.send(
        {"query": ADD, "variables": {"t": "x"}, "extensions": {"persistedQuery": "yes"}},
        token=alice,
    )
    assert error_code(body) == "BAD_USER_INPUT"
    assert posts() == 0


# Switched off


def test_with_apq_disabled_hash_only_is_persisted_query_not_supported(api: Api, alice: str) -> None:
    with_query(api, LIST, alice)  # registered while it was on
    settings.APQ_ENABLED = False
    reset_caches()
    body = hash_only(api, LIST, alice)
    assert body["_status"] == 200
    assert error_code(body) == "PERSISTED_QUERY_NOT_SUPPORTED"
    assert body.get("data") is None


def test_with_apq_disabled_hash_and_query_is_not_supported_and_runs_nothing(
    api: Api, alice: str
) -> None:
    settings.APQ_ENABLED = False
    reset_caches()
    body = with_query(api, ADD, alice, variables={"t": "x"})
    assert error_code(body) == "PERSISTED_QUERY_NOT_SUPPORTED"
    assert posts() == 0
    assert stored() == set()
    # An ordinary request still works.
    assert "errors" not in api.add_post("plain", token=alice)


# A bounded store


def test_the_store_keeps_at_most_apq_max_documents_the_most_recently_used(
    api: Api, alice: str
) -> None:
    settings.APQ_MAX_DOCUMENTS = 3
    reset_caches()
    documents = [f"query Q{n} {{ getPosts {{ text }} }}" for n in range(5)]
    for document in documents[:3]:
        assert "errors" not in with_query(api, document, alice)
    # Used again through the table (a fresh process has it in no LRU): now the newest.
    reset_caches()
    assert "errors" not in hash_only(api, documents[0], alice)
    for document in documents[3:]:
        assert "errors" not in with_query(api, document, alice)
    assert stored() == {
        sha256_hex(documents[0]),
        sha256_hex(documents[3]),
        sha256_hex(documents[4]),
    }
    reset_caches()
    assert_not_found(hash_only(api, documents[1], alice))
    assert_not_found(hash_only(api, documents[2], alice))
    assert "errors" not in hash_only(api, documents[4], alice)


def test_a_document_that_keeps_being_used_survives_a_flood_of_registrations(
    api: Api, alice: str
) -> None:
    """Each process answers a known document from memory, and stamps its use in the
    shared table (at most once a minute; here every time), which evicts the least
    recently used: a flood of new documents pushes out the unused, not the used."""
    settings.APQ_MAX_DOCUMENTS = 3
    reset_caches()
    used = "query Used { getPosts { text } }"
    assert "errors" not in with_query(api, used, alice)
    bootstrap.pipeline().documents.store.touch_every_seconds = 0
    for n in range(8):
        assert "errors" not in with_query(api, f"query Flood{n} {{ getPosts {{ text }} }}", alice)
        assert "errors" not in hash_only(api, used, alice)
    assert sha256_hex(used) in stored()
    assert len(stored()) == 3


def test_the_store_never_holds_more_than_the_bound(api: Api, alice: str) -> None:
    settings.APQ_MAX_DOCUMENTS = 3
    reset_caches()
    for n in range(8):
        assert "errors" not in with_query(api, f"query Q{n} {{ getPosts {{ text }} }}", alice)
        assert len(stored()) <= 3
    assert sha256_hex("query Q7 { getPosts { text } }") in stored()


def test_registering_the_same_document_twice_stores_it_once(api: Api, alice: str) -> None:
    with_query(api, ADD, alice, variables={"t": "one"})
    reset_caches()
    body = with_query(api, ADD, alice, variables={"t": "two"})
    assert "errors" not in body, body
    assert int(db_scalar("SELECT COUNT(*) FROM persisted_queries")) == 1
    assert posts() == 2


def test_a_signup_registered_by_hash_creates_the_user_once_per_request(api: Api) -> None:
    signup = "mutation S($e: String!, $p: String!) { signup(email: $e, password: $p) { user { email } } }"
    variables = {"e": "new@example.com", "p": "correct horse battery staple"}
    assert_not_found(hash_only(api, signup, variables=variables))
    assert users() == 0
    body = with_query(api, signup, variables=variables)
    assert body["data"] == {"signup": {"user": {"email": "new@example.com"}}}
    assert users() == 1
