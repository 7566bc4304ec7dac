"""How a baseline revision takes over a database made before migrations existed.

Before migrations, Portico created missing tables, added missing nullable columns and
created missing indexes every time it opened the cache. A baseline does exactly that,
once, against its own frozen description of the schema: on an empty database it
creates everything; on an older one it completes it, and touches nothing else.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


def complete(metadata: sa.MetaData) -> None:
    """Bring the connected database up to ``metadata``: tables, then columns, then indexes."""
    bind = op.get_bind()
    have = sa.inspect(bind)
    existing = set(have.get_table_names())
    for table in metadata.sorted_tables:
        if table.name not in existing:
            table.create(bind)
            continue
        columns = {c["name"] for c in have.get_columns(table.name)}
        for column in table.columns:
            if column.name in columns:
                continue
            if not column.nullable:
                # Rows already there would have no value for it: not something to guess.
                raise RuntimeError(
                    f"table {table.name} lacks the NOT NULL column {column.name}: this database "
                    "is not one an earlier Portico made; restore a backup or start from an empty one"
                )
            op.add_column(table.name, sa.Column(column.name, column.type, nullable=True))
        indexes = {ix["name"] for ix in have.get_indexes(table.name)}
        for index in table.indexes:
            if index.name not in indexes:
                index.create(bind)


def drop(metadata: sa.MetaData) -> None:
    """Undo a baseline: drop its tables (a developer's tool; operators restore backups)."""
    for table in reversed(metadata.sorted_tables):
        op.drop_table(table.name)
