"""The persisted-query store is shared: two real servers on one database."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PASSWORD
from tests.live_server import Server, fetch, local_request, server_env, serving_two

pytestmark = pytest.mark.live

ADD = "mutation Add($t: String!) { addPost(text: $t) { post { text } } }"
DIGEST = hashlib.sha256(ADD.encode()).hexdigest()


@pytest.fixture
def servers(database_url: str, tmp_path: Path) -> Iterator[tuple[Server, Server]]:
    env = server_env(database_url, tmp_path / "var")
    with serving_two(env, tmp_path, threads=2) as both:
        yield both


def send(server: Server, payload: dict[str, Any], token: str) -> dict[str, Any]:
    request = local_request(
        f"{server.base}/graphql",
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        method="POST",
    )
    status, raw = fetch(request, timeout=30)
    body: dict[str, Any] = json.loads(raw)
    body["_status"] = status
    return body


def persisted(**payload: Any) -> dict[str, Any]:
    return {**payload, "extensions": {"persistedQuery": {"version": 1, "sha256Hash": DIGEST}}}


def test_a_document_registered_through_one_server_runs_by_hash_on_another(
    servers: tuple[Server, Server],
) -> None:
    a, b = servers
    signup = a.graphql(
        "mutation($e: String!, $p: String!) { signup(email: $e, password: $p) { token } }",
        {"e": "apq@example.com", "p": PASSWORD},
    )
    token = signup["data"]["signup"]["token"]

    unknown = send(b, persisted(variables={"t": "too early"}), token)
    assert unknown["_status"] == 200
    assert unknown["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"

    registered = send(a, persisted(query=ADD, variables={"t": "via A"}), token)
    assert registered["data"] == {"addPost": {"post": {"text": "via A"}}}, registered

    on_b = send(b, persisted(variables={"t": "via B"}), token)
    assert on_b == {"data": {"addPost": {"post": {"text": "via B"}}}, "_status": 200}
    listed = b.graphql("{ getPosts { text } }", token=token)
    assert listed["data"] == {"getPosts": [{"text": "via B"}, {"text": "via A"}]}
