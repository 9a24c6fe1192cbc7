"""Request ids on every response and log line, the access line, and GET /metrics."""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.http import HttpResponse
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families
from pytest_django import Settings

from observability.logs import ACCESS_FIELDS
from observability.metrics import Metrics, use_metrics
from tests.api.observability_urls import CRASH_MESSAGE
from tests.conftest import Api, error_code, reset_caches
from tests.log_lines import LogLines, capture_log_lines

TEST_URLS = "tests.api.observability_urls"
FRESH_ID = re.compile(r"[0-9a-f]{32}")
TYPENAME = json.dumps({"query": "{ __typename }"})


@pytest.fixture
def metrics() -> Iterator[Metrics]:
    """A fresh set of metrics for this test (single-process registry)."""
    fresh = Metrics()
    previous = use_metrics(fresh)
    yield fresh
    use_metrics(previous)


@pytest.fixture
def lines() -> Iterator[LogLines]:
    with capture_log_lines() as captured:
        yield captured


@pytest.fixture
def lenient() -> Client:
    return Client(raise_request_exception=False)


def sample(metrics: Metrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


# Request ids


def test_a_safe_client_request_id_is_echoed_and_logged(client: Client, lines: LogLines) -> None:
    request_id = "client-Id_1.2"
    response = client.post(
        "/graphql", TYPENAME, content_type="application/json", HTTP_X_REQUEST_ID=request_id
    )
    assert response.status_code == 200
    assert response["X-Request-ID"] == request_id
    [access] = lines.access()
    assert access["request_id"] == request_id
    assert any(f"[{request_id}]" in line for line in lines.text())


def test_a_128_character_request_id_is_kept(client: Client) -> None:
    request_id = "a" * 128
    response = client.get("/healthz", HTTP_X_REQUEST_ID=request_id)
    assert response["X-Request-ID"] == request_id


@pytest.mark.parametrize(
    "unsafe",
    [
        "a" * 129,
        "",
        "has space",
        "new\nline",
        'quote"d',
        "sl/ash",
        "ünïcode",
        "x=1; y=2",
    ],
)
def test_an_unsafe_request_id_is_replaced_by_a_fresh_one(
    client: Client, lines: LogLines, unsafe: str
) -> None:
    response = client.get("/healthz", HTTP_X_REQUEST_ID=unsafe)
    request_id = response["X-Request-ID"]
    assert FRESH_ID.fullmatch(request_id), request_id
    [access] = lines.access()
    assert access["request_id"] == request_id
    if unsafe:
        assert unsafe not in lines.all_text()


def test_without_a_client_id_every_request_gets_its_own(client: Client) -> None:
    ids = {client.get("/healthz")["X-Request-ID"] for _ in range(5)}
    assert len(ids) == 5
    assert all(FRESH_ID.fullmatch(request_id) for request_id in ids)


def _chunked(client: Client) -> HttpResponse:
    response: HttpResponse = client.generic(
        "POST",
        "/graphql",
        b"",
        content_type="application/json",
        HTTP_TRANSFER_ENCODING="chunked",
        HTTP_X_REQUEST_ID="every-kind",
    )
    return response


def _oversized(client: Client) -> HttpResponse:
    response: HttpResponse = client.post(
        "/graphql",
        TYPENAME,
        content_type="application/json",
        CONTENT_LENGTH=str(10**9),
        HTTP_X_REQUEST_ID="every-kind",
    )
    return response


def _call(method: str, path: str, **extra: Any) -> Callable[[Client], HttpResponse]:
    def call(client: Client) -> HttpResponse:
        response: HttpResponse = client.generic(
            method, path, extra.pop("data", b""), HTTP_X_REQUEST_ID="every-kind", **extra
        )
        return response

    return call


EVERY_KIND = {
    "graphql": (_call("POST", "/graphql", data=TYPENAME, content_type="application/json"), 200),
    "malformed json": (
        _call("POST", "/graphql", data="{nope", content_type="application/json"),
        400,
    ),
    "too large (413)": (_oversized, 413),
    "chunked without length (411)": (_chunked, 411),
    "health": (_call("GET", "/healthz"), 200),
    "health, HEAD": (_call("HEAD", "/healthz"), 200),
    "health, POST (405)": (_call("POST", "/healthz"), 405),
    "graphql, PUT (405)": (_call("PUT", "/graphql"), 405),
    "unknown path (404)": (_call("GET", "/nowhere"), 404),
    "bad host (400)": (_call("GET", "/healthz", HTTP_HOST="evil.example"), 400),
    "crash (500)": (_call("GET", "/test/crash"), 500),
    "metrics off (404)": (_call("GET", "/metrics"), 404),
}


@pytest.mark.urls(TEST_URLS)
@pytest.mark.parametrize("kind", EVERY_KIND)
def test_every_kind_of_response_carries_the_request_id(
    lenient: Client, lines: LogLines, kind: str
) -> None:
    call, status = EVERY_KIND[kind]
    response = call(lenient)
    assert response.status_code == status, response.content[:300]
    assert response["X-Request-ID"] == "every-kind"
    [access] = lines.access()
    assert access["request_id"] == "every-kind"
    assert access["status"] == status


@pytest.mark.urls(TEST_URLS)
def test_every_line_logged_while_serving_carries_the_request_id(
    client: Client, lines: LogLines
) -> None:
    client.get("/healthz")  # a request before, with another id
    response = client.get("/test/threaded", HTTP_X_REQUEST_ID="threads-1")
    assert response.json() == {"data": {"requestId": "threads-1"}}
    mine = [record for record in lines.json() if record["request_id"] == "threads-1"]
    messages = {record["message"] for record in mine}
    assert {"from the request thread", "from a helper thread"} <= messages
    assert sum(record["logger"] == "posts_api.access" for record in mine) == 1
    text = [line for line in lines.text() if "from a" in line or "from the" in line]
    assert len(text) == 2
    assert all("[threads-1]" in line for line in text), text


@pytest.mark.urls(TEST_URLS)
def test_concurrent_requests_keep_their_own_ids(lines: LogLines) -> None:
    def serve(n: int) -> None:
        for i in range(5):
            Client().get("/test/threaded", HTTP_X_REQUEST_ID=f"thread-{n}-{i}")

    threads = [threading.Thread(target=serve, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    records = lines.json()
    assert len(records) == 6 * 5 * 3
    by_id: dict[str, list[str]] = {}
    for record in records:
        by_id.setdefault(record["request_id"], []).append(record["logger"] + record["message"])
    assert set(by_id) == {f"thread-{n}-{i}" for n in range(6) for i in range(5)}
    for request_id, messages in by_id.items():
        assert sorted(messages)[1:] == [
            "tests.observabilityfrom a helper thread",
            "tests.observabilityfrom the request thread",
        ], (request_id, messages)
        assert sorted(messages)[0].startswith("posts_api.accessGET /test/threaded 200")


def test_an_error_response_is_logged_once_with_its_request_id(
    client: Client, lines: LogLines, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("gql.views.system_health", lambda: {"database": "unavailable"})
    response = client.get("/healthz", HTTP_X_REQUEST_ID="down-1")
    assert response.status_code == 503
    errors = [record for record in lines.json() if record["logger"] == "django.request"]
    assert [(e["message"], e["request_id"]) for e in errors] == [
        ("Service Unavailable: /healthz", "down-1")
    ]


def test_lines_outside_a_request_carry_a_dash(lines: LogLines) -> None:
    logging.getLogger("tests.observability").warning("not serving anything")
    [record] = lines.json()
    assert record["request_id"] == "-"
    assert "[-]" in lines.text()[0]


# The access line


@pytest.mark.urls(TEST_URLS)
def test_the_access_line_carries_what_the_pipeline_annotated(
    client: Client, lines: LogLines
) -> None:
    response = client.get("/test/annotated", HTTP_X_REQUEST_ID="annotated-1")
    assert response.status_code == 200
    [access] = lines.access()
    assert set(access) == {"time", "level", "logger", "message", "request_id", *ACCESS_FIELDS}
    assert access["request_id"] == "annotated-1"
    assert access["method"] == "GET"
    assert access["path"] == "/test/annotated"
    assert access["status"] == 200
    assert isinstance(access["duration_ms"], float)
    assert access["duration_ms"] >= 0
    assert access["operation_name"] == "GetPosts"
    assert access["operation_type"] == "query"
    assert access["user_id"] == 42
    assert access["outcome"] == "OK"
    assert access["level"] == "INFO"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+\+00:00", access["time"])
    [text] = [line for line in lines.text() if "posts_api.access" in line]
    for part in ("[annotated-1]", "GET /test/annotated 200", "query GetPosts", "user=42"):
        assert part in text, text


@pytest.mark.urls(TEST_URLS)
def test_an_annotated_error_code_is_the_outcome(client: Client, lines: LogLines) -> None:
    client.get("/test/annotated", {"outcome": "UNAUTHENTICATED"})
    [access] = lines.access()
    assert access["outcome"] == "UNAUTHENTICATED"
    assert access["status"] == 200


@pytest.mark.urls(TEST_URLS)
@pytest.mark.parametrize(
    ("path", "outcome"),
    [("/nowhere", "NOT_FOUND"), ("/test/crash", "INTERNAL_SERVER_ERROR")],
)
def test_without_annotation_the_outcome_comes_from_the_error_body(
    lenient: Client, lines: LogLines, path: str, outcome: str
) -> None:
    lenient.get(path)
    [access] = lines.access()
    assert access["outcome"] == outcome
    assert access["operation_name"] is None
    assert access["user_id"] is None


def test_a_413_is_logged_with_its_code(client: Client, lines: LogLines) -> None:
    assert _oversized(client).status_code == 413
    [access] = lines.access()
    assert access["outcome"] == "PAYLOAD_TOO_LARGE"
    assert access["method"] == "POST"


def test_a_path_cannot_forge_a_log_line(client: Client, lines: LogLines) -> None:
    client.get("/x%0A2025-01-01 00:00:00,000 INFO posts_api.access [forged] GET / 200")
    text = lines.text()
    assert len(text) == 1, text
    assert "\\n2025-01-01" in text[0]


@pytest.mark.urls(TEST_URLS)
def test_a_crash_is_logged_with_its_traceback_in_one_json_line(
    lenient: Client, lines: LogLines
) -> None:
    response = lenient.get("/test/crash", HTTP_X_REQUEST_ID="crash-1")
    assert response.status_code == 500
    crashes = [record for record in lines.json() if "exc_info" in record]
    assert len(crashes) == 1, crashes
    assert crashes[0]["request_id"] == "crash-1"
    assert crashes[0]["level"] == "ERROR"
    assert CRASH_MESSAGE in crashes[0]["exc_info"]
    assert crashes[0]["exc_info"].startswith("Traceback")


# Request metrics


@pytest.mark.urls(TEST_URLS)
def test_graphql_requests_are_counted_by_annotated_operation_and_outcome(
    client: Client, metrics: Metrics, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Stand in for the GraphQL endpoint: a view that annotates as the pipeline will.
    monkeypatch.setattr("observability.middleware.GRAPHQL_PATHS", frozenset({"/test/annotated"}))
    client.get("/test/annotated")
    client.get("/test/annotated")
    client.get("/test/annotated", {"outcome": "UNAUTHENTICATED"})
    client.get("/healthz")  # not a GraphQL request: not counted
    name = "posts_api_graphql_requests_total"
    assert sample(metrics, name, operation="GetPosts", outcome="OK") == 2
    assert sample(metrics, name, operation="GetPosts", outcome="UNAUTHENTICATED") == 1
    histogram = "posts_api_graphql_request_duration_seconds_count"
    assert sample(metrics, histogram, operation="GetPosts", outcome="OK") == 2
    total = sum(
        s.value
        for family in metrics.registry.collect()
        if family.name == "posts_api_graphql_requests"
        for s in family.samples
        if s.name == name
    )
    assert total == 3


def test_graphql_requests_to_the_endpoint_are_counted(client: Client, metrics: Metrics) -> None:
    for _ in range(3):
        client.post("/graphql", TYPENAME, content_type="application/json")
    client.post("/graphql", "{nope", content_type="application/json")
    name = "posts_api_graphql_requests_total"
    # The pipeline names the operation once it annotates; anonymous ones share __other__.
    assert sample(metrics, name, operation="__other__", outcome="OK") == 3
    assert sample(metrics, name, operation="__other__", outcome="BAD_USER_INPUT") == 1


def test_response_cache_hits_and_misses_are_counted(api: Api, metrics: Metrics) -> None:
    token = api.token_for("alice@example.com")
    for _ in range(3):
        api.posts(token)
    name = "posts_api_cache_requests_total"
    assert sample(metrics, name, cache="response", result="miss") == 1
    assert sample(metrics, name, cache="response", result="hit") == 2
    assert sample(metrics, name, cache="posts", result="miss") == 1


def test_posts_cache_hits_and_misses_are_counted(
    api: Api, metrics: Metrics, settings: Settings
) -> None:
    settings.RESPONSE_CACHE_MAX_BYTES = 0  # every getPosts reaches the posts cache
    reset_caches()
    token = api.token_for("alice@example.com")
    for _ in range(3):
        api.posts(token)
    name = "posts_api_cache_requests_total"
    assert sample(metrics, name, cache="posts", result="miss") == 1
    assert sample(metrics, name, cache="posts", result="hit") == 2


def test_the_bytes_each_cache_holds_are_reported(api: Api, metrics: Metrics) -> None:
    from config import bootstrap

    reset_caches()
    token = api.token_for("alice@example.com")
    api.add_post("x" * 5000, token=token)
    api.posts(token)
    metrics.render()  # a scrape reads them now
    held = {
        cache: sample(metrics, "posts_api_cache_bytes", cache=cache)
        for cache in ("posts", "response")
    }
    assert held == {
        "posts": bootstrap.current().posts_cache.current_bytes,
        "response": bootstrap.pipeline().responses.current_bytes,
    }
    assert held["posts"] > 5000
    assert held["response"] > 5000


def test_throttled_logins_are_counted(api: Api, metrics: Metrics, settings: Settings) -> None:
    settings.LOGIN_MAX_FAILURES = 2
    api.token_for("alice@example.com")
    codes = [error_code(api.login("alice@example.com", "wrong password!")) for _ in range(4)]
    assert codes == ["UNAUTHENTICATED", "UNAUTHENTICATED", "RATE_LIMITED", "RATE_LIMITED"]
    assert sample(metrics, "posts_api_throttled_total", kind="login_failures") == 2


# GET /metrics


def test_metrics_are_404_json_when_disabled(client: Client, settings: Settings) -> None:
    settings.METRICS_ENABLED = False
    response = client.get("/metrics")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert error_code(response.json()) == "NOT_FOUND"


def _families(response: HttpResponse) -> dict[str, Any]:
    return {
        family.name: family
        for family in text_string_to_metric_families(response.content.decode("utf-8"))
    }


def test_metrics_are_served_when_enabled(
    client: Client, settings: Settings, metrics: Metrics
) -> None:
    settings.METRICS_ENABLED = True
    client.post("/graphql", TYPENAME, content_type="application/json")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    families = _families(response)
    for name in (
        "posts_api_graphql_requests",
        "posts_api_graphql_request_duration_seconds",
        "posts_api_cache_requests",
        "posts_api_persisted_queries",
        "posts_api_throttled",
        "posts_api_database_errors",
        "process_resident_memory_bytes",
        "process_cpu_seconds",
    ):
        assert name in families, name
    [counted] = [
        s for s in families["posts_api_graphql_requests"].samples if s.name.endswith("_total")
    ]
    assert counted.labels == {"operation": "__other__", "outcome": "OK"}
    assert counted.value == 1


@pytest.mark.parametrize(
    ("authorization", "status"),
    [
        (None, 401),
        ("Bearer wrong-token", 401),
        ("Basic c2VjcmV0LW1ldHJpY3MtdG9rZW4=", 401),
        ("Bearer secret-metrics-token-but-longer", 401),
        ("Bearer secret-metrics-token", 200),
        ("bearer secret-metrics-token", 200),
    ],
)
def test_metrics_need_the_token_when_one_is_set(
    client: Client, settings: Settings, authorization: str | None, status: int
) -> None:
    settings.METRICS_ENABLED = True
    settings.METRICS_TOKEN = "secret-metrics-token"
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    response = client.get("/metrics", **headers)
    assert response.status_code == status
    if status == 401:
        assert error_code(response.json()) == "UNAUTHENTICATED"
        assert response["WWW-Authenticate"].startswith("Bearer")
        assert b"secret-metrics-token" not in response.content


def test_metrics_refuse_other_methods_when_enabled(client: Client, settings: Settings) -> None:
    settings.METRICS_ENABLED = True
    response = client.post("/metrics")
    assert response.status_code == 405
    assert error_code(response.json()) == "BAD_USER_INPUT"
