"""Column types and SQL functions that differ between SQLite and MySQL/MariaDB."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, DateTime, Integer, String, Text
from sqlalchemy.dialects import mysql
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

# Options for every table: InnoDB and utf8mb4 on MySQL/MariaDB; on SQLite, ids are
# never reused (a deleted user's token must not fit the next user to sign up).
TABLE_OPTIONS: dict[str, object] = {
    "sqlite_autoincrement": True,
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_unicode_ci",
}

# SQLite only auto-increments INTEGER PRIMARY KEY; MySQL wants BIGINT.
BigId = BigInteger().with_variant(Integer(), "sqlite")

# TEXT holds 64 KiB on MySQL: MEDIUMTEXT (16 MiB) holds a 1 MiB post of any characters.
PostText = Text().with_variant(
    mysql.MEDIUMTEXT(charset="utf8mb4", collation="utf8mb4_bin"), "mysql", "mariadb"
)

# Emails are stored normalised (lower-case); a binary collation makes uniqueness
# exactly "same normalised string" on every database (no ß = ss surprises).
EmailString = String(254).with_variant(
    mysql.VARCHAR(254, charset="utf8mb4", collation="utf8mb4_bin"), "mysql", "mariadb"
)

# Microsecond timestamps, so "newest first" is exact on MySQL too.
Timestamp = DateTime(timezone=False).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


class char_length(FunctionElement[int]):  # noqa: N801 - reads like the SQL function
    """Length in characters."""

    type = BigInteger()
    inherit_cache = True


class byte_length(FunctionElement[int]):  # noqa: N801 - reads like the SQL function
    """Length in bytes of the UTF-8 encoding."""

    type = BigInteger()
    inherit_cache = True


@compiles(char_length)
def _char_length_default(element: Any, compiler: Any, **kw: Any) -> str:
    return f"char_length({compiler.process(element.clauses, **kw)})"


@compiles(char_length, "sqlite")
def _char_length_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    return f"length({compiler.process(element.clauses, **kw)})"


@compiles(byte_length)
def _byte_length_default(element: Any, compiler: Any, **kw: Any) -> str:
    return f"octet_length({compiler.process(element.clauses, **kw)})"


@compiles(byte_length, "sqlite")
def _byte_length_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    return f"length(CAST({compiler.process(element.clauses, **kw)} AS BLOB))"


__all__ = [
    "TABLE_OPTIONS",
    "BigId",
    "EmailString",
    "PostText",
    "Timestamp",
    "byte_length",
    "char_length",
]
