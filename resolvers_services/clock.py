"""The one clock the services read."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Now in UTC, naive: SQLite and MySQL DATETIME columns carry no zone."""
    return datetime.now(UTC).replace(tzinfo=None)
