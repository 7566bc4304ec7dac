"""Real-file defects the connector survives: one generated export per defect."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from connectors import records as rec
from simulators.cloudschool.export import FORMULAS
from tests.support.cloudschool import connector, district, export, read_all

QUOTED = ', see "notes";\r\nsecond line'


def _snapshot(folder: Path) -> dict[str, list[str]]:
    records, rejected = read_all(connector(folder))
    assert rejected == []
    return {kind: sorted(map(repr, rs)) for kind, rs in records.items()}


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    folder = tmp_path_factory.mktemp("clean")
    export(folder)
    return _snapshot(folder)


@pytest.mark.parametrize("defect", ["bom", "cp1252", "crlf", "trailing_columns", "header_typos"])
def test_an_export_with_this_defect_reads_exactly_like_a_clean_one(
    defect: str, tmp_path: Path, clean: dict[str, list[str]]
) -> None:
    export(tmp_path, defects={defect})
    if defect == "bom":
        assert (tmp_path / "students.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    if defect == "cp1252":
        with pytest.raises(UnicodeDecodeError):
            (tmp_path / "students.csv").read_bytes().decode("utf-8")
    assert _snapshot(tmp_path) == clean


def test_accented_names_survive_windows_1252(tmp_path: Path) -> None:
    export(tmp_path, defects={"cp1252"})
    records, _ = read_all(connector(tmp_path))
    assert any(ch in s.legal_first_name for s in records["student"] for ch in "éöàüï")


def test_quoted_commas_quotes_and_line_breaks_land_verbatim(
    tmp_path: Path, clean: dict[str, list[str]]
) -> None:
    export(tmp_path, defects={"quoted"})
    records, rejected = read_all(connector(tmp_path))
    assert rejected == []
    reports = records["report"]
    quoted = [r for r in reports if r.comments and r.comments.endswith(QUOTED)]
    assert len(quoted) == (len(reports) + 2) // 3
    assert {k: len(v) for k, v in records.items()} == {k: len(v) for k, v in clean.items()}


def test_formula_like_cells_are_kept_as_text_and_never_evaluated(tmp_path: Path) -> None:
    summary = export(tmp_path, defects={"formula_cells"})
    records, rejected = read_all(connector(tmp_path))
    assert rejected == []
    texts = [r.comments for r in records["report"]] + [n.body for n in records["notice"]]
    texts += [b.description for b in records["behaviour"]] + [a.title for a in records["assignment"]]
    landed = sorted(t for t in texts if t in FORMULAS)
    planted = sorted(cell for file, _, cell in summary.formulas if file != "assignment_results.csv")
    assert landed == planted
    assert {t[0] for t in landed} == {"=", "+", "-", "@"}


def test_negative_points_and_plus_sign_phones_are_data(tmp_path: Path) -> None:
    export(tmp_path)
    records, _ = read_all(connector(tmp_path))
    assert any(b.points < 0 for b in records["behaviour"])
    assert all(c.phone is None or c.phone.startswith("+44") for c in records["contact"])


def test_malformed_rows_are_set_aside_with_file_row_and_reason_but_no_cell_contents(tmp_path: Path) -> None:
    summary = export(tmp_path, defects={"malformed_rows"})
    records, rejected = read_all(connector(tmp_path))
    assert sorted(e.where for e in rejected) == sorted(f"{f} row {n}" for f, n in summary.bad_rows)
    assert {e.field for e in rejected} >= {"DOB", "StudentID", "Mark"}
    for e in rejected:
        assert e.reason
        for cell in ("31/02/2011", "99999999", "01/01/2001"):
            assert cell not in str(e)
    assert "99999999" not in {s.source_id for s in records["student"]}


def test_ids_with_leading_zeros_stay_strings_across_files(tmp_path: Path) -> None:
    export(tmp_path, defects={"leading_zero_ids"})
    records, rejected = read_all(connector(tmp_path))
    assert rejected == []
    district_ids = {s.source_id for s in district().iter("student")}
    ids = {s.source_id for s in records["student"]}
    assert ids and all(i.startswith("000") and i[2:] in district_ids for i in ids)
    assert {link.student_id for link in records["link"]} <= ids
    assert {m.student_id for m in records["attendance"]} <= ids


def test_one_row_per_student_contact_pair_yields_each_contact_once(tmp_path: Path) -> None:
    export(tmp_path)
    records, _ = read_all(connector(tmp_path))
    contacts = [c.source_id for c in records["contact"]]
    links = records["link"]
    assert len(contacts) == len(set(contacts)) < len(links)
    assert {link.contact_id for link in links} == set(contacts)


def test_an_unmarked_register_is_neither_published_nor_an_error(tmp_path: Path) -> None:
    export(tmp_path)
    path = tmp_path / "attendance_sessions.csv"
    lines = path.read_text().splitlines()
    lines[1] = ",".join([*lines[1].split(",")[:3], "-", ""])
    path.write_text("\n".join(lines) + "\n")
    (tmp_path / "export_manifest.csv").unlink()
    conn = connector(tmp_path, settle_seconds=0)
    pages = list(conn.read("attendance", None, full=True))
    assert sum(len(p.records) for p in pages) == len(lines) - 2
    assert not any(p.rejected for p in pages)
    assert conn.stats["attendance_sessions.csv"].skipped == 1
    assert all(isinstance(r, rec.AttendanceMark) for p in pages for r in p.records)


def test_a_district_with_semicolons_and_iso_dates_maps_them_in_options(
    tmp_path: Path, clean: dict[str, list[str]]
) -> None:
    export(tmp_path, manifest=False)
    for path in tmp_path.glob("*.csv"):
        with path.open(encoding="utf-8", newline="") as fh:
            rows = list(csv.reader(fh))
        for row in rows[1:]:
            for i, cell in enumerate(row):
                if len(cell) >= 10 and cell[2] == "/" and cell[5] == "/":  # DD/MM/YYYY[ HH:MM]
                    row[i] = f"{cell[6:10]}-{cell[3:5]}-{cell[0:2]}{cell[10:]}"
        with path.open("w", encoding="utf-8", newline="") as fh:
            csv.writer(fh, delimiter=";").writerows(rows)
    conn = connector(
        tmp_path, delimiter=";", date_format="%Y-%m-%d", datetime_format="%Y-%m-%d %H:%M", settle_seconds=0
    )
    records, rejected = read_all(conn)
    assert rejected == []
    assert {kind: sorted(map(repr, rs)) for kind, rs in records.items()} == clean
