"""Change detection relies on stable records: the same export reads back equal, and a
1%-changed export differs in exactly the rows that changed; a missing row is a delete."""

from __future__ import annotations

from pathlib import Path

from connectors.records import Record
from tests.support.cloudschool import connector, export, read_all

# entity -> record kind, for files whose rows map one-to-one onto records
ONE_TO_ONE = {
    "students": "student",
    "classes": "section",
    "class_members": "enrollment",
    "attendance": "attendance",
    "assignments": "assignment",
    "assignment_results": "result",
    "notices": "notice",
    "progress_reports": "report",
}


def _by_key(folder: Path) -> dict[tuple[str, str], Record]:
    records, rejected = read_all(connector(folder))
    assert rejected == []
    return {(r.kind, r.source_id): r for rs in records.values() for r in rs}


def test_reading_the_same_export_twice_gives_equal_records(tmp_path: Path) -> None:
    export(tmp_path)
    assert _by_key(tmp_path) == _by_key(tmp_path)


def test_a_one_percent_changed_export_differs_in_exactly_the_changed_rows(tmp_path: Path) -> None:
    export(tmp_path / "a")
    summary = export(tmp_path / "b", changed_fraction=0.01, seed=3)
    before, after = _by_key(tmp_path / "a"), _by_key(tmp_path / "b")
    assert before.keys() == after.keys()
    for entity, kind in ONE_TO_ONE.items():
        differing = sum(1 for key, r in after.items() if key[0] == kind and before[key] != r)
        assert differing == summary.changed.get(entity, 0), entity
    assert summary.changed["attendance"] > 0


def test_a_row_missing_from_a_full_export_is_absent_from_every_page(tmp_path: Path) -> None:
    export(tmp_path, manifest=False)
    path = tmp_path / "students.csv"
    header, first, *rest = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join([header, *rest]) + "\n", encoding="utf-8")
    conn = connector(tmp_path, settle_seconds=0)
    pages = list(conn.read("students", None, full=True))
    assert all(p.full for p in pages)
    assert first.split(",")[0] not in {r.source_id for p in pages for r in p.records}
