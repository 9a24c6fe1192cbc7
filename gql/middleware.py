"""The project's own middleware: the Host check, the body size check, CORS's front door;
and the same middleware applied to the head of a subscription stream.

Each replaces or narrows a stock middleware whose cost showed in a cached
getPosts (``python -m bench.profile``; the figures: docs/adr/0010).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from corsheaders.middleware import CorsMiddleware
from django.conf import settings
from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIRequest
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.utils.cache import patch_vary_headers
from django.utils.module_loading import import_string

from gql.errors import error_response
from schemas.errors import ErrorCode


class RequestSizeLimitMiddleware:
    """413 for any body over settings.MAX_REQUEST_BYTES, judged by Content-Length, unread.

    Django reads only Content-Length bytes of a body, so a chunked body without
    one would be silently dropped; it gets 411 Length Required instead.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = int(settings.MAX_REQUEST_BYTES)
        declared = request.META.get("CONTENT_LENGTH")
        if declared:
            try:
                length = int(declared)
            except ValueError:
                return error_response(400, "Invalid Content-Length", ErrorCode.BAD_USER_INPUT)
            if length > limit:
                return error_response(
                    413,
                    f"Request body is larger than {limit} bytes",
                    ErrorCode.PAYLOAD_TOO_LARGE,
                    maxBytes=limit,
                )
        elif request.META.get("HTTP_TRANSFER_ENCODING"):
            return error_response(
                411, "A request body needs a Content-Length header", ErrorCode.BAD_USER_INPUT
            )
        return self.get_response(request)


class AllowedHostMiddleware:
    """400 (JSON, from the project's handler) for a Host outside ``ALLOWED_HOSTS``.

    Django validates the Host only when something asks for it (``get_host``).
    CommonMiddleware asked on every request, but nothing else it does applies
    here: APPEND_SLASH and PREPEND_WWW are off, DISALLOWED_USER_AGENTS is empty,
    and the server frames each response with its Content-Length itself
    (config/bridge.py). The check is all that is kept of it.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        request.get_host()  # DisallowedHost: Django's 400 handler answers
        return self.get_response(request)


class CorsOnlyWithOriginMiddleware(CorsMiddleware):
    """django-cors-headers, entered by the requests that carry an ``Origin`` header.

    One without it is not a CORS request (Fetch standard, "CORS protocol"), and
    the library would add nothing to its response but ``Vary: origin``: this adds
    that, as the library does, without building ``request.headers`` from every
    environ key first. Browsers send ``Origin`` on every cross-origin request and
    every preflight, so everything CORS does for them still happens in the library.
    """

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if self.async_mode or "HTTP_ORIGIN" in request.META:
            response: HttpResponseBase = super().__call__(request)
            return response
        response = self.get_response(request)
        if self.is_enabled(request):
            patch_vary_headers(response, ("origin",))
        return response


# What of settings.MIDDLEWARE a subscription stream's head passes through: the checks
# and headers that do not need the view (the request id and the access line are the
# stream's own, gql/streams.py).
STREAM_HEAD_MIDDLEWARE = frozenset(
    {
        "gql.middleware.AllowedHostMiddleware",
        "django.middleware.security.SecurityMiddleware",
        "gql.middleware.CorsOnlyWithOriginMiddleware",
        "django.middleware.clickjacking.XFrameOptionsMiddleware",
    }
)


class StreamHead:
    """Django's middleware, applied to the head of a subscription stream.

    A stream runs on the event loop (gql/streams.py), outside Django's handler; its
    head still gets what every other request gets: the Host check (the project's JSON
    400), CORS (django-cors-headers), and the security headers. The chain is the
    project's own, in settings' order, built as Django builds it, around a view that
    only says "go on".
    """

    GO_ON = 204

    def __init__(self) -> None:
        handler: Callable[[HttpRequest], HttpResponseBase] = convert_exception_to_response(
            self._go_on
        )
        for path in reversed(settings.MIDDLEWARE):
            if path in STREAM_HEAD_MIDDLEWARE:
                handler = convert_exception_to_response(import_string(path)(handler))
        self._handler = handler

    @classmethod
    def _go_on(cls, request: HttpRequest) -> HttpResponse:
        return HttpResponse(status=cls.GO_ON)

    def check(self, environ: dict[str, Any]) -> HttpResponseBase | list[tuple[str, str]]:
        """The refusal to answer with, or the headers to add to the stream's answer."""
        response = self._handler(WSGIRequest(environ))
        if response.status_code != self.GO_ON:
            return response
        return [
            (name, value)
            for name, value in response.items()
            if name.lower() not in {"content-type", "content-length"}
        ]
