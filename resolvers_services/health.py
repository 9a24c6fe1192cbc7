"""Service health."""

from __future__ import annotations

from persistence.db import ping


def system_health() -> dict[str, str]:
    """The status of each dependency: "ok" or "unavailable"."""
    return {"database": "ok" if ping() else "unavailable"}
