"""A subscription stream's head passes the middleware every other request passes
(gql/middleware.py, StreamHead): the Host check, CORS and the security headers, although
the stream itself runs on the event loop outside Django's handler."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.live_server import Server, server_env, serving
from tests.sse import POST_EVENTS, SSEStream

pytestmark = pytest.mark.live

APP = "https://app.example"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, database_url: str) -> Iterator[Server]:
    tmp: Path = tmp_path_factory.mktemp("head")
    env = server_env(database_url, tmp / "var", CORS_ALLOWED_ORIGINS=APP)
    with serving(env, tmp / "server.log", workers=1, threads=1) as live:
        yield live


def test_a_stream_for_a_host_outside_allowed_hosts_is_refused_in_json(server: Server) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection.request(
        "POST",
        "/graphql",
        body=json.dumps({"query": POST_EVENTS}),
        headers={
            "Host": "evil.example",
            "Content-Type": "application/json",
            "Accept": "text/event-stream",
        },
    )
    response = connection.getresponse()
    assert response.status == 400
    assert response.getheader("content-type", "").startswith("application/json")
    (error,) = json.loads(response.read())["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.mark.parametrize(("origin", "allowed"), [(APP, True), ("https://evil.example", False)])
def test_a_stream_from_a_browser_gets_cors_as_any_request_does(
    server: Server, origin: str, allowed: bool
) -> None:
    token = server.signup(f"head-{allowed}@example.com")
    with SSEStream(server.port, token=token, headers={"Origin": origin}) as stream:
        assert stream.status == 200
        headers = {name.lower(): value for name, value in stream.headers.items()}
    assert ("access-control-allow-origin" in headers) is allowed
    if allowed:
        assert headers["access-control-allow-origin"] == APP
    assert "origin" in headers.get("vary", "").lower()


def test_a_stream_carries_the_security_headers(server: Server) -> None:
    token = server.signup("head-security@example.com")
    with SSEStream(server.port, token=token) as stream:
        headers = {name.lower(): value for name, value in stream.headers.items()}
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-request-id"]
