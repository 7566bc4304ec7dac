"""The sync lock: one holder per source and cache; caches in other schemas are not blocked."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from cache.db import make_engine
from cache.locks import source_lock
from tests.conftest import PG_ADMIN_URL


def test_a_second_holder_of_one_source_is_refused_until_the_first_lets_go(db_url: str) -> None:
    a, b = make_engine(db_url), make_engine(db_url)
    with source_lock(a, "sis") as first, source_lock(b, "sis") as second, source_lock(b, "csv") as other:
        assert (first, second, other) == (True, False, True)
    with source_lock(b, "sis") as again:
        assert again
    a.dispose()
    b.dispose()


@pytest.mark.postgres
def test_caches_in_two_schemas_of_one_database_do_not_block_each_other(pg_url: str) -> None:
    dsn = PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
    schema = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'create schema "{schema}"')
    try:
        mine, theirs = make_engine(pg_url), make_engine(f"{PG_ADMIN_URL}?options=-csearch_path%3D{schema}")
        with source_lock(mine, "sis") as first, source_lock(theirs, "sis") as second:
            assert first and second
        mine.dispose()
        theirs.dispose()
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'drop schema "{schema}" cascade')
