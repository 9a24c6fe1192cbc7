"""postEvents received by the real client libraries under Node against a live server:
graphql-sse's client (distinct connections), Apollo Client's HttpLink (multipart
subscriptions) and graphql-ws's client (graphql-transport-ws). tests/clients/subscriptions
holds the client (run.js) and its locked packages.

Needs Node 20 and npm; without them the test skips, or fails when CI is set.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.live_server import PROJECT, server_env, serving
from tests.node_clients import install, require_node

pytestmark = pytest.mark.live

CLIENTS = PROJECT / "tests" / "clients" / "subscriptions"
SIGNUP = "mutation($e: String!, $p: String!) { signup(email: $e, password: $p) { token } }"


def _node() -> str:
    node, npm = require_node("the subscription client test")
    install(CLIENTS, npm)
    return node


@pytest.mark.parametrize("client", ["graphql-sse", "apollo", "graphql-ws"])
def test_a_real_client_receives_the_callers_post_events(
    client: str, database_url: str, tmp_path: Path
) -> None:
    node = _node()
    with serving(server_env(database_url, tmp_path / "var"), tmp_path / "server.log") as server:
        body = server.graphql(SIGNUP, {"e": f"{client}@example.com", "p": "correct horse 12"})
        token = body["data"]["signup"]["token"]
        completed = subprocess.run(
            [node, "run.js", client, f"{server.base}/graphql", token],
            cwd=CLIENTS,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert completed.returncode == 0, completed.stderr
    seen = json.loads(completed.stdout)
    events = [event["data"]["postEvents"] for event in seen["events"]]
    assert events[0]["__typename"] == "PostAdded"
    assert events[0]["post"]["id"] == seen["postId"]
    assert events[0]["post"]["text"] == "from node"
    assert events[0]["postEdge"]["node"]["id"] == seen["postId"]
    assert events[1] == {"__typename": "PostDeleted", "deletedPostId": seen["postId"]}
