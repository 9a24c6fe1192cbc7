"""The bare Django reference: verify the JWT, return the cached JSON bytes. No GraphQL."""

from __future__ import annotations

import json

from cachetools import TTLCache
from django.http import HttpRequest, HttpResponse
from django.urls import path

from bench.references.common import (
    CACHE_MAX_ENTRIES,
    CACHE_TTL_SECONDS,
    UNAUTHENTICATED,
    answers,
    subject,
)

CACHE: TTLCache[str, bytes] = TTLCache(maxsize=CACHE_MAX_ENTRIES, ttl=CACHE_TTL_SECONDS)
CACHE.update({sub: text.encode("utf-8") for sub, text in answers().items()})
_REFUSED = json.dumps(UNAUTHENTICATED, separators=(",", ":")).encode()


def graphql(request: HttpRequest) -> HttpResponse:
    """getPosts' cache hit: the token's subject, then the stored bytes."""
    sub = subject(request.headers.get("Authorization"))
    body = CACHE.get(sub) if sub is not None else None
    return HttpResponse(body or _REFUSED, content_type="application/json")


def healthz(_request: HttpRequest) -> HttpResponse:
    return HttpResponse(b'{"status":"ok"}', content_type="application/json")


urlpatterns = [path("graphql", graphql), path("healthz", healthz)]
