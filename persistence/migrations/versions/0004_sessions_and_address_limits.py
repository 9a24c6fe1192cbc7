"""Sessions (refresh tokens, stored only as hashes), per-address limits, known addresses.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25

- ``sessions``: one row per signup or login; the access token names its row, so
  ending a session (logout, password change, refresh-token reuse) takes effect
  on the next request everywhere.
- ``auth_request_counts``: password operations per client address and minute,
  shared by every worker and instance.
- ``known_addresses``: where each account last logged in successfully, so that
  failures spread over many addresses cannot lock a user out of their own.
- Emails are re-normalised to the new canonical form (NFKC and case folding,
  where lower-casing was used before). A row whose new form is already taken by
  another account keeps its old form: merging accounts is not a migration's call.
"""

import logging
import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from persistence.types import (
    TABLE_OPTIONS,
    AddressString,
    BigId,
    Sha256Hex,
    Timestamp,
    char_length,
    is_sha256_hex,
)

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("alembic.runtime.migration")


def _canonical(email: str) -> str:
    # A frozen copy of schemas.emails.canonical_email as of this revision: a
    # migration must not change meaning when the application code does.
    text = email.strip()
    for _ in range(4):
        folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
        folded = folded.strip()
        if folded == text:
            break
        text = folded
    return text


def upgrade() -> None:
    op.create_table(
        "sessions",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("user_id", BigId, nullable=False),
        sa.Column("family_hash", Sha256Hex, nullable=False),
        sa.Column("refresh_hash", Sha256Hex, nullable=False),
        sa.Column("generation", sa.BigInteger, nullable=False, server_default=sa.text("0")),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("last_used_at", Timestamp, nullable=False),
        sa.Column("expires_at", Timestamp, nullable=False),
        sa.Column("ended_at", Timestamp, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_sessions"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_sessions_user_id_users", ondelete="CASCADE"
        ),
        sa.CheckConstraint(is_sha256_hex(sa.column("family_hash")), name="family_hash_hex"),
        sa.CheckConstraint(is_sha256_hex(sa.column("refresh_hash")), name="refresh_hash_hex"),
        sa.CheckConstraint("generation >= 0", name="generation_non_negative"),
        sa.CheckConstraint("last_used_at >= created_at", name="last_used_not_before_created"),
        sa.CheckConstraint("expires_at > created_at", name="expires_after_created"),
        sa.CheckConstraint(
            "ended_at IS NULL OR ended_at >= created_at", name="ended_not_before_created"
        ),
        **TABLE_OPTIONS,
    )
    op.create_index("ix_sessions_user_id_created_at", "sessions", ["user_id", "created_at"])
    op.create_index("ix_sessions_expires_at", "sessions", ["expires_at"])
    op.create_index("ix_sessions_ended_at", "sessions", ["ended_at"])

    op.create_table(
        "known_addresses",
        sa.Column("user_id", BigId, nullable=False, autoincrement=False),
        sa.Column("address", AddressString, nullable=False),
        sa.Column("last_login_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("user_id", "address", name="pk_known_addresses"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_known_addresses_user_id_users", ondelete="CASCADE"
        ),
        sa.CheckConstraint(char_length(sa.column("address")) >= 1, name="address_not_empty"),
        **TABLE_OPTIONS,
    )
    op.create_index("ix_known_addresses_last_login_at", "known_addresses", ["last_login_at"])

    op.create_table(
        "auth_request_counts",
        sa.Column("address", AddressString, nullable=False),
        sa.Column("window_start", Timestamp, nullable=False),
        sa.Column("hits", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("address", "window_start", name="pk_auth_request_counts"),
        sa.CheckConstraint(char_length(sa.column("address")) >= 1, name="address_not_empty"),
        sa.CheckConstraint("hits >= 1", name="hits_positive"),
        **TABLE_OPTIONS,
    )
    op.create_index("ix_auth_request_counts_window_start", "auth_request_counts", ["window_start"])

    _renormalise_emails()


def _renormalise_emails() -> None:
    users = sa.table("users", sa.column("id"), sa.column("email"))
    connection = op.get_bind()
    # Emails were stored trimmed and lower-cased: an ASCII one is canonical already,
    # so only the (few) others are read back.
    changes = [
        (user_id, canonical)
        for user_id, email in connection.execute(sa.select(users.c.id, users.c.email))
        if not email.isascii() and (canonical := _canonical(email)) != email
    ]
    for user_id, canonical in changes:
        taken = connection.execute(sa.select(users.c.id).where(users.c.email == canonical)).first()
        if taken is not None:
            log.warning("user %s keeps its email: its canonical form is another account's", user_id)
            continue
        connection.execute(users.update().where(users.c.id == user_id).values(email=canonical))


def downgrade() -> None:
    # Emails stay in their canonical form: it is a valid lower-cased form as well.
    op.drop_table("auth_request_counts")
    op.drop_table("known_addresses")
    op.drop_table("sessions")
