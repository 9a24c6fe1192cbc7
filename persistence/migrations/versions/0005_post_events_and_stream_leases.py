"""The post-events outbox and the open-stream leases (live updates).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-10

- ``post_events``: one row per post added or deleted, written in the same
  transaction as the change (a transactional outbox), read by one task per
  process that fans the events out to that process's open subscriptions, and
  pruned after a few minutes. ``text`` is filled only when an added post is
  deleted before its event was pruned, so the event can still carry it.
- ``stream_leases``: one row per open subscription, renewed by its process while
  the stream is open, so the per-user cap holds across workers and instances (a
  crashed process's leases lapse on their own).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from persistence.types import TABLE_OPTIONS, BigId, PostText, Timestamp

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "post_events",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("user_id", BigId, nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("post_id", BigId, nullable=False),
        sa.Column("post_created_at", Timestamp, nullable=True),
        sa.Column("text", PostText, nullable=True),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_post_events"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_post_events_user_id_users", ondelete="CASCADE"
        ),
        sa.CheckConstraint("kind IN ('added', 'deleted')", name="kind_known"),
        **TABLE_OPTIONS,
    )
    op.create_index("ix_post_events_created_at", "post_events", ["created_at"])
    op.create_index("ix_post_events_post_id", "post_events", ["post_id"])

    op.create_table(
        "stream_leases",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("user_id", BigId, nullable=False),
        sa.Column("expires_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_stream_leases"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_stream_leases_user_id_users", ondelete="CASCADE"
        ),
        **TABLE_OPTIONS,
    )
    op.create_index(
        "ix_stream_leases_user_id_expires_at", "stream_leases", ["user_id", "expires_at"]
    )
    op.create_index("ix_stream_leases_expires_at", "stream_leases", ["expires_at"])


def downgrade() -> None:
    op.drop_table("stream_leases")
    op.drop_table("post_events")
