"""The project's own app: its management commands, and start-up that needs the app registry."""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.core import signals
from django.db import close_old_connections, reset_queries
from django.test.signals import setting_changed


def _rebuild_shared_state(*, setting: str, **_kwargs: Any) -> None:
    # The shared state reads its settings once; a test that overrides one gets it anew.
    # Imported here: the pipeline needs the app registry, which is not ready at import.
    from config import bootstrap

    if setting in bootstrap.SETTINGS:
        bootstrap.reset()


class ProjectConfig(AppConfig):  # type: ignore[misc]  # Django ships no type hints
    name = "config"

    def ready(self) -> None:
        # Django's ORM is not used (DATABASES is empty: SQLAlchemy owns the database),
        # yet it hooks every request to reset and close its connections: about a
        # tenth of a cached getPosts, for nothing.
        signals.request_started.disconnect(reset_queries)
        signals.request_started.disconnect(close_old_connections)
        signals.request_finished.disconnect(close_old_connections)
        setting_changed.connect(_rebuild_shared_state, dispatch_uid="posts-api-shared-state")
