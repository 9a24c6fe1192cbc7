"""One-statement reads on the hot path: compiled once, run on autocommit connections.

Every authenticated request reads its caller (user and session) in one SELECT.
Run through an ORM session that one read cost more than the rest of a cached
getPosts; through a Core connection, SQLAlchemy's per-execution work (cache
key, execution context, result metadata, the transaction begun and rolled
back) still cost several times the statement itself, and on MariaDB the
checkout ping and the rollback are two more round trips (the figures:
docs/adr/0008). So, for these reads only:

- the statement is built with SQLAlchemy Core and compiled by SQLAlchemy, once
  per dialect, with its bind parameters' own type processors (a datetime
  becomes what the dialect stores);
- it runs on the DBAPI connection of a pool of its own, in autocommit mode:
  no transaction to begin or roll back, nothing to reset when the connection
  goes back (a lone SELECT reads one consistent snapshot anyway);
- instead of a ping before every checkout, a connection found dead has the
  whole pool replaced and the read runs once more on a fresh connection (a read
  can be repeated safely); a second failure is the database being down.

Driver errors come out as SQLAlchemy's DBAPIError, as from any other call, so
the unit of work translates them the same way. Where the reads engine has
``before_cursor_execute`` listeners (tracing, the tests' statement recorder),
the read runs through a Core connection instead, so that they see it as any
other statement.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Generic, TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

T = TypeVar("T")

_ATTEMPTS = 2  # the second on a fresh connection, when the first found its connection dead


class _Compiled:
    """A statement compiled for one dialect: its SQL, and how to turn named values into
    the driver's parameters."""

    def __init__(self, statement: ClauseElement, engine: Engine) -> None:
        dialect = engine.dialect
        compiled = statement.compile(dialect=dialect)
        if not isinstance(compiled, SQLCompiler):
            raise TypeError(f"not a SQL statement: {statement!r}")
        self.sql = str(compiled)
        self.names: Sequence[str] | None = compiled.positiontup
        self.processors: dict[str, Callable[[Any], Any] | None] = {
            name: bind.type.bind_processor(dialect) for name, bind in compiled.binds.items()
        }

    def parameters(self, values: Mapping[str, Any]) -> Sequence[Any] | dict[str, Any]:
        processed = {}
        for name, value in values.items():
            process = self.processors[name]
            processed[name] = value if process is None else process(value)
        if self.names is None:  # a named paramstyle
            return processed
        return tuple(processed[name] for name in self.names)


class OneStatementRead(Generic[T]):
    """A SELECT of at most one row, run by :meth:`run` with its bind values."""

    def __init__(self, statement: ClauseElement, convert: Callable[[tuple[Any, ...]], T]) -> None:
        self.statement = statement
        self.convert = convert
        self._compiled: dict[int, _Compiled] = {}
        self._lock = threading.Lock()

    def _for(self, engine: Engine) -> _Compiled:
        key = id(engine)
        compiled = self._compiled.get(key)
        if compiled is None:
            with self._lock:
                compiled = self._compiled[key] = _Compiled(self.statement, engine)
        return compiled

    def run(self, engine: Engine, values: Mapping[str, Any]) -> T | None:
        """The converted row, or None when there is none. DBAPIError when the database fails."""
        compiled = self._for(engine)
        parameters = compiled.parameters(values)
        if engine.dispatch.before_cursor_execute:
            # Someone listens for statements (tracing, the tests' statement recorder):
            # through a Core connection, they see it as they see every other one.
            with engine.connect() as observed:
                row = observed.exec_driver_sql(compiled.sql, parameters).fetchone()
            return None if row is None else self.convert(tuple(row))
        dialect = engine.dialect
        for attempt in range(1, _ATTEMPTS + 1):
            connection = engine.raw_connection()
            cursor = None
            try:
                cursor = connection.cursor()
                cursor.execute(compiled.sql, parameters)
                row = cursor.fetchone()
            except dialect.loaded_dbapi.Error as exc:
                dead = dialect.is_disconnect(exc, connection.dbapi_connection, cursor)
                if dead:
                    # Its neighbours in the pool died with it (a restart, a failover), as
                    # SQLAlchemy assumes too: all are replaced, not found dead one by one.
                    connection.invalidate(exc)
                    engine.dispose()
                if dead and attempt < _ATTEMPTS:
                    continue
                raise DBAPIError.instance(
                    compiled.sql,
                    parameters,
                    exc,
                    dialect.loaded_dbapi.Error,
                    connection_invalidated=dead,
                    dialect=dialect,
                ) from exc
            finally:
                if cursor is not None:
                    with contextlib.suppress(Exception):  # its connection may be gone
                        cursor.close()
                connection.close()
            return None if row is None else self.convert(tuple(row))
        raise AssertionError("unreachable")
