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
from typing import Any, Generic, TypeVar

from cachetools import TTLCache

from observability.metrics import record_cache
from schemas.posts import PostOut

# Rough per-post overhead beyond the text: the pydantic model, its datetime and int.
_POST_OVERHEAD_BYTES = 400
_ENTRY_OVERHEAD_BYTES = 200


K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class _Entry(Generic[V]):
    version: int
    value: V
    size: int


def _entry_size(entry: _Entry[Any]) -> int:
    return entry.size


class VersionedCache(Generic[K, V]):
    """Values stored with the version they were made at: thread-safe, TTL, bounded in bytes.

    A reader presents the version it read; an entry of another version is a miss,
    and the next value for the key takes its place. A value made at an older
    version never replaces one made at a newer (a slower request's). Both
    in-process caches are one of these: each user's posts (PostsCache) and the
    responses (gql/response_cache.py).
    """

    def __init__(
        self, *, ttl_seconds: float, max_bytes: int, timer: Callable[[], float] = time.monotonic
    ) -> None:
        self.enabled = ttl_seconds > 0 and max_bytes > 0
        self.max_bytes = max(max_bytes, 1)
        # cachetools caches are not thread-safe; every access holds this lock.
        self._lock = threading.Lock()
        self._entries: TTLCache[K, _Entry[V]] = TTLCache(
            maxsize=self.max_bytes, ttl=max(ttl_seconds, 0), timer=timer, getsizeof=_entry_size
        )
        self.hits = 0
        self.misses = 0

    def get(self, key: K, version: int) -> V | None:
        """The value stored under ``key`` at ``version``, or None."""
        if not self.enabled:
            return None
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry.version != version:
                self.misses += 1
                return None
            self.hits += 1
            return entry.value

    def put(self, key: K, version: int, value: V, size: int) -> bool:
        """Store ``value`` (``size`` bytes) made at ``version``, unless a value made at a
        later version is stored already. False, storing nothing, when it alone
        exceeds the bound."""
        if size > self.max_bytes:
            return False
        if self.enabled:
            with self._lock:
                current = self._entries.get(key)
                if current is None or current.version <= version:
                    self._entries[key] = _Entry(version, value, size)
        return True

    def discard(self, key: K) -> None:
        """Forget ``key``'s entry."""
        with self._lock:
            self._entries.pop(key, None)

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._entries.clear()
            self.hits = self.misses = 0

    @property
    def current_bytes(self) -> int:
        """The bytes held now (as the sizes given to ``put`` count them)."""
        with self._lock:
            return int(self._entries.currsize)


class PostsCache:
    """Each user's posts, bounded by an estimate of their bytes.

    One per process, built at start-up (config/bootstrap.py) and handed to the
    post services by the resolvers, which find it in the request's context.
    """

    def __init__(
        self, *, ttl_seconds: float, max_bytes: int, timer: Callable[[], float] = time.monotonic
    ) -> None:
        self._posts: VersionedCache[int, tuple[PostOut, ...]] = VersionedCache(
            ttl_seconds=ttl_seconds, max_bytes=max_bytes, timer=timer
        )

    @property
    def enabled(self) -> bool:
        return self._posts.enabled

    @property
    def hits(self) -> int:
        return self._posts.hits

    @property
    def misses(self) -> int:
        return self._posts.misses

    @property
    def current_bytes(self) -> int:
        """The estimated bytes held now."""
        return self._posts.current_bytes

    def get(self, user_id: int, version: int) -> tuple[PostOut, ...] | None:
        """The cached posts of ``user_id`` if they were cached at ``version``."""
        posts = self._posts.get(user_id, version)
        if self.enabled:
            record_cache("posts", hit=posts is not None)
        return posts

    def put(self, user_id: int, version: int, posts: tuple[PostOut, ...]) -> None:
        """Cache ``posts`` for ``user_id`` at ``version``, unless they alone exceed the bound."""
        if not self.enabled:
            return
        size = _ENTRY_OVERHEAD_BYTES + sum(
            _POST_OVERHEAD_BYTES + sys.getsizeof(post.text) for post in posts
        )
        if not self._posts.put(user_id, version, posts, size):
            self.discard(user_id)  # what it holds is stale by now; this frees the memory

    def discard(self, user_id: int) -> None:
        """Forget ``user_id``'s entry (it is stale after a write anyway; this frees memory)."""
        self._posts.discard(user_id)

    def clear(self) -> None:
        """Forget everything."""
        self._posts.clear()
