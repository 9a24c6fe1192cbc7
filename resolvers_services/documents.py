"""Persisted GraphQL documents (Apollo's APQ): a store shared by every worker and instance.

A bounded per-process LRU sits in front of the database table, so a document
already seen by this process costs no query; the table is what makes a
document registered through one instance known to all the others.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable

from cachetools import LRUCache

from persistence.errors import AlreadyExists
from persistence.ports import UnitOfWork
from resolvers_services.clock import utcnow
from resolvers_services.transactions import retry_transaction

# How often a document served from a process's memory has its use stamped in the
# shared table: eviction there goes by last use, and a document clients keep using
# must not look unused because every process answers it from memory.
TOUCH_EVERY_SECONDS = 60.0


class DocumentStore:
    """Documents by SHA-256: the process's LRU first, then the shared table.

    The table evicts the least recently used document beyond ``max_documents``.
    A document served from memory is stamped as used at most every
    ``touch_every_seconds``, so documents that keep being used survive a flood of
    new registrations (which the never-seen-document budget bounds per address).
    """

    def __init__(
        self,
        *,
        cache_size: int,
        max_documents: int,
        touch_every_seconds: float = TOUCH_EVERY_SECONDS,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_documents = max_documents
        self.touch_every_seconds = touch_every_seconds
        self._timer = timer
        # cachetools caches are not thread-safe; every access holds this lock.
        self._lock = threading.Lock()
        # sha256 -> (the document, when its use was last stamped in the table)
        self._recent: LRUCache[str, tuple[str, float]] = LRUCache(maxsize=cache_size)

    def lookup(self, *, uow: UnitOfWork, sha256: str) -> str | None:
        """The document registered under ``sha256`` by any instance, or None."""
        now = self._timer()
        with self._lock:
            recent = self._recent.get(sha256)
        if recent is not None and now - recent[1] < self.touch_every_seconds:
            return recent[0]

        document = _find(uow, sha256=sha256)
        if document is not None:
            self._remember(sha256, document)
        elif recent is not None:  # evicted from the table since: forget it here too
            with self._lock:
                self._recent.pop(sha256, None)
        return document

    def register(self, *, uow: UnitOfWork, sha256: str, document: str) -> None:
        """Store a document that parsed and validated; evict the least recently used."""
        # Another request (or instance) may have registered it first: the same text.
        with contextlib.suppress(AlreadyExists):
            _store(uow, sha256=sha256, document=document, keep=self.max_documents)
        self._remember(sha256, document)

    def _remember(self, sha256: str, document: str) -> None:
        stamped = self._timer()
        with self._lock:
            self._recent[sha256] = (document, stamped)

    def clear_local(self) -> None:
        """Forget this process's copies (the shared table keeps them)."""
        with self._lock:
            self._recent.clear()


@retry_transaction
def _find(uow: UnitOfWork, *, sha256: str) -> str | None:
    with uow:
        # Touch first: on SQLite a transaction that writes before it reads can
        # wait for the write lock; the stamp keeps used documents from eviction.
        if not uow.persisted_queries.touch(sha256, utcnow()):
            return None
        found = uow.persisted_queries.get(sha256)
        uow.commit()
    return found


@retry_transaction
def _store(uow: UnitOfWork, *, sha256: str, document: str, keep: int) -> None:
    with uow:
        uow.persisted_queries.add(sha256=sha256, document=document, now=utcnow())
        uow.persisted_queries.evict_beyond(keep)
        uow.commit()
