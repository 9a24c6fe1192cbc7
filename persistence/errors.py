"""Database failures, translated to what the layers above can act on."""

from __future__ import annotations


class PersistenceError(Exception):
    """Base for failures raised by this package."""


class AlreadyExists(PersistenceError):
    """A unique constraint refused the write."""


class TransientError(PersistenceError):
    """A deadlock or lock timeout: the whole transaction may be retried."""


class DatabaseUnavailable(PersistenceError):
    """The database could not be reached."""
