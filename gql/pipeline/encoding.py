"""The last step, the encoding: a payload as compact UTF-8 JSON in an HTTP response."""

from __future__ import annotations

import json
from typing import Any

import orjson
from django.http import HttpResponse

from gql.pipeline.refusal import Refusal
from schemas.posts import JsonText


def _literal(value: object) -> object:
    # orjson hands over str subclasses (OPT_PASSTHROUGH_SUBCLASS): a JsonText is
    # written as the literal it holds, any other str as the str it is.
    if isinstance(value, JsonText):
        return orjson.Fragment(value.literal)
    if isinstance(value, str):
        return str.__str__(value)
    raise TypeError


def encode(payload: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON (non-ASCII as is: a 1 MiB post is not inflated by escapes)."""
    try:
        return orjson.dumps(payload, default=_literal, option=orjson.OPT_PASSTHROUGH_SUBCLASS)
    except TypeError:
        # Only a lone surrogate (echoed from invalid input) gets here: escape it.
        text = json.dumps(_plain(payload), separators=(",", ":"), ensure_ascii=False)
        return text.encode("utf-8", errors="backslashreplace")


def _plain(value: Any) -> Any:
    """``value`` with every JsonText as the text it holds (for the json module)."""
    if isinstance(value, JsonText):
        return str(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def json_response(
    body: bytes, status: int = 200, media_type: str = "application/json"
) -> HttpResponse:
    """A JSON response that no cache keeps (it may carry tokens or someone's posts)."""
    response = HttpResponse(body, status=status, content_type=f"{media_type}; charset=utf-8")
    response["Cache-Control"] = "no-store"
    return response


def refusal_response(refusal: Refusal, media_type: str = "application/json") -> HttpResponse:
    """The response to a refused request: one GraphQL error with its code."""
    error = {
        "message": refusal.message,
        "extensions": {"code": refusal.code.value, **refusal.extensions},
    }
    response = json_response(
        encode({"errors": [error]}), status=refusal.status_for(media_type), media_type=media_type
    )
    if refusal.status == 405:
        response["Allow"] = "POST"
    return response
