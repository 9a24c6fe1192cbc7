"""Start-up wiring (cosmicpython's ``bootstrap.py``): what a process shares between
requests is built here, once, from settings, and handed to what uses it.

- the posts cache (resolvers_services/post_cache.py), which the pipeline puts in
  each request's context for the post and account resolvers to hand their services;
- the token verifier (resolvers_services/tokens.py), which the pipeline's caller
  step and the WebSocket transport hand ``user_authenticate``;
- the request pipeline (gql/pipeline), with its document store, prepared-document
  cache, never-seen-document budget and response cache, which config/urls.py hands
  the GraphQL view and config/bridge.py the subscription transports.

Services never reach for any of it: they are given what they use. A worker
builds it at start-up (config/wsgi.py), so a bad setting stops the process
there; elsewhere (tests, tools) on first use. ``reset()`` drops it, so the
next use builds it again from settings: tests call it, and config/apps.py does
when a test overrides a setting it is built from.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from django.conf import settings

from gql.pipeline import PIPELINE_SETTINGS, Pipeline
from observability.metrics import watch_cache
from resolvers_services.post_cache import PostsCache
from resolvers_services.tokens import TokenVerifier

# What the shared state is built from: overriding any of these (a test) rebuilds it.
SETTINGS = PIPELINE_SETTINGS | {"POSTS_CACHE_TTL_SECONDS", "POSTS_CACHE_MAX_BYTES"}


@dataclass(frozen=True, slots=True)
class AppState:
    """What one process shares between its requests."""

    posts_cache: PostsCache
    tokens: TokenVerifier
    pipeline: Pipeline


def bootstrap() -> AppState:
    """Build the shared state from settings (a bad trusted-documents manifest raises)."""
    posts_cache = PostsCache(
        ttl_seconds=settings.POSTS_CACHE_TTL_SECONDS, max_bytes=settings.POSTS_CACHE_MAX_BYTES
    )
    watch_cache("posts", lambda: posts_cache.current_bytes)
    tokens = TokenVerifier()
    pipeline = Pipeline.from_settings(posts_cache=posts_cache, tokens=tokens)
    return AppState(posts_cache=posts_cache, tokens=tokens, pipeline=pipeline)


_lock = threading.Lock()
_state: AppState | None = None


def current() -> AppState:
    """The process's shared state, built on first use."""
    global _state  # noqa: PLW0603 - the one place the process's shared state is kept
    state = _state
    if state is None:
        with _lock:
            state = _state
            if state is None:
                state = _state = bootstrap()
    return state


def pipeline() -> Pipeline:
    """The process's request pipeline (what the GraphQL view and the transports are handed)."""
    return current().pipeline


def reset() -> None:
    """Drop the shared state, so that the next use builds it from settings again."""
    global _state  # noqa: PLW0603 - see current
    with _lock:
        _state = None
