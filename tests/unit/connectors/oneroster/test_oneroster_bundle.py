"""OneRoster bundles built from the binding's column lists read into the district's records.

Fixtures: ``tests/support/oneroster.py`` (headers from the binding's own tables, see
``tests/support/data/oneroster/oneroster-1.2-csv-columns.SOURCE.md``).
"""

from __future__ import annotations

import datetime as dt
import zipfile
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from config.errors import RecordError, SourceChangedError, SourceDataError
from connectors import records as rec
from connectors.oneroster.connector import OneRosterConnector
from connectors.oneroster.options import Options
from tests.support.oneroster import DATA, bulk, delta, file_text, spec_columns, write_bundle

NOW = dt.datetime(2025, 12, 8, 12, 0, tzinfo=dt.UTC)
RULE = [
    {
        "grant": "parents and guardians enabled in the SIS",
        "when": {"relationship": ["parent", "guardian"], "enabled": True},
    }
]


def connector(path: Path, **options: Any) -> OneRosterConnector:
    opts = Options.model_validate(
        {"path": str(path), "timezone": "Europe/London", "settle_seconds": 0, "access": RULE, **options}
    )
    return OneRosterConnector("roster", opts, base_dir=path.parent, clock=lambda: NOW)


def read_all(conn: OneRosterConnector) -> tuple[dict[str, list[Any]], list[RecordError]]:
    found: dict[str, list[Any]] = defaultdict(list)
    rejected: list[RecordError] = []
    for stream in conn.streams():
        for page in conn.read(stream.name, None, full=True):
            assert page.full  # always the whole current set: never read as a partial snapshot
            for r in page.records:
                found[r.kind].append(r)
            rejected += page.rejected
    return dict(found), rejected


def links(found: dict[str, list[Any]]) -> dict[tuple[str, str], rec.StudentContact]:
    return {(link.student_id, link.contact_id): link for link in found["link"]}


def test_a_zip_and_the_same_bundle_unzipped_read_to_the_same_records(tmp_path: Path) -> None:
    zipped, _ = read_all(connector(write_bundle(tmp_path / "zip" / "bundle", bulk(), as_zip=True)))
    folder, rejected = read_all(connector(write_bundle(tmp_path / "folder" / "bundle", bulk())))
    assert rejected == []
    assert {k: sorted(map(repr, v)) for k, v in zipped.items()} == {
        k: sorted(map(repr, v)) for k, v in folder.items()
    }


def test_students_take_their_birth_date_registration_group_and_school_from_the_other_files(
    tmp_path: Path,
) -> None:
    found, _ = read_all(connector(write_bundle(tmp_path / "b", bulk())))
    students = {s.source_id: s for s in found["student"]}
    assert set(students) == {"s-1001", "s-1002", "s-1003", "s-1004", "s-1005"}
    zara = students["s-1005"]
    assert zara.date_of_birth == dt.date(2021, 11, 3)  # demographics.csv
    assert (zara.homeroom, zara.grade_level, zara.preferred_first_name) == ("RB", "KG", "Zee")
    assert zara.school_id == "org-sch-100" and zara.entry_date == dt.date(2025, 9, 1)
    assert zara.enrollment_status is rec.EnrollmentStatus.ACTIVE
    assert [s.name for s in found["school"]] == ["Hollybrook Academy"]
    assert found["school"][0].year_end_date == dt.date(2026, 7, 31)  # endDate 2026-08-01 is exclusive


def test_parent_links_stated_on_either_side_are_unioned_and_decided_by_the_rule(tmp_path: Path) -> None:
    found, rejected = read_all(connector(write_bundle(tmp_path / "b", bulk())))
    assert rejected == []
    got = links(found)
    assert set(got) == {
        ("s-1001", "p-2001"),  # on the student's row only
        ("s-1001", "p-2002"),  # on both rows: one link
        ("s-1002", "p-2003"), ("s-1003", "p-2003"),  # one parent row naming two children
        ("s-1003", "p-2004"),  # a guardian
        ("s-1004", "p-2005"),  # a relative
        ("s-1004", "p-2006"),  # a parent disabled in the SIS
        ("s-1004", "t-3002"),  # a teacher whose secondary role is parent
        ("s-1005", "p-2001"),  # on the parent's row only
    }  # fmt: skip
    granted = {pair for pair, link in got.items() if link.grants_access}
    assert granted == set(got) - {("s-1004", "p-2005"), ("s-1004", "p-2006")}
    assert got[("s-1004", "p-2005")].relationship == "relative"
    assert got[("s-1004", "p-2006")].access_rule == "no rule matched"
    assert got[("s-1003", "p-2004")].access_rule == "parents and guardians enabled in the SIS"
    # OneRoster carries no responsibility or court-order field: unknown, never guessed.
    assert {(link.parental_responsibility, link.court_order, link.priority) for link in got.values()} == {
        (None, None, None)
    }
    contacts = {c.source_id for c in found["contact"]}
    assert contacts == {"p-2001", "p-2002", "p-2003", "p-2004", "p-2005", "p-2006", "t-3002"}  # not t-3001


def test_every_score_status_keeps_its_meaning_and_the_sources_word(tmp_path: Path) -> None:
    found, _ = read_all(connector(write_bundle(tmp_path / "b", bulk())))
    results = {r.source_id: r for r in found["result"]}
    status = {k: r.status for k, r in results.items()}
    assert status == {
        "res-001": rec.ResultStatus.GRADED,  # fully graded
        "res-002": rec.ResultStatus.SUBMITTED,
        "res-003": rec.ResultStatus.MISSING,  # not submitted, missing=true
        "res-004": rec.ResultStatus.EXEMPT,
        "res-005": rec.ResultStatus.PARTIALLY_GRADED,
        "res-006": rec.ResultStatus.LATE,  # fully graded, late=true
        "res-007": rec.ResultStatus.NOT_SUBMITTED,  # not submitted, still in progress
        "res-008": rec.ResultStatus.GRADED,
        "res-009": rec.ResultStatus.NONE,  # a proprietary ext: status
    }
    assert results["res-009"].source_status == "ext:awaitingModeration"
    assert results["res-008"].text_score == "B" and results["res-006"].score == 30.5
    items = {a.source_id: a for a in found["assignment"]}
    assert items["li-001"].category == "Homework" and items["li-001"].points_possible == 20.0
    assert items["li-003"].points_possible is None  # resultValueMax is optional in 1.2
    sections = {s.source_id: s for s in found["section"]}
    assert sections["cls-7en1"].teacher_name == "Samuel Quennell"  # the primary teacher, not t-3001
    assert sections["cls-7ma1"].course_name == "Mathematics Year 7" and sections["cls-7ma1"].room == "Room M4"


def test_every_file_of_the_binding_built_from_its_column_list_is_accepted(tmp_path: Path) -> None:
    """All 21 data files, each header the binding's full list: the ones Portico does not use
    (resources, score scales, learning objectives, user profiles) are read past."""
    files = bulk()
    filler = {"GUID": "x-1", "GUID Reference": "x-1", "List of GUID References": "x-1", "Date": "2025-09-01",
              "DateTime": "2025-09-01T00:00:00Z", "Year": "2026", "Boolean": "true", "Float": "1.0",
              "Integer": "1", "String": "text", "List of Strings": "a", "Enumeration": "primary",
              "Enumeration List": "student"}  # fmt: skip
    import csv

    formats: dict[tuple[str, str], str] = {}
    with (DATA / "oneroster-1.2-csv-columns.csv").open() as fh:
        for row in csv.DictReader(fh):
            formats[(row["file"].removesuffix(".csv"), row["column"])] = row["format"]
    for file, columns in spec_columns().items():
        if file in files:
            continue
        files[file] = [{c: filler.get(formats[(file, c)], "x") for c, req in columns if req == "Yes"}]
    assert len(files) == 21
    found, rejected = read_all(connector(write_bundle(tmp_path / "b", files)))
    assert rejected == [] and len(found["student"]) == 5


def test_headers_are_case_sensitive_and_a_wrong_case_holds_the_bundle_naming_file_and_column(
    tmp_path: Path,
) -> None:
    files = bulk()
    text = file_text("users", files.pop("users"), delta=False).replace("givenName", "GivenName", 1)
    path = write_bundle(tmp_path / "b", files, extra={"users.csv": text})
    manifest = (path / "manifest.csv").read_text().replace("file.users,absent", "file.users,bulk")
    (path / "manifest.csv").write_text(manifest)
    with pytest.raises(
        SourceDataError, match=r"users\.csv: column 'givenName' is missing \(found 'GivenName'"
    ):
        read_all(connector(path))


def test_a_file_the_manifest_does_not_list_holds_the_bundle(tmp_path: Path) -> None:
    files = bulk()
    extra = {"lineItems.csv": file_text("lineItems", files.pop("lineItems"), delta=False)}
    path = write_bundle(tmp_path / "b", files, extra=extra)  # lineItems.csv present, manifest: absent
    with pytest.raises(SourceDataError, match="lineItems.csv is supplied but the manifest says absent"):
        read_all(connector(path))


def test_a_zip_with_its_files_in_a_folder_is_refused_naming_the_rule(tmp_path: Path) -> None:
    path = write_bundle(tmp_path / "b", bulk(), as_zip=True)
    nested = tmp_path / "n" / "nested.zip"
    nested.parent.mkdir()
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(nested, "w") as dst:
        for name in src.namelist():
            dst.writestr(f"export/{name}", src.read(name))
    with pytest.raises(SourceDataError, match="root of the zip"):
        read_all(connector(nested))


def test_a_student_without_the_configured_key_or_a_birth_date_is_set_aside_naming_the_row(
    tmp_path: Path,
) -> None:
    files = bulk()
    files["users"][1].pop("userIds")  # s-1002: no {ArborStudentId:...}
    files["demographics"] = [d for d in files["demographics"] if d["sourcedId"] != "s-1003"]
    found, rejected = read_all(
        connector(write_bundle(tmp_path / "b", files), student_id="userIds:ArborStudentId")
    )
    assert {s.source_id for s in found["student"]} == {"1201", "1204", "1205"}
    by_field = {e.field: e for e in rejected}
    assert by_field["userIds"].where == "b: users.csv row 3"
    assert by_field["birthDate"].where == "b: users.csv row 4"
    assert all("A9994" not in str(e) and "Tomasz" not in str(e) for e in rejected)
    # Every record about a student uses the key the other source knows them by.
    assert {link.student_id for link in found["link"]} <= {"1201", "1204", "1205"}
    assert {r.student_id for r in found["result"]} <= {"1201", "1204", "1205"}


def test_a_one_point_one_bundle_takes_roles_from_the_users_file(tmp_path: Path) -> None:
    """1.1: one role per user row; a teacher who is also a parent is a second row."""
    files = bulk()
    roles = {r["userSourcedId"]: r["role"] for r in files.pop("roles") if r["roleType"] == "primary"}
    users = []
    for u in files["users"]:
        row = {k: v for k, v in u.items() if k in {c for c, _ in spec_columns("1.1")["users"]}}
        users.append({**row, "role": roles[u["sourcedId"]], "orgSourcedIds": "org-sch-100"})
    users.append(
        {**users[-1], "sourcedId": "t-3002-as-parent", "role": "parent", "agentSourcedIds": "s-1004"}
    )
    files["users"] = users
    files["categories"] = [{"sourcedId": c["sourcedId"], "title": c["title"]} for c in files["categories"]]
    files["lineItems"] = [
        {**{k: v for k, v in li.items() if k not in ("academicSessionSourcedId", "schoolSourcedId")},
         "gradingPeriodSourcedId": li["academicSessionSourcedId"], "resultValueMin": "0", "resultValueMax": "50"}
        for li in files["lineItems"]
    ]  # fmt: skip
    keep = {c for c, _ in spec_columns("1.1")["results"]}
    files["results"] = [
        {**{k: v for k, v in r.items() if k in keep}, "score": r.get("score", "0")} for r in files["results"]
    ]
    found, rejected = read_all(connector(write_bundle(tmp_path / "b", files, version="1.1")))
    got = links(found)
    assert ("s-1004", "t-3002-as-parent") in got and got[("s-1004", "t-3002-as-parent")].grants_access
    assert ("s-1004", "t-3002") not in got  # the teacher row is not a contact
    assert [(e.where, e.field) for e in rejected] == [("b: users.csv row 5", "agentSourcedIds")]
    assert len(found["student"]) == 5 and len(found["assignment"]) == 3


def test_a_rule_testing_a_field_oneroster_lacks_is_a_config_error() -> None:
    with pytest.raises(ValueError, match="OneRoster links carry no court_order"):
        Options.model_validate(
            {"path": "x", "access": [{"refuse": "court order", "when": {"court_order": True}}]}
        )
    with pytest.raises(ValueError, match="access"):
        Options.model_validate({"path": "x"})  # nobody gets access by default: the rule is required


def test_bundles_that_change_between_two_streams_fail_the_read_so_the_run_is_retried(tmp_path: Path) -> None:
    folder = tmp_path / "bundles"
    write_bundle(folder / "a-bulk", bulk())
    conn = connector(folder)
    assert len(next(conn.read("students", None)).records) == 5
    changes = delta()
    write_bundle(folder / "b-delta", changes, delta=tuple(changes))
    with pytest.raises(SourceChangedError):
        next(conn.read("contacts", None))  # never students of one state and links of another
    assert len(next(conn.read("students", None)).records) == 4  # the retry reads the new state whole
