"""The project's own app: its management commands, and start-up that needs the app registry."""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.core import signals
from django.db import close_old_connections, reset_queries
from django.test.signals import setting_changed


def _rebuild_pipeline(*, setting: str, **_kwargs: Any) -> None:
    # The pipeline reads its limits once; a test that overrides one gets a new one.
    from gql.pipeline import PIPELINE_SETTINGS, reset_pipeline

    if setting in PIPELINE_SETTINGS:
        reset_pipeline()


class ProjectConfig(AppConfig):  # type: ignore[misc]  # Django ships no type hints
    name = "config"

    def ready(self) -> None:
        # Django's ORM is not used (DATABASES is empty: SQLAlchemy owns the database),
        # yet it hooks every request to reset and close its connections: about a
        # tenth of a cached getPosts, for nothing.
        signals.request_started.disconnect(reset_queries)
        signals.request_started.disconnect(close_old_connections)
        signals.request_finished.disconnect(close_old_connections)
        setting_changed.connect(_rebuild_pipeline, dispatch_uid="posts-api-pipeline")
