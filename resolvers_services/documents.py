"""Persisted GraphQL documents (Apollo's APQ): a store shared by every worker and instance.

A bounded per-process LRU sits in front of the database table, so a document
already seen by this process costs no query; the table is what makes a
document registered through one instance known to all the others.
"""

from __future__ import annotations

import contextlib
import threading

from cachetools import LRUCache

from persistence.errors import AlreadyExists
from persistence.uow import UnitOfWork
from resolvers_services.clock import utcnow
from resolvers_services.transactions import retry_transaction


class DocumentStore:
    """Documents by SHA-256: the process's LRU first, then the shared table."""

    def __init__(self, *, cache_size: int, max_documents: int) -> None:
        self.max_documents = max_documents
        # cachetools caches are not thread-safe; every access holds this lock.
        self._lock = threading.Lock()
        self._recent: LRUCache[str, str] = LRUCache(maxsize=cache_size)

    def lookup(self, *, uow: UnitOfWork, sha256: str) -> str | None:
        """The document registered under ``sha256`` by any instance, or None."""
        with self._lock:
            document = self._recent.get(sha256)
        if document is not None:
            return document

        document = _find(uow, sha256=sha256)
        if document is not None:
            self._remember(sha256, document)
        return document

    def register(self, *, uow: UnitOfWork, sha256: str, document: str) -> None:
        """Store a document that parsed and validated; evict the least recently used."""
        # Another request (or instance) may have registered it first: the same text.
        with contextlib.suppress(AlreadyExists):
            _store(uow, sha256=sha256, document=document, keep=self.max_documents)
        self._remember(sha256, document)

    def _remember(self, sha256: str, document: str) -> None:
        with self._lock:
            self._recent[sha256] = document

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
