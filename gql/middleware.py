"""Refuse oversized (or unsized) request bodies before they are read."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

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
