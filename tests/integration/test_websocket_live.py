"""postEvents over graphql-transport-ws on a live server: the caller from
``connection_init`` (4403 without a good token, 4408 without one in time), events, the
same document rules and per-user cap as the HTTP transports, the Origin check, a
session's end, and SIGTERM's close 1001 (beside an SSE stream's complete); tests/ws.py
is the client."""

from __future__ import annotations

import json
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect
from websockets.typing import Subprotocol

from config.readiness import STREAMS_NOTICE_SECONDS
from tests.live_server import Server, server_env, serving
from tests.sse import SSEStream
from tests.ws import PROTOCOL, GraphQLSocket

pytestmark = pytest.mark.live

ADD = "mutation($t: String!) { addPost(text: $t) { postId postEdge { cursor } } }"


APP = "https://app.example"


@pytest.fixture(scope="module")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for the module's tests (each signs up users of its own), but for the
    SIGTERM test's, which stops its own."""
    tmp = tmp_path_factory.mktemp("ws")
    env = server_env(
        database_url, tmp / "var", SUBSCRIPTIONS_MAX_PER_USER="2", CORS_ALLOWED_ORIGINS=APP
    )
    with serving(env, tmp / "server.log", workers=1, threads=2) as live:
        yield live


def _acknowledged(server: Server, token: str, *, as_header: bool = False) -> GraphQLSocket:
    socket = GraphQLSocket(server.port)
    payload = {"Authorization": f"Bearer {token}"} if as_header else {"token": token}
    assert socket.init(payload)["type"] == "connection_ack"
    return socket


@pytest.mark.parametrize("as_header", [False, True], ids=["token", "authorization"])
def test_events_arrive_on_a_socket_whose_connection_init_carries_the_token(
    server: Server, as_header: bool
) -> None:
    token = server.signup(f"ws-{as_header}@example.com")
    other = server.signup(f"ws-other-{as_header}@example.com")
    with _acknowledged(server, token, as_header=as_header) as socket:
        socket.subscribe("7")
        time.sleep(0.3)  # subscribed (the feed opens before the first event)
        server.graphql(ADD, {"t": "not mine"}, token=other)
        added = server.graphql(ADD, {"t": "mine"}, token=token)["data"]["addPost"]
        answered = time.monotonic()
        message = socket.receive()
        latency = time.monotonic() - answered
    assert message["type"] == "next"
    assert message["id"] == "7"
    event = message["payload"]["data"]["postEvents"]
    assert event["__typename"] == "PostAdded"
    assert event["post"]["id"] == added["postId"]
    assert event["postEdge"]["cursor"] == added["postEdge"]["cursor"]
    assert latency < 1.0


@pytest.mark.parametrize(
    "payload",
    [None, {"token": "not-a-token"}, {"Authorization": "Basic abc"}],
    ids=["none", "bad-token", "not-bearer"],
)
def test_a_connection_init_without_a_good_token_is_closed_4403(
    server: Server, payload: dict[str, str] | None
) -> None:
    with GraphQLSocket(server.port) as socket:
        socket.send({"type": "connection_init", **({"payload": payload} if payload else {})})
        assert socket.closed_with() == 4403


def test_no_connection_init_within_ten_seconds_is_closed_4408(server: Server) -> None:
    with GraphQLSocket(server.port, timeout=20) as socket:
        opened = time.monotonic()
        assert socket.closed_with() == 4408
        assert 9.0 < time.monotonic() - opened < 15.0


def test_only_graphql_transport_ws_on_graphql_is_served(server: Server) -> None:
    url = f"ws://127.0.0.1:{server.port}/graphql"
    # Another subprotocol, or none: Strawberry closes with 4406 once open.
    for subprotocols in ([], [Subprotocol("graphql-ws")]):
        with connect(url, subprotocols=subprotocols) as socket:
            with pytest.raises(ConnectionClosed) as closed:
                socket.recv(timeout=10)
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == 4406
    # Elsewhere: refused before the upgrade.
    with pytest.raises(InvalidStatus) as refused:
        connect(f"ws://127.0.0.1:{server.port}/elsewhere", subprotocols=[PROTOCOL])
    assert refused.value.response.status_code == 403


def test_an_upgrade_for_a_host_outside_allowed_hosts_is_refused(server: Server) -> None:
    def handshake(host: str) -> bytes:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as conn:
            conn.sendall(
                f"GET /graphql HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
                "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: {PROTOCOL}\r\n\r\n".encode()
            )
            return conn.recv(4096).split(b"\r\n", 1)[0]

    assert handshake(f"127.0.0.1:{server.port}") == b"HTTP/1.1 101 Switching Protocols"
    assert handshake("evil.example") == b"HTTP/1.1 403 Forbidden"


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        (None, True),  # not a browser: no ambient credentials to abuse
        ("http://127.0.0.1:{port}", True),  # the same origin
        (APP, True),  # in CORS_ALLOWED_ORIGINS
        ("https://evil.example", False),
    ],
)
def test_a_browsers_socket_from_another_origin_needs_cors_to_allow_it(
    server: Server, origin: str | None, allowed: bool
) -> None:
    headers = {"Origin": origin.format(port=server.port)} if origin else {}
    url = f"ws://127.0.0.1:{server.port}/graphql"
    if not allowed:
        with pytest.raises(InvalidStatus) as refused:
            connect(url, subprotocols=[PROTOCOL], additional_headers=headers)
        assert refused.value.response.status_code == 403
        return
    token = server.signup(f"origin-{len(headers)}-{origin and 'app' in origin}@example.com")
    with connect(url, subprotocols=[PROTOCOL], additional_headers=headers) as socket:
        socket.send(json.dumps({"type": "connection_init", "payload": {"token": token}}))
        assert json.loads(socket.recv(timeout=10))["type"] == "connection_ack"


def test_the_document_rules_of_queries_hold_on_a_socket(server: Server) -> None:
    token = server.signup("ws-rules@example.com")
    with _acknowledged(server, token) as socket:
        socket.subscribe("q", query="query { viewer { id } }")
        refused_query = socket.receive()
        deep = "subscription { postEvents { " + "__typename " * 500 + "} }"
        socket.subscribe("deep", query=deep)
        refused_cap = socket.receive()
    for message in (refused_query, refused_cap):
        assert message["type"] in {"error", "next"}, message
        errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
        assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT", message


def test_past_the_per_user_cap_a_socket_subscription_is_rate_limited(server: Server) -> None:
    token = server.signup("ws-cap@example.com")
    with _acknowledged(server, token) as socket:
        socket.subscribe("1")
        socket.subscribe("2")
        time.sleep(0.3)
        socket.subscribe("3")
        message = socket.receive()
    assert message["id"] == "3"
    errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
    assert errors[0]["extensions"]["code"] == "RATE_LIMITED"


def test_logout_ends_the_socket_subscription_with_unauthenticated(server: Server) -> None:
    token = server.signup("ws-logout@example.com")
    with _acknowledged(server, token) as socket:
        socket.subscribe("1")
        time.sleep(0.3)
        assert "errors" not in server.graphql("mutation { logout { endedSessions } }", token=token)
        ended = time.monotonic()
        message = socket.receive()
        took = time.monotonic() - ended
    errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
    assert errors[0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert took < 2.0


def test_sigterm_ends_every_open_stream_cleanly_before_the_server_stops(
    database_url: str, tmp_path: Path
) -> None:
    env = server_env(database_url, tmp_path / "var")
    with serving(env, tmp_path / "server.log", workers=1, threads=2) as server:
        _end_on_sigterm(server)


def _end_on_sigterm(server: Server) -> None:
    token = server.signup("ws-drain@example.com")
    with _acknowledged(server, token) as socket, SSEStream(server.port, token=token) as stream:
        socket.subscribe("1")
        time.sleep(0.3)
        terminated = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        assert stream.next_event()[0] == "complete"  # graphql-sse: the stream's end
        code = socket.closed_with(timeout=30)  # graphql-transport-ws: going away
        took = time.monotonic() - terminated
    assert code == 1001
    assert took < STREAMS_NOTICE_SECONDS + 1.0
    server.process.wait(timeout=30)
    assert server.process.returncode == 0
