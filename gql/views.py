"""HTTP views: the GraphQL endpoint (POST; GraphiQL for a browser's GET) and the health check."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from gql.errors import error_response
from gql.graphiql import graphiql_response
from gql.http_errors import allow_methods
from gql.pipeline import get_pipeline
from resolvers_services.health import system_health
from schemas.errors import ErrorCode


# Tokens travel in a header, never in cookies, so cross-site request forgery has
# nothing to ride on.
@csrf_exempt
def graphql(request: HttpRequest) -> HttpResponse:
    """POST runs a GraphQL request; a browser's GET gets GraphiQL when the explorer is on."""
    if request.method == "POST":
        return get_pipeline().handle(request)
    explorer = bool(settings.GRAPHQL_EXPLORER)
    if request.method == "GET" and explorer and "text/html" in request.headers.get("Accept", ""):
        return graphiql_response(request)
    # Queries over GET would put tokens and post text in URLs and access logs.
    response = error_response(
        405, "Send GraphQL requests as POST with a JSON body", ErrorCode.BAD_USER_INPUT
    )
    response["Allow"] = "GET, POST" if explorer else "POST"
    return response


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
