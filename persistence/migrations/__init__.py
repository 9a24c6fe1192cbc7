"""Alembic migrations, and a helper to apply them from code."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

_ROOT = Path(__file__).resolve().parent.parent.parent


def alembic_config(url: str | None = None) -> Config:
    """The project's Alembic config, optionally pointed at ``url``."""
    config = Config(str(_ROOT / "alembic.ini"))
    if url is not None:
        config.attributes["database_url"] = url
    return config


def upgrade(url: str | None = None, revision: str = "head") -> None:
    """Apply migrations up to ``revision`` on ``url`` (default: settings.DATABASE_URL)."""
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str | None = None, revision: str = "base") -> None:
    """Revert migrations down to ``revision``."""
    command.downgrade(alembic_config(url), revision)
