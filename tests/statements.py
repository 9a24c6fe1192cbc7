"""Listening to every SQL statement the app sends, on each of its engines."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import event

from persistence.db import get_engine, get_read_engine

Listener = Callable[..., None]  # (conn, cursor, statement, parameters, context, executemany)


@contextlib.contextmanager
def listening(listener: Listener) -> Iterator[None]:
    """Call ``listener`` before each statement on the transactional and the reads engine."""
    engines: list[Any] = [get_engine(), get_read_engine()]
    for engine in engines:
        event.listen(engine, "before_cursor_execute", listener)
    try:
        yield
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", listener)
