"""Whole GraphQL responses, as sent, for the caller's repeated reads.

An entry is keyed by the caller, the document's hash, the operation name and the
variables, and stored with the version of the caller's posts it was made at. A
reader presents the version it read with the token check (bumped in the same
transaction as every add and delete); an entry of another version is a miss.
So a hit is current by construction, across every worker and instance, and
costs no resolver and no encoding. The next answer to the same request takes
the stale entry's place: a user who writes often leaves one entry per request,
not one per version. Bounded in bytes; entries also expire with the posts
cache's TTL.

Introspection (a document that selects only ``__schema``, ``__type`` and
``__typename``) answers the same to every caller while the schema stays the
same, which it does for the life of the process: its responses are kept under no
caller, by the hash of the document as printed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from cachetools import TTLCache

from resolvers_services.post_cache import byte_bounded_ttl_cache
from schemas.kept_bytes import kept

# A key: user id, document sha256, operation name, canonical variables. A response
# the same for every caller (introspection) has no user id, version 0, and the
# SHA-256 of the document as printed (comments and spacing aside).
Key = tuple[int | None, str, str | None, bytes]


def _size(entry: tuple[int, bytes]) -> int:
    return len(entry[1])


class ResponseCache:
    """Thread-safe TTL cache of response bodies, bounded by their bytes."""

    def __init__(
        self, *, ttl_seconds: float, max_bytes: int, timer: Callable[[], float] = time.monotonic
    ) -> None:
        self.enabled = ttl_seconds > 0 and max_bytes > 0
        self.max_bytes = max(max_bytes, 1)
        # cachetools caches are not thread-safe; every access holds this lock.
        self._lock = threading.Lock()
        # key -> (posts version, body)
        self._bodies: TTLCache[Key, tuple[int, bytes]] = byte_bounded_ttl_cache(
            ttl_seconds=ttl_seconds, max_bytes=max_bytes, getsizeof=_size, timer=timer
        )

    def get(self, key: Key, version: int) -> bytes | None:
        """The body stored under ``key`` at ``version``, or None."""
        if not self.enabled:
            return None
        with self._lock:
            entry = self._bodies.get(key)
        return entry[1] if entry is not None and entry[0] == version else None

    def put(self, key: Key, version: int, body: bytes) -> None:
        """Store ``body`` made at ``version`` unless it alone exceeds the bound, or an
        answer made at a later version is stored already (a slower request's)."""
        if not self.enabled or len(body) > self.max_bytes:
            return
        body = kept(body)  # orjson's allocation is many times the body (schemas/kept_bytes.py)
        with self._lock:
            current = self._bodies.get(key)
            if current is None or current[0] <= version:
                self._bodies[key] = (version, body)

    def clear(self) -> None:
        """Forget every response."""
        with self._lock:
            self._bodies.clear()

    @property
    def current_bytes(self) -> int:
        """The bytes held now."""
        with self._lock:
            return int(self._bodies.currsize)
