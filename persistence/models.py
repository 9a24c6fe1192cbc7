"""SQLAlchemy models. Every column is validated here and constrained in the database."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    MetaData,
    String,
    literal_column,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, validates

from persistence.types import (
    TABLE_OPTIONS,
    BigId,
    DocumentText,
    EmailString,
    PostText,
    Sha256Hex,
    Timestamp,
    byte_length,
    char_length,
    is_sha256_hex,
)
from schemas.limits import (
    BCRYPT_HASH_CHARS,
    EMAIL_MAX_CHARS,
    PERSISTED_DOCUMENT_MAX_BYTES,
    POST_MAX_BYTES,
    SOURCE_MAX_CHARS,
)

_HEX_DIGITS = frozenset("0123456789abcdef")

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with constraint names that migrations can rely on."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


class CreatedAt:
    """A required creation time, set by the service (UTC, naive in the database)."""

    created_at: Mapped[datetime] = mapped_column(Timestamp, nullable=False)

    @validates("created_at")
    def _validate_created_at(self, _key: str, value: datetime) -> datetime:
        _require(isinstance(value, datetime), "created_at must be a datetime")
        return value


class User(CreatedAt, Base):
    """An account. ``posts_version`` changes with every write to the user's posts."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(char_length(literal_column("email")) >= 3, name="email_min_length"),
        CheckConstraint(
            char_length(literal_column("email")) <= EMAIL_MAX_CHARS, name="email_max_length"
        ),
        CheckConstraint(
            char_length(literal_column("password_hash")) == BCRYPT_HASH_CHARS,
            name="password_hash_length",
        ),
        CheckConstraint(text("posts_version >= 0"), name="posts_version_non_negative"),
        CheckConstraint(text("posts_count >= 0"), name="posts_count_non_negative"),
        CheckConstraint(text("posts_bytes >= 0"), name="posts_bytes_non_negative"),
        TABLE_OPTIONS,
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(EmailString, nullable=False, unique=True)
    password_hash: Mapped[str] = mapped_column(String(BCRYPT_HASH_CHARS), nullable=False)
    posts_version: Mapped[int] = mapped_column(
        BigInteger, nullable=False, default=0, server_default=text("0")
    )
    # Running totals of the user's posts, for the quotas (kept with every add and delete).
    posts_count: Mapped[int] = mapped_column(
        BigInteger, nullable=False, default=0, server_default=text("0")
    )
    posts_bytes: Mapped[int] = mapped_column(
        BigInteger, nullable=False, default=0, server_default=text("0")
    )

    posts: Mapped[list[Post]] = relationship(
        back_populates="user", passive_deletes=True, lazy="raise"
    )

    @validates("email")
    def _validate_email(self, _key: str, value: str) -> str:
        _require(isinstance(value, str), "email must be a string")
        _require(3 <= len(value) <= EMAIL_MAX_CHARS, "email must be 3..254 characters")
        _require(value == value.strip().lower(), "email must be normalised")
        _require("@" in value, "email must contain @")
        return value

    @validates("password_hash")
    def _validate_password_hash(self, _key: str, value: str) -> str:
        _require(isinstance(value, str), "password_hash must be a string")
        _require(len(value) == BCRYPT_HASH_CHARS, "password_hash must be a bcrypt hash")
        _require(value.startswith("$2"), "password_hash must be a bcrypt hash")
        return value

    @validates("posts_version", "posts_count", "posts_bytes")
    def _validate_counter(self, key: str, value: int) -> int:
        _require(isinstance(value, int) and value >= 0, f"{key} must be >= 0")
        return value


class Post(CreatedAt, Base):
    """A text post owned by one user."""

    __tablename__ = "posts"
    __table_args__ = (
        # Bytes, not characters: SQLite's length() stops at a NUL, and NUL is legal text.
        CheckConstraint(byte_length(literal_column("text")) > 0, name="text_not_empty"),
        CheckConstraint(
            byte_length(literal_column("text")) <= POST_MAX_BYTES, name="text_max_bytes"
        ),
        # getPosts reads one user's posts newest first.
        Index("ix_posts_user_id_created_at_id", "user_id", "created_at", "id"),
        TABLE_OPTIONS,
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    text: Mapped[str] = mapped_column(PostText, nullable=False)

    user: Mapped[User] = relationship(back_populates="posts", lazy="raise")

    @validates("user_id")
    def _validate_user_id(self, _key: str, value: int) -> int:
        _require(isinstance(value, int) and value > 0, "user_id must be a positive integer")
        return value

    @validates("text")
    def _validate_text(self, _key: str, value: str) -> str:
        _require(isinstance(value, str), "text must be a string")
        _require(bool(value.strip()), "text must not be blank")
        _require(len(value.encode("utf-8")) <= POST_MAX_BYTES, "text must be at most 1 MiB")
        return value


class LoginAttempt(CreatedAt, Base):
    """One login attempt that has not (yet) succeeded; rows age out of the window."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        CheckConstraint(char_length(literal_column("email")) >= 3, name="email_min_length"),
        CheckConstraint(char_length(literal_column("source")) >= 1, name="source_not_empty"),
        Index("ix_login_attempts_email_source_created_at", "email", "source", "created_at"),
        Index("ix_login_attempts_created_at", "created_at"),
        TABLE_OPTIONS,
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(EmailString, nullable=False)
    source: Mapped[str] = mapped_column(String(SOURCE_MAX_CHARS), nullable=False)

    @validates("email")
    def _validate_email(self, _key: str, value: str) -> str:
        _require(isinstance(value, str), "email must be a string")
        _require(3 <= len(value) <= EMAIL_MAX_CHARS, "email must be 3..254 characters")
        return value

    @validates("source")
    def _validate_source(self, _key: str, value: str) -> str:
        _require(isinstance(value, str), "source must be a string")
        _require(1 <= len(value) <= SOURCE_MAX_CHARS, "source must be 1..45 characters")
        return value


class PersistedQuery(Base):
    """A GraphQL document registered by its SHA-256 (Apollo's automatic persisted queries)."""

    __tablename__ = "persisted_queries"
    __table_args__ = (
        CheckConstraint(is_sha256_hex(literal_column("sha256")), name="sha256_hex"),
        CheckConstraint(byte_length(literal_column("document")) > 0, name="document_not_empty"),
        CheckConstraint(
            byte_length(literal_column("document")) <= PERSISTED_DOCUMENT_MAX_BYTES,
            name="document_max_bytes",
        ),
        # Eviction drops the least recently used documents first.
        Index("ix_persisted_queries_last_used_at", "last_used_at"),
        TABLE_OPTIONS,
    )

    sha256: Mapped[str] = mapped_column(Sha256Hex, primary_key=True)
    document: Mapped[str] = mapped_column(DocumentText, nullable=False)
    created_at: Mapped[datetime] = mapped_column(Timestamp, nullable=False)
    last_used_at: Mapped[datetime] = mapped_column(Timestamp, nullable=False)

    @validates("sha256")
    def _validate_sha256(self, _key: str, value: str) -> str:
        _require(
            isinstance(value, str) and len(value) == 64 and set(value) <= _HEX_DIGITS,
            "sha256 must be 64 lower-case hex digits",
        )
        return value

    @validates("document")
    def _validate_document(self, _key: str, value: str) -> str:
        _require(isinstance(value, str) and bool(value), "document must not be empty")
        _require(
            len(value.encode("utf-8")) <= PERSISTED_DOCUMENT_MAX_BYTES,
            "document must be at most 64 KiB",
        )
        return value

    @validates("created_at", "last_used_at")
    def _validate_time(self, key: str, value: datetime) -> datetime:
        _require(isinstance(value, datetime), f"{key} must be a datetime")
        return value
