"""Map PowerSchool-like wire JSON to canonical records, surviving the API's quirks.

Quirks handled here: in ``/ws/v1`` a one-element collection is an object rather than
a list, and an empty collection or block is ``""``; numbers arrive as strings (or
not); optional fields are simply missing. ``/ws/schema`` keeps ``record`` a list and
nests each row's columns under ``tables.<table>``. A record that cannot be mapped
becomes a :class:`RecordError` naming stream, position and field, never its value.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from config.errors import RecordError
from connectors import records as r
from connectors.powerschool.values import (
    CODE_CATEGORY,
    audience,
    aware,
    clock_time,
    code_category,
    date,
    enroll_status,
    flag,
    grade_level,
    integer,
    log_type,
    number,
    result_status,
    text,
)

Parse = Callable[[Any], Any]
# (record attribute, wire key path, its dotted name, parser, default when absent). A
# ``None`` path hands the whole row to the parser (fields derived from several columns).
FieldSpec = tuple[str, tuple[str, ...] | None, str, Parse, Any]
REQUIRED: Any = object()


def v1_items(body: Any, plural: str, singular: str) -> list[dict[str, Any]]:
    """Rows of a ``/ws/v1`` list body: ``{"students": {"student": [...] | {...}}}`` or ``""``."""
    block = body.get(plural) if isinstance(body, dict) else None
    if block in (None, ""):
        return []
    if not isinstance(block, dict):
        raise ValueError(plural)
    items = block.get(singular)
    if items in (None, ""):
        return []
    if isinstance(items, dict):
        return [items]
    if not isinstance(items, list):
        raise ValueError(singular)
    return items


def v1_count(body: Any) -> int:
    """``{"resource": {"count": "12"}}`` -> 12."""
    return int(body["resource"]["count"])


def schema_rows(body: Any, table: str) -> list[dict[str, Any]]:
    """Column dicts of a ``/ws/schema`` body: ``{"record": [{"tables": {table: {...}}}]}``."""
    rows = body.get("record") if isinstance(body, dict) else None
    if rows in (None, ""):
        return []
    if isinstance(rows, dict):  # tolerated although /ws/schema promises a list
        rows = [rows]
    out = []
    for row in rows:
        tables = row.get("tables") if isinstance(row, dict) else None
        cols = tables.get(table) if isinstance(tables, dict) else None
        out.append(cols if isinstance(cols, dict) else {})
    return out


def schema_count(body: Any) -> int:
    return int(body["count"])


# --- field tables per record kind -------------------------------------------------------


def _f(attr: str, key: str | None, parse: Parse = text, default: Any = REQUIRED) -> FieldSpec:
    return (attr, tuple(key.split(".")) if key else None, key or attr, parse, default)


def _opt(attr: str, key: str, parse: Parse = text) -> FieldSpec:
    return _f(attr, key, parse, default=None)


FIELDS: dict[str, tuple[type, tuple[FieldSpec, ...]]] = {
    "school": (r.School, (
        _f("source_id", "id"), _f("name", "name"), _f("timezone", "time_zone"),
        _f("year_start_date", "school_year.start_date", date),
        _f("year_end_date", "school_year.end_date", date),
    )),
    "student": (r.Student, (
        _f("source_id", "id"), _f("school_id", "school_enrollment.school_id"),
        _f("legal_first_name", "name.first_name"), _f("legal_last_name", "name.last_name"),
        _opt("preferred_first_name", "name.preferred_first_name"),
        _opt("preferred_last_name", "name.preferred_last_name"),
        _f("date_of_birth", "demographics.birth_date", date),
        _f("grade_level", "school_enrollment.grade_level", grade_level),
        _opt("homeroom", "schedule_setup.home_room"),
        _f("enrollment_status", "school_enrollment.enroll_status_code", enroll_status),
        _f("entry_date", "school_enrollment.entry_date", date),
        _opt("exit_date", "school_enrollment.exit_date", date),
        _opt("email", "contact_info.email"),
    )),
    "contact": (r.Contact, (
        _f("source_id", "id"), _f("first_name", "firstname"), _f("last_name", "lastname"),
        _opt("title", "title"), _opt("email", "email"), _opt("phone", "phone"),
    )),
    "link": (r.StudentContact, (
        _f("source_id", "id"), _f("student_id", "studentid"), _f("contact_id", "personid"),
        _f("relationship", "relationship"), _f("parental_responsibility", "iscustodial", flag),
        _f("portal_access", "canaccessportal", flag), _f("lives_with", "liveswithflg", flag),
        _f("court_order", "restrictedflg", flag), _f("priority", "contactpriorityorder", integer),
    )),
    "section": (r.Section, (
        _f("source_id", "id"), _f("school_id", "school_id"), _f("course_name", "course_name"),
        _f("course_code", "course_number"), _opt("teacher_name", "staff.display_name"),
        _opt("room", "room"), _opt("term", "term_abbreviation"),
    )),
    "enrollment": (r.Enrollment, (
        _f("source_id", "id"), _f("section_id", "sectionid"), _f("student_id", "studentid"),
        _opt("start_date", "dateenrolled", date), _opt("end_date", "dateleft", date),
    )),
    "timetable": (r.TimetableEntry, (
        _f("source_id", "id"), _f("section_id", "sectionid"), _opt("student_id", "studentid"),
        _f("day", "day", integer), _f("period", "period_number"),
        _f("start_time", "start_time", clock_time), _f("end_time", "end_time", clock_time),
        _f("week_pattern", "week_pattern"), _opt("start_date", "start_date", date),
        _opt("end_date", "end_date", date),
    )),
    "attendance": (r.AttendanceMark, (
        _f("source_id", "id"), _f("student_id", "studentid"), _f("date", "att_date", date),
        _f("session", "att_mode"), _f("source_code", "att_code", text, default=""),
        _f("category", "code_category", code_category), _opt("minutes_late", "minutes_late", integer),
        _f("recorded_at", "whencreated", aware),
    )),
    "assignment": (r.Assignment, (
        _f("source_id", "id"), _f("section_id", "sectionid"), _f("title", "name"),
        _opt("category", "category"), _opt("set_date", "assigneddate", date),
        _f("due_date", "duedate", date), _opt("points_possible", "totalpointvalue", number),
    )),
    "result": (r.AssignmentResult, (
        _f("source_id", "id"), _f("assignment_id", "assignmentsectionid"),
        _f("student_id", "studentid"), _opt("score", "scorepoints", number),
        _f("status", None, result_status), _opt("comment", "commentvalue"),
    )),
    "grade": (r.Grade, (
        _f("source_id", "id"), _f("student_id", "studentid"), _f("section_id", "sectionid"),
        _f("term", "finalgradename"), _opt("mark", "grade"), _opt("percent", "percent", number),
        _f("updated_at", "lastgradeupdate", aware),
    )),
    "behaviour": (r.BehaviourEvent, (
        _f("source_id", "id"), _f("student_id", "studentid"),
        _f("occurred_at", "entry_datetime", aware), _f("polarity", "logtype", log_type),
        _f("points", "points", integer), _f("category", "subtype"),
        _opt("description", "entry"), _opt("staff_name", "entry_author"),
    )),
    "notice": (r.Notice, (
        _f("source_id", "id"), _f("audience", "audience", audience),
        _opt("school_id", "schoolid"), _opt("year_group", "grade_level", grade_level),
        _opt("section_id", "sectionid"), _f("title", "title"), _f("body", "body"),
        _f("publish_from", "publish_from", aware), _opt("publish_to", "publish_to", aware),
    )),
    "report": (r.ProgressReport, (
        _f("source_id", "id"), _f("student_id", "studentid"), _f("title", "title"),
        _f("period", "period"), _f("issued_date", "issued_date", date), _opt("comments", "comments"),
    )),
}  # fmt: skip


_MISSING = object()


def _get(row: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = row
    for key in path:
        # An empty block arrives as "" rather than {}: treat it as absent.
        if not isinstance(value, dict):
            return _MISSING
        value = value.get(key, _MISSING)
    return value


# The spellings a source sends ("Present", "Not_Required"), looked up without lower().
_CATEGORY_EXACT = {
    **CODE_CATEGORY,
    **{k.capitalize(): v for k, v in CODE_CATEGORY.items()},
    **{k.title(): v for k, v in CODE_CATEGORY.items()},
}


def _attendance_fast(row: dict[str, Any]) -> r.AttendanceMark:
    """The bulk kind (a mark per student per day) skips the generic field loop."""
    late = row.get("minutes_late")
    code = row.get("att_code")
    at = dt.datetime.fromisoformat(row["whencreated"])
    offset = at.utcoffset()
    if offset is None or offset:
        raise ValueError("needs the generic path")
    return r.AttendanceMark(
        source_id=text(row["id"]),
        student_id=text(row["studentid"]),
        date=dt.date.fromisoformat(row["att_date"]),
        session=text(row["att_mode"]),
        source_code="" if code is None else text(code),
        category=_CATEGORY_EXACT[row["code_category"]],
        minutes_late=None if late is None or late == "" else int(late),
        recorded_at=at,
    )


def _result_fast(row: dict[str, Any]) -> r.AssignmentResult:
    """The other bulk kind: a result per student per assignment."""
    score = row.get("scorepoints")
    comment = row.get("commentvalue")
    if isinstance(score, bool):
        raise TypeError("needs the generic path")
    return r.AssignmentResult(
        source_id=text(row["id"]),
        assignment_id=text(row["assignmentsectionid"]),
        student_id=text(row["studentid"]),
        score=None if score is None or score == "" else float(score),
        status=result_status(row),
        comment=None if comment is None else text(comment),
    )


# Fast paths for bulk kinds; any surprise falls back to the generic, diagnosing path.
_FAST: dict[str, Callable[[dict[str, Any]], r.Record]] = {
    "attendance": _attendance_fast,
    "result": _result_fast,
}


def build(kind: str, row: dict[str, Any]) -> r.Record:
    """One canonical record from one wire row; RecordError names the field, not the value."""
    fast = _FAST.get(kind)
    if fast is not None:
        try:
            return fast(row)
        except (KeyError, ValueError, TypeError, AttributeError, OverflowError):
            pass
    return build_generic(kind, row)


def build_generic(kind: str, row: dict[str, Any]) -> r.Record:
    """The table-driven path every kind has; it names the offending field."""
    cls, fields = FIELDS[kind]
    kw: dict[str, Any] = {}
    for attr, path, key, parse, default in fields:
        if path is None:
            value: Any = row
        elif len(path) == 1:
            value = row.get(path[0], _MISSING)
        else:
            value = _get(row, path)
        if value is _MISSING or value is None or (value == "" and parse is not text):
            if default is REQUIRED:
                raise RecordError("required field is missing", field=key)
            kw[attr] = default
            continue
        try:
            kw[attr] = parse(value)
        except (ValueError, TypeError, KeyError, OverflowError):
            raise RecordError(f"value is not a valid {parse.__name__}", field=key) from None
    return cls(**kw)  # type: ignore[no-any-return]


def build_many(
    kind: str, rows: list[dict[str, Any]], stream: str, first: int
) -> tuple[list[r.Record], list[RecordError]]:
    """Records and set-aside rows for a page; ``first`` is the stream position of ``rows[0]``."""
    records: list[r.Record] = []
    rejected: list[RecordError] = []
    for n, row in enumerate(rows, start=first):
        try:
            if not isinstance(row, dict):
                raise RecordError("row is not an object")
            records.append(build(kind, row))
        except RecordError as exc:
            # The position is added here so the per-record fast path formats nothing.
            rejected.append(RecordError(exc.reason, where=f"stream {stream} record {n}", field=exc.field))
    return records, rejected
