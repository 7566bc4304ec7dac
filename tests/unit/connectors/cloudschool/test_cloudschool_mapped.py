"""The mapped layout reads UK MIS exports as schools produce them, with YAML alone.

Fixtures: ``tests/support/data/uk/`` (ParentMail import list, Arbor BI attendance, SIMS
CommandReporter report; shapes and sources in its SOURCE.md) and a OneRoster 1.1 users
file built from the binding's column list (``tests/support/oneroster.py``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import Any

import pytest

from config.errors import SourceDataError
from connectors import records as rec
from connectors.cloudschool.connector import CloudSchoolConnector, check_config
from connectors.cloudschool.options import Options
from tests.support.cloudschool import read_all
from tests.support.exports import (
    ARBOR_ATTENDANCE,
    ARBOR_SOURCE,
    PARENTMAIL_RECORDS,
    PARENTMAIL_RULE,
    PARENTMAIL_SOURCE,
    UK,
    csv_connector,
    uk_folder,
)
from tests.support.oneroster import bulk, file_text

SCHOOL = {"school_id": "9994001", "school_name": "Hollybrook Academy", "settle_seconds": 0}


def parentmail(folder: Path, **extra: Any) -> CloudSchoolConnector:
    options = {
        "path": str(folder), **SCHOOL, "sources": {"pm": PARENTMAIL_SOURCE},
        "records": PARENTMAIL_RECORDS, "access": PARENTMAIL_RULE, **extra,
    }  # fmt: skip
    return csv_connector("pm", options, folder.parent)


def test_a_parentmail_list_gives_students_contacts_and_links_with_repeats_recognised(tmp_path: Path) -> None:
    conn = parentmail(uk_folder(tmp_path / "pm", "parentmail-student-import.csv"))
    found, rejected = read_all(conn)
    assert rejected == []
    students = {s.source_id: s for s in found["student"]}
    assert set(students) == {"1201", "1202", "1203", "1204", "1205"}  # nine rows, five children
    assert (students["1205"].grade_level, students["1201"].grade_level) == ("R", "7")  # "Reception", "Year 7"
    assert students["1201"].date_of_birth == dt.date(2014, 2, 11) and students["1201"].entry_date is None
    assert len(found["contact"]) == 7  # Ngozi and Marta each appear for two children, once each
    stats = {k: v for k, v in conn.mapped.stats.items() if k.endswith("students")}  # type: ignore[union-attr]
    assert [(s.rows, s.landed, s.repeated) for s in stats.values()] == [(9, 5, 4)]
    links = {(link.student_id, link.contact_id): link for link in found["link"]}
    assert {pair for pair, link in links.items() if link.grants_access} == {
        ("1201", "5001"), ("1202", "5003"), ("1203", "5004"), ("1204", "5008"), ("1205", "5001"),
    }  # fmt: skip
    assert links[("1201", "5002")].access_rule == "no rule matched"  # a step-father, second contact
    assert links[("1204", "5005")].relationship == "Grandmother"


def test_repeated_rows_that_disagree_are_all_set_aside_naming_rows_and_fields_not_values(
    tmp_path: Path,
) -> None:
    folder = uk_folder(tmp_path / "pm", "parentmail-student-import.csv")
    path = folder / "student-import.csv"
    lines = path.read_text().splitlines()
    lines[2] = lines[2].replace("11/02/2014", "12/02/2014")  # row 3: Amira again, another birthday
    path.write_text("\r\n".join(lines) + "\r\n")
    found, rejected = read_all(parentmail(folder))
    assert "1201" not in {s.source_id for s in found["student"]}
    about = sorted((e.where, e.reason) for e in rejected)
    assert about == [
        ("student-import.csv row 2", "disagrees with student-import.csv row 3 about the same student"),
        (
            "student-import.csv row 3",
            "disagrees with student-import.csv row 2 about the same student (date_of_birth)",
        ),
    ]
    assert all("2014" not in str(e) and "Amira" not in str(e) for e in rejected)


def test_arbor_long_attendance_reads_with_its_own_dates_flags_null_token_and_period_names(
    tmp_path: Path,
) -> None:
    folder = uk_folder(tmp_path / "arbor", "arbor-attendance.csv")
    options = {
        "path": str(folder),
        **SCHOOL,
        "sources": {"arbor": ARBOR_SOURCE},
        "records": {"attendance": ARBOR_ATTENDANCE},
    }
    conn = csv_connector("arbor", options, tmp_path)
    found, rejected = read_all(conn)
    assert rejected == []
    marks = {(m.student_id, m.date, m.session): m for m in found["attendance"]}
    assert len(marks) == 67  # 72 rows, 5 registers not yet taken (every cell NULL) skipped
    k = marks[("1203", dt.date(2025, 11, 3), "AM")]
    assert (k.source_code, k.category, k.meaning) == ("K", rec.AttendanceCategory.APPROVED_EDUCATIONAL_ACTIVITY,
                                                     "Attending education arranged by the local authority")  # fmt: skip
    late = marks[("1201", dt.date(2025, 11, 4), "AM")]
    assert (late.category, late.minutes_late) == (rec.AttendanceCategory.LATE, 12)
    assert marks[("1204", dt.date(2025, 11, 4), "PM")].category is rec.AttendanceCategory.NOT_REQUIRED  # Y1
    assert (
        marks[("1202", dt.date(2025, 11, 5), "AM")].category is rec.AttendanceCategory.AUTHORISED_ABSENCE
    )  # C1
    old = marks[("1201", dt.date(2024, 7, 15), "AM")]  # H, withdrawn on 19 August 2024
    assert old.category is rec.AttendanceCategory.AUTHORISED_ABSENCE and "no longer used" in (old.note or "")
    assert all(m.note is None for m in marks.values() if m.date.year == 2025)


def test_a_withdrawn_code_on_a_later_date_is_set_aside_naming_file_row_and_column(tmp_path: Path) -> None:
    folder = uk_folder(tmp_path / "arbor", "arbor-attendance.csv")
    path = folder / "attendance.csv"
    path.write_text(path.read_text().replace("1201,uk_syn_999400,M,", "1201,uk_syn_999400,H,"))
    options = {
        "path": str(folder),
        **SCHOOL,
        "sources": {"arbor": ARBOR_SOURCE},
        "records": {"attendance": ARBOR_ATTENDANCE},
    }
    _, rejected = read_all(csv_connector("arbor", options, tmp_path))
    assert [(e.where, e.field) for e in rejected] == [("attendance.csv row 34", "RAW_MARK")]
    assert "withdrawn on 2024-08-19" in rejected[0].reason


SIMS_RECORDS: dict[str, Any] = {
    "students": {
        "from": "sims",
        "fields": {
            "StudentID": "Adno", "UPN": "UPN", "LegalForename": "Forename", "LegalSurname": "Legal Surname",
            "DOB": "DOB", "Year": {"column": "Year", "replace": [["Year\\s+(\\d+)", "\\1"]], "map": {"Reception": "R"}},
            "Reg": "Reg",
        },
    },
    "contacts": {
        "from": "sims",
        "fields": {
            "ContactID": {"template": "{Contact Surname}/{Contact Forename}/{Contact Email}"},
            "ContactForename": "Contact Forename", "ContactSurname": "Contact Surname",
            "PrimaryEmail": "Contact Email", "MobileNumber": {"column": "Contact Mobile", "optional": True},
        },
    },
    "links": {
        "from": "sims",
        "fields": {
            "StudentID": "Adno", "ContactID": {"template": "{Contact Surname}/{Contact Forename}/{Contact Email}"},
            "Relationship": "Relationship", "Priority": "Priority",
            "ParentalResponsibility": "Parental Responsibility",
            "CourtOrder": {"column": "Court Order", "default": False},  # a blank means no order recorded
        },
    },
}  # fmt: skip
# Arbor's own migration rule for SIMS contacts: priority 1, or parental responsibility
# without a court order; a court order refuses first.
SIMS_RULE = [
    {"refuse": "court order recorded", "when": {"court_order": True}},
    {"grant": "first contact", "when": {"priority": 1}},
    {"grant": "parental responsibility", "when": {"parental_responsibility": True}},
]


@pytest.mark.parametrize("fmt", ["csv", "xml"])
def test_a_sims_commandreporter_report_reads_the_same_as_csv_or_xml(tmp_path: Path, fmt: str) -> None:
    name = f"sims-commandreporter-contacts.{fmt}"
    folder = uk_folder(tmp_path / "sims", name)
    source: dict[str, Any] = {
        "file": name,
        "date_format": "%d/%m/%Y",
        "flag_true": ["True"],
        "flag_false": ["False"],
    }
    if fmt == "xml":
        source |= {"format": "xml", "record": "SuperStarReport/Record"}
    options = {
        "path": str(folder),
        **SCHOOL,
        "sources": {"sims": source},
        "records": SIMS_RECORDS,
        "access": SIMS_RULE,
    }
    found, rejected = read_all(csv_connector("sims", options, tmp_path))
    assert rejected == []
    assert sorted(s.source_id for s in found["student"]) == ["001201", "001202", "001203", "001204", "001205"]
    decided = {
        (link.student_id, link.relationship): (link.grants_access, link.access_rule) for link in found["link"]
    }
    assert decided[("001204", "Mother")] == (False, "court order recorded")  # PR, but a court order
    assert decided[("001201", "Step Father")] == (False, "no rule matched")  # second contact, no PR
    assert decided[("001203", "Mother")] == (True, "parental responsibility")
    assert decided[("001204", "Father")] == (True, "first contact")
    assert len(found["contact"]) == 7


def test_a_sims_xml_report_with_a_document_type_declaration_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "sims"
    folder.mkdir()
    text = (UK / "sims-commandreporter-contacts.xml").read_text()
    (folder / "r.xml").write_text(
        text.replace("<SuperStarReport>", '<!DOCTYPE r [<!ENTITY x "y">]><SuperStarReport>', 1)
    )
    source = {"file": "r.xml", "format": "xml", "record": "SuperStarReport/Record"}
    options = {
        "path": str(folder),
        **SCHOOL,
        "sources": {"sims": source},
        "records": {"students": SIMS_RECORDS["students"]},
    }
    with pytest.raises(SourceDataError, match="document type declaration"):
        read_all(csv_connector("sims", options, tmp_path))


def test_a_oneroster_users_file_reads_generically_with_lists_joins_filters_and_a_union(
    tmp_path: Path,
) -> None:
    """OneRoster 1.1 users.csv as a flat file: one file feeding three records, the
    agentSourcedIds list split into rows, joined back to users for the other end's role,
    filtered by role, and links stated on either side unioned."""
    folder = tmp_path / "or11"
    folder.mkdir()
    roles = {r["userSourcedId"]: r["role"] for r in bulk()["roles"] if r["roleType"] == "primary"}
    users = [
        {**{k: v for k, v in u.items() if k not in ("userMasterIdentifier", "preferredGivenName", "primaryOrgSourcedId", "pronouns")},
         "role": roles[u["sourcedId"]], "orgSourcedIds": "org-sch-100"}
        for u in bulk()["users"]
    ]  # fmt: skip
    (folder / "users.csv").write_text(file_text("users", users, delta=False, version="1.1"))
    (folder / "demographics.csv").write_text(file_text("demographics", bulk()["demographics"], delta=False))
    adults = ["parent", "guardian", "relative"]
    link_fields = {"Relationship": "them.role", "Enabled": "them.enabledUser"}
    records = {
        "students": {
            "from": "users", "where": {"role": "student"},
            "join": {"demo": {"source": "demographics", "on": {"sourcedId": "sourcedId"}}},
            "fields": {"StudentID": "sourcedId", "LegalForename": "givenName", "LegalSurname": "familyName",
                       "DOB": "demo.birthDate", "Year": "grades"},
        },
        "contacts": {
            "from": "users", "where": {"role": adults},
            "fields": {"ContactID": "sourcedId", "ContactForename": "givenName", "ContactSurname": "familyName",
                       "PrimaryEmail": "email", "MobileNumber": "sms"},
        },
        "links": [
            {"from": "users", "where": {"role": "student", "them.role": adults},
             "explode": {"column": "agentSourcedIds"},
             "join": {"them": {"source": "users", "on": {"sourcedId": "agentSourcedIds"}}},
             "fields": {"StudentID": "sourcedId", "ContactID": "agentSourcedIds", **link_fields}},
            {"from": "users", "where": {"role": adults, "them.role": "student"},
             "explode": {"column": "agentSourcedIds"},
             "join": {"them": {"source": "users", "on": {"sourcedId": "agentSourcedIds"}}},
             "fields": {"StudentID": "agentSourcedIds", "ContactID": "sourcedId",
                        "Relationship": "role", "Enabled": "enabledUser"}},
        ],
    }  # fmt: skip
    rule = [
        {
            "grant": "enabled parents and guardians",
            "when": {"relationship": ["parent", "guardian"], "enabled": True},
        }
    ]
    options = {
        "path": str(folder), **SCHOOL, "date_format": "%Y-%m-%d", "flag_true": ["true"], "flag_false": ["false"],
        "sources": {"users": {"file": "users.csv"}, "demographics": {"file": "demographics.csv"}},
        "records": records, "access": rule,
    }  # fmt: skip
    conn = csv_connector("or11", options, tmp_path)
    found, rejected = read_all(conn)
    assert rejected == []
    pairs = {(link.student_id, link.contact_id) for link in found["link"]}
    assert pairs == {("s-1001", "p-2001"), ("s-1001", "p-2002"), ("s-1002", "p-2003"), ("s-1003", "p-2003"),
                     ("s-1003", "p-2004"), ("s-1004", "p-2005"), ("s-1004", "p-2006"), ("s-1005", "p-2001")}  # fmt: skip
    assert len(found["student"]) == 5 and len(found["contact"]) == 6
    granted = {(link.student_id, link.contact_id) for link in found["link"] if link.grants_access}
    assert granted == pairs - {("s-1004", "p-2005"), ("s-1004", "p-2006")}
    repeats = sum(s.repeated for k, s in conn.mapped.stats.items() if k.endswith("links"))  # type: ignore[union-attr]
    assert repeats == 1  # s-1001 and p-2002 name each other: one link


def test_a_mapping_that_reads_a_column_the_file_lacks_names_file_and_column_at_validation(
    tmp_path: Path,
) -> None:
    folder = uk_folder(tmp_path / "pm", "parentmail-student-import.csv")
    records = {**PARENTMAIL_RECORDS, "students": {**PARENTMAIL_RECORDS["students"], "fields": {
        **PARENTMAIL_RECORDS["students"]["fields"], "UPN": "UniquePupilNumber"}}}  # fmt: skip
    options = Options.model_validate(
        {
            "path": "pm",
            **SCHOOL,
            "sources": {"pm": PARENTMAIL_SOURCE},
            "records": records,
            "access": PARENTMAIL_RULE,
        }
    )
    problems = check_config(options, folder.parent)
    assert problems == [
        (
            ("records", "students"),
            "student-import.csv: missing column 'UniquePupilNumber' (fields.UPN) (records.students)",
        )
    ]
    with pytest.raises(SourceDataError, match="UniquePupilNumber"):
        read_all(parentmail(folder, records=records))


def test_a_value_the_map_does_not_know_is_set_aside_naming_the_source_column(tmp_path: Path) -> None:
    folder = uk_folder(tmp_path / "arbor", "arbor-attendance.csv")
    path = folder / "attendance.csv"
    path.write_text(path.read_text().replace(",AFTERNOON,2025-11-07", ",EVENING,2025-11-07", 1))
    options = {
        "path": str(folder),
        **SCHOOL,
        "sources": {"arbor": ARBOR_SOURCE},
        "records": {"attendance": ARBOR_ATTENDANCE},
    }
    _, rejected = read_all(csv_connector("arbor", options, tmp_path))
    assert [(e.where, e.field, e.reason) for e in rejected] == [
        ("attendance.csv row 45", "PERIOD", "not a value the mapping knows (map, replace)")
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"access": None}, "nobody gets access by default"),
        ({"access": [{"grant": "court", "when": {"court_order": False}}]}, "does not map CourtOrder"),
        (
            {"records": {"links": {"from": "nowhere", "fields": {"StudentID": "a", "ContactID": "b"}}}},
            "no source named 'nowhere'",
        ),
        (
            {"records": {"students": {"from": "pm", "fields": {"StudentID": "a"}}}},
            "LegalForename is required",
        ),
        ({"records": {"students": {"from": "pm", "fields": {"Pupil": "a"}}}}, "not a column of students"),
        ({"files": {"students": {"file": "x.csv"}}}, r"a mapped layout \(records\) names its own files"),
        ({"access": [{"grant": "a", "when": {"priority": "first"}}]}, "priority is a number"),
        ({"access": [{"grant": "a"}, {"grant": "A"}]}, "two rules are labelled"),
    ],
)
def test_a_mapped_layout_that_cannot_work_is_a_config_error_naming_the_key(
    change: dict[str, Any], message: str
) -> None:
    options: dict[str, Any] = {"path": "pm", **SCHOOL, "sources": {"pm": PARENTMAIL_SOURCE}, "records": PARENTMAIL_RECORDS,
                               "access": PARENTMAIL_RULE, **change}  # fmt: skip
    if options["access"] is None:
        del options["access"]
    with pytest.raises(ValueError, match=message):
        Options.model_validate(options)


def test_a_link_to_a_contact_the_export_does_not_list_is_set_aside_naming_its_row(tmp_path: Path) -> None:
    folder = uk_folder(tmp_path / "pm", "parentmail-student-import.csv")
    contacts = {
        **PARENTMAIL_RECORDS["contacts"],
        "where": {"ContactID": {"not": "5002"}},
    }  # one value, not a list
    found, rejected = read_all(parentmail(folder, records={**PARENTMAIL_RECORDS, "contacts": contacts}))
    assert ("1201", "5002") not in {(link.student_id, link.contact_id) for link in found["link"]}
    assert [(e.where, e.field) for e in rejected] == [("student-import.csv row 3", "ContactID")]


def test_unquoted_yaml_flag_words_and_null_tokens_still_match_the_files_cells() -> None:
    """In YAML, TRUE, FALSE and NULL unquoted are a boolean and a null: taken as the words."""
    from config.loader import parse_yaml
    from connectors.cloudschool.mapped.options import Source

    raw, _ = parse_yaml("{file: a.csv, flag_true: [TRUE], flag_false: [FALSE], null: [NULL]}", "portico.yaml")
    source = Source.model_validate(raw)
    assert (source.flag_true, source.flag_false, source.null) == (["true"], ["false"], ["null"])


def test_an_export_that_changes_between_two_streams_fails_the_read_so_the_run_is_retried(
    tmp_path: Path,
) -> None:
    from config.errors import SourceChangedError

    folder = uk_folder(tmp_path / "pm", "parentmail-student-import.csv")
    conn = parentmail(folder)
    assert len(next(conn.read("students", None)).records) == 5
    path = folder / "student-import.csv"
    path.write_text(path.read_text().replace("Amira", "Amara"))
    with pytest.raises(SourceChangedError):
        next(conn.read("contacts", None))
    assert len(next(conn.read("contacts", None)).records) == 16  # the retry reads the new export whole


def test_a_mapped_source_whose_hash_differs_from_the_manifest_holds_the_run_as_the_preset_does(
    tmp_path: Path,
) -> None:
    folder = uk_folder(tmp_path / "pm", "parentmail-student-import.csv")
    path = folder / "student-import.csv"
    manifest = folder / "export_manifest.csv"

    def listed(sha: str) -> None:
        manifest.write_text(
            f"file,rows,sha256,exported_at\nstudent-import.csv,9,{sha},2025-12-08T06:00:00Z\n"
        )

    listed(hashlib.sha256(path.read_bytes()).hexdigest())
    assert len(next(parentmail(folder).read("students", None)).records) == 5
    listed("0" * 64)
    with pytest.raises(
        SourceDataError, match=r"student-import\.csv: sha256 differs from the manifest.*export held"
    ):
        next(parentmail(folder).read("students", None))
