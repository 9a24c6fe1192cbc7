"""The first middleware: request id, one access line and the request metrics per request."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase
from django.utils.log import log_response

from observability.context import RequestState, begin, current, end, request_id_from
from observability.logs import ACCESS_LOGGER, printable
from observability.metrics import get_metrics
from observability.tracing import current_trace_id

REQUEST_ID_HEADER = "X-Request-ID"
# Requests counted in the GraphQL request metrics (health checks and scrapes are not).
GRAPHQL_PATHS = frozenset({"/graphql", "/graphql/"})
# An error body this small is read for its code when nothing annotated the outcome.
_ERROR_BODY_BYTES = 16 * 1024

access_log = logging.getLogger(ACCESS_LOGGER)


def _error_code(response: HttpResponseBase) -> str | None:
    """``errors[0].extensions.code`` of a small JSON error body, if it has one."""
    if response.streaming or not response.get("Content-Type", "").startswith("application/json"):
        return None
    content: bytes = getattr(response, "content", b"")
    if len(content) > _ERROR_BODY_BYTES:
        return None
    try:
        code = json.loads(content)["errors"][0]["extensions"]["code"]
    except (ValueError, LookupError, TypeError):
        return None
    return code if isinstance(code, str) else None


def outcome_of(state: RequestState, response: HttpResponseBase) -> str:
    """What the pipeline annotated, else the code of an error body, else OK below 400."""
    if state.outcome:
        return state.outcome
    if response.status_code < 400:
        return "OK"
    return _error_code(response) or f"HTTP_{response.status_code}"


class RequestObservabilityMiddleware:
    """Gives every request an id (the client's X-Request-ID when safe), echoed on the response.

    Must come first in MIDDLEWARE, so that every response, the 413 of the size
    limit and Django's 400/404/500 handlers' included, carries the id, and every
    log line written while the request is served too (observability.logs). After
    the response: the access line (logger ``posts_api.access``) and, for GraphQL
    requests, the request count and latency by operation and outcome.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response
        self.metrics = get_metrics()

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        request_id = request_id_from(request.META.get("HTTP_X_REQUEST_ID"))
        token = begin(request_id)
        try:
            response = self.get_response(request)
            response[REQUEST_ID_HEADER] = request_id
            self._finish(request, response, current())
            return response
        finally:
            end(token)

    def _finish(
        self, request: HttpRequest, response: HttpResponseBase, state: RequestState
    ) -> None:
        duration = time.perf_counter() - state.started_at
        outcome = outcome_of(state, response)
        path = printable(request.path)
        operation_name = printable(state.operation_name, 100) if state.operation_name else None
        trace_id = current_trace_id()
        access_log.info(
            "%s %s %s %.1fms %s %s user=%s outcome=%s%s",
            printable(request.method or "-", 16),
            path,
            response.status_code,
            duration * 1000,
            state.operation_type or "-",
            operation_name or "-",
            state.user_id if state.user_id is not None else "-",
            outcome,
            f" trace={trace_id}" if trace_id else "",
            extra={
                "method": printable(request.method or "-", 16),
                "path": path,
                "status": response.status_code,
                "duration_ms": round(duration * 1000, 1),
                "operation_name": operation_name,
                "operation_type": state.operation_type,
                "user_id": state.user_id,
                "outcome": outcome,
                "trace_id": trace_id,
            },
        )
        if response.status_code >= 400:
            # Django logs an error response after the last middleware has returned,
            # outside the request's context (no request id); logged here, inside it,
            # Django's own call sees the response as logged and skips it.
            log_response("%s: %s", response.reason_phrase, path, response=response, request=request)
        if request.path_info in GRAPHQL_PATHS:
            self.metrics.record_request(
                operation_name=state.operation_name, outcome=outcome, duration_seconds=duration
            )
