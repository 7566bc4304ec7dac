"""Snapshots publish atomically, detect changes and deletes, hold on drops, survive failures."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from cache.snapshots.changes import ChangeSet, Fields
from cache.store import open_cache
from connectors.records import AttendanceCategory
from gateway.sync.engine import SyncEngine, decide
from tests.support.alerts import TODAY, mark, ny
from tests.support.config import forget_migrations, make_config, upgrade_schema
from tests.support.connectors import ListConnector
from tests.support.records import family
from tests.support.snapshots import published_refs


@pytest.fixture
def setup(tmp_path: Path, db_url: str):
    config, secrets = make_config(tmp_path, db_url)
    cache = open_cache(config, secrets)
    yield cache, SyncEngine(cache.engine, cache.keyring, config, config.connectors[0])
    cache.dispose()


def test_first_sync_publishes_every_record(setup) -> None:
    cache, engine = setup
    out = engine.run(ListConnector("sis", family(120)))
    assert out.status == "published", out
    assert out.counts["student"]["added"] == 120
    assert len(published_refs(cache, "student")) == 120
    assert len(published_refs(cache, "link")) == 120


def test_unchanged_records_are_not_rewritten_and_changes_are_counted(setup) -> None:
    cache, engine = setup
    data = family(60)
    engine.run(ListConnector("sis", data))
    with cache.engine.connect() as conn:
        before = dict(conn.execute(text("SELECT ref, id FROM record WHERE kind='student'")).all())
    data["students"][3] = dataclasses.replace(data["students"][3], homeroom="8B")
    out = engine.run(ListConnector("sis", data))
    assert out.counts["student"] == {"added": 0, "changed": 1, "unchanged": 59, "deleted": 0, "rejected": 0}
    with cache.engine.connect() as conn:
        after = dict(
            conn.execute(text("SELECT ref, id FROM record WHERE kind='student' AND valid_to IS NULL")).all()
        )
    assert sum(1 for ref, i in after.items() if before.get(ref) != i) == 1


def test_a_record_missing_from_a_full_pull_is_deleted(setup) -> None:
    cache, engine = setup
    data = family(60)
    engine.run(ListConnector("sis", data))
    del data["students"][0]
    out = engine.run(ListConnector("sis", data))
    assert out.status == "published"
    assert out.counts["student"]["deleted"] == 1
    assert len(published_refs(cache, "student")) == 59


def test_a_large_drop_is_held_and_the_last_good_snapshot_keeps_serving(setup) -> None:
    cache, engine = setup
    data = family(50)
    engine.run(ListConnector("sis", data))
    data["students"] = data["students"][:20]
    out = engine.run(ListConnector("sis", data))
    assert out.status == "held"
    assert any("30 of 50 student records would be removed" in r for r in out.hold_reasons)
    assert len(published_refs(cache, "student")) == 50
    assert decide(cache.engine, "sis", out.run_id, approve=True, by="test") == "published"
    assert len(published_refs(cache, "student")) == 20


def test_a_failed_sync_leaves_the_previous_snapshot_whole(setup) -> None:
    cache, engine = setup
    data = family(120)
    engine.run(ListConnector("sis", data))
    data["students"] = [dataclasses.replace(s, homeroom="9Z") for s in data["students"]]
    failing = ListConnector("sis", data)
    failing.fail_in = "contacts"
    out = engine.run(failing)
    assert out.status == "failed" and out.error_class == "SourceUnavailableError"
    assert len(published_refs(cache, "student")) == 120
    with cache.engine.connect() as conn:
        staged = conn.execute(
            text("SELECT count(*) FROM record WHERE valid_from = :r"), {"r": out.run_id}
        ).scalar()
        retired = conn.execute(
            text("SELECT count(*) FROM record WHERE valid_to = :r"), {"r": out.run_id}
        ).scalar()
    assert staged == 0 and retired == 0
    assert engine.run(ListConnector("sis", data)).status == "published"


def test_an_empty_first_sync_is_held_not_published(setup) -> None:
    cache, engine = setup
    out = engine.run(ListConnector("sis", {"students": [], "contacts": []}))
    assert out.status == "held"
    with cache.engine.connect() as conn:
        assert conn.execute(text("SELECT published_run FROM source_state")).scalar() is None


def test_opening_an_older_cache_changes_nothing_and_upgrading_adds_the_indexes_it_lacked(
    tmp_path: Path, db_url: str
) -> None:
    from sqlalchemy import inspect

    from cache.db import make_engine
    from config.errors import SchemaVersionError

    config, secrets = make_config(tmp_path, db_url)
    engine = make_engine(db_url)
    with engine.begin() as conn:  # as a version before ix_record_retired (and migrations) left it
        conn.execute(text("DROP INDEX ix_record_retired"))
        forget_migrations(conn)
    with pytest.raises(SchemaVersionError, match="portico db upgrade"):
        open_cache(config, secrets)
    assert "ix_record_retired" not in {i["name"] for i in inspect(engine).get_indexes("record")}
    upgrade_schema(config)
    cache = open_cache(config, secrets)
    try:
        assert "ix_record_retired" in {i["name"] for i in inspect(engine).get_indexes("record")}
    finally:
        cache.dispose()
        engine.dispose()


def _year_8(kind: str, fields: Fields) -> dict[str, Any]:
    """A student whose homeroom is in year 8, as its homeroom and source id."""
    homeroom = fields("homeroom")
    return {"homeroom": homeroom, "id": fields("source_id")} if str(homeroom).startswith("8") else {}


class _Watcher:
    """A change hook keeping the versions of ``kind`` that ``summarise`` summarises
    (cache.snapshots.changes)."""

    def __init__(
        self, kind: str = "student", summarise: Callable[[str, Fields], dict[str, Any]] = _year_8
    ) -> None:
        self.got: list[ChangeSet | None] = []
        self.kind, self.summarise = kind, summarise

    def watch(self) -> ChangeSet:
        return ChangeSet(frozenset({self.kind}), self.summarise)

    def __call__(self, source: str, run: int, changes: ChangeSet | None = None) -> None:
        self.got.append(changes)


def test_a_change_set_keeps_the_summaries_of_watched_new_versions_and_of_those_they_retire(
    tmp_path: Path, db_url: str
) -> None:
    config, secrets = make_config(tmp_path, db_url)
    cache = open_cache(config, secrets)
    watcher = _Watcher()
    engine = SyncEngine(cache.engine, cache.keyring, config, config.connectors[0], on_published=[watcher])
    data = family(6)
    engine.run(ListConnector("sis", data))
    first = watcher.got[0]  # a first snapshot is not a change: nothing kept
    assert first is not None and first.versions == [] and first.seen == 0
    students = data["students"]
    students[1] = dataclasses.replace(students[1], homeroom="8B")  # kept, with its 8A version
    students[2] = dataclasses.replace(students[2], homeroom="9C")  # changed, not kept
    students.append(dataclasses.replace(family(7)["students"][6], homeroom="8B"))  # new: no old version
    ciphers = dict(cache.keyring._sealers)
    engine.run(ListConnector("sis", data))
    changes = watcher.got[-1]
    assert changes is not None and not changes.overflow
    kept = {v.ref: v for v in changes.versions}
    assert len(kept) == 2 and all(
        v.kind == "student" and v.summary["homeroom"] == "8B" for v in kept.values()
    )
    index = cache.keyring.index
    one, new = (
        index.ref("sis", "student", students[1].source_id),
        index.ref("sis", "student", students[6].source_id),
    )
    assert set(kept) == {one, new}
    assert kept[one].summary["id"] == students[1].source_id
    assert kept[one].old == {"homeroom": "8A", "id": students[1].source_id}  # opened, summarised alike
    assert kept[new].old is None
    # The retired version was opened with the cipher its owner's new version was sealed
    # with: the keyring's cache of ciphers (the readers') is left as it was.
    assert cache.keyring._sealers == ciphers
    cache.dispose()


def test_a_retired_version_under_another_key_is_opened_with_that_key(tmp_path: Path, db_url: str) -> None:
    """A mark moved to another child: the new version is sealed under that child's key, the
    one it retires was sealed under the first child's, and is opened with that key."""
    config, secrets = make_config(tmp_path, db_url)
    cache = open_cache(config, secrets)
    watcher = _Watcher("attendance", lambda kind, f: {"student": f("student_id"), "code": f("source_code")})
    engine = SyncEngine(cache.engine, cache.keyring, config, config.connectors[0], on_published=[watcher])
    data = family(2)
    data["attendance"] = [mark("00000", TODAY, AttendanceCategory.AUTHORISED_ABSENCE, ny(9))]
    engine.run(ListConnector("sis", data))
    data["attendance"] = [dataclasses.replace(data["attendance"][0], student_id="00001", source_code="Y")]
    out = engine.run(ListConnector("sis", data))
    assert out.counts["attendance"]["changed"] == 1, out
    changes = watcher.got[-1]
    assert changes is not None
    assert [(v.summary, v.old) for v in changes.versions] == [
        ({"student": "00001", "code": "Y"}, {"student": "00000", "code": "X"})
    ]
    keyring = cache.keyring
    first, second = (f"student:{keyring.index.ref('sis', 'student', s)}" for s in ("00000", "00001"))
    key_ids = keyring.key_ids_of([first, second])
    assert key_ids[first] != key_ids[second]
    assert changes.versions[0].key_id == key_ids[second]  # the new version's key: the second child's
    assert keyring._sealers == {}  # that key's cipher made for the opening, and dropped
    cache.dispose()


def test_a_change_set_takes_a_batch_as_it_would_take_its_versions_one_by_one() -> None:
    """The staging hands a batch's versions over at once (``extend``): the change set keeps
    them, or overflows and drops everything, exactly when adding them one by one would."""
    from cache.snapshots.changes import StagedVersion

    def version(n: int) -> StagedVersion:
        return StagedVersion("attendance", f"r{n}", "s", None, None, None, None, "dk", {"late": None}, None)

    for batches in ([2, 1], [3], [2, 2], [1, 1, 1, 1], [4], [0, 3, 1]):
        batched = ChangeSet(frozenset({"attendance"}), _year_8, limit=3)
        n = 0
        for size in batches:
            batch = [version(n + i) for i in range(size)]
            n += size
            batched.extend(batch)
            # Every version so far, in order, until a fourth comes; then none, for good.
            expected = [] if n > 3 else [version(i) for i in range(n)]
            assert (batched.overflow, batched.versions) == (n > 3, expected)
