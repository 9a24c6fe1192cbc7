"""GET /metrics: Prometheus metrics of every worker of this instance, when enabled."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.views.decorators.csrf import csrf_exempt

from gql.errors import error_response
from gql.http_errors import method_not_allowed, not_found
from observability.metrics import get_metrics
from schemas.errors import ErrorCode


def _authorized(request: HttpRequest, token: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    # compare_digest takes as long whatever the first wrong byte: no timing hint.
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode("utf-8"), token.encode("utf-8")
    )


# No cookies are read here, and only GET and HEAD get past the method check.
@csrf_exempt
def metrics(request: HttpRequest) -> HttpResponseBase:
    """The exposition, 404 when METRICS_ENABLED is off, 401 without METRICS_TOKEN when set."""
    if not settings.METRICS_ENABLED:
        return not_found(request)  # as if the path did not exist
    if request.method not in ("GET", "HEAD"):
        return method_not_allowed(("GET", "HEAD"))
    token = settings.METRICS_TOKEN
    if token and not _authorized(request, token):
        response = error_response(
            401, "A valid metrics token is required", ErrorCode.UNAUTHENTICATED
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    body, content_type = get_metrics().render()
    response = HttpResponse(body, content_type=content_type)
    response["Cache-Control"] = "no-store"
    return response
