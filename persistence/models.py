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
    AddressString,
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
from schemas.emails import canonical_email
from schemas.limits import (
    ADDRESS_KEY_MAX_CHARS,
    BCRYPT_HASH_CHARS,
    EMAIL_MAX_CHARS,
    PERSISTED_DOCUMENT_MAX_BYTES,
    POST_MAX_BYTES,
    SHA256_HEX_CHARS,
    SOURCE_MAX_CHARS,
)
from schemas.posts import has_visible_character, utf8_size

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


def _address_key(value: str) -> str:
    _require(
        isinstance(value, str) and 1 <= len(value) <= ADDRESS_KEY_MAX_CHARS,
        "address must be 1..45 characters",
    )
    return value


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
        _require(value == canonical_email(value), "email must be normalised")
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
        # No copy of the text: the visibility scan stops at the first visible character,
        # and an ASCII text's size needs none.
        _require(isinstance(value, str), "text must be a string")
        _require(has_visible_character(value), "text must not be blank")
        _require(utf8_size(value) <= POST_MAX_BYTES, "text must be at most 1 MiB")
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


def _is_sha256_hex(value: object) -> bool:
    return isinstance(value, str) and len(value) == SHA256_HEX_CHARS and set(value) <= _HEX_DIGITS


class UserSession(CreatedAt, Base):
    """A signed-in session: the SHA-256 of its refresh-token family and of its current token.

    ``generation`` counts rotations; ``ended_at`` is set by logout, a password
    change, reuse of a rotated refresh token, or the per-user session bound.
    """

    __tablename__ = "sessions"
    __table_args__ = (
        CheckConstraint(is_sha256_hex(literal_column("family_hash")), name="family_hash_hex"),
        CheckConstraint(is_sha256_hex(literal_column("refresh_hash")), name="refresh_hash_hex"),
        CheckConstraint(text("generation >= 0"), name="generation_non_negative"),
        CheckConstraint(text("last_used_at >= created_at"), name="last_used_not_before_created"),
        CheckConstraint(text("expires_at > created_at"), name="expires_after_created"),
        CheckConstraint(
            text("ended_at IS NULL OR ended_at >= created_at"), name="ended_not_before_created"
        ),
        # A user's sessions, oldest first (the per-user bound ends the oldest).
        Index("ix_sessions_user_id_created_at", "user_id", "created_at"),
        # Housekeeping finds expired and ended sessions.
        Index("ix_sessions_expires_at", "expires_at"),
        Index("ix_sessions_ended_at", "ended_at"),
        TABLE_OPTIONS,
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    family_hash: Mapped[str] = mapped_column(Sha256Hex, nullable=False)
    refresh_hash: Mapped[str] = mapped_column(Sha256Hex, nullable=False)
    generation: Mapped[int] = mapped_column(
        BigInteger, nullable=False, default=0, server_default=text("0")
    )
    last_used_at: Mapped[datetime] = mapped_column(Timestamp, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(Timestamp, nullable=False)
    ended_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)

    @validates("user_id")
    def _validate_user_id(self, _key: str, value: int) -> int:
        _require(isinstance(value, int) and value > 0, "user_id must be a positive integer")
        return value

    @validates("family_hash", "refresh_hash")
    def _validate_hash(self, key: str, value: str) -> str:
        _require(_is_sha256_hex(value), f"{key} must be 64 lower-case hex digits")
        return value

    @validates("generation")
    def _validate_generation(self, _key: str, value: int) -> int:
        _require(isinstance(value, int) and value >= 0, "generation must be >= 0")
        return value

    @validates("last_used_at", "expires_at")
    def _validate_time(self, key: str, value: datetime) -> datetime:
        _require(isinstance(value, datetime), f"{key} must be a datetime")
        return value

    @validates("ended_at")
    def _validate_ended_at(self, _key: str, value: datetime | None) -> datetime | None:
        _require(value is None or isinstance(value, datetime), "ended_at must be a datetime")
        return value


class KnownAddress(Base):
    """An address (key) from which a user logged in successfully, and when they last did."""

    __tablename__ = "known_addresses"
    __table_args__ = (
        CheckConstraint(char_length(literal_column("address")) >= 1, name="address_not_empty"),
        Index("ix_known_addresses_last_login_at", "last_login_at"),
        TABLE_OPTIONS,
    )

    user_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    address: Mapped[str] = mapped_column(AddressString, primary_key=True)
    last_login_at: Mapped[datetime] = mapped_column(Timestamp, nullable=False)

    @validates("user_id")
    def _validate_user_id(self, _key: str, value: int) -> int:
        _require(isinstance(value, int) and value > 0, "user_id must be a positive integer")
        return value

    @validates("address")
    def _validate_address(self, _key: str, value: str) -> str:
        return _address_key(value)

    @validates("last_login_at")
    def _validate_time(self, _key: str, value: datetime) -> datetime:
        _require(isinstance(value, datetime), "last_login_at must be a datetime")
        return value


class AuthRequestCount(Base):
    """How many password operations one client address made in one minute."""

    __tablename__ = "auth_request_counts"
    __table_args__ = (
        CheckConstraint(char_length(literal_column("address")) >= 1, name="address_not_empty"),
        CheckConstraint(text("hits >= 1"), name="hits_positive"),
        Index("ix_auth_request_counts_window_start", "window_start"),
        TABLE_OPTIONS,
    )

    address: Mapped[str] = mapped_column(AddressString, primary_key=True)
    window_start: Mapped[datetime] = mapped_column(Timestamp, primary_key=True)
    hits: Mapped[int] = mapped_column(BigInteger, nullable=False)

    @validates("address")
    def _validate_address(self, _key: str, value: str) -> str:
        return _address_key(value)

    @validates("window_start")
    def _validate_window_start(self, _key: str, value: datetime) -> datetime:
        _require(isinstance(value, datetime), "window_start must be a datetime")
        return value

    @validates("hits")
    def _validate_hits(self, _key: str, value: int) -> int:
        _require(isinstance(value, int) and value >= 1, "hits must be >= 1")
        return value


class PostEvent(Base):
    """An outbox row: a post added or deleted, written in the same transaction as the change."""

    __tablename__ = "post_events"
    __table_args__ = (
        CheckConstraint(text("kind IN ('added', 'deleted')"), name="kind_known"),
        Index("ix_post_events_created_at", "created_at"),
        Index("ix_post_events_post_id", "post_id"),
        TABLE_OPTIONS,
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    kind: Mapped[str] = mapped_column(String(8), nullable=False)
    post_id: Mapped[int] = mapped_column(BigId, nullable=False)
    # When the post was created (added events: its viewer.posts cursor).
    post_created_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)
    # Kept only when an added post is deleted before its event is pruned.
    text: Mapped[str | None] = mapped_column(PostText, nullable=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp, nullable=False)


class StreamLease(Base):
    """One open subscription, renewed by its process while open (the per-user cap)."""

    __tablename__ = "stream_leases"
    __table_args__ = (
        Index("ix_stream_leases_user_id_expires_at", "user_id", "expires_at"),
        Index("ix_stream_leases_expires_at", "expires_at"),
        TABLE_OPTIONS,
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    expires_at: Mapped[datetime] = mapped_column(Timestamp, nullable=False)
