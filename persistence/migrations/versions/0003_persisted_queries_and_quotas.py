"""Persisted GraphQL documents (APQ, shared by every instance) and per-user post totals.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25

The totals are kept on the user row, updated in the same transaction as every
add and delete (the row is locked by the posts-version bump anyway), so a quota
check never sums a user's posts. Existing users are back-filled.

Columns are added with plain ALTER TABLE, not Alembic's batch mode: on SQLite
batch mode copies and drops ``users``, and with foreign keys on, dropping it
would cascade to every post.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from persistence.types import (
    TABLE_OPTIONS,
    DocumentText,
    Sha256Hex,
    Timestamp,
    byte_length,
    is_sha256_hex,
)

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TOTALS = ("posts_count", "posts_bytes")


def upgrade() -> None:
    op.create_table(
        "persisted_queries",
        sa.Column("sha256", Sha256Hex, nullable=False),
        sa.Column("document", DocumentText, nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("last_used_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("sha256", name="pk_persisted_queries"),
        sa.CheckConstraint(is_sha256_hex(sa.column("sha256")), name="sha256_hex"),
        sa.CheckConstraint(byte_length(sa.column("document")) > 0, name="document_not_empty"),
        sa.CheckConstraint(byte_length(sa.column("document")) <= 65535, name="document_max_bytes"),
        **TABLE_OPTIONS,
    )
    op.create_index("ix_persisted_queries_last_used_at", "persisted_queries", ["last_used_at"])
    sqlite = op.get_context().dialect.name == "sqlite"
    for column in _TOTALS:
        check = f"CONSTRAINT ck_users_{column}_non_negative CHECK ({column} >= 0)"
        if sqlite:
            op.execute(f"ALTER TABLE users ADD COLUMN {column} BIGINT NOT NULL DEFAULT 0 {check}")
        else:
            op.execute(
                f"ALTER TABLE users ADD COLUMN {column} BIGINT NOT NULL DEFAULT 0, ADD {check}"
            )
    users = sa.table("users", sa.column("id"), *(sa.column(name) for name in _TOTALS))
    posts = sa.table("posts", sa.column("user_id"), sa.column("text"))
    own = posts.c.user_id == users.c.id
    op.execute(
        users.update().values(
            posts_count=sa.select(sa.func.count()).where(own).scalar_subquery(),
            posts_bytes=sa.select(sa.func.coalesce(sa.func.sum(byte_length(posts.c.text)), 0))
            .where(own)
            .scalar_subquery(),
        )
    )


def downgrade() -> None:
    for column in reversed(_TOTALS):
        # The CHECK is the column's own, so both databases drop it with the column.
        op.drop_column("users", column)
    op.drop_table("persisted_queries")
