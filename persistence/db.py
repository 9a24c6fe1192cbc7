"""Engine and session factory, created lazily from settings so tests and tools can repoint them."""

from __future__ import annotations

import threading
import time
from typing import Any

import sqlalchemy
from django.conf import settings
from sqlalchemy import Engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

_lock = threading.Lock()
# The process's engines, by use: "main" (transactions), "reads" (one-statement
# reads), "probe" (health checks); each built on first use.
_engines: dict[str, Engine] = {}
_session_factory: sessionmaker[Session] | None = None


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers run beside a writer (several gunicorn workers share the file);
    # foreign keys are off by default in SQLite.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={int(settings.DATABASE_TIMEOUT_SECONDS * 1000)}")
    cursor.close()


def build_engine(url: str, *, probe: bool = False, reads: bool = False) -> Engine:
    """Create an engine for ``url`` with the options each supported database needs.

    A ``probe`` engine (for health checks) keeps no pool and waits no longer for an
    answer than for a connection, so a silent server is reported in seconds. A
    ``reads`` engine serves persistence/reads.py: autocommit connections, nothing
    to reset when one goes back to the pool, no ping before each use (a read
    finding its connection dead runs again on a fresh one).
    """
    parsed = make_url(url)
    timeout = settings.DATABASE_TIMEOUT_SECONDS
    query_timeout = timeout if probe else settings.DATABASE_QUERY_TIMEOUT_SECONDS
    no_pool: dict[str, Any] = {"poolclass": NullPool} if probe else {}
    autocommit: dict[str, Any] = (
        {"isolation_level": "AUTOCOMMIT", "pool_reset_on_return": None} if reads else {}
    )
    if parsed.get_backend_name() == "sqlite":
        engine = _create_engine(
            url,
            connect_args={"timeout": timeout, "check_same_thread": False},
            **no_pool,
            **autocommit,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        if reads:
            return engine
        # pysqlite's own transaction handling is replaced by an explicit BEGIN
        # (SQLAlchemy docs, "Serializable isolation / Savepoints / Transactional
        # DDL"). BEGIN is deferred, so every write transaction here starts with a
        # write: it then waits busy_timeout for the lock, whereas one that reads
        # first is refused at once under WAL when another writer got in between.
        event.listen(engine, "connect", lambda conn, _rec: setattr(conn, "isolation_level", None))
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN"))
        return engine
    if parsed.get_backend_name() in {"mysql", "mariadb"}:
        query = dict(parsed.query)
        query.setdefault("charset", "utf8mb4")
        engine = _create_engine(
            parsed.set(query=query),
            **(
                no_pool
                or {
                    "pool_recycle": 280,
                    "pool_size": 10,
                    "max_overflow": 20,
                    "pool_timeout": timeout,
                }
            ),
            # Every transaction here ends itself: the unit of work commits or rolls
            # back, a Core connection rolls back as it closes (and SQLAlchemy then
            # skips the reset anyway). The pool's own ROLLBACK on return was one more
            # round trip for every transaction, after its COMMIT.
            **(autocommit or {"isolation_level": "READ COMMITTED", "pool_reset_on_return": None}),
            connect_args={
                "connect_timeout": timeout,
                "read_timeout": query_timeout,
                "write_timeout": query_timeout,
                "init_command": f"SET SESSION innodb_lock_wait_timeout={int(timeout)}",
            },
        )
        if not (probe or reads):
            event.listen(engine, "checkin", _idle_since)
            event.listen(engine, "checkout", _ping_if_idle)
        return engine
    raise ValueError(f"unsupported database backend: {parsed.get_backend_name()}")


# A pooled MySQL/MariaDB connection is pinged before use only when it has lain idle
# this long (SQLAlchemy's pool_pre_ping pings before every use: a round trip per
# transaction). One back in the pool for less than this was answering a moment ago;
# one idle longer may have outlived a restart or a failover, and is replaced if the
# ping fails (the pool then connects anew, as with pool_pre_ping). The pessimistic
# "checkout" recipe of SQLAlchemy's "Dealing with Disconnects", with an idle bound.
PING_AFTER_IDLE_SECONDS = 1.0


def _idle_since(_dbapi_connection: Any, record: Any) -> None:
    record.info["idle_since"] = time.monotonic()


def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    idle_since = record.info.get("idle_since")
    if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
        return  # a new connection, or one in use a moment ago
    try:
        dbapi_connection.ping()
    except Exception as exc:  # whatever the driver raised: the pool connects anew
        raise DisconnectionError(f"pooled connection failed its ping: {exc}") from exc


def _lazy_engine(use: str, **options: bool) -> Engine:
    engine = _engines.get(use)
    if engine is None:
        with _lock:
            engine = _engines.get(use)
            if engine is None:
                engine = _engines[use] = build_engine(settings.DATABASE_URL, **options)
    return engine


def _create_engine(*args: Any, **kwargs: Any) -> Engine:
    # Looked up on the module at each call: OpenTelemetry's SQLAlchemy instrumentation
    # (observability/tracing.py) wraps sqlalchemy.create_engine when tracing is on.
    engine: Engine = sqlalchemy.create_engine(*args, **kwargs)
    return engine


def get_engine() -> Engine:
    """The process-wide engine for settings.DATABASE_URL, created on first use."""
    return _lazy_engine("main")


def get_read_engine() -> Engine:
    """The process-wide engine of one-statement reads (persistence/reads.py)."""
    return _lazy_engine("reads", reads=True)


def get_session_factory() -> sessionmaker[Session]:
    """The process-wide session factory, bound to :func:`get_engine`."""
    global _session_factory
    if _session_factory is None:
        engine = get_engine()
        with _lock:
            if _session_factory is None:
                _session_factory = sessionmaker(bind=engine, expire_on_commit=False)
    return _session_factory


def reset_engine() -> None:
    """Dispose of the engine so the next use reads settings again (tests, forks)."""
    global _session_factory
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
        _session_factory = None


def ping() -> bool:
    """True when a trivial query succeeds on a fresh connection, within the timeouts."""
    try:
        with _lazy_engine("probe", probe=True).connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001 - any failure means "not reachable"
        return False
    return True
