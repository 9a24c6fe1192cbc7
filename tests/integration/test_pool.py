"""The transaction pool on MySQL/MariaDB (persistence/db.py): no ROLLBACK after a
COMMIT, a ping only for a connection that lay idle, and a dead idle connection
replaced before a transaction uses it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, text

import persistence.db
from persistence.db import get_engine, reset_engine
from persistence.uow import SqlUnitOfWork
from resolvers_services.tokens import access_claims
from tests.conftest import Api, error_code

pytestmark = pytest.mark.mysql


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Each ROLLBACK and ping the transaction pool's connections send, in order."""
    reset_engine()
    calls: list[str] = []
    dialect = get_engine().dialect
    # MySQLdb's connection class, reached through the dialect: the SQLite run of the
    # suite has no mysqlclient to import.
    connection_class = dialect.loaded_dbapi.connections.Connection
    rollback, ping = dialect.do_rollback, connection_class.ping

    def counted_rollback(connection: Any) -> None:
        calls.append("rollback")
        rollback(connection)

    def counted_ping(connection: Any, *args: Any) -> Any:
        calls.append("ping")
        return ping(connection, *args)

    monkeypatch.setattr(dialect, "do_rollback", counted_rollback)
    monkeypatch.setattr(connection_class, "ping", counted_ping)
    yield calls
    reset_engine()


def _post_count() -> int:
    with get_engine().connect() as conn:
        count: int = conn.execute(text("SELECT COUNT(*) FROM posts")).scalar_one()
    return count


def test_a_committed_transaction_goes_back_to_the_pool_without_a_rollback(
    api: Api, alice: str, sent: list[str]
) -> None:
    assert "errors" not in api.add_post("warms the pool", token=alice)
    sent.clear()
    assert "errors" not in api.add_post("committed", token=alice)
    assert sent == []
    assert [p["text"] for p in api.posts(alice)] == ["committed", "warms the pool"]


def test_a_transaction_left_uncommitted_is_rolled_back_once_and_holds_no_lock(
    api: Api, alice: str, sent: list[str]
) -> None:
    """The unit of work rolls back itself: nothing is stored, and the user row it
    locked is free at once for another connection (the pool adds no reset of its own)."""
    user_id = access_claims(alice).user_id
    assert api.posts(alice) == []  # the engine's first connection, which it rolls back
    sent.clear()

    def fails_before_its_commit() -> None:
        with SqlUnitOfWork() as uow:
            assert uow.users.reserve_post(user_id=user_id, size=1, max_count=10, max_bytes=10)
            raise RuntimeError("the work fails before its commit")

    with pytest.raises(RuntimeError):
        fails_before_its_commit()
    assert sent == ["rollback"]
    other = create_engine(get_engine().url)
    try:
        with other.begin() as conn:
            conn.exec_driver_sql("SET SESSION innodb_lock_wait_timeout = 1")
            conn.execute(
                text("UPDATE users SET posts_version = posts_version WHERE id = :id"),
                {"id": user_id},
            )
    finally:
        other.dispose()
    assert _post_count() == 0
    assert api.posts(alice) == []


def test_only_a_connection_idle_past_the_bound_is_pinged(
    api: Api, alice: str, sent: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert "errors" not in api.add_post("warms the pool", token=alice)
    sent.clear()
    assert "errors" not in api.add_post("in use a moment ago", token=alice)
    assert "ping" not in sent
    monkeypatch.setattr(persistence.db, "PING_AFTER_IDLE_SECONDS", 0.0)
    assert "errors" not in api.add_post("idle past the bound", token=alice)
    assert sent.count("ping") == 1


def test_a_dead_idle_connection_is_replaced_before_a_transaction_uses_it(
    api: Api, alice: str, sent: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """As a database restart leaves them: every pooled connection killed while idle."""
    assert "errors" not in api.add_post("before", token=alice)
    engine = get_engine()
    pooled = [engine.raw_connection() for _ in range(engine.pool.checkedin())]  # type: ignore[attr-defined]
    assert pooled
    killer = create_engine(engine.url)
    try:
        with killer.connect() as conn:
            for connection in pooled:
                thread_id = connection.dbapi_connection.thread_id()  # type: ignore[union-attr]
                conn.exec_driver_sql(f"KILL {int(thread_id)}")
    finally:
        killer.dispose()
    for connection in pooled:
        connection.close()  # back to the pool, dead
    monkeypatch.setattr(persistence.db, "PING_AFTER_IDLE_SECONDS", 0.0)
    body = api.add_post("after", token=alice)
    assert "errors" not in body, error_code(body)
    assert "ping" in sent
    assert [p["text"] for p in api.posts(alice)] == ["after", "before"]
