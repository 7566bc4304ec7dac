"""A bad export is never published: it waits for the next run or is held, naming the file."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from config.errors import SourceDataError, SourceUnavailableError
from tests.support.cloudschool import connector, export, read_all


def _files(folder: Path) -> dict[str, tuple[str, int]]:
    return {
        p.name: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns) for p in folder.iterdir()
    }


def test_a_manifest_that_matches_lets_the_export_through(tmp_path: Path) -> None:
    export(tmp_path)
    records, rejected = read_all(connector(tmp_path))
    assert records["student"] and rejected == []


def test_a_file_whose_hash_differs_from_the_manifest_holds_the_run_for_review(tmp_path: Path) -> None:
    export(tmp_path, defects={"manifest_mismatch"}, target="contacts")
    with pytest.raises(SourceDataError, match=r"contacts\.csv: sha256 differs from the manifest"):
        read_all(connector(tmp_path))


def test_a_half_written_file_with_a_manifest_holds_the_run_for_review(tmp_path: Path) -> None:
    export(tmp_path, defects={"truncated"}, target="attendance")
    with pytest.raises(SourceDataError, match=r"attendance_sessions\.csv: sha256 differs"):
        read_all(connector(tmp_path))


def test_a_half_written_file_without_a_manifest_waits_until_it_settles(tmp_path: Path) -> None:
    export(tmp_path, defects={"truncated"}, target="students", manifest=False)
    with pytest.raises(SourceUnavailableError, match=r"students\.csv: modified \d+s ago.*settle_seconds"):
        read_all(connector(tmp_path, settle_seconds=60))
    past = time.time() - 120
    os.utime(tmp_path / "students.csv", (past, past))
    records, rejected = read_all(connector(tmp_path, settle_seconds=60))
    assert records["student"]  # a settled file is read; its cut-off last row is set aside
    assert [e.where.split(" row ")[0] for e in rejected] in ([], ["students.csv"])


@pytest.mark.parametrize("target", ["students", "contacts", "attendance", "notices"])
def test_a_header_only_file_holds_the_export_and_names_the_file(tmp_path: Path, target: str) -> None:
    summary = export(tmp_path, defects={"header_only"}, target=target)
    name = next(f for f, rows in summary.rows.items() if rows == 0)
    with pytest.raises(SourceDataError, match=rf"{name}: header only, no data rows; export held"):
        read_all(connector(tmp_path))


def test_a_header_only_file_is_fine_when_the_entity_may_be_empty(tmp_path: Path) -> None:
    export(tmp_path, defects={"header_only"}, target="notices")
    records, _ = read_all(connector(tmp_path, files={"notices": {"allow_empty": True}}))
    assert "notice" not in records and records["student"]


def test_an_empty_file_holds_the_export_and_names_the_file(tmp_path: Path) -> None:
    export(tmp_path, defects={"empty_file"}, target="contacts")
    with pytest.raises(SourceDataError, match=r"contacts\.csv: empty file"):
        read_all(connector(tmp_path))


def test_a_missing_file_waits_for_the_next_run(tmp_path: Path) -> None:
    export(tmp_path, manifest=False)
    (tmp_path / "timetable.csv").unlink()
    with pytest.raises(SourceUnavailableError, match=r"timetable\.csv: missing from the export"):
        read_all(connector(tmp_path))


def test_a_disabled_entity_needs_no_file(tmp_path: Path) -> None:
    export(tmp_path, manifest=False)
    (tmp_path / "achievements.csv").unlink()
    records, _ = read_all(connector(tmp_path, files={"achievements": {"enabled": False}}))
    assert records["behaviour"] and all(b.source_id.startswith("incident-") for b in records["behaviour"])


def test_too_many_bad_rows_hold_the_whole_export(tmp_path: Path) -> None:
    export(tmp_path, defects={"malformed_rows"})
    with pytest.raises(
        SourceDataError, match=r"students: more than 1 malformed rows \(max_rejected\); export held"
    ):
        read_all(connector(tmp_path, max_rejected=1))


def test_reading_and_archiving_never_modify_or_delete_the_export(tmp_path: Path) -> None:
    folder = tmp_path / "export"
    export(folder)
    before = _files(folder)
    conn = connector(folder, archive_dir="archive")
    read_all(conn)
    assert _files(folder) == before
    [copy] = list((tmp_path / "archive").iterdir())
    copied = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in copy.iterdir()}
    assert copied == {name: sha for name, (sha, _) in before.items() if name != "export_manifest.csv"}


def test_a_file_rewritten_during_the_read_fails_the_run(tmp_path: Path) -> None:
    export(tmp_path)
    pages = connector(tmp_path, page_size=100).read("attendance", None, full=True)
    next(pages)
    os.utime(tmp_path / "attendance_sessions.csv")
    with pytest.raises(SourceUnavailableError, match=r"attendance_sessions\.csv: changed while being read"):
        list(pages)


def test_every_stream_of_one_export_carries_the_same_content_fingerprint(tmp_path: Path) -> None:
    export(tmp_path)
    conn = connector(tmp_path)
    cursors = {[*conn.read(s.name, None, full=True)][-1].cursor for s in conn.streams()}
    assert len(cursors) == 1
    export(tmp_path)  # the same content written again: same fingerprint
    assert connector(tmp_path).export().fingerprint in cursors
    export(tmp_path, changed_fraction=0.01)
    assert connector(tmp_path).export().fingerprint not in cursors


def test_a_row_count_that_differs_from_the_manifest_fails_the_run(tmp_path: Path) -> None:
    export(tmp_path)
    manifest = tmp_path / "export_manifest.csv"
    lines = manifest.read_text().splitlines()
    lines = [
        line.replace("classes.csv,", "classes.csv,1") if line.startswith("classes.csv,") else line
        for line in lines
    ]
    manifest.write_text("\n".join(lines) + "\n")
    with pytest.raises(SourceDataError, match=r"classes\.csv: \d+ rows read, the manifest lists 1\d+"):
        list(connector(tmp_path).read("classes", None, full=True))


def test_a_half_written_manifest_waits_for_the_next_run(tmp_path: Path) -> None:
    export(tmp_path)
    manifest = tmp_path / "export_manifest.csv"
    manifest.write_bytes(manifest.read_bytes()[:200])
    with pytest.raises(SourceUnavailableError, match=r"export_manifest\.csv row \d+"):
        list(connector(tmp_path).read("students", None, full=True))
