"""Baseline: the keystore's schema as Portico 0.1 made it (data keys, audit-chain anchors).

``audit_anchor`` used to appear only when ``portico audit verify`` first ran; an older
keystore without it gets it here.

Revision ID: k0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import Column as C

from cache.migrations.adopt import complete, drop

revision = "k0001"
down_revision = None
branch_labels = None
depends_on = None

metadata = sa.MetaData()

sa.Table(
    "audit_anchor",
    metadata,
    C("id", sa.Integer, primary_key=True),
    C("event_id", sa.Integer, nullable=False),
    C("hash", sa.String(64), nullable=False),
    C("anchored_at", sa.DateTime, nullable=False),
)
sa.Table(
    "data_key",
    metadata,
    C("key_id", sa.String(40), primary_key=True),
    C("owner", sa.String(64), nullable=False, unique=True),
    C("kek_id", sa.String(40), nullable=False),
    C("wrapped", sa.LargeBinary, nullable=False),
    C("created_at", sa.DateTime, nullable=False),
)


def upgrade() -> None:
    complete(metadata)


def downgrade() -> None:
    drop(metadata)
