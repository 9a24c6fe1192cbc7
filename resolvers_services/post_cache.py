"""A per-user cache of getPosts results: bounded in bytes, thread-safe, version-checked.

Each entry is stored with the user's ``posts_version`` (bumped in the same
transaction as every add or delete). A reader presents the version it saw in the
database, and an entry with another version is a miss. That gives read-your-writes
across every worker process and server instance sharing the database, without any
cross-process invalidation.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from cachetools import TTLCache
from django.conf import settings

from observability.metrics import record_cache, watch_cache
from schemas.posts import PostOut

# Rough per-post overhead beyond the text: the pydantic model, its datetime and int.
_POST_OVERHEAD_BYTES = 400
_ENTRY_OVERHEAD_BYTES = 200


@dataclass(frozen=True, slots=True)
class _Entry:
    version: int
    posts: tuple[PostOut, ...]
    size: int


def _entry_size(entry: _Entry) -> int:
    return entry.size


K = TypeVar("K")
V = TypeVar("V")


def byte_bounded_ttl_cache(
    *,
    ttl_seconds: float,
    max_bytes: int,
    getsizeof: Callable[[V], int],
    timer: Callable[[], float] = time.monotonic,
) -> TTLCache[K, V]:
    """A cachetools TTLCache whose bound is the bytes of its values (``getsizeof``)."""
    return TTLCache(
        maxsize=max(max_bytes, 1), ttl=max(ttl_seconds, 0), timer=timer, getsizeof=getsizeof
    )


class PostsCache:
    """Thread-safe TTL cache of each user's posts, bounded by an estimate of their bytes."""

    def __init__(
        self, *, ttl_seconds: float, max_bytes: int, timer: Callable[[], float] = time.monotonic
    ) -> None:
        self.enabled = ttl_seconds > 0 and max_bytes > 0
        self.max_bytes = max(max_bytes, 1)
        # cachetools caches are not thread-safe; every access holds this lock.
        self._lock = threading.Lock()
        self._entries: TTLCache[int, _Entry] = byte_bounded_ttl_cache(
            ttl_seconds=ttl_seconds, max_bytes=max_bytes, getsizeof=_entry_size, timer=timer
        )
        self.hits = 0
        self.misses = 0

    def get(self, user_id: int, version: int) -> tuple[PostOut, ...] | None:
        """The cached posts of ``user_id`` if they were cached at ``version``."""
        if not self.enabled:
            return None
        with self._lock:
            entry = self._entries.get(user_id)
            if entry is None or entry.version != version:
                self.misses += 1
                record_cache("posts", hit=False)
                return None
            self.hits += 1
            record_cache("posts", hit=True)
            return entry.posts

    def put(self, user_id: int, version: int, posts: tuple[PostOut, ...]) -> None:
        """Cache ``posts`` for ``user_id`` at ``version``, unless they alone exceed the bound."""
        if not self.enabled:
            return
        size = _ENTRY_OVERHEAD_BYTES + sum(
            _POST_OVERHEAD_BYTES + sys.getsizeof(post.text) for post in posts
        )
        if size > self.max_bytes:
            self.discard(user_id)
            return
        with self._lock:
            current = self._entries.get(user_id)
            if current is not None and current.version > version:
                return  # a newer result is already cached; keep it
            self._entries[user_id] = _Entry(version=version, posts=posts, size=size)

    def discard(self, user_id: int) -> None:
        """Forget ``user_id``'s entry (it is stale after a write anyway; this frees memory)."""
        with self._lock:
            self._entries.pop(user_id, None)

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._entries.clear()
            self.hits = self.misses = 0

    @property
    def current_bytes(self) -> int:
        """The estimated bytes held now."""
        with self._lock:
            return int(self._entries.currsize)


_cache_lock = threading.Lock()
_cache: PostsCache | None = None


def get_posts_cache() -> PostsCache:
    """The process-wide cache, built from settings on first use."""
    global _cache
    if _cache is None:
        with _cache_lock:
            if _cache is None:
                cache = PostsCache(
                    ttl_seconds=settings.POSTS_CACHE_TTL_SECONDS,
                    max_bytes=settings.POSTS_CACHE_MAX_BYTES,
                )
                watch_cache("posts", lambda: cache.current_bytes)
                _cache = cache
    return _cache


def reset_posts_cache() -> None:
    """Drop the process-wide cache so the next use reads settings again."""
    global _cache
    with _cache_lock:
        _cache = None
