"""Column types and SQL functions that differ between SQLite and MySQL/MariaDB."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Boolean, DateTime, Integer, String, Text
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

# A client address key (IPv4, or an IPv6 /64), compared byte for byte.
AddressString = String(45).with_variant(
    mysql.VARCHAR(45, charset="utf8mb4", collation="utf8mb4_bin"), "mysql", "mariadb"
)

# A SHA-256 in lower-case hex, compared byte for byte.
Sha256Hex = String(64).with_variant(
    mysql.CHAR(64, charset="utf8mb4", collation="utf8mb4_bin"), "mysql", "mariadb"
)

# A GraphQL document (at most 64 KiB: TEXT on MySQL), compared byte for byte.
DocumentText = Text().with_variant(
    mysql.TEXT(charset="utf8mb4", collation="utf8mb4_bin"), "mysql", "mariadb"
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


class is_sha256_hex(FunctionElement[bool]):  # noqa: N801 - reads like a SQL predicate
    """True when the value is 64 lower-case hex digits."""

    type = Boolean()
    inherit_cache = True


@compiles(is_sha256_hex)
def _is_sha256_hex_default(element: Any, compiler: Any, **kw: Any) -> str:
    value = compiler.process(element.clauses, **kw)
    return f"({value} REGEXP '^[0-9a-f]{{64}}$')"


@compiles(is_sha256_hex, "sqlite")
def _is_sha256_hex_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    value = compiler.process(element.clauses, **kw)
    return f"(length({value}) = 64 AND {value} NOT GLOB '*[^0-9a-f]*')"


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
    "AddressString",
    "BigId",
    "DocumentText",
    "EmailString",
    "PostText",
    "Sha256Hex",
    "Timestamp",
    "byte_length",
    "char_length",
    "is_sha256_hex",
]
