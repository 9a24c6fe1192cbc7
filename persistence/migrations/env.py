"""Alembic environment: the URL comes from Django settings unless a caller passes one."""

from __future__ import annotations

import os

from alembic import context
from django.conf import settings

from persistence.db import build_engine
from persistence.models import Base

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    return str(config.attributes.get("database_url") or settings.DATABASE_URL)


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = build_engine(_url())
    try:
        with engine.connect() as connection:
            context.configure(connection=connection, target_metadata=target_metadata)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
