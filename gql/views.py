"""HTTP views: the GraphQL endpoint and the health check."""

from __future__ import annotations

import json
from typing import Any

from cross_web import HTTPException
from cross_web.request._django import DjangoHTTPRequestAdapter
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from strawberry.django.views import GraphQLView
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult

from gql.context import Context
from gql.errors import error_response, shape_error
from gql.http_errors import allow_methods
from gql.schema import schema
from resolvers_services.health import system_health
from schemas.errors import ErrorCode


class _Utf8JsonRequestAdapter(DjangoHTTPRequestAdapter):
    """Hands the raw body to parse_json, which decodes it (cross_web's decode() would raise)."""

    @property
    def body(self) -> bytes:
        return bytes(self.request.body)


# Tokens travel in a header, never in cookies, so cross-site request forgery has
# nothing to ride on.
@method_decorator(csrf_exempt, name="dispatch")
class GraphQLEndpoint(GraphQLView[Context, None]):
    """POST JSON GraphQL requests; a browser GET gets GraphiQL (when enabled)."""

    request_adapter_class = _Utf8JsonRequestAdapter

    def __init__(self, **kwargs: Any) -> None:
        # Queries over GET would put tokens and post text in URLs and access logs.
        super().__init__(schema=schema, allow_queries_via_get=False, **kwargs)

    def get_context(self, request: HttpRequest, response: HttpResponse) -> Context:
        return Context(request=request, response=response)

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        self.graphql_ide = "graphiql" if settings.GRAPHQL_EXPLORER else None
        try:
            return self.run(request=request)
        except HTTPException as exc:
            return error_response(exc.status_code, exc.reason, ErrorCode.BAD_USER_INPUT)

    def parse_json(self, data: str | bytes) -> Any:
        # Stricter than Strawberry's: the body must be UTF-8 (RFC 8259 section 8.1),
        # nesting must not exhaust the stack, and the top level must be an object
        # (or an array, which the batching check then refuses).
        try:
            text = data.decode("utf-8") if isinstance(data, bytes) else data
            parsed = json.loads(text)
        except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError
            raise HTTPException(400, "Unable to parse request body as JSON") from None
        if not isinstance(parsed, dict | list):
            raise HTTPException(400, "The request body must be a JSON object")
        return parsed

    def process_result(self, request: HttpRequest, result: ExecutionResult) -> GraphQLHTTPResponse:
        if result.errors:
            result.errors = [shape_error(error) for error in result.errors]
        return super().process_result(request, result)

    def encode_json(self, data: object) -> bytes:
        # Compact, and non-ASCII as UTF-8: a 1 MiB post is not inflated sixfold by
        # escapes. A lone surrogate (only ever in an echoed invalid input) becomes
        # the JSON escape \udXXX via backslashreplace, so the body stays valid JSON.
        text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        return text.encode("utf-8", errors="backslashreplace")


# GET and HEAD (a JSON 405 otherwise); csrf_exempt so a POST gets that 405, not a CSRF page.
@csrf_exempt
@allow_methods("GET")
def healthz(_request: HttpRequest) -> JsonResponse:
    """200 with each dependency's status when the database answers, 503 when it does not."""
    checks = system_health()
    healthy = all(value == "ok" for value in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", **checks}, status=200 if healthy else 503
    )
