"""Refuse oversized request bodies with 413 before they are read."""

from __future__ import annotations

from collections.abc import Callable
from io import BytesIO

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from schemas.errors import ErrorCode


def _too_large(limit: int) -> JsonResponse:
    return JsonResponse(
        {
            "errors": [
                {
                    "message": f"Request body is larger than {limit} bytes",
                    "extensions": {"code": ErrorCode.PAYLOAD_TOO_LARGE.value, "maxBytes": limit},
                }
            ]
        },
        status=413,
    )


class RequestSizeLimitMiddleware:
    """413 for any body over settings.MAX_REQUEST_BYTES, judged by Content-Length when given.

    A chunked body (no Content-Length) is read at most one byte past the cap.
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
                return JsonResponse(
                    {
                        "errors": [
                            {
                                "message": "Invalid Content-Length",
                                "extensions": {"code": ErrorCode.BAD_USER_INPUT.value},
                            }
                        ]
                    },
                    status=400,
                )
            if length > limit:
                return _too_large(limit)
        elif request.META.get("wsgi.input_terminated"):
            # Django reads a chunked body whole; bound it here instead. Setting the
            # request's cached body is how Django itself keeps a body it has read.
            body = request.read(limit + 1)
            if len(body) > limit:
                return _too_large(limit)
            request._body = body
            request._stream = BytesIO(body)
        return self.get_response(request)
