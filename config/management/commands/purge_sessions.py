"""``python manage.py purge_sessions``: delete expired and ended sessions."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from persistence.uow import SqlUnitOfWork
from resolvers_services.sessions import session_purge


class Command(BaseCommand):  # type: ignore[misc]  # Django ships no type hints
    """Delete every expired or ended session (requests also purge some as they go)."""

    help = "Delete expired and ended sessions, in short batches."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--batch", type=int, default=1000, help="sessions deleted per transaction"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        purged = session_purge(uow=SqlUnitOfWork(), batch=max(1, int(options["batch"])))
        self.stdout.write(f"purged {purged} sessions")
