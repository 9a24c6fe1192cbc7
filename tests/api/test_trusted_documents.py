"""Trusted documents: with an Apollo persisted-query manifest, only its documents run."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from config import bootstrap
from devkit.client import sha256_hex
from gql.trusted import load_manifest
from tests.conftest import PASSWORD, Api, db_scalar, error_code, reset_caches
from tests.live_server import fetch, local_request, server_env, start_server

ADD = "mutation AddPost($t: String!) { addPost(text: $t) { post { text } } }"
LIST = "query MyPosts { getPosts { text } }"
SIGNUP = "mutation Signup($e: String!, $p: String!) { signup(email: $e, password: $p) { token } }"


def manifest(*documents: tuple[str, str, str]) -> dict[str, Any]:
    """What @apollo/generate-persisted-query-manifest writes, for (name, type, body)."""
    return {
        "format": "apollo-persisted-query-manifest",
        "version": 1,
        "operations": [
            {"id": sha256_hex(body), "name": name, "type": kind, "body": body}
            for name, kind, body in documents
        ],
    }


def write(path: Path, content: object) -> str:
    path.write_text(content if isinstance(content, str) else json.dumps(content), "utf-8")
    return str(path)


@pytest.fixture
def trusted(tmp_path: Path, alice: str) -> str:
    """Trusted-documents mode with a manifest of ADD, LIST and SIGNUP (alice exists)."""
    path = write(
        tmp_path / "manifest.json",
        manifest(
            ("AddPost", "mutation", ADD), ("MyPosts", "query", LIST), ("Signup", "mutation", SIGNUP)
        ),
    )
    settings.GRAPHQL_TRUSTED_DOCUMENTS = path
    reset_caches()
    return path


def by_hash(api: Api, document: str, token: str | None, **variables: Any) -> dict[str, Any]:
    return api.send(
        {
            "variables": variables,
            "extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(document)}},
        },
        token=token,
    )


def posts() -> int:
    return int(db_scalar("SELECT COUNT(*) FROM posts"))


def users() -> int:
    return int(db_scalar("SELECT COUNT(*) FROM users"))


def stored() -> int:
    return int(db_scalar("SELECT COUNT(*) FROM persisted_queries"))


# What runs


def test_a_listed_document_runs_by_hash(api: Api, alice: str, trusted: str) -> None:
    body = by_hash(api, ADD, alice, t="by hash")
    assert body == {"data": {"addPost": {"post": {"text": "by hash"}}}, "_status": 200}
    assert by_hash(api, LIST, alice)["data"] == {"getPosts": [{"text": "by hash"}]}


def test_a_listed_document_runs_by_its_identical_full_text(
    api: Api, alice: str, trusted: str
) -> None:
    body = api.post(ADD, {"t": "by text"}, token=alice)
    assert body["data"] == {"addPost": {"post": {"text": "by text"}}}
    assert posts() == 1


def test_a_listed_signup_runs(api: Api, alice: str, trusted: str) -> None:
    body = by_hash(api, SIGNUP, None, e="new@example.com", p=PASSWORD)
    assert "errors" not in body, body
    assert users() == 2


# What does not


def test_a_full_document_not_in_the_manifest_is_refused_and_runs_nothing(
    api: Api, alice: str, trusted: str
) -> None:
    body = api.signup("intruder@example.com")
    assert error_code(body) == "BAD_USER_INPUT"
    assert body.get("data") is None
    assert users() == 1
    body = api.add_post("not trusted", token=alice)
    assert error_code(body) == "BAD_USER_INPUT"
    assert posts() == 0


def test_a_listed_document_with_different_whitespace_is_not_the_same_document(
    api: Api, alice: str, trusted: str
) -> None:
    body = api.post(ADD.replace(" {", "  {"), {"t": "almost"}, token=alice)
    assert error_code(body) == "BAD_USER_INPUT"
    assert posts() == 0


def test_an_untrusted_document_with_its_own_hash_is_refused_and_not_registered(
    api: Api, alice: str, trusted: str
) -> None:
    document = "mutation Other($t: String!) { addPost(text: $t) { postId } }"
    body = api.send(
        {
            "query": document,
            "variables": {"t": "sneaky"},
            "extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(document)}},
        },
        token=alice,
    )
    assert error_code(body) == "BAD_USER_INPUT"
    assert posts() == 0
    assert stored() == 0


def test_a_trusted_hash_with_another_document_is_refused(
    api: Api, alice: str, trusted: str
) -> None:
    other = "mutation AddPost($t: String!) { addPost(text: $t) { postId } }"
    body = api.send(
        {
            "query": other,
            "variables": {"t": "swap"},
            "extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(ADD)}},
        },
        token=alice,
    )
    assert error_code(body) == "BAD_USER_INPUT"
    assert posts() == 0


def test_an_unknown_hash_is_persisted_query_not_found(api: Api, alice: str, trusted: str) -> None:
    body = by_hash(api, "{ getPosts { id } }", alice)
    assert body["_status"] == 200
    assert error_code(body) == "PERSISTED_QUERY_NOT_FOUND"
    assert body.get("data") is None


def test_a_document_registered_by_apq_before_does_not_run_in_trusted_mode(
    api: Api, alice: str, tmp_path: Path
) -> None:
    document = "mutation Registered($t: String!) { addPost(text: $t) { postId } }"
    registered = api.send(
        {
            "query": document,
            "variables": {"t": "while open"},
            "extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(document)}},
        },
        token=alice,
    )
    assert "errors" not in registered, registered
    settings.GRAPHQL_TRUSTED_DOCUMENTS = write(
        tmp_path / "manifest.json", manifest(("MyPosts", "query", LIST))
    )
    reset_caches()
    body = by_hash(api, document, alice, t="after lock-down")
    assert error_code(body) == "PERSISTED_QUERY_NOT_FOUND"
    assert posts() == 1


def test_trusted_documents_run_even_with_apq_disabled(api: Api, alice: str, trusted: str) -> None:
    settings.APQ_ENABLED = False
    reset_caches()
    assert by_hash(api, ADD, alice, t="still")["data"] == {"addPost": {"post": {"text": "still"}}}


# Malformed manifests stop start-up


def _good() -> dict[str, Any]:
    return manifest(("MyPosts", "query", LIST))


def _with_operation(**changes: Any) -> dict[str, Any]:
    content = _good()
    content["operations"][0].update(changes)
    return {k: v for k, v in content.items() if v is not None}


def _without_body() -> dict[str, Any]:
    content = _good()
    del content["operations"][0]["body"]
    return content


MALFORMED: dict[str, tuple[object, str]] = {
    "not json": ("{not json", "JSON"),
    "not utf-8": ("\udcff", "JSON"),
    "a list": ([], "format"),
    "wrong format": ({**_good(), "format": "apollo-something-else"}, "format"),
    "no format": ({"version": 1, "operations": []}, "format"),
    "wrong version": ({**_good(), "version": 2}, "version"),
    "operations not a list": ({**_good(), "operations": {}}, "operations"),
    "operation not an object": ({**_good(), "operations": ["query { x }"]}, "operation 0"),
    "id not the sha256 of the body": (_with_operation(id=sha256_hex("{ other }")), "SHA-256"),
    "missing id": (_with_operation(id=None), "SHA-256"),
    "missing body": (_without_body(), "body"),
    "empty body": (_with_operation(body=""), "body"),
}


def _write_malformed(path: Path, content: object) -> str:
    if content == "\udcff":  # bytes that are not UTF-8
        path.write_bytes(b'{"format": "\xff"}')
        return str(path)
    return write(path, content)


@pytest.mark.parametrize("name", list(MALFORMED))
def test_a_malformed_manifest_is_improperly_configured_with_a_clear_message(
    tmp_path: Path, name: str
) -> None:
    content, hint = MALFORMED[name]
    path = _write_malformed(tmp_path / "manifest.json", content)
    with pytest.raises(ImproperlyConfigured) as raised:
        load_manifest(path)
    message = str(raised.value)
    assert "GRAPHQL_TRUSTED_DOCUMENTS" in message
    assert path in message
    assert hint in message


def test_a_missing_manifest_file_is_improperly_configured(tmp_path: Path) -> None:
    path = str(tmp_path / "nowhere.json")
    with pytest.raises(ImproperlyConfigured, match="cannot be read"):
        load_manifest(path)


@pytest.mark.parametrize("name", ["not json", "wrong version", "id not the sha256 of the body"])
def test_the_pipeline_cannot_be_built_from_a_malformed_manifest(tmp_path: Path, name: str) -> None:
    settings.GRAPHQL_TRUSTED_DOCUMENTS = _write_malformed(
        tmp_path / "manifest.json", MALFORMED[name][0]
    )
    with pytest.raises(ImproperlyConfigured):
        bootstrap.bootstrap()


def test_the_pipeline_cannot_be_built_without_the_manifest_file(tmp_path: Path) -> None:
    settings.GRAPHQL_TRUSTED_DOCUMENTS = str(tmp_path / "nowhere.json")
    with pytest.raises(ImproperlyConfigured):
        bootstrap.bootstrap()


def test_a_well_formed_manifest_loads_every_document_by_hash(tmp_path: Path) -> None:
    path = write(
        tmp_path / "manifest.json",
        manifest(("AddPost", "mutation", ADD), ("MyPosts", "query", LIST)),
    )
    assert load_manifest(path) == {sha256_hex(ADD): ADD, sha256_hex(LIST): LIST}


@pytest.mark.live
def test_a_server_with_a_malformed_manifest_does_not_come_up(
    database_url: str, tmp_path: Path
) -> None:
    path = write(tmp_path / "manifest.json", {**_good(), "version": 2})
    env = server_env(database_url, tmp_path / "var", GRAPHQL_TRUSTED_DOCUMENTS=path)
    server = start_server(env, tmp_path / "gunicorn.log", threads=1)
    try:
        try:
            server.process.wait(timeout=60)
        except subprocess.TimeoutExpired:  # still running: it must at least not serve
            status, _raw = fetch(local_request(f"{server.base}/healthz"), timeout=5)
            pytest.fail(f"the server kept running (healthz {status}):\n{server.output()}")
        assert server.process.returncode != 0
        assert "GRAPHQL_TRUSTED_DOCUMENTS" in server.output()
    finally:
        server.stop()
