"""Alerts: each account's alert choices, the outbox of alerts to send, and an index on a
run's own versions (its change set, read after each publish).

Revision ID: c0004
Revises: c0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "c0004"
down_revision = "c0003"
branch_labels = None
depends_on = None

TS = sa.DateTime  # naive UTC (cache.types.UtcDateTime turns it aware on the way out)


def upgrade() -> None:
    op.create_index("ix_record_change", "record", ["source", "valid_from"])
    op.create_table(
        "alert_pref",
        sa.Column("account_id", sa.String(32), primary_key=True),
        sa.Column("prefs", sa.JSON(), nullable=False),
        sa.Column("updated_at", TS(), nullable=False),
    )
    op.create_table(
        "alert_outbox",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("key", sa.String(64), nullable=False, unique=True),
        sa.Column("account_id", sa.String(32), nullable=False),
        sa.Column("source", sa.String(40), nullable=False),
        sa.Column("student_ref", sa.String(24), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("record_kind", sa.String(16), nullable=False),
        sa.Column("record_ref", sa.String(24), nullable=False),
        sa.Column("mode", sa.String(8), nullable=False),
        sa.Column("visible_at", TS(), nullable=False),
        sa.Column("due_at", TS(), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claim", sa.String(32)),
        sa.Column("claimed_until", TS()),
        sa.Column("created_at", TS(), nullable=False),
        sa.Column("sent_at", TS()),
        sa.Column("error", sa.String(64)),
    )
    op.create_index("ix_alert_outbox_due", "alert_outbox", ["status", "due_at"])
    op.create_index("ix_alert_outbox_account", "alert_outbox", ["account_id", "status"])
    op.create_index("ix_alert_outbox_claim", "alert_outbox", ["claim"])


def downgrade() -> None:
    op.drop_index("ix_alert_outbox_claim", table_name="alert_outbox")
    op.drop_index("ix_alert_outbox_account", table_name="alert_outbox")
    op.drop_index("ix_alert_outbox_due", table_name="alert_outbox")
    op.drop_table("alert_outbox")
    op.drop_table("alert_pref")
    op.drop_index("ix_record_change", table_name="record")
