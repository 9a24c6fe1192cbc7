"""Bytes shrunk to fit: orjson's output copied into an allocation of its own length.

orjson returns bytes whose allocation is its worst case, never shrunk (a few
kilobytes for ``{}``, several times a string's length for its literal). Kept as
a cache key, a cached response or a post's literal, that is resident memory the
caches' byte bounds do not see; a copy holds its length (the figures:
docs/adr/0002-response-cache.md). From 128 KiB up glibc serves the allocation
from a mapping of its own (config/memory.py pins that threshold), whose
untouched pages are never resident: those are returned as they are, without a
copy.
"""

from __future__ import annotations

COPY_BELOW_BYTES = 128 * 1024


def shrink_to_fit(data: bytes) -> bytes:
    """``data`` in an allocation of its own length (below COPY_BELOW_BYTES)."""
    return bytes(memoryview(data)) if len(data) < COPY_BELOW_BYTES else data
