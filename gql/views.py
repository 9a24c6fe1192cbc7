"""HTTP views: the GraphQL endpoint (POST; GraphiQL for a browser's GET) and the health check."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from gql.errors import error_response
from gql.graphiql import graphiql_response
from gql.http_errors import allow_methods
from gql.pipeline import Pipeline
from resolvers_services.health import system_health
from schemas.errors import ErrorCode


def graphql_view(pipeline: Callable[[], Pipeline]) -> Callable[[HttpRequest], HttpResponse]:
    """The GraphQL endpoint, answering through the process's pipeline (``pipeline()``,
    handed in by config/urls.py from config/bootstrap.py)."""

    def graphql(request: HttpRequest) -> HttpResponse:
        """A GraphQL request by POST, or by GET for a query; a browser's GET (Accept:
        text/html) gets GraphiQL when the explorer is on."""
        if request.method == "GET" and _wants_html(request) and settings.GRAPHQL_EXPLORER:
            return graphiql_response(request)
        if request.method in {"GET", "POST"}:
            return pipeline().handle(request)
        response = error_response(
            405, "Send GraphQL requests as POST (or queries as GET)", ErrorCode.BAD_USER_INPUT
        )
        response["Allow"] = "GET, POST"
        return response

    # Tokens travel in a header, never in cookies, so cross-site request forgery has
    # nothing to ride on.
    view: Callable[[HttpRequest], HttpResponse] = csrf_exempt(graphql)
    return view


def _wants_html(request: HttpRequest) -> bool:
    """A browser's navigation: it asks for HTML, and not for a GraphQL response."""
    accept = request.headers.get("Accept", "")
    return "text/html" in accept and "json" not in accept


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
