"""Recording the SQL statements the app sends, on each of its engines: the one recorder
the statement-count and cache tests share (through the ``statements`` fixture)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import event

from persistence.db import get_engine, get_read_engine

# Transaction control and SQLite's connection set-up: not data statements, not recorded.
_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "PRAGMA", "SET ")


class Statements:
    """The data statements sent while it listens, each with its white space collapsed."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.lstrip().upper().startswith(_CONTROL):
            self.seen.append(" ".join(statement.split()))

    def clear(self) -> None:
        self.seen.clear()

    def during(self, action: Callable[[], object]) -> list[str]:
        """The statements ``action`` sent (and only those)."""
        self.clear()
        action()
        return list(self.seen)

    def matching(self, pattern: re.Pattern[str]) -> list[str]:
        return [statement for statement in self.seen if pattern.search(statement)]


@contextlib.contextmanager
def recording() -> Iterator[Statements]:
    """A recorder of every data statement sent to the transactional and the reads engine."""
    recorder = Statements()
    engines: list[Any] = [get_engine(), get_read_engine()]
    for engine in engines:
        event.listen(engine, "before_cursor_execute", recorder)
    try:
        yield recorder
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", recorder)
