"""A Relay app against a live server: the documents in tests/clients/relay, compiled by
the real relay-compiler against schema.graphql, run by the real relay-runtime under
Node. The mutations have no updater: @prependEdge, @deleteEdge and the payloads'
viewer { posts { totalCount } } keep the store's list and count the server's.

Needs Node 20 and npm (the packages come from the npm registry through the lock
file); without them the test skips, or fails when CI is set.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import relay_app
from tests.conftest import gid, row_id
from tests.live_server import Server, server_env, serving

pytestmark = pytest.mark.live

SIGNUP = (
    "mutation($e: String!, $p: String!) { signup(email: $e, password: $p) { token user { id } } }"
)
ADD = "mutation($t: String!) { addPost(text: $t) { postEdge { cursor node { id text } } } }"


def _add(server: Server, token: str, text: str) -> dict[str, str]:
    body = server.graphql(ADD, {"t": text}, token=token)
    assert "errors" not in body, body
    edge = body["data"]["addPost"]["postEdge"]
    return {"cursor": edge["cursor"], "id": edge["node"]["id"], "text": edge["node"]["text"]}


def test_a_relay_app_keeps_its_list_and_count_from_the_payloads_alone(
    database_url: str, tmp_path: Path
) -> None:
    node = relay_app.prepare()
    with serving(server_env(database_url, tmp_path / "var"), tmp_path / "server.log") as server:
        token = server.signup("relay@example.com")
        _add(server, server.signup("other@example.com"), "someone else's")
        older = [_add(server, token, text) for text in ("older 0", "older 1")]
        seen = relay_app.run(node, f"{server.base}/graphql", token, documents="text")

    assert seen["before"] == older[::-1]
    added, deleted = seen["added"], seen["deleted"]
    new_edge = {
        "cursor": added["postEdge"]["cursor"],
        "id": added["postEdge"]["node"]["id"],
        "text": "from relay",
    }
    assert seen["afterAdd"] == [new_edge, *older[::-1]]
    # The oldest goes, by the id the payload names; the list is the server's again.
    assert deleted["postId"] == older[0]["id"] == gid("Post", row_id(older[0]["id"]))
    assert seen["afterDelete"] == [new_edge, older[1]]
    # The count query's record, updated by each payload's viewer (no refetch).
    assert seen["counts"] == [2, 3, 2]
    assert added["viewer"]["posts"] == {"totalCount": 3}
    assert deleted["viewer"]["posts"] == {"totalCount": 2}


def test_a_relay_app_compiled_with_persisted_queries_runs_by_document_id_alone(
    database_url: str, tmp_path: Path
) -> None:
    """The server given relay-compiler's file as its trusted documents: the app sends
    only ``documentId``, and nothing else runs (the account is made beforehand, by a
    server without the file, on the same database)."""
    node = relay_app.prepare()
    env = server_env(database_url, tmp_path / "var")
    with serving(env, tmp_path / "open.log") as server:
        token = server.signup("persisted@example.com")
        older = [_add(server, token, text) for text in ("older 0", "older 1")]
    trusted = server_env(
        database_url, tmp_path / "var", GRAPHQL_TRUSTED_DOCUMENTS=str(relay_app.PERSISTED_QUERIES)
    )
    with serving(trusted, tmp_path / "trusted.log") as server:
        refused = server.graphql(
            SIGNUP, {"e": "x@example.com", "p": "correct horse battery staple"}
        )
        assert refused["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        seen = relay_app.run(node, f"{server.base}/graphql", token, documents="id")

    assert seen["before"] == older[::-1]
    assert [edge["text"] for edge in seen["afterAdd"]] == ["from relay", "older 1", "older 0"]
    assert seen["counts"] == [2, 3, 2]


def test_the_persisted_documents_are_keyed_by_the_sha256_of_their_text() -> None:
    """What a server checks a documentId against: relay-compiler's ids are SHA-256 hex."""
    documents = relay_app.persisted_documents()
    assert len(documents) == 4
    for digest, text in documents.items():
        assert relay_app.document_id(text) == f"sha256:{digest}"
    assert relay_app.persisted_document("PostsAppAddPostMutation").startswith(
        "mutation PostsAppAddPostMutation("
    )
