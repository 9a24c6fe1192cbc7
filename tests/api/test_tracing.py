"""Tracing (the contract, Operations and request logs): a span per request, a child span
per GraphQL operation named after it, spans for its statements, an incoming
``traceparent`` honoured, the trace id in the access line; nothing a client sent on
any span; off by default."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from functools import partial

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from gql.extensions import operation_tracing
from gql.schema import schema
from observability.tracing import configure_tracing, tracing_enabled, unconfigure_tracing
from persistence.db import reset_engine
from tests.conftest import PASSWORD, Api

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"


# The Django instrumentation adds its middleware to settings: this fixture comes before
# any fixture that makes a request (which loads the middleware).
@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    configure_tracing(provider)
    reset_engine()  # the next engine is made instrumented
    tracing = partial(operation_tracing(), tracer_provider=provider)
    monkeypatch.setattr(schema, "extensions", [*schema.extensions, tracing])
    try:
        yield exporter
    finally:
        unconfigure_tracing()
        reset_engine()


def _by_id(finished: tuple[ReadableSpan, ...]) -> dict[int, ReadableSpan]:
    return {span.context.span_id: span for span in finished}


def _ancestors(span: ReadableSpan, spans: dict[int, ReadableSpan]) -> list[ReadableSpan]:
    chain = []
    while span.parent is not None and span.parent.span_id in spans:
        span = spans[span.parent.span_id]
        chain.append(span)
    return chain


def test_a_request_has_its_span_with_the_operation_and_statements_under_it(
    spans: InMemorySpanExporter, api: Api, alice: str
) -> None:
    spans.clear()
    assert "errors" not in api.post("query Mine { getPosts { id } }", token=alice)
    finished = spans.get_finished_spans()
    by_id = _by_id(finished)
    (request,) = [s for s in finished if s.kind is SpanKind.SERVER and s.name.startswith("POST")]
    (operation,) = [s for s in finished if s.name == "GraphQL Query: Mine"]
    assert operation.parent is not None
    assert operation.parent.span_id == request.context.span_id
    statements = [s for s in finished if s.attributes and "db.statement" in s.attributes]
    assert statements, [s.name for s in finished]
    assert all(request in _ancestors(s, by_id) for s in statements)
    assert {s.context.trace_id for s in finished} == {request.context.trace_id}


def test_an_incoming_traceparent_is_honoured_and_the_access_line_carries_the_trace_id(
    spans: InMemorySpanExporter, api: Api, alice: str, caplog: pytest.LogCaptureFixture
) -> None:
    spans.clear()
    with caplog.at_level(logging.INFO, logger="posts_api.access"):
        api.post(
            "query Mine { getPosts { id } }",
            token=alice,
            HTTP_TRACEPARENT=f"00-{TRACE_ID}-{PARENT_ID}-01",
        )
    (request,) = [
        s
        for s in spans.get_finished_spans()
        if s.kind is SpanKind.SERVER and s.name.startswith("POST")
    ]
    assert format(request.context.trace_id, "032x") == TRACE_ID
    assert request.parent is not None
    assert format(request.parent.span_id, "016x") == PARENT_ID
    (line,) = [r for r in caplog.records if r.name == "posts_api.access"]
    assert f"trace={TRACE_ID}" in line.getMessage()
    assert line.trace_id == TRACE_ID  # type: ignore[attr-defined]


def test_no_span_carries_the_document_a_password_a_token_or_post_text(
    spans: InMemorySpanExporter, api: Api
) -> None:
    spans.clear()
    body = api.post(
        f'mutation Join {{ signup(email: "trace@example.com", password: "{PASSWORD}") {{ token }} }}'
    )
    token = body["data"]["signup"]["token"]
    api.post('mutation Say { addPost(text: "a secret thought") { postId } }', token=token)
    values = [
        str(value)
        for span in spans.get_finished_spans()
        for value in (span.attributes or {}).values()
    ]
    assert values
    for secret in (PASSWORD, token, "a secret thought", "signup(", "addPost("):
        assert not [v for v in values if secret in v], secret


def test_tracing_is_off_unless_the_otel_variables_ask_for_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OTEL_TRACES_EXPORTER", raising=False)
    assert not tracing_enabled()
    assert not configure_tracing()
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    assert not tracing_enabled()
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    assert tracing_enabled()
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    assert not tracing_enabled()


def test_off_nothing_is_instrumented() -> None:
    from django.conf import settings

    assert not tracing_enabled()  # the test environment sets no OTEL_* variable
    assert not any("opentelemetry" in name for name in settings.MIDDLEWARE)
    assert [extension.__name__ for extension in schema.extensions] == ["UsePreparedDocument"]  # type: ignore[union-attr]


@pytest.mark.budget
def test_off_tracing_costs_nothing_measurable(
    api: Api, alice: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A getPosts that executes (the response cache cleared before each), with the
    OpenTelemetry packages imported and without (what the access line then looks up),
    CPU in this process, the cheapest of interleaved rounds."""
    import gc
    import sys
    import time

    from config import bootstrap

    for n in range(10):
        api.add_post(f"post {n}", token=alice)
    responses = bootstrap.pipeline().responses
    body = json.dumps({"query": "query { getPosts { id text createdAt } }"})
    headers = {"HTTP_AUTHORIZATION": f"Bearer {alice}"}

    def cpu() -> float:
        started = time.process_time()
        for _ in range(100):
            responses.clear()
            api.client.post("/graphql", body, content_type="application/json", **headers)
        return time.process_time() - started

    trace_module = sys.modules["opentelemetry.trace"]
    imported, absent = [], []
    gc.collect()
    for _ in range(7):
        imported.append(cpu())
        monkeypatch.delitem(sys.modules, "opentelemetry.trace")
        absent.append(cpu())
        monkeypatch.setitem(sys.modules, "opentelemetry.trace", trace_module)
    ratio = min(imported) / min(absent)
    print(f"tracing off: {ratio:.3f}x with the packages imported")
    assert ratio < 1.05
