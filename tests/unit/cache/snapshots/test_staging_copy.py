"""PostgreSQL stages large batches through COPY: the same rows as the insert path, duplicates kept once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from cache.snapshots import staging
from cache.snapshots.encode import aad
from cache.store import Cache, open_cache
from connectors.records import Record
from gateway.sync.engine import SyncEngine
from tests.conftest import PG_ADMIN_URL
from tests.support.config import make_config
from tests.support.connectors import ListConnector
from tests.support.pg import own_schema
from tests.support.records import family, student

COLUMNS = (
    "kind, ref, student_ref, contact_ref, parent_ref, day, stamp, active_from, active_to, "
    "guardian_until, access, audience, key_id, digest, row_key, valid_from, valid_to"
)


@pytest.fixture
def second_pg_url(pg_url: str) -> Iterator[str]:
    """Another fresh schema beside ``pg_url``'s (the insert path's cache)."""
    with own_schema(PG_ADMIN_URL) as url:
        yield url


def synced(tmp_path: Path, url: str, streams: dict[str, list[Record]]) -> tuple[Cache, Any]:
    # One tmp_path, so one key file and one keystore: both caches derive the same refs and keys.
    config, secrets = make_config(tmp_path, url)
    cache = open_cache(config, secrets)
    out = SyncEngine(cache.engine, cache.keyring, config, config.connectors[0]).run(
        ListConnector("sis", streams, page_size=500)
    )
    return cache, out


def rows(cache: Cache) -> list[tuple[Any, ...]]:
    """Every record row with its payload decrypted, in a stable order."""
    with cache.engine.connect() as conn:
        got = conn.execute(text(f"SELECT {COLUMNS}, payload FROM record ORDER BY kind, ref")).all()
    out = []
    for r in got:
        *cols, payload = r
        kind, ref, key_id = cols[0], cols[1], cols[12]
        plain = cache.keyring.sealer(key_id).open(bytes(payload), aad("sis", kind, ref, key_id))
        out.append((*cols, plain))
    return out


@pytest.mark.postgres
def test_copy_stages_exactly_the_rows_the_insert_path_stages(
    tmp_path: Path, pg_url: str, second_pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    streams = family(300)
    copies: list[int] = []
    real_copy = staging.Staging._copy_rows

    def counted(self: staging.Staging, batch: Any) -> int:
        copies.append(len(batch))
        return real_copy(self, batch)

    monkeypatch.setattr(staging.Staging, "_copy_rows", counted)
    via_copy, out_copy = synced(tmp_path, pg_url, streams)
    assert copies and sum(copies) == 900  # 300 students, 300 contacts, 300 links, all through COPY

    monkeypatch.setattr(staging, "COPY_MIN_ROWS", 10**9)  # the executemany path
    copies.clear()
    via_insert, out_insert = synced(tmp_path, second_pg_url, streams)
    assert copies == []
    try:
        assert out_copy.status == out_insert.status == "published"
        assert out_copy.counts == out_insert.counts
        expected = rows(via_insert)
        assert len(expected) == 900
        assert rows(via_copy) == expected
    finally:
        via_copy.dispose()
        via_insert.dispose()


@pytest.mark.postgres
def test_a_record_repeated_on_two_pages_of_a_first_load_is_kept_once_through_copy(
    tmp_path: Path, pg_url: str
) -> None:
    students = [student(i) for i in range(200)]
    # The same student on the first and the second page (page size 500 → two batches).
    streams: dict[str, list[Record]] = {
        "students": [*students[:150], *[student(1000 + i) for i in range(350)], students[0], *students[150:]]
    }
    cache, out = synced(tmp_path, pg_url, streams)
    try:
        assert out.counts["student"]["added"] == 550
        assert out.counts["student"]["rejected"] == 1
        with cache.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM record WHERE kind = 'student'")).scalar() == 550
    finally:
        cache.dispose()
