"""Through the sync engine: a bad export is held, the last good snapshot keeps serving,
the operator is told why, and a re-run of a changed export counts what changed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cache.snapshots.runs import load_state
from cache.store import Cache, open_cache
from gateway.sync.engine import SyncEngine, SyncOutcome
from tests.support.cloudschool import connector, export, school
from tests.support.config import make_config


@pytest.fixture
def cache(tmp_path: Path, sqlite_url: str) -> Iterator[Cache]:
    options = {"path": "export", "school_id": school().source_id, "school_name": school().name}
    config, secrets = make_config(
        tmp_path, sqlite_url, connectors=[{"name": "sis", "type": "cloudschool", "options": options}]
    )
    opened = open_cache(config, secrets)
    yield opened
    opened.dispose()


def _sync(cache: Cache, folder: Path, **options: Any) -> SyncOutcome:
    engine = SyncEngine(cache.engine, cache.keyring, cache.config, cache.config.connectors[0])
    return engine.run(connector(folder, **options), full=True)


def _published(cache: Cache) -> int | None:
    with cache.engine.connect() as conn:
        state = load_state(conn, "sis")
    return state.published_run if state else None


@pytest.mark.parametrize(
    ("defect", "target", "reason"),
    [
        ("drop_students", "students", "student records would be removed"),
        ("header_only", "contacts", "contacts.csv: header only"),
        ("empty_file", "students", "students.csv: empty file"),
        ("malformed_rows", "students", "students: more than 1 malformed rows"),
    ],
)
def test_a_bad_export_is_held_and_the_last_good_snapshot_keeps_serving(
    cache: Cache, tmp_path: Path, defect: str, target: str, reason: str
) -> None:
    folder = tmp_path / "export"
    export(folder)
    first = _sync(cache, folder)
    assert first.status == "published"
    good = _published(cache)
    export(folder, defects={defect}, target=target)
    outcome = _sync(cache, folder, max_rejected=1)
    assert outcome.status == "held"
    assert any(reason in r for r in outcome.hold_reasons), outcome.hold_reasons
    assert _published(cache) == good


def test_an_export_that_differs_from_its_manifest_is_held_without_touching_the_snapshot_or_the_breaker(
    cache: Cache, tmp_path: Path
) -> None:
    folder = tmp_path / "export"
    export(folder)
    assert _sync(cache, folder).status == "published"
    good = _published(cache)
    export(folder, defects={"truncated"}, target="attendance")
    outcome = _sync(cache, folder)
    assert outcome.status == "held" and outcome.error_class == "SourceDataError"
    assert any("sha256 differs from the manifest" in r for r in outcome.hold_reasons)
    with cache.engine.connect() as conn:
        state = load_state(conn, "sis")
    assert state is not None and state.consecutive_failures == 0  # not a failure for the breaker
    assert _published(cache) == good


def test_a_re_run_counts_added_changed_deleted_and_set_aside_rows_per_kind(
    cache: Cache, tmp_path: Path
) -> None:
    folder = tmp_path / "export"
    export(folder)
    assert _sync(cache, folder).status == "published"
    summary = export(folder, changed_fraction=0.05, seed=5)
    outcome = _sync(cache, folder)
    assert outcome.status == "published"
    attendance = outcome.counts["attendance"]
    assert attendance["changed"] == summary.changed["attendance"] > 0
    assert attendance["added"] == attendance["deleted"] == 0
    assert outcome.counts["student"]["changed"] == summary.changed.get("students", 0)
