"""The budget for never-seen documents: how many documents one client address may make
this process prepare (parse and validate) per minute.

Preparing a document costs far more than answering a known one, so the cost of
documents nobody has sent before is bounded by how many of them one address may
send, not by how fast each is prepared. Per process and in memory: it bounds
what one address can make *this* process do. Counted as the per-address limit
counts (a sliding minute from two fixed ones; an IPv6 address with its /64).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from cachetools import LRUCache

from observability.metrics import record_throttled
from resolvers_services.address_limit import address_key, estimate, seconds_until_admitted
from schemas.errors import DomainError, ErrorCode

_WINDOW_SECONDS = 60.0
# Addresses remembered at once: each costs a few dozen bytes; the least recently
# seen is forgotten first (and so starts again with a full budget).
MAX_ADDRESSES = 65_536


class NewDocumentBudget:
    """Never-seen documents per client address and minute, for this process (thread-safe)."""

    def __init__(
        self,
        *,
        per_minute: int,
        timer: Callable[[], float] = time.monotonic,
        max_addresses: int = MAX_ADDRESSES,
    ) -> None:
        self.per_minute = per_minute
        self._timer = timer
        self._lock = threading.Lock()
        # address -> (the minute's number, its count, the previous minute's count)
        self._counts: LRUCache[str, tuple[int, int, int]] = LRUCache(maxsize=max_addresses)

    def spend(self, *, source: str) -> None:
        """Count one never-seen document from ``source``; RATE_LIMITED (uncounted) past
        the budget, with how long until one more fits."""
        key = address_key(source)
        now = self._timer()
        minute, elapsed = divmod(now, _WINDOW_SECONDS)
        with self._lock:
            start, current, previous = self._counts.get(key, (int(minute), 0, 0))
            if start != minute:
                previous = current if start == minute - 1 else 0
                current = 0
            if estimate(previous=previous, current=current + 1, elapsed=elapsed) > self.per_minute:
                self._counts[key] = (int(minute), current, previous)
                retry_after = seconds_until_admitted(
                    previous=previous, current=current, elapsed=elapsed, limit=self.per_minute
                )
            else:
                self._counts[key] = (int(minute), current + 1, previous)
                return
        record_throttled("documents")
        raise DomainError(
            ErrorCode.RATE_LIMITED,
            "Too many new GraphQL documents from this address; reuse documents "
            "(persisted queries) or try again later",
            extra={"retryAfterSeconds": retry_after},
        )
