"""Give large allocations back to the system when they are freed (glibc only).

glibc serves a large allocation (a post's text, a response body) from its own
mapping, but after the first such mapping is freed it raises that threshold to
the freed size, up to 32 MiB: later megabyte-sized buffers then come from the
heap, and what they leave behind when freed stays in the worker's resident
memory (measured: a cold 16 MiB getPosts took a worker 50 MiB above where it
started instead of 35). A fixed threshold keeps every buffer over 128 KiB in a
mapping of its own, unmapped when freed; the cost is a system call per such
buffer, small beside copying it. Elsewhere (musl, macOS) this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util

M_MMAP_THRESHOLD = -3  # malloc.h
MMAP_THRESHOLD_BYTES = 128 * 1024  # glibc's own starting value


def fix_mmap_threshold() -> bool:
    """Pin glibc's mmap threshold for this process; False where there is no mallopt."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))
