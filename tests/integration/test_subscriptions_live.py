"""postEvents on live servers: across two instances sharing the database, session and
token lifetimes, and the per-user cap (graphql-sse's distinct-connections mode, read
by tests/sse.py; the real client libraries: test_subscription_clients.py)."""

from __future__ import annotations

import json
import socket
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest

from tests.live_server import SHARED_JWT_SECRET, Server, server_env, serving, serving_two
from tests.sse import POST_EVENTS, SSEStream

pytestmark = pytest.mark.live

SIGNUP = "mutation($e: String!, $p: String!) { signup(email: $e, password: $p) { token } }"
ADD = "mutation($t: String!) { addPost(text: $t) { postId postEdge { cursor } } }"
DELETE = "mutation($p: ID!) { deletePost(postId: $p) { postId } }"
PASSWORD = "correct horse battery staple"


def _add(server: Server, token: str, text: str) -> dict[str, str]:
    body = server.graphql(ADD, {"t": text}, token=token)
    assert "errors" not in body, body
    return {"id": body["data"]["addPost"]["postId"], **body["data"]["addPost"]["postEdge"]}


def _admitted(server: Server, token: str) -> bool:
    """Whether a new stream of the user's is admitted (it receives the post added then)
    rather than refused with RATE_LIMITED (the per-user cap)."""
    with SSEStream(server.port, token=token) as stream:
        _add(server, token, "counted again")
        name, event = stream.next_event()
    assert name == "next"
    assert event is not None
    if "errors" in event:
        assert event["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        return False
    assert event["data"]["postEvents"]["__typename"] == "PostAdded"
    return True


def test_events_from_another_instance_arrive_in_order_once_and_only_the_callers(
    database_url: str, tmp_path: Path
) -> None:
    env = server_env(database_url, tmp_path / "var")
    with serving_two(env, tmp_path, threads=2) as (a, b):
        token = a.signup("live@example.com")
        other = a.signup("other@example.com")
        before = _add(b, token, "before the subscription")
        with SSEStream(a.port, token=token) as stream:
            assert stream.status == 200
            assert stream.headers["content-type"] == "text/event-stream"
            _add(b, other, "someone else's")
            first = _add(b, token, "first")
            answered = time.monotonic()
            kind, event = stream.next_event()
            latency = time.monotonic() - answered
            second = _add(b, token, "second")
            b.graphql(DELETE, {"p": first["id"]}, token=token)
            received = [event, stream.next_event()[1], stream.next_event()[1]]
        assert kind == "next"
        assert latency < 1.0
        added = [e["data"]["postEvents"] for e in received]  # type: ignore[index]
        assert added[0]["__typename"] == "PostAdded"
        assert added[0]["post"]["id"] == first["id"]
        assert added[0]["post"]["text"] == "first"
        assert added[0]["postEdge"] == {"cursor": first["cursor"], "node": {"id": first["id"]}}
        assert added[1]["post"]["id"] == second["id"]
        assert added[2] == {"__typename": "PostDeleted", "deletedPostId": first["id"]}
        assert before["id"] not in str(received)


def test_logout_on_one_instance_ends_the_stream_on_the_other_within_two_seconds(
    database_url: str, tmp_path: Path
) -> None:
    env = server_env(database_url, tmp_path / "var")
    with serving_two(env, tmp_path, threads=2) as (a, b):
        token = a.signup("leaving@example.com")
        with SSEStream(a.port, token=token) as stream:
            assert "errors" not in b.graphql("mutation { logout { endedSessions } }", token=token)
            ended = time.monotonic()
            kind, event = stream.next_event()
            took = time.monotonic() - ended
            assert kind == "next"
            assert event is not None
            assert event["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
            assert stream.next_event()[0] == "complete"
        assert took < 2.0


def test_a_stream_ends_when_its_token_expires(database_url: str, tmp_path: Path) -> None:
    with serving(server_env(database_url, tmp_path / "var"), tmp_path / "server.log") as server:
        claims = jwt.decode(
            server.signup("expiring@example.com"), options={"verify_signature": False}
        )
        now = datetime.now(UTC).replace(microsecond=0)
        short = jwt.encode(
            {**claims, "iat": now, "nbf": now, "exp": now + timedelta(seconds=3)},
            SHARED_JWT_SECRET,
            algorithm="HS256",
        )
        with SSEStream(server.port, token=short) as stream:
            kind, event = stream.next_event()
            lasted = time.monotonic() - stream.acknowledged
        assert kind == "next"
        assert event is not None
        assert event["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        assert 1.0 < lasted < 5.0


def test_past_the_per_user_cap_a_subscription_is_rate_limited_on_any_worker(
    database_url: str, tmp_path: Path
) -> None:
    env = server_env(database_url, tmp_path / "var", SUBSCRIPTIONS_MAX_PER_USER="3")
    with serving(env, tmp_path / "server.log", workers=2) as server:
        token = server.signup("many@example.com")
        streams = [SSEStream(server.port, token=token) for _ in range(3)]
        try:
            with SSEStream(server.port, token=token) as refused:
                _, event = refused.next_event()
            assert event is not None
            assert event["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
            streams.pop().close()
            # The server sees the close, and the stream's lease goes: a new one is admitted.
            deadline = time.monotonic() + 30
            while not _admitted(server, token):
                assert time.monotonic() < deadline, "the closed stream's lease never went"
                time.sleep(0.5)
        finally:
            for stream in streams:
                stream.close()


def test_a_stream_whose_client_stops_reading_is_ended_not_buffered_for(
    database_url: str, tmp_path: Path
) -> None:
    # One stream per user: a new one is admitted only once the stalled one has ended.
    env = server_env(database_url, tmp_path / "var", SUBSCRIPTIONS_MAX_PER_USER="1")
    with serving(env, tmp_path / "server.log", workers=1, threads=2) as server:
        token = server.signup("stalled@example.com")
        body = json.dumps({"query": POST_EVENTS}).encode()
        stalled = socket.socket()
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a tiny window
        stalled.connect(("127.0.0.1", server.port))
        try:
            stalled.sendall(
                f"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                f"Accept: text/event-stream\r\nAuthorization: Bearer {token}\r\n"
                f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            stalled.settimeout(10)
            assert stalled.recv(64, socket.MSG_PEEK).startswith(b"HTTP/1.1 200")
            # Far more events than the stream's queue and every buffer on the way hold,
            # until a new stream is admitted: the stalled one was ended, its place freed.
            text = "x" * (64 * 1024)
            admitted = None
            for sent in range(1, 1000):
                _add(server, token, text)
                if sent % 50 == 0 and _admitted(server, token):
                    admitted = sent
                    break
            assert admitted is not None, "the stalled stream was never ended"
            print(f"stalled stream ended within {admitted} events of 64 KiB")
        finally:
            stalled.close()
