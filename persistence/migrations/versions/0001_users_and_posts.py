"""Users and posts.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from persistence.types import (
    TABLE_OPTIONS,
    BigId,
    EmailString,
    PostText,
    Timestamp,
    byte_length,
    char_length,
)

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("email", EmailString, nullable=False),
        sa.Column("password_hash", sa.String(60), nullable=False),
        sa.Column("posts_version", sa.BigInteger, nullable=False, server_default=sa.text("0")),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("email", name="uq_users_email"),
        sa.CheckConstraint(char_length(sa.column("email")) >= 3, name="email_min_length"),
        sa.CheckConstraint(char_length(sa.column("email")) <= 254, name="email_max_length"),
        sa.CheckConstraint(
            char_length(sa.column("password_hash")) == 60, name="password_hash_length"
        ),
        sa.CheckConstraint("posts_version >= 0", name="posts_version_non_negative"),
        **TABLE_OPTIONS,
    )
    op.create_table(
        "posts",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("user_id", BigId, nullable=False),
        sa.Column("text", PostText, nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_posts"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_posts_user_id_users", ondelete="CASCADE"
        ),
        # Bytes, not characters: SQLite's length() stops at a NUL, and NUL is legal text.
        sa.CheckConstraint(byte_length(sa.column("text")) > 0, name="text_not_empty"),
        sa.CheckConstraint(byte_length(sa.column("text")) <= 1048576, name="text_max_bytes"),
        **TABLE_OPTIONS,
    )
    op.create_index("ix_posts_user_id_created_at_id", "posts", ["user_id", "created_at", "id"])


def downgrade() -> None:
    # Dropping the table drops its index; MySQL refuses to drop an index a foreign key uses.
    op.drop_table("posts")
    op.drop_table("users")
