"""PowerSchool wire values and rows to canonical records: each quirk, and bad rows set aside safely."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from connectors import records as r
from connectors.powerschool import normalize as n
from connectors.powerschool import normalize_work as w
from connectors.powerschool import values as v
from connectors.powerschool import wire
from connectors.powerschool.ids import SchoolIds, SectionIds, StudentIds
from tests.support.powerschool import load

ZONE = "America/Chicago"


def context() -> n.Context:
    ctx = n.Context(times=v.LocalTimes(ZONE), zone=ZONE)
    ctx.schools = SchoolIds()
    ctx.schools.add("5", "110")
    ctx.students = StudentIds.of([{"dcid": "507", "id": "11", "schoolid": "110"},
                                  {"dcid": "9913", "id": "507", "schoolid": "110"}])  # fmt: skip
    ctx.sections = SectionIds()
    ctx.sections.add({"dcid": "4401", "id": "3301", "schoolid": "110", "termid": "3500"})
    ctx.codes = {"44": ("", r.AttendanceCategory.PRESENT), "46": ("T", r.AttendanceCategory.LATE)}
    return ctx


MARK: dict[str, Any] = {
    "dcid": "91002", "studentid": "11", "att_date": "2025-09-08", "att_mode_code": "ATT_ModeDaily",
    "attendance_codeid": "46", "transaction_date": "2025-09-08 08:20:04",
}  # fmt: skip


def test_a_one_element_v1_list_sent_as_an_object_is_one_row() -> None:
    body = load("v1_school_student_page")
    assert len(wire.v1_items(body, "students", "student")) == 4
    single = {"students": {"@expansions": "", "student": {"id": 9913}}}
    assert wire.v1_items(single, "students", "student") == [{"id": 9913}]


@pytest.mark.parametrize("body", [{"students": ""}, {"students": {"student": ""}}, {}])
def test_an_empty_v1_list_sent_as_an_empty_string_is_no_rows(body: object) -> None:
    assert wire.v1_items(body, "students", "student") == []
    assert wire.v1_items(load("v1_school_student_empty_page"), "students", "student") == []


def test_counts_arrive_in_both_wrappers() -> None:
    assert wire.v1_count(load("v1_district_school_count")) == 2
    assert wire.schema_count(load("schema_table_count")) == 3
    assert wire.schema_count(load("powerquery_count")) == 2
    with pytest.raises(wire.BadShape):
        wire.schema_count({"resource": {}})


def test_table_rows_unnest_columns_and_query_rows_drop_labels_prefixes() -> None:
    assert wire.table_rows(load("schema_table_count") | {"record": []}, "cc") == []
    rows = wire.table_rows(load("schema_cc"), "cc")
    assert rows[0]["studentid"] == "11" and rows[2]["studentid"] == 12
    flat = wire.query_rows(
        {"record": [{"_name": "STUDENTS", "_id": 1, "students.dcid": "507", "DCID2": "x"}]}
    )
    assert flat == [{"dcid": "507", "dcid2": "x"}]
    nested = wire.query_rows({"record": [{"tables": {"students": {"dcid": "507"}}}]})
    assert nested == [{"dcid": "507"}]
    assert wire.query_rows(load("powerquery_empty_page")) == []


@pytest.mark.parametrize(("raw", "want"), [("507", "507"), (507, "507"), ("507.0", "507"), (507.0, "507"),
                                           (" 0042 ", "0042"), ("-3302", "-3302")])  # fmt: skip
def test_ids_are_the_same_whether_numbers_or_strings(raw: object, want: str) -> None:
    assert v.ident(raw) == want


@pytest.mark.parametrize("raw", [None, "", True, 1.5, {"a": 1}])
def test_an_id_that_is_not_one_is_refused(raw: object) -> None:
    with pytest.raises((TypeError, ValueError)):
        v.ident(raw)


def test_grade_levels_flags_times_and_enrol_statuses() -> None:
    assert v.grade_level("0") == "K" and v.grade_level(-2) == "PK3" and v.grade_level("Year 7") == "Year 7"
    assert v.flag("1") and not v.flag(0) and not v.flag("")
    assert v.clock_time("29700") == dt.time(8, 15) and v.clock_time(33000) == dt.time(9, 10)
    assert [v.enroll_status(s) for s in (-1, "0", 1, 2, "3", 4, 9)] == [
        r.EnrollmentStatus.PRE_REGISTERED, r.EnrollmentStatus.ACTIVE, r.EnrollmentStatus.INACTIVE,
        r.EnrollmentStatus.TRANSFERRED, r.EnrollmentStatus.GRADUATED, r.EnrollmentStatus.INACTIVE,
        r.EnrollmentStatus.INACTIVE,
    ]  # fmt: skip
    assert v.date("2025-09-08 00:00:00") == dt.date(2025, 9, 8)


def test_a_row_missing_a_required_field_is_set_aside_naming_stream_position_and_field() -> None:
    rows = [dict(MARK), {k: val for k, val in MARK.items() if k != "att_date"}]
    built = n.build_many(w.attendance, rows, context(), "attendance", 41, w.attendance_fast)
    assert len(built.records) == 1 and len(built.rejected) == 1
    err = built.rejected[0]
    assert (err.where, err.field) == ("stream attendance record 42", "att_date") and "missing" in err.reason


def test_a_bad_value_is_set_aside_without_the_value_in_the_message() -> None:
    row = {**MARK, "att_date": "Ada-was-absent-in-spring"}
    built = n.build_many(w.attendance, [row], context(), "attendance", 1, w.attendance_fast)
    assert built.rejected[0].field == "att_date"
    assert "Ada" not in str(built.rejected[0]) and "spring" not in str(built.rejected[0])


def test_a_row_that_is_not_an_object_is_set_aside_not_raised() -> None:
    built = n.build_many(w.attendance, ["junk"], context(), "attendance", 1, w.attendance_fast)  # type: ignore[list-item]
    assert built.records == [] and built.rejected[0].where == "stream attendance record 1"


def test_an_id_shared_by_two_students_is_never_resolved_to_either() -> None:
    ctx = context()
    ctx.students.add({"dcid": "777", "id": "11", "schoolid": "110"})  # STUDENTS.ID is not unique
    built = n.build_many(w.attendance, [dict(MARK)], ctx, "attendance", 1, w.attendance_fast)
    assert built.records == [] and built.unresolved == 1
    assert "more than one STUDENTS.ID" in built.rejected[0].reason


def test_a_dropped_enrolments_negative_section_id_is_the_section() -> None:
    row = {"dcid": "80002", "studentid": "507", "sectionid": "-3301", "dateenrolled": "2025-08-20"}
    enrolment = n.enrollment(row, context())
    assert (enrolment.section_id, enrolment.student_id) == ("4401", "9913")


@pytest.mark.parametrize(
    "changes",
    [{}, {"dcid": 91002}, {"studentid": 11}, {"attendance_codeid": 44}, {"att_mode_code": "ATT_ModeMeeting"},
     {"transaction_date": "2025-09-08T08:20:04-04:00"}, {"transaction_date": None}, {"studentid": "999"}],
)  # fmt: skip
def test_the_fast_attendance_path_agrees_with_the_generic_one(changes: dict[str, Any]) -> None:
    row = {**MARK, **changes}
    ctx = context()
    ctx.periods = {"0": "P0"}
    row.setdefault("periodid", "0")
    fast = n.build_many(w.attendance, [row], ctx, "attendance", 1, w.attendance_fast)
    slow = n.build_many(w.attendance, [row], ctx, "attendance", 1, None)
    assert fast.records == slow.records and [str(e) for e in fast.rejected] == [str(e) for e in slow.rejected]


SCORE: dict[str, Any] = {
    "assignmentscoreid": "600001", "assignmentsectionid": "555001", "studentsdcid": "507", "scorepoints": "17",
    "islate": "1", "ismissing": "0", "isexempt": "0", "iscollected": "1",
}  # fmt: skip


@pytest.mark.parametrize(
    "changes",
    [{}, {"islate": "0"}, {"islate": 0, "iscollected": 0}, {"scorepoints": None, "iscollected": "0", "islate": "0"},
     {"isexempt": 1}, {"ismissing": "y"}, {"scorepoints": True}, {"scorepoints": "12.5"}, {"studentsdcid": "11"},
     {"studentsdcid": 507}, {"assignmentscoreid": " 600001"}, {"assignmentsectionid": "555002"}],
)  # fmt: skip
def test_the_fast_result_path_agrees_with_the_generic_one(changes: dict[str, Any]) -> None:
    row = {**SCORE, **changes}
    ctx = context()
    ctx.unpublished = {"555002"}
    fast = n.build_many(w.result, [row], ctx, "results", 1, w.result_fast)
    slow = n.build_many(w.result, [row], ctx, "results", 1, None)
    assert fast.records == slow.records and [str(e) for e in fast.rejected] == [str(e) for e in slow.rejected]
