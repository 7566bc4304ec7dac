"""Rate counters for costly actions, denied reads counted per caller and hour, and the
checkpoints ``portico audit prune`` leaves in the audit chain.

Revision ID: c0002
Revises: c0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "c0002"
down_revision = "c0001"
branch_labels = None
depends_on = None

TS = sa.DateTime  # naive UTC (cache.types.UtcDateTime turns it aware on the way out)


def upgrade() -> None:
    op.create_table(
        "rate_counter",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("window_end", TS(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
    )
    op.create_table(
        "audit_denied",
        sa.Column("hour", TS(), primary_key=True),
        sa.Column("actor_id", sa.String(64), primary_key=True),
        sa.Column("actor_kind", sa.String(16), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
    )
    op.create_index("ix_audit_denied_actor", "audit_denied", ["actor_id", "hour"])
    op.create_table(
        "audit_checkpoint",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("through_id", sa.Integer(), nullable=False),
        sa.Column("through_hash", sa.String(64), nullable=False),
        sa.Column("kept_count", sa.Integer(), nullable=False),
        sa.Column("kept_digest", sa.String(64), nullable=False),
        sa.Column("pruned_count", sa.Integer(), nullable=False),
        sa.Column("at", TS(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("audit_checkpoint")
    op.drop_index("ix_audit_denied_actor", table_name="audit_denied")
    op.drop_table("audit_denied")
    op.drop_table("rate_counter")
