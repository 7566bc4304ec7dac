"""The sync lock: one holder per source and cache; caches in other schemas are not blocked."""

from __future__ import annotations

import pytest

from cache.db import make_engine
from cache.locks import source_lock
from tests.conftest import PG_ADMIN_URL
from tests.support.pg import own_schema


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
    with own_schema(PG_ADMIN_URL) as other:
        mine, theirs = make_engine(pg_url), make_engine(other)
        with source_lock(mine, "sis") as first, source_lock(theirs, "sis") as second:
            assert first and second
        mine.dispose()
        theirs.dispose()
