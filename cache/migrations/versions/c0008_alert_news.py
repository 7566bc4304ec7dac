"""Alerts: the news of a publish, one row per (record, alert kind), expanded to its
recipients by the sender; the outbox's claim index keeps only claimed rows.

Revision ID: c0008
Revises: c0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "c0008"
down_revision = "c0007"
branch_labels = None
depends_on = None

TS = sa.DateTime  # naive UTC (cache.types.UtcDateTime turns it aware on the way out)

_CLAIMED = sa.column("claim").isnot(None)


def upgrade() -> None:
    op.create_table(
        "alert_news",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("source", sa.String(40), nullable=False),
        sa.Column("record_kind", sa.String(16), nullable=False),
        sa.Column("record_ref", sa.String(24), nullable=False),
        sa.Column("student_ref", sa.String(24)),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("record_run", sa.Integer(), nullable=False),
        sa.Column("visible_at", TS()),
        sa.Column("key_id", sa.String(40)),
        sa.Column("score", sa.LargeBinary()),
        sa.Column("created_at", TS(), nullable=False),
    )
    op.drop_index("ix_alert_outbox_claim", table_name="alert_outbox")
    op.create_index(
        "ix_alert_outbox_claim", "alert_outbox", ["claim"], sqlite_where=_CLAIMED, postgresql_where=_CLAIMED
    )


def downgrade() -> None:
    op.drop_index("ix_alert_outbox_claim", table_name="alert_outbox")
    op.create_index("ix_alert_outbox_claim", "alert_outbox", ["claim"])
    op.drop_table("alert_news")
