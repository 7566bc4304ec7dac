"""Calendar feeds and family tokens (only the hashes of their secrets).

Revision ID: c0005
Revises: c0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "c0005"
down_revision = "c0004"
branch_labels = None
depends_on = None

TS = sa.DateTime  # naive UTC (cache.types.UtcDateTime turns it aware on the way out)


def upgrade() -> None:
    op.create_table(
        "calendar_feed",
        sa.Column("id", sa.String(24), primary_key=True),
        sa.Column("secret_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("account_id", sa.String(32), nullable=False),
        sa.Column("student_ref", sa.String(24), nullable=False),
        sa.Column("created_at", TS(), nullable=False),
        sa.Column("last_used_at", TS()),
    )
    op.create_index("ix_calendar_feed_account", "calendar_feed", ["account_id"])
    op.create_table(
        "family_token",
        sa.Column("id", sa.String(24), primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("account_id", sa.String(32), nullable=False),
        sa.Column("students", sa.JSON(), nullable=False),
        sa.Column("kinds", sa.JSON(), nullable=False),
        sa.Column("created_at", TS(), nullable=False),
        sa.Column("expires_at", TS(), nullable=False),
        sa.Column("last_used_at", TS()),
    )
    op.create_index("ix_family_token_account", "family_token", ["account_id"])


def downgrade() -> None:
    op.drop_index("ix_family_token_account", table_name="family_token")
    op.drop_table("family_token")
    op.drop_index("ix_calendar_feed_account", table_name="calendar_feed")
    op.drop_table("calendar_feed")
