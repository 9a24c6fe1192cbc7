"""One-statement reads (persistence/reads.py): the caller's row on an autocommit pool."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from persistence.db import get_engine, get_read_engine
from persistence.errors import DatabaseUnavailable
from persistence.uow import SqlUnitOfWork
from resolvers_services.tokens import access_claims
from tests.conftest import IS_MYSQL, Api


def _ids(token: str) -> tuple[int, int]:
    claims = access_claims(token)
    return claims.user_id, claims.session_id


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def test_the_caller_read_finds_a_live_session_and_nothing_else(api: Api, alice: str) -> None:
    user_id, session_id = _ids(alice)
    found = SqlUnitOfWork().caller(user_id=user_id, session_id=session_id, now=_now())
    assert found is not None
    assert (found.id, found.email, found.session_id) == (user_id, "alice@example.com", session_id)
    assert found.posts_count == found.posts_version == found.posts_bytes == 0
    uow = SqlUnitOfWork()
    assert uow.caller(user_id=user_id, session_id=session_id + 1, now=_now()) is None
    assert uow.caller(user_id=user_id + 1, session_id=session_id, now=_now()) is None


def test_the_time_bound_goes_through_the_columns_type(api: Api, alice: str) -> None:
    """``now`` is bound as the dialect stores datetimes (on SQLite, text that must compare)."""
    user_id, session_id = _ids(alice)
    with get_engine().connect() as conn:
        expires = conn.execute(
            text("SELECT expires_at FROM sessions WHERE id = :id"), {"id": session_id}
        ).scalar_one()
    if isinstance(expires, str):
        expires = datetime.fromisoformat(expires)
    uow = SqlUnitOfWork()
    just_before = expires - timedelta(microseconds=1)
    assert uow.caller(user_id=user_id, session_id=session_id, now=just_before) is not None
    assert uow.caller(user_id=user_id, session_id=session_id, now=expires) is None


def test_an_ended_session_is_not_read_as_live(api: Api, alice: str) -> None:
    user_id, session_id = _ids(alice)
    with get_engine().begin() as conn:
        conn.execute(
            text("UPDATE sessions SET ended_at = last_used_at WHERE id = :id"), {"id": session_id}
        )
    assert SqlUnitOfWork().caller(user_id=user_id, session_id=session_id, now=_now()) is None


def _kill_pooled_connections() -> None:
    """Make every idle connection of the reads pool dead, as a database restart would."""
    engine = get_read_engine()
    pooled = [engine.raw_connection() for _ in range(2)]
    if IS_MYSQL:
        with get_engine().connect() as killer:
            for conn in pooled:
                thread_id = conn.dbapi_connection.thread_id()  # type: ignore[union-attr]
                killer.exec_driver_sql(f"KILL {int(thread_id)}")
    else:
        for conn in pooled:
            conn.dbapi_connection.close()  # type: ignore[union-attr]
    for conn in pooled:
        conn.close()  # back to the pool, dead


def test_a_dead_pooled_connection_is_replaced_and_the_read_runs_again(api: Api, alice: str) -> None:
    user_id, session_id = _ids(alice)
    uow = SqlUnitOfWork()
    assert uow.caller(user_id=user_id, session_id=session_id, now=_now()) is not None
    _kill_pooled_connections()
    assert uow.caller(user_id=user_id, session_id=session_id, now=_now()) is not None


def test_a_database_that_stays_unreachable_is_reported_as_unavailable(
    api: Api, alice: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    user_id, session_id = _ids(alice)
    engine = get_read_engine()
    fresh = engine.raw_connection
    calls = []

    def dead_connection():  # type: ignore[no-untyped-def]
        conn = fresh()
        calls.append(conn)
        if IS_MYSQL:
            with get_engine().connect() as killer:
                killer.exec_driver_sql(f"KILL {int(conn.dbapi_connection.thread_id())}")
        else:
            conn.dbapi_connection.close()
        return conn

    monkeypatch.setattr(engine, "raw_connection", dead_connection)
    with pytest.raises(DatabaseUnavailable):
        SqlUnitOfWork().caller(user_id=user_id, session_id=session_id, now=_now())
    assert len(calls) == 2  # once more on a fresh connection, then it gives up
