"""The project's own middleware: the Host check, the body size check, CORS's front door.

Each replaces or narrows a stock middleware whose cost showed in a cached
getPosts (``python -m bench.profile``; the figures: docs/adr/0010).
"""

from __future__ import annotations

from collections.abc import Callable

from corsheaders.middleware import CorsMiddleware
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.utils.cache import patch_vary_headers

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
