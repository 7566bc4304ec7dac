"""A PostgreSQL schema of a test's own on the shared test server."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

import psycopg


@contextlib.contextmanager
def own_schema(
    server_url: str, options: str = "-csearch_path%3D{schema}", prefix: str = "t_"
) -> Iterator[str]:
    """A URL of ``server_url``'s database (its query left out) whose ``options`` (``{schema}``
    filled in) put it in a fresh schema, made first and dropped with everything in it after."""
    base = server_url.split("?", 1)[0]
    dsn = base.replace("postgresql+psycopg://", "postgresql://")
    schema = prefix + uuid.uuid4().hex[:12]
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'create schema "{schema}"')
    try:
        yield f"{base}?options={options.format(schema=schema)}"
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'drop schema "{schema}" cascade')
