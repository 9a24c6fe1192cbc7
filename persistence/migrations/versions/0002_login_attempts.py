"""Login attempts, for throttling failed logins across workers and instances.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from persistence.types import TABLE_OPTIONS, BigId, EmailString, Timestamp, char_length

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "login_attempts",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("email", EmailString, nullable=False),
        sa.Column("source", sa.String(45), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_login_attempts"),
        sa.CheckConstraint(char_length(sa.column("email")) >= 3, name="email_min_length"),
        sa.CheckConstraint(char_length(sa.column("source")) >= 1, name="source_not_empty"),
        **TABLE_OPTIONS,
    )
    op.create_index(
        "ix_login_attempts_email_source_created_at",
        "login_attempts",
        ["email", "source", "created_at"],
    )
    op.create_index("ix_login_attempts_created_at", "login_attempts", ["created_at"])


def downgrade() -> None:
    op.drop_table("login_attempts")
