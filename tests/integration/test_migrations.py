"""Migrations build the schema the models describe, and the database itself enforces it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import DataError, IntegrityError, OperationalError

from persistence.db import build_engine, get_engine
from persistence.migrations import alembic_config, downgrade, upgrade
from persistence.models import Base
from tests.conftest import IS_MYSQL, TEST_DATABASE_URL, _create_mysql_database, _drop_mysql_database

MIB = 1024 * 1024
EMOJI = "\N{GRINNING FACE}"  # 4 bytes of UTF-8
HASH = "$2b$04$" + "a" * 53
WHEN = datetime(2026, 1, 1, 12, 0, 0)
# MariaDB reports a failed CHECK (error 4025) through mysqlclient as OperationalError.
CONSTRAINT_VIOLATION = (IntegrityError, OperationalError)

USERS_COLUMNS = {
    "id",
    "email",
    "password_hash",
    "posts_version",
    "posts_count",
    "posts_bytes",
    "created_at",
}
POSTS_COLUMNS = {"id", "user_id", "text", "created_at"}


@pytest.fixture
def empty_database_url(tmp_path: Path) -> Iterator[str]:
    """A brand-new database with no tables at all."""
    if IS_MYSQL:
        url = _create_mysql_database(TEST_DATABASE_URL)
        yield url
        _drop_mysql_database(url)
    else:
        yield f"sqlite:///{tmp_path / 'fresh.sqlite3'}"


@pytest.fixture
def engine_for(empty_database_url: str) -> Iterator[Engine]:
    engine = build_engine(empty_database_url)
    yield engine
    engine.dispose()


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def table_names(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def add_user(email: str = "alice@example.com") -> int:
    with get_engine().begin() as conn:
        conn.execute(
            text("INSERT INTO users (email, password_hash, created_at) VALUES (:e, :h, :c)"),
            {"e": email, "h": HASH, "c": WHEN},
        )
        user_id: int = conn.execute(
            text("SELECT id FROM users WHERE email = :e"), {"e": email}
        ).scalar_one()
    return user_id


def insert_post(user_id: int, post_text: str) -> None:
    with get_engine().begin() as conn:
        conn.execute(
            text("INSERT INTO posts (user_id, text, created_at) VALUES (:u, :t, :c)"),
            {"u": user_id, "t": post_text, "c": WHEN},
        )


def count(table: str) -> int:
    with get_engine().connect() as conn:
        rows: int = conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one()  # noqa: S608 - fixed names
    return rows


# Migrations


def test_upgrade_head_on_an_empty_database_creates_users_and_posts(
    empty_database_url: str, engine_for: Engine
) -> None:
    assert table_names(engine_for) == set()
    upgrade(empty_database_url)

    assert {"users", "posts", "alembic_version"} <= table_names(engine_for)
    assert current_revision(engine_for) == head_revision()
    inspector = inspect(engine_for)
    users = {column["name"]: column for column in inspector.get_columns("users")}
    posts = {column["name"]: column for column in inspector.get_columns("posts")}
    assert set(users) == USERS_COLUMNS
    assert set(posts) == POSTS_COLUMNS
    assert not any(column["nullable"] for column in users.values())
    assert not any(column["nullable"] for column in posts.values())
    assert inspector.get_pk_constraint("users")["constrained_columns"] == ["id"]
    assert inspector.get_pk_constraint("posts")["constrained_columns"] == ["id"]
    unique_email = [
        index
        for index in [*inspector.get_unique_constraints("users"), *inspector.get_indexes("users")]
        if index["column_names"] == ["email"]
    ]
    assert unique_email, "users.email must be unique"
    [foreign_key] = inspector.get_foreign_keys("posts")
    assert foreign_key["constrained_columns"] == ["user_id"]
    assert foreign_key["referred_table"] == "users"
    assert foreign_key["referred_columns"] == ["id"]
    assert foreign_key["options"].get("ondelete", "").upper() == "CASCADE"
    indexed = [index["column_names"] for index in inspector.get_indexes("posts")]
    assert ["user_id", "created_at", "id"] in indexed


def test_migrated_schema_matches_the_models(empty_database_url: str, engine_for: Engine) -> None:
    upgrade(empty_database_url)
    with engine_for.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        differences = compare_metadata(context, Base.metadata)
    assert differences == [], "models and migrations disagree: add a migration"


def test_downgrade_to_base_and_upgrade_again_rebuilds_the_schema(
    empty_database_url: str, engine_for: Engine
) -> None:
    upgrade(empty_database_url)
    downgrade(empty_database_url, "base")
    assert table_names(engine_for) <= {"alembic_version"}
    assert current_revision(engine_for) is None

    upgrade(empty_database_url)
    assert {"users", "posts"} <= table_names(engine_for)
    assert current_revision(engine_for) == head_revision()
    with engine_for.begin() as conn:
        conn.execute(
            text("INSERT INTO users (email, password_hash, created_at) VALUES (:e, :h, :c)"),
            {"e": "alice@example.com", "h": HASH, "c": WHEN},
        )
        assert conn.execute(text("SELECT COUNT(*) FROM users")).scalar_one() == 1


def test_upgrade_of_an_up_to_date_database_changes_nothing(
    empty_database_url: str, engine_for: Engine
) -> None:
    upgrade(empty_database_url)
    with engine_for.begin() as conn:
        conn.execute(
            text("INSERT INTO users (email, password_hash, created_at) VALUES (:e, :h, :c)"),
            {"e": "alice@example.com", "h": HASH, "c": WHEN},
        )
    upgrade(empty_database_url)
    with engine_for.connect() as conn:
        assert conn.execute(text("SELECT email FROM users")).scalars().all() == [
            "alice@example.com"
        ]


def test_upgrade_to_0003_back_fills_each_users_post_totals(
    empty_database_url: str, engine_for: Engine
) -> None:
    upgrade(empty_database_url, "0002")
    with engine_for.begin() as conn:
        for email in ("alice@example.com", "bob@example.com"):
            conn.execute(
                text("INSERT INTO users (email, password_hash, created_at) VALUES (:e, :h, :c)"),
                {"e": email, "h": HASH, "c": WHEN},
            )
        alice = conn.execute(text("SELECT id FROM users WHERE email = 'alice@example.com'"))
        alice_id = alice.scalar_one()
        for post_text in ("hi", EMOJI * 3):
            conn.execute(
                text("INSERT INTO posts (user_id, text, created_at) VALUES (:u, :t, :c)"),
                {"u": alice_id, "t": post_text, "c": WHEN},
            )
    upgrade(empty_database_url, "0003")
    with engine_for.connect() as conn:
        totals = conn.execute(
            text("SELECT email, posts_count, posts_bytes FROM users ORDER BY email")
        ).all()
    assert [tuple(row) for row in totals] == [
        ("alice@example.com", 2, 2 + 12),
        ("bob@example.com", 0, 0),
    ]


def test_database_refuses_negative_post_totals() -> None:
    user_id = add_user()
    for column in ("posts_count", "posts_bytes"):
        with pytest.raises(CONSTRAINT_VIOLATION), get_engine().begin() as conn:
            conn.execute(text(f"UPDATE users SET {column} = -1 WHERE id = :u"), {"u": user_id})  # noqa: S608 - fixed names


def test_database_refuses_a_persisted_query_whose_key_is_not_a_sha256() -> None:
    # MySQL refuses the over-long key as too long for the column (DataError).
    for key in ("A" * 64, "a" * 63, "g" * 64, "a" * 65):
        with pytest.raises((*CONSTRAINT_VIOLATION, DataError)), get_engine().begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO persisted_queries (sha256, document, created_at, last_used_at) "
                    "VALUES (:k, '{ __typename }', :c, :c)"
                ),
                {"k": key, "c": WHEN},
            )
    assert count("persisted_queries") == 0


# Constraints the database enforces by itself (raw SQL, bypassing the models)


def test_database_refuses_a_duplicate_email() -> None:
    add_user("alice@example.com")
    with pytest.raises(IntegrityError):
        add_user("alice@example.com")
    assert count("users") == 1


def test_database_refuses_a_null_email() -> None:
    with pytest.raises(IntegrityError), get_engine().begin() as conn:
        conn.execute(
            text("INSERT INTO users (email, password_hash, created_at) VALUES (NULL, :h, :c)"),
            {"h": HASH, "c": WHEN},
        )
    assert count("users") == 0


def test_database_refuses_a_password_hash_that_is_not_60_characters() -> None:
    with pytest.raises(CONSTRAINT_VIOLATION), get_engine().begin() as conn:
        conn.execute(
            text("INSERT INTO users (email, password_hash, created_at) VALUES (:e, :h, :c)"),
            {"e": "alice@example.com", "h": "plain text", "c": WHEN},
        )
    assert count("users") == 0


def test_database_refuses_a_post_of_a_nonexistent_user() -> None:
    user_id = add_user()
    with pytest.raises(IntegrityError):
        insert_post(user_id + 1000, "orphan")
    assert count("posts") == 0


def test_database_refuses_a_post_with_empty_text() -> None:
    user_id = add_user()
    with pytest.raises(CONSTRAINT_VIOLATION):
        insert_post(user_id, "")
    assert count("posts") == 0


def test_database_refuses_a_post_with_null_text() -> None:
    user_id = add_user()
    with pytest.raises(IntegrityError), get_engine().begin() as conn:
        conn.execute(
            text("INSERT INTO posts (user_id, text, created_at) VALUES (:u, NULL, :c)"),
            {"u": user_id, "c": WHEN},
        )
    assert count("posts") == 0


def test_database_refuses_a_post_over_1_mib_of_utf8() -> None:
    user_id = add_user()
    with pytest.raises(CONSTRAINT_VIOLATION):
        insert_post(user_id, EMOJI * (MIB // 4) + "x")
    assert count("posts") == 0


def test_database_stores_1_mib_of_four_byte_characters_exactly() -> None:
    user_id = add_user()
    post_text = EMOJI * (MIB // 4)
    insert_post(user_id, post_text)
    with get_engine().connect() as conn:
        stored = conn.execute(text("SELECT text FROM posts")).scalar_one()
    assert stored == post_text


def test_deleting_a_user_deletes_their_posts() -> None:
    user_id = add_user()
    insert_post(user_id, "hello")
    with get_engine().begin() as conn:
        conn.execute(text("DELETE FROM users WHERE id = :u"), {"u": user_id})
    assert count("posts") == 0


@pytest.mark.mysql
def test_mysql_post_text_is_utf8mb4_mediumtext_and_tables_are_utf8mb4() -> None:
    with get_engine().connect() as conn:
        column = conn.execute(
            text(
                "SELECT DATA_TYPE, CHARACTER_SET_NAME FROM information_schema.COLUMNS"
                " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'posts'"
                " AND COLUMN_NAME = 'text'"
            )
        ).one()
        collations = dict(
            conn.execute(
                text(
                    "SELECT TABLE_NAME, TABLE_COLLATION FROM information_schema.TABLES"
                    " WHERE TABLE_SCHEMA = DATABASE()"
                )
            ).all()
        )
        text_charsets = (
            conn.execute(
                text(
                    "SELECT DISTINCT CHARACTER_SET_NAME FROM information_schema.COLUMNS"
                    " WHERE TABLE_SCHEMA = DATABASE() AND CHARACTER_SET_NAME IS NOT NULL"
                )
            )
            .scalars()
            .all()
        )
        engines = (
            conn.execute(
                text(
                    "SELECT DISTINCT ENGINE FROM information_schema.TABLES"
                    " WHERE TABLE_SCHEMA = DATABASE()"
                )
            )
            .scalars()
            .all()
        )
    assert column.DATA_TYPE.lower() == "mediumtext"
    assert column.CHARACTER_SET_NAME == "utf8mb4"
    assert {"users", "posts"} <= set(collations)
    assert all(collation.startswith("utf8mb4") for collation in collations.values()), collations
    assert set(text_charsets) == {"utf8mb4"}
    assert set(engines) == {"InnoDB"}


@pytest.mark.mysql
def test_mysql_connection_speaks_utf8mb4() -> None:
    with get_engine().connect() as conn:
        charset = conn.execute(text("SELECT @@character_set_connection")).scalar_one()
    assert charset == "utf8mb4"
