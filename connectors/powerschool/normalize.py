"""PowerSchool rows to canonical records, each key turned into the namespace Portico keys by.

This module holds the structure (schools, students, contacts, sections, the timetable),
the helpers and the page loop; :mod:`connectors.powerschool.normalize_work` the
day-to-day records.

A mapper takes one row (a dict of columns, or a PowerQuery row keyed by its labels) and
the run's :class:`Context` (identity maps, code tables, the district's zone). A row that
cannot be mapped raises :class:`~config.errors.RecordError` naming the field (never its
value); a key that names no record, or two, is set aside the same way
(:class:`~connectors.powerschool.ids.Unresolved`).

Record ids: students, schools and sections by DCID; enrolments, attendance marks and log
entries by their table's DCID; assignments by ``ASSIGNMENTSECTIONID``, results by
``ASSIGNMENTSCOREID``; grades by table and DCID (``storedgrades:<dcid>``,
``pgfinalgrades:<dcid>``: the two tables number their rows independently); contacts by
``PERSON.ID``, links by ``STUDENTCONTACTASSOCID``; a lesson by section, cycle day and
period (``SECTION_MEETING`` has no id every server exposes).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from config.errors import RecordError
from connectors import records as r
from connectors.powerschool.ids import SchoolIds, SectionIds, StudentIds, Unresolved
from connectors.powerschool.values import (
    LocalTimes,
    date,
    enroll_status,
    flag,
    grade_level,
    ident,
    integer,
    text,
)

Row = dict[str, Any]


@dataclass
class Lesson:
    """Where a school's cycle day falls in the week, and its bell schedule."""

    day: int  # ISO weekday
    week: str  # "every", "A" or "B"
    bell_schedule: str


@dataclass
class Context:
    """What rows are joined with during one run (filled lazily by the connector)."""

    times: LocalTimes
    zone: str
    schools: SchoolIds = field(default_factory=SchoolIds)
    students: StudentIds = field(default_factory=StudentIds)
    sections: SectionIds = field(default_factory=SectionIds)
    years: dict[str, tuple[dt.date, dt.date]] = field(default_factory=dict)  # school number -> year
    terms: dict[tuple[str, str], tuple[str, dt.date, dt.date]] = field(default_factory=dict)
    courses: dict[str, str] = field(default_factory=dict)
    teachers: dict[str, str] = field(default_factory=dict)  # SCHOOLSTAFF.ID -> display name
    student_emails: dict[str, str] = field(default_factory=dict)
    # ATTENDANCE_CODE.ID -> (code, category); PERIOD.ID -> abbreviation
    codes: dict[str, tuple[str, r.AttendanceCategory]] = field(default_factory=dict)
    periods: dict[str, str] = field(default_factory=dict)
    period_by_number: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    cycle: dict[tuple[str, str], Lesson | str] = field(default_factory=dict)  # str: why not weekly
    bells: dict[tuple[str, str], tuple[dt.time, dt.time]] = field(default_factory=dict)
    log_types: dict[str, tuple[str, r.Polarity]] = field(default_factory=dict)
    unpublished: set[str] = field(default_factory=set)


def req(row: Row, key: str) -> Any:
    value = row.get(key)
    if value is None or value == "":
        raise RecordError("required field is missing", field=key)
    return value


def opt(row: Row, key: str, parse: Callable[[Any], Any] = text) -> Any:
    value = row.get(key)
    if value is None or value == "":
        return None
    try:
        return parse(value)
    except (TypeError, ValueError, OverflowError):
        raise RecordError(f"value is not a valid {parse.__name__}", field=key) from None


def get(row: Row, key: str, parse: Callable[[Any], Any] = text) -> Any:
    value = req(row, key)
    try:
        return parse(value)
    except (TypeError, ValueError, OverflowError):
        raise RecordError(f"value is not a valid {parse.__name__}", field=key) from None


def stamp(row: Row, key: str, ctx: Context, fallback: dt.date | None) -> dt.datetime:
    """An offset-less server timestamp in the district's zone, or midnight of ``fallback``."""
    value = row.get(key)
    if value not in (None, ""):
        try:
            return ctx.times(value)
        except (TypeError, ValueError):
            raise RecordError("value is not a valid timestamp", field=key) from None
    if fallback is None:
        raise RecordError("required field is missing", field=key)
    return ctx.times.midnight(fallback)


# --- the structure -----------------------------------------------------------------------------


def school(row: Row, ctx: Context) -> r.School:
    number = get(row, "school_number", ident)
    year = ctx.years.get(number)
    if year is None:
        raise RecordError("no year term (TERMS.ISYEARREC = 1) for this school", field="school_number")
    return r.School(
        source_id=get(row, "id", ident),
        name=get(row, "name"),
        timezone=ctx.zone,
        year_start_date=year[0],
        year_end_date=year[1],
    )


def student(row: Row, ctx: Context) -> r.Student:
    dcid = get(row, "dcid", ident)
    return r.Student(
        source_id=dcid,
        school_id=ctx.schools.dcid(row.get("schoolid")),
        legal_first_name=get(row, "first_name"),
        legal_last_name=get(row, "last_name"),
        preferred_first_name=None,
        preferred_last_name=None,
        date_of_birth=opt(row, "dob", date),
        grade_level=get(row, "grade_level", grade_level),
        homeroom=opt(row, "home_room"),
        enrollment_status=get(row, "enroll_status", enroll_status),
        entry_date=opt(row, "entrydate", date),
        exit_date=opt(row, "exitdate", date),
        email=ctx.student_emails.get(dcid),
    )


def contact(row: Row, ctx: Context) -> r.Contact:
    return r.Contact(
        source_id=get(row, "person_id", ident),
        first_name=get(row, "contact_first_name"),
        last_name=get(row, "contact_last_name"),
        title=None,
        email=opt(row, "contact_email"),
        phone=opt(row, "contact_phonenumber"),
    )


def link(row: Row, ctx: Context) -> r.StudentContact:
    active = opt(row, "person_isactive", flag)
    return r.StudentContact(
        source_id=get(row, "studentcontactassocid", ident),
        student_id=ctx.students.from_dcid(row.get("student_dcid"), "student_dcid"),
        contact_id=get(row, "person_id", ident),
        relationship=opt(row, "relationship") or "Contact",
        parental_responsibility=bool(opt(row, "iscustodial", flag)),
        # PowerSchool's own rule: an active contact with Data Access to the student
        # (a GUARDIANSTUDENT row for the contact's web account). It has no court-order
        # column: a district withdraws a parent's access by turning Data Access off.
        portal_access=bool(opt(row, "has_data_access", flag)) and active is not False,
        lives_with=bool(opt(row, "liveswithflg", flag)),
        court_order=None,  # PowerSchool has no such column
        priority=opt(row, "contactpriorityorder", integer),
    )


_LEGACY = (("mother", "Mother"), ("father", "Father"))


def _legacy_people(row: Row) -> list[tuple[str, str, str, str | None]]:
    """(role, relationship, "Last, First" name, email) of each parent named on the row.

    ``GUARDIANEMAIL`` may hold several addresses: the first goes to the first parent
    named, the second to the second; a parent beyond the addresses has none.
    """
    raw = opt(row, "guardianemail") or ""
    emails = [e.strip() for e in raw.replace(";", ",").split(",") if e.strip()]
    out: list[tuple[str, str, str, str | None]] = []
    for role, relationship in _LEGACY:
        name = opt(row, role)
        if name and name.strip(" ,"):
            out.append((role, relationship, name, emails[len(out)] if len(out) < len(emails) else None))
    return out


def _split_name(value: str) -> tuple[str, str]:
    last, sep, first = value.partition(",")
    return (first.strip(), last.strip()) if sep else ("", value.strip())


def legacy_contacts(row: Row, ctx: Context) -> list[r.Record]:
    dcid = get(row, "dcid", ident)  # the student's own row
    out: list[r.Record] = []
    for role, _, name, email in _legacy_people(row):
        first, last = _split_name(name)
        out.append(
            r.Contact(
                source_id=f"{dcid}-{role}",
                first_name=first,
                last_name=last,
                title=None,
                email=email,
                phone=opt(row, "home_phone"),
            )
        )
    return out


def legacy_links(row: Row, ctx: Context) -> list[r.Record]:
    dcid = get(row, "dcid", ident)
    web = bool(opt(row, "allowwebaccess", flag))
    return [
        r.StudentContact(
            source_id=f"{dcid}-{role}",
            student_id=dcid,
            contact_id=f"{dcid}-{role}",
            relationship=relationship,
            # A parent named on the student record is taken to hold parental
            # responsibility; the old layout has no custody, lives-with or court-order flag.
            parental_responsibility=True,
            portal_access=web and email is not None,
            lives_with=None,  # the old layout has neither flag
            court_order=None,
            priority=n,
        )
        for n, (role, relationship, _, email) in enumerate(_legacy_people(row), start=1)
    ]


def section(row: Row, ctx: Context) -> r.Section:
    dcid = get(row, "dcid", ident)
    number = get(row, "course_number")
    name = ctx.courses.get(number)
    if name is None:
        raise RecordError("course_number matches no COURSES.COURSE_NUMBER", field="course_number")
    school_number = get(row, "schoolid", ident)
    term = ctx.terms.get((school_number, opt(row, "termid", ident) or ""))
    return r.Section(
        source_id=dcid,
        school_id=ctx.schools.dcid(school_number),
        course_name=name,
        course_code=number,
        teacher_name=ctx.teachers.get(opt(row, "teacher", ident) or ""),
        room=opt(row, "room"),
        term=term[0] if term else None,
    )


def enrollment(row: Row, ctx: Context) -> r.Enrollment:
    return r.Enrollment(
        source_id=get(row, "dcid", ident),
        section_id=ctx.sections.from_id(row.get("sectionid")),
        student_id=ctx.students.from_id(row.get("studentid")),
        start_date=opt(row, "dateenrolled", date),
        end_date=opt(row, "dateleft", date),
    )


def timetable(row: Row, ctx: Context) -> r.TimetableEntry:
    section_id = ctx.sections.from_id(row.get("sectionid"))
    school = get(row, "schoolid", ident)
    letter = get(row, "cycle_day_letter")
    number = get(row, "period_number", ident)
    lesson = ctx.cycle.get((school, letter))
    if lesson is None:
        raise RecordError(
            "cycle_day_letter matches no CYCLE_DAY of the school's calendar", field="cycle_day_letter"
        )
    if isinstance(lesson, str):
        raise RecordError(lesson, field="cycle_day_letter")
    period = ctx.period_by_number.get((school, number))
    if period is None:
        raise RecordError("period_number matches no PERIOD of the school", field="period_number")
    period_id, label = period
    times = ctx.bells.get((lesson.bell_schedule, period_id))
    if times is None:
        raise RecordError("no BELL_SCHEDULE_ITEMS row for this period and cycle day", field="period_number")
    school_number, term_id = ctx.sections.info.get(section_id, ("", ""))
    term = ctx.terms.get((school_number, term_id))
    return r.TimetableEntry(
        source_id=f"{section_id}-{letter}-{number}",
        section_id=section_id,
        student_id=None,
        day=lesson.day,
        period=label,
        start_time=times[0],
        end_time=times[1],
        week_pattern=lesson.week,
        start_date=term[1] if term else None,
        end_date=term[2] if term else None,
    )


# --- a page at a time ---------------------------------------------------------------------------------

Mapper = Callable[[Row, Context], "r.Record | list[r.Record]"]


@dataclass
class Built:
    records: list[r.Record] = field(default_factory=list)
    rejected: list[RecordError] = field(default_factory=list)
    unresolved: int = 0  # rows set aside because a key named no record


def build_many(
    mapper: Mapper,
    rows: list[Row],
    ctx: Context,
    stream: str,
    first: int,
    fast: Callable[[Row, Context], r.Record] | None = None,
) -> Built:
    """Records and set-aside rows of a page; ``first`` is the stream position of ``rows[0]``."""
    out = Built()
    records, rejected = out.records, out.rejected
    for n, row in enumerate(rows, start=first):
        if fast is not None:
            try:
                records.append(fast(row, ctx))
                continue
            except (KeyError, ValueError, TypeError, AttributeError, OverflowError):
                pass
        try:
            if not isinstance(row, dict):
                raise RecordError("row is not an object")
            built = mapper(row, ctx)
        except Unresolved as exc:
            out.unresolved += 1
            rejected.append(RecordError(exc.reason, where=f"stream {stream} record {n}", field=exc.field))
        except RecordError as exc:
            rejected.append(RecordError(exc.reason, where=f"stream {stream} record {n}", field=exc.field))
        else:
            if isinstance(built, list):
                records.extend(built)
            else:
                records.append(built)
    return out
