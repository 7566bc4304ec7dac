"""A clean export of a synthetic uk school read back gives the district's own records."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from connectors import records as rec
from simulators.cloudschool.rows import accented, is_accented
from tests.support.cloudschool import connector, district, export, read_all, school_id

LONDON = ZoneInfo("Europe/London")


def _local_day(at: dt.datetime) -> dt.date:
    return at.astimezone(LONDON).date()


def _project(r: Any) -> Any:
    """The part of a record a Cloud School export carries (the preset has no column for the rest)."""
    if isinstance(r, rec.Student):
        return dataclasses.replace(r, email=None)
    if isinstance(r, rec.Section):
        return dataclasses.replace(r, course_code="", term=None)
    if isinstance(r, rec.TimetableEntry):
        return (r.section_id, r.day, r.period, r.start_time, r.end_time, r.week_pattern)
    if isinstance(r, rec.AttendanceMark):  # the code's meaning comes from the code table
        return dataclasses.replace(r, recorded_at=None, meaning=None, note=None)
    if isinstance(r, rec.StudentContact):  # the decision of the access rule, not a column
        return dataclasses.replace(r, entitled=None, access_rule=None)
    if isinstance(r, rec.Assignment):
        return dataclasses.replace(r, category=None)
    if isinstance(r, rec.Grade):
        return dataclasses.replace(r, updated_at=_local_day(r.updated_at))
    if isinstance(r, rec.BehaviourEvent):
        if r.polarity is rec.Polarity.ACHIEVEMENT:  # awards carry a date only
            return (r.source_id.removeprefix("award-"), r.student_id, _local_day(r.occurred_at), r.points,
                    r.category, r.description, r.staff_name)  # fmt: skip
        return dataclasses.replace(r, source_id=r.source_id.removeprefix("incident-"))
    return r


def _as_exported(r: Any) -> Any:
    """The writer accents some names so that encodings are exercised."""
    if isinstance(r, rec.Student) and is_accented(r.source_id):
        return dataclasses.replace(r, legal_first_name=accented(r.legal_first_name))
    return r


def _selector() -> Any:
    """Which district records belong to the exported school (a Cloud School export is per school)."""
    d, sid = district(), school_id()
    students = {s.source_id for s in d.iter("student") if s.school_id == sid}
    sections = {s.source_id for s in d.iter("section") if s.school_id == sid}
    contacts = {link.contact_id for link in d.iter("link") if link.student_id in students}
    assignments = {a.source_id for a in d.iter("assignment") if a.section_id in sections}

    def mine(kind: str, r: Any) -> bool:
        if kind == "school":
            return r.source_id == sid
        if kind == "contact":
            return r.source_id in contacts
        if kind == "student":
            return r.source_id in students
        if kind in ("section", "timetable", "assignment", "enrollment"):
            return r.section_id in sections if kind != "section" else r.school_id == sid
        if kind == "result":
            return r.assignment_id in assignments
        if kind == "notice":
            if r.audience is rec.Audience.SECTION:
                return r.section_id in sections
            return r.audience is rec.Audience.DISTRICT or r.school_id == sid
        return r.student_id in students

    return mine


def test_a_clean_export_reads_back_as_the_districts_records(tmp_path: Path) -> None:
    export(tmp_path / "export")
    got, rejected = read_all(connector(tmp_path / "export"))
    assert rejected == []
    d, belongs = district(), _selector()
    for kind in d.kinds():
        want = sorted(map(repr, (_project(_as_exported(r)) for r in d.iter(kind) if belongs(kind, r))))
        mine = sorted(map(repr, (_project(r) for r in got.get(kind, []))))
        assert mine == want, kind
        assert mine, kind
