"""Start-up hooks of the project's app (config/apps.py)."""

from __future__ import annotations

from django.apps import apps
from django.core import signals
from django.db import close_old_connections, reset_queries


def _receivers(signal: signals.Signal) -> set[object]:
    return {receiver() for _key, receiver, *_ in signal.receivers}


def test_django_orm_connection_hooks_do_not_run_on_every_request() -> None:
    # DATABASES is empty: SQLAlchemy owns the database; these hooks were pure cost.
    # Django's test client puts close_old_connections back after each request it
    # makes, so the app's start-up hook runs again here, as in a fresh process.
    signals.request_started.connect(close_old_connections)
    apps.get_app_config("config").ready()
    assert close_old_connections not in _receivers(signals.request_started)
    assert reset_queries not in _receivers(signals.request_started)
    assert close_old_connections not in _receivers(signals.request_finished)
