"""Seals of the checkpoints ``portico audit prune`` writes, kept beside the anchors.

Revision ID: k0002
Revises: k0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "k0002"
down_revision = "k0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_checkpoint_seal",
        sa.Column("through_id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("seal", sa.String(64), nullable=False),
        sa.Column("sealed_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("audit_checkpoint_seal")
