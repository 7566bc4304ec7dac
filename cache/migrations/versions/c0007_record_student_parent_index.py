"""A student's records of one kind under given parents (a child's results of the month's
assignments, their own lessons in their classes) found by one index.

Revision ID: c0007
Revises: c0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "c0007"
down_revision = "c0006"
branch_labels = None
depends_on = None

_WHERE = sa.and_(sa.column("student_ref").isnot(None), sa.column("parent_ref").isnot(None))


def upgrade() -> None:
    op.create_index(
        "ix_record_student_parent",
        "record",
        ["student_ref", "kind", "parent_ref"],
        sqlite_where=_WHERE,
        postgresql_where=_WHERE,
    )


def downgrade() -> None:
    op.drop_index("ix_record_student_parent", table_name="record")
