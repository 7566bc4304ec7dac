"""Row keys: a full pull skips the rows whose versions the cache already holds, before
normalising them, and still publishes exactly what a plain read of the export gives."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import text

from cache.migrations import runner as migrations
from cache.snapshots.encode import aad
from cache.store import Cache, open_cache
from connectors.cloudschool import mapping
from connectors.cloudschool.connector import CloudSchoolConnector, row_salt
from connectors.cloudschool.options import Options
from gateway.privacy.purge import purge_students
from gateway.sync.engine import SyncEngine, SyncOutcome
from tests.support.cloudschool import connector, export, read_all, school
from tests.support.config import forget_migrations, make_config, migrated_engine

ATTENDANCE = "attendance_sessions.csv"


def _open(tmp_path: Path, url: str) -> Cache:
    options = {"path": "export", "school_id": school().source_id, "school_name": school().name}
    config, secrets = make_config(
        tmp_path, url, connectors=[{"name": "sis", "type": "cloudschool", "options": options}]
    )
    return open_cache(config, secrets)


@pytest.fixture
def cache(tmp_path: Path, db_url: str) -> Iterator[Cache]:
    """SQLite and PostgreSQL: they sort keyless rows at opposite ends of the index."""
    opened = _open(tmp_path, db_url)
    yield opened
    opened.dispose()


@pytest.fixture
def lite(tmp_path: Path, sqlite_url: str) -> Iterator[Cache]:
    opened = _open(tmp_path, sqlite_url)
    yield opened
    opened.dispose()


def _sync(cache: Cache, conn: CloudSchoolConnector) -> SyncOutcome:
    engine = SyncEngine(cache.engine, cache.keyring, cache.config, cache.config.connectors[0])
    outcome = engine.run(conn, full=True)
    assert outcome.status == "published", outcome
    return outcome


def _snapshot(cache: Cache) -> Counter[tuple[str, bytes]]:
    """The published records as (kind, decrypted payload), but the school (from the options)."""
    with cache.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT r.kind, r.ref, r.key_id, r.payload FROM record r JOIN source_state s "
                "ON s.source = r.source WHERE r.source = 'sis' AND r.valid_from <= s.published_run "
                "AND (r.valid_to IS NULL OR r.valid_to > s.published_run) AND r.kind <> 'school'"
            )
        ).all()
    return Counter(
        (kind, cache.keyring.sealer(key_id).open(bytes(blob), aad("sis", kind, ref, key_id)))
        for kind, ref, key_id, blob in rows
    )


def _plain(folder: Path, **options: Any) -> Counter[tuple[str, bytes]]:
    records, _ = read_all(connector(folder, **options))
    return Counter((r.kind, orjson.dumps(r)) for rs in records.values() for r in rs if r.kind != "school")


def _drop_row(path: Path, n: int) -> None:
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(lines[:n] + lines[n + 1 :]), encoding="utf-8")


def test_a_run_skipping_known_rows_publishes_exactly_what_a_plain_read_gives(
    cache: Cache, tmp_path: Path
) -> None:
    folder = tmp_path / "export"
    export(folder, manifest=False)
    first = connector(folder, settle_seconds=0)
    _sync(cache, first)
    assert first.stats[ATTENDANCE].known == 0  # nothing held yet
    summary = export(folder, manifest=False, changed_fraction=0.05, seed=5)
    _drop_row(folder / ATTENDANCE, 7)
    again = connector(folder, settle_seconds=0)
    outcome = _sync(cache, again)
    stats, counts = again.stats[ATTENDANCE], outcome.counts["attendance"]
    assert stats.known > 0 and stats.landed == summary.changed["attendance"] > 0
    assert counts["changed"] == summary.changed["attendance"]  # a changed row re-lands as changed
    assert counts["deleted"] == 1 and counts["added"] == 0  # a missing row is a delete
    assert counts["unchanged"] == stats.known
    assert outcome.counts["result"]["changed"] == summary.changed["assignment_results"]
    assert _snapshot(cache) == _plain(folder, settle_seconds=0)


def test_a_mapping_change_re_keys_every_row_once_and_lands_what_it_changes(
    lite: Cache, tmp_path: Path
) -> None:
    folder = tmp_path / "export"
    export(folder)
    _sync(lite, connector(folder))
    codes = {"attendance_codes": {"L": {"category": "present", "late": True}}}
    remapped = connector(folder, **codes)
    outcome = _sync(lite, remapped)
    assert remapped.stats[ATTENDANCE].known == 0 and remapped.stats["assignment_results.csv"].known == 0
    late = sum(1 for k, p in _plain(folder) if k == "attendance" and orjson.loads(p)["category"] == "late")
    assert late > 0 and outcome.counts["attendance"]["changed"] == late
    assert outcome.counts["result"]["unchanged"] == remapped.stats["assignment_results.csv"].landed
    settled = connector(folder, **codes)
    _sync(lite, settled)
    assert settled.stats[ATTENDANCE].known == remapped.stats[ATTENDANCE].landed
    assert _snapshot(lite) == _plain(folder, **codes)


def test_versions_stored_without_row_keys_are_found_by_digest_and_keyed_for_the_next_run(
    cache: Cache, tmp_path: Path
) -> None:
    folder = tmp_path / "export"
    export(folder)
    _sync(cache, connector(folder))
    with cache.engine.begin() as conn:  # as an upgrade from a version without row keys finds them
        conn.execute(text("UPDATE record SET row_key = NULL"))
    legacy = connector(folder)
    outcome = _sync(cache, legacy)
    rows = legacy.stats[ATTENDANCE].landed
    assert legacy.stats[ATTENDANCE].known == 0
    assert outcome.counts["attendance"] == {
        "added": 0,
        "changed": 0,
        "unchanged": rows,
        "deleted": 0,
        "rejected": 0,
    }
    keyed = connector(folder)
    assert _sync(cache, keyed).counts["attendance"]["unchanged"] == keyed.stats[ATTENDANCE].known == rows


def test_a_set_aside_row_is_set_aside_and_counted_on_every_run(lite: Cache, tmp_path: Path) -> None:
    folder = tmp_path / "export"
    export(folder, defects={"malformed_rows"})
    for _ in range(2):
        conn = connector(folder, max_rejected=50)
        outcome = _sync(lite, conn)
        assert conn.stats[ATTENDANCE].rejected == outcome.counts["attendance"]["rejected"] == 1


def test_a_purged_student_stays_out_although_their_rows_are_unchanged(lite: Cache, tmp_path: Path) -> None:
    folder = tmp_path / "export"
    export(folder)
    _sync(lite, connector(folder))
    marks = [orjson.loads(p)["student_id"] for k, p in _plain(folder) if k == "attendance"]
    sid = marks[0]
    ref = lite.keyring.index.ref("sis", "student", sid)
    purge_students(lite.engine, lite.keyring, "sis", [ref], reason_code="deletion-request", operator="t")
    conn = connector(folder)
    outcome = _sync(lite, conn)
    with lite.engine.connect() as c:
        left = c.execute(text("SELECT count(*) FROM record WHERE student_ref = :r"), {"r": ref}).scalar()
    assert left == 0  # their rows were not known (purging deleted them), so the filter saw them
    assert conn.stats[ATTENDANCE].landed == marks.count(sid) > 0
    assert outcome.counts["attendance"]["added"] == 0


def test_the_salt_follows_the_day_only_for_entities_whose_records_depend_on_it() -> None:
    opts = Options(path="x", school_id="1", school_name="S")
    bound = mapping.Bound("f.csv", {"StudentID": 0}, 1, (), (), ())
    today, tomorrow = dt.date(2026, 11, 24), dt.date(2026, 11, 25)
    assert row_salt(opts, "students", bound, today) != row_salt(opts, "students", bound, tomorrow)
    assert row_salt(opts, "attendance", bound, today) == row_salt(opts, "attendance", bound, tomorrow)
    moved = opts.model_copy(update={"path": "elsewhere", "max_rejected": 5})
    assert row_salt(moved, "attendance", bound, today) == row_salt(opts, "attendance", bound, today)
    for changed in (
        opts.model_copy(update={"date_format": "%Y-%m-%d"}),
        opts.model_copy(update={"timezone": "Europe/Dublin"}),
    ):
        assert row_salt(changed, "attendance", bound, today) != row_salt(opts, "attendance", bound, today)
    wider = dataclasses.replace(bound, index={"StudentID": 1}, width=2)
    assert row_salt(opts, "attendance", wider, today) != row_salt(opts, "attendance", bound, today)


def test_a_cache_from_before_row_keys_gains_the_column_and_its_index_on_upgrade(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = migrated_engine(url)
    with engine.begin() as conn:  # the table as a version before row keys (and migrations) made it
        conn.execute(text("DROP INDEX ix_record_row_key"))
        conn.execute(text("ALTER TABLE record DROP COLUMN row_key"))
        forget_migrations(conn)
    migrations.upgrade(url, url)
    with engine.connect() as conn:
        columns = {row[1] for row in conn.execute(text("PRAGMA table_info(record)"))}
        indexes = {row[1] for row in conn.execute(text("PRAGMA index_list(record)"))}
    engine.dispose()
    assert "row_key" in columns and "ix_record_row_key" in indexes
