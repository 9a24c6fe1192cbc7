"""Give large allocations back to the system when they are freed (glibc only).

glibc serves a large allocation (a post's text, a response body) from its own
mapping, but after the first such mapping is freed it raises that threshold to
the freed size, up to 32 MiB: later megabyte-sized buffers then come from the
heap, and what they leave behind when freed stays in the worker's resident
memory. A fixed threshold keeps every buffer over 128 KiB in a mapping of its
own, unmapped when freed; the cost is a system call per such buffer, small
beside copying it. Elsewhere (musl, macOS) this does nothing. The figures:
docs/adr/0009-memory-given-back.md.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
from typing import Any

M_MMAP_THRESHOLD = -3  # malloc.h
MMAP_THRESHOLD_BYTES = 128 * 1024  # glibc's own starting value


@functools.cache
def _libc() -> Any:
    name = ctypes.util.find_library("c")
    try:
        return None if name is None else ctypes.CDLL(name)
    except OSError:
        return None


def fix_mmap_threshold() -> bool:
    """Pin glibc's mmap threshold for this process; False where there is no mallopt."""
    mallopt = getattr(_libc(), "mallopt", None)
    return mallopt is not None and bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))


def release_free_memory() -> None:
    """Free what a large response left in reference cycles, then hand the heap's free
    pages back to the system (glibc's malloc_trim; elsewhere only the first).

    The request's objects (GraphQL results, Strawberry's infos) hold one another
    in cycles that only the collector frees, and with them whatever they point
    at, until later requests happen to trigger a collection. A full collection,
    not only the young generations: a collection during the request may already
    have moved its cycles to the oldest one. With what start-up built frozen
    (config/wsgi.py) a full pass walks only what requests left.

    Then: the rows, literals and buffers it took are freed, but pieces of them
    below the threshold, spread over the worker threads' arenas, can keep whole
    pages resident. A trim is cheap beside such a response; it runs only after
    responses over a megabyte. What each step saved: docs/adr/0009.
    """
    gc.collect()
    trim = getattr(_libc(), "malloc_trim", None)
    if trim is not None:
        trim(0)
