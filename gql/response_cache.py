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

import time
from collections.abc import Callable

from resolvers_services.post_cache import VersionedCache
from schemas.allocation import shrink_to_fit

# A key: user id, document sha256, operation name, canonical variables. A response
# the same for every caller (introspection) has no user id, is stored at version 0,
# and is keyed by the SHA-256 of the document as printed (comments and spacing aside).
Key = tuple[int | None, str, str | None, bytes]


# What a key holds besides its variables: the tuple, the user id, the hash, the name.
_KEY_OVERHEAD_BYTES = 256


def key_bytes(key: Key) -> int:
    """What a key weighs in the cache: its variables' bytes and its operation name,
    over a fixed overhead."""
    _user, _sha256, name, variables = key
    return _KEY_OVERHEAD_BYTES + len(variables) + len(name or "")


class ResponseCache:
    """Response bodies by request, each at the posts version it was made at (thread-safe,
    TTL, bounded by the bodies' bytes)."""

    def __init__(
        self, *, ttl_seconds: float, max_bytes: int, timer: Callable[[], float] = time.monotonic
    ) -> None:
        self._bodies: VersionedCache[Key, bytes] = VersionedCache(
            ttl_seconds=ttl_seconds, max_bytes=max_bytes, timer=timer
        )

    @property
    def enabled(self) -> bool:
        return self._bodies.enabled

    @property
    def current_bytes(self) -> int:
        """The bytes held now."""
        return self._bodies.current_bytes

    def get(self, key: Key, version: int) -> bytes | None:
        """The body stored under ``key`` at ``version``, or None."""
        return self._bodies.get(key, version)

    def put(self, key: Key, version: int, body: bytes) -> None:
        """Store ``body`` made at ``version`` unless it alone exceeds the bound, or an
        answer made at a later version is stored already (a slower request's)."""
        if not self.enabled or len(body) + key_bytes(key) > self._bodies.max_bytes:
            return
        # orjson's allocation is many times the body (schemas/allocation.py). The
        # entry weighs its key too: the variables in it are the client's.
        self._bodies.put(key, version, shrink_to_fit(body), len(body) + key_bytes(key))

    def clear(self) -> None:
        """Forget every response."""
        self._bodies.clear()
