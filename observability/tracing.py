"""Tracing with OpenTelemetry, off by default and configured by its standard ``OTEL_*``
variables: a span per request (OpenTelemetry's Django instrumentation), a child span
per GraphQL operation named after it (Strawberry's OpenTelemetry extension, added to
the schema by gql/schema.py), and one per database statement (OpenTelemetry's
SQLAlchemy instrumentation). An incoming W3C ``traceparent`` is honoured (the Django
instrumentation's propagator), and the access log line carries the trace id.

Off (``OTEL_TRACES_EXPORTER`` unset or ``none``, or ``OTEL_SDK_DISABLED=true``),
nothing is imported and nothing is instrumented.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

# What a span may say about a URL: its path. A GET's query string carries whole
# documents, variables and tokens (the contract keeps it out of every log line).
_URL_ATTRIBUTES = ("http.url", "url.full", "http.target")
_QUERY_ATTRIBUTES = ("url.query",)


def tracing_enabled() -> bool:
    """Whether the ``OTEL_*`` variables ask for traces."""
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporter = os.environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    return exporter not in {"", "none"}


def configure_tracing(provider: TracerProvider | None = None) -> bool:
    """Install the tracer provider and the instrumentations, once, at start-up (before
    Django loads its middleware and before the database engine is made). With a
    ``provider`` (tests), that one, whatever the variables say. Returns whether tracing is on."""
    if provider is None and not tracing_enabled():
        return False
    from opentelemetry import trace
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    if provider is None:
        provider = _provider_from_environment()
        trace.set_tracer_provider(provider)
    DjangoInstrumentor().instrument(tracer_provider=provider, request_hook=_without_query)
    # Its declared range stops below SQLAlchemy 2.1, whose engine events it uses are
    # unchanged: tests/api/test_tracing.py pins that its statement spans appear.
    SQLAlchemyInstrumentor().instrument(tracer_provider=provider, skip_dep_check=True)
    return True


def unconfigure_tracing() -> None:
    """Remove the instrumentations (tests)."""
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    DjangoInstrumentor().uninstrument()
    SQLAlchemyInstrumentor().uninstrument()


def _provider_from_environment() -> TracerProvider:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

    provider = TracerProvider(resource=Resource.create())  # reads OTEL_SERVICE_NAME too
    for name in os.environ["OTEL_TRACES_EXPORTER"].split(","):
        exporter: SpanExporter
        if name.strip().lower() == "console":
            exporter = ConsoleSpanExporter()
        else:  # "otlp": OTLP over HTTP, to OTEL_EXPORTER_OTLP_ENDPOINT
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporter = OTLPSpanExporter()
        provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def _without_query(span: Any, request: Any) -> None:
    """The request span's URL attributes, without the query string."""
    if not span.is_recording():
        return
    path = request.path
    for name in _URL_ATTRIBUTES:
        span.set_attribute(name, path)
    for name in _QUERY_ATTRIBUTES:
        span.set_attribute(name, "")


def current_trace_id() -> str | None:
    """The trace id of the span being served, as 32 hex digits, if one is."""
    trace = sys.modules.get("opentelemetry.trace")
    if trace is None:  # tracing off: nothing imported it
        return None
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None
