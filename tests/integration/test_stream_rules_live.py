"""The rest of the contract's "Live updates" on a live server, one test a rule: every
way a session ends ends its streams; Apollo's multipart heartbeat; the metrics; and
persisted documents and the never-seen-document budget for subscription documents."""

from __future__ import annotations

import http.client
import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devkit.client import sha256_hex
from tests.live_server import Server, fetch, local_request, server_env, serving
from tests.sse import POST_EVENTS, SSEStream

pytestmark = pytest.mark.live

PASSWORD = "correct horse battery staple"
METRICS_TOKEN = secrets.token_urlsafe(24)
SIGNUP = (
    "mutation($e: String!, $p: String!) { signup(email: $e, password: $p) { token refreshToken } }"
)
ADD = "mutation($t: String!) { addPost(text: $t) { postId } }"
REFRESH = "mutation($r: String!) { refreshToken(refreshToken: $r) { token } }"
ENDINGS = {
    "logoutEverywhere": ("mutation { logoutEverywhere { endedSessions } }", {}),
    "changePassword": (
        "mutation($c: String!, $n: String!) "
        "{ changePassword(currentPassword: $c, newPassword: $n) { token } }",
        {"c": PASSWORD, "n": "another horse battery staple"},
    ),
    "deleteAccount": (
        "mutation($p: String!) { deleteAccount(password: $p) { __typename } }",
        {"p": PASSWORD},
    ),
}


@pytest.fixture(scope="module")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("rules")
    env = server_env(database_url, tmp / "var", METRICS_ENABLED="1", METRICS_TOKEN=METRICS_TOKEN)
    with serving(env, tmp / "server.log", workers=1, threads=2) as live:
        yield live


def _signup(server: Server, email: str) -> tuple[str, str]:
    body = server.graphql(SIGNUP, {"e": email, "p": PASSWORD})
    assert "errors" not in body, body
    return body["data"]["signup"]["token"], body["data"]["signup"]["refreshToken"]


def _ended_unauthenticated(stream: SSEStream) -> float:
    """Seconds until the stream's next event, which must be its UNAUTHENTICATED end."""
    started = time.monotonic()
    kind, event = stream.next_event()
    took = time.monotonic() - started
    assert kind == "next"
    assert event is not None
    assert event["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", event
    return took


@pytest.mark.parametrize("ending", [*ENDINGS, "refresh-token reuse"])
def test_every_way_a_session_ends_ends_its_streams_within_two_seconds(
    server: Server, ending: str
) -> None:
    token, refresh = _signup(server, f"ends-{ending.replace(' ', '-')}@example.com")
    with SSEStream(server.port, token=token) as stream:
        if ending == "refresh-token reuse":
            assert "errors" not in server.graphql(REFRESH, {"r": refresh})
            reused = server.graphql(REFRESH, {"r": refresh})
            assert reused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        else:
            document, variables = ENDINGS[ending]
            assert "errors" not in server.graphql(document, variables, token=token)
        assert _ended_unauthenticated(stream) < 2.0


def test_a_multipart_subscription_gets_a_heartbeat_at_least_every_15_seconds(
    server: Server,
) -> None:
    token, _ = _signup(server, "heartbeat@example.com")
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=20)
    connection.request(
        "POST",
        "/graphql",
        body=f'{{"query": {POST_EVENTS!r}}}'.replace("'", '"'),
        headers={
            "Content-Type": "application/json",
            "Accept": 'multipart/mixed;subscriptionSpec="1.0"',
            "Authorization": f"Bearer {token}",
        },
    )
    response = connection.getresponse()
    assert response.status == 200
    assert response.getheader("content-type", "").startswith("multipart/mixed")
    beats: list[float] = []
    opened = time.monotonic()
    try:
        while len(beats) < 2:
            line = response.fp.readline()
            assert line, "the stream ended"
            if line.strip() == b"{}":
                beats.append(time.monotonic())
    finally:
        connection.close()
    gaps = [beats[0] - opened, beats[1] - beats[0]]
    assert max(gaps) <= 15.0, gaps


def _metric(server: Server, name: str) -> float:
    status, body = fetch(
        local_request(
            f"{server.base}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
        ),
        timeout=10,
    )
    assert status == 200
    values = [
        float(match.group(1))
        for match in re.finditer(rf"^{name}(?:{{[^}}]*}})? (\S+)$", body.decode(), re.MULTILINE)
    ]
    assert values, f"{name} is not among the metrics"
    return sum(values)


def test_the_metrics_count_open_streams_and_events_delivered(server: Server) -> None:
    token, _ = _signup(server, "metrics@example.com")
    open_before = _metric(server, "posts_api_streams_open")
    delivered_before = _metric(server, "posts_api_stream_events_total")
    with SSEStream(server.port, token=token) as stream:
        server.graphql(ADD, {"t": "counted"}, token=token)
        assert stream.next_event()[0] == "next"
        assert _metric(server, "posts_api_streams_open") == open_before + 1
        assert _metric(server, "posts_api_stream_events_total") == delivered_before + 1
    deadline = time.monotonic() + 5
    while _metric(server, "posts_api_streams_open") != open_before:
        assert time.monotonic() < deadline, "the closed stream is still counted"
        time.sleep(0.1)


def test_a_subscription_document_can_be_persisted_and_run_by_its_hash(server: Server) -> None:
    token, _ = _signup(server, "persisted@example.com")
    document = POST_EVENTS.replace("subscription Live", "subscription LivePersisted")
    apq = {"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(document)}}
    with SSEStream(server.port, token=token, query=None, extensions=apq) as unknown:
        _, event = unknown.next_event()
    assert event is not None
    assert event["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    with SSEStream(server.port, token=token, query=document, extensions=apq) as registering:
        server.graphql(ADD, {"t": "first"}, token=token)
        assert registering.next_event()[0] == "next"
    with SSEStream(server.port, token=token, query=None, extensions=apq) as by_hash:
        server.graphql(ADD, {"t": "by its hash"}, token=token)
        kind, event = by_hash.next_event()
    assert kind == "next"
    assert event is not None
    assert event["data"]["postEvents"]["post"]["text"] == "by its hash"


def test_never_seen_subscription_documents_spend_the_addresss_budget(
    database_url: str, tmp_path: Path
) -> None:
    env = server_env(
        database_url, tmp_path / "var", GRAPHQL_NEW_DOCUMENTS_PER_ADDRESS_PER_MINUTE="3"
    )
    with serving(env, tmp_path / "server.log", workers=1, threads=1) as live:
        token = live.signup("budget-streams@example.com")  # one never-seen document
        codes = []
        for n in range(4):
            document = f"subscription New{n} {{ postEvents {{ __typename }} }}"
            with SSEStream(live.port, token=token, query=document) as stream:
                live.graphql(ADD, {"t": f"post {n}"}, token=token)
                _, event = stream.next_event()
            assert event is not None
            codes.append((event.get("errors") or [{}])[0].get("extensions", {}).get("code"))
    # signup, addPost and the first subscription fit; the rest are refused.
    assert codes[0] is None, codes
    assert codes[1:] == ["RATE_LIMITED"] * 3, codes
