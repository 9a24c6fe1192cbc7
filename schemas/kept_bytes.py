"""orjson's output, trimmed to its length where it is kept.

orjson 3.13 returns bytes whose allocation is its worst case, never shrunk:
measured with tracemalloc, ``orjson.dumps({})`` holds 4,097 bytes, a
3,000-character string's literal 32 KiB (ten times its length). Kept as a cache
key, a cached response or a post's literal, that is resident memory the caches'
byte bounds do not see: a response cache bounded at 64 MiB of bodies took a
worker 240 MiB above its warm-up in 5 minutes of the bench's mix. A copy holds
its length. From 128 KiB up glibc serves the allocation from a mapping of its
own (config/memory.py pins that threshold), whose untouched pages are never
resident: those are kept as they are, without a copy.
"""

from __future__ import annotations

COPY_BELOW_BYTES = 128 * 1024


def kept(data: bytes) -> bytes:
    """``data`` in an allocation of its own length (below COPY_BELOW_BYTES)."""
    return bytes(memoryview(data)) if len(data) < COPY_BELOW_BYTES else data
