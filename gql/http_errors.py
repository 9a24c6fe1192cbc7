"""Every answer the service gives itself is JSON in the GraphQL error shape, never HTML.

Django's error handlers (400 bad Host and other suspicious requests, 403, 404,
500) and its CSRF failure view, wired in config/urls.py and the settings, and
``allow_methods`` for views that take only some methods (a JSON 405, where
Django's ``require_GET`` answers an empty one).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps

from django.http import HttpRequest, HttpResponseBase, JsonResponse

from gql.errors import INTERNAL_MESSAGE, error_response
from schemas.errors import ErrorCode

log = logging.getLogger(__name__)
View = Callable[..., HttpResponseBase]


# Django passes the exception as ``exception=``; it is logged by Django, never shown.
def bad_request(_request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    """handler400: a bad Host header, or another request Django finds suspicious."""
    return error_response(400, "Bad request", ErrorCode.BAD_USER_INPUT)


def permission_denied(_request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    """handler403."""
    return error_response(403, "Forbidden", ErrorCode.BAD_USER_INPUT)


def not_found(_request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    """handler404: an unknown path. The path is not echoed back."""
    return error_response(404, "Not found", ErrorCode.NOT_FOUND)


def server_error(_request: HttpRequest) -> JsonResponse:
    """handler500: Django has already logged the exception with its traceback."""
    return error_response(500, INTERNAL_MESSAGE, ErrorCode.INTERNAL_SERVER_ERROR)


def csrf_failure(_request: HttpRequest, reason: str = "") -> JsonResponse:
    """CSRF_FAILURE_VIEW: Django's own page is HTML and talks about DEBUG."""
    log.warning("CSRF verification failed: %s", reason)
    return error_response(403, "CSRF verification failed", ErrorCode.BAD_USER_INPUT)


def method_not_allowed(allowed: tuple[str, ...]) -> JsonResponse:
    """405 with the Allow header."""
    response = error_response(
        405, f"Method not allowed; use {', '.join(allowed)}", ErrorCode.BAD_USER_INPUT
    )
    response["Allow"] = ", ".join(allowed)
    return response


def allow_methods(*methods: str) -> Callable[[View], View]:
    """Only ``methods`` reach the view; any other gets a JSON 405. GET implies HEAD."""
    allowed = tuple(dict.fromkeys([*methods, *(["HEAD"] if "GET" in methods else [])]))

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponseBase:
            if request.method not in allowed:
                return method_not_allowed(allowed)
            return view(request, *args, **kwargs)

        return wrapper

    return decorate
