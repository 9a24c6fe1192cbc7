"""The project's own app: its management commands, and start-up that needs the app registry."""

from __future__ import annotations

from django.apps import AppConfig
from django.core import signals
from django.db import close_old_connections, reset_queries


class ProjectConfig(AppConfig):  # type: ignore[misc]  # Django ships no type hints
    name = "config"

    def ready(self) -> None:
        # Django's ORM is not used (DATABASES is empty: SQLAlchemy owns the database),
        # yet it hooks every request to reset and close its connections: about a
        # tenth of a cached getPosts, for nothing.
        signals.request_started.disconnect(reset_queries)
        signals.request_started.disconnect(close_old_connections)
        signals.request_finished.disconnect(close_old_connections)
