"""Rows of the roster files (students, contacts, classes, members, timetable) to canonical
records (attendance, the hot path, is in attendance.py).

A converter is built once per file from the header's column positions, then called
per row; it returns a record, a tuple of records, or None (a row that is not a
record, such as an unmarked register), and raises ``BadCell`` for a bad row. Rows
arrive padded with one trailing ``""`` and an optional column missing from the
header points at that sentinel, so converters never branch on absent columns.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from connectors.cloudschool.options import Options
from connectors.cloudschool.values import (
    BadCell,
    DateParser,
    DateTimeParser,
    Flags,
    opt,
    parse_int,
    parse_time,
)
from connectors.records import (
    Contact,
    Enrollment,
    EnrollmentStatus,
    Record,
    School,
    Section,
    Student,
    StudentContact,
    TimetableEntry,
)
from connectors.rules import FLAGS_RULE, Policy

Converted = Record | tuple[Record, ...] | None
Converter = Callable[[list[str]], Converted]
Index = Callable[[str], int]  # preset column -> position (the sentinel when absent)


@dataclass
class Ctx:
    """Per-read parsing context built from the options."""

    options: Options
    today: dt.date
    date: DateParser
    datetime: DateTimeParser
    flags: Flags
    policy: Policy = FLAGS_RULE  # the district's access rule (options.access)

    @classmethod
    def build(cls, options: Options, today: dt.date) -> Ctx:
        return cls(
            options,
            today,
            DateParser(options.date_format),
            DateTimeParser(options.datetime_format, options.date_format, options.timezone),
            Flags(options.flag_true, options.flag_false),
            options.policy(),
        )

    @property
    def school_id(self) -> str:
        return self.options.school_id

    def opt_date(self, cell: str, field: str) -> dt.date | None:
        return self.date(cell, field) if cell.strip() else None


def need(cell: str, field: str) -> str:
    s = cell.strip()
    if not s:
        raise BadCell(field, "blank")
    return s


def school(options: Options, today: dt.date) -> School:
    """The one school of a per-school export, from the options (UK year: 1 Sep to 31 Aug)."""
    first = dt.date(today.year if today.month >= 9 else today.year - 1, 9, 1)
    return School(
        source_id=options.school_id,
        name=options.school_name,
        timezone=options.timezone,
        year_start_date=options.year_start_date or first,
        year_end_date=options.year_end_date or dt.date(first.year + 1, 8, 31),
    )


def students(ix: Index, ctx: Ctx) -> Converter:
    i_id, i_first, i_last, i_pref = (
        ix("StudentID"),
        ix("LegalForename"),
        ix("LegalSurname"),
        ix("PreferredForename"),
    )
    i_dob, i_year, i_reg, i_adm, i_leave = (
        ix("DOB"),
        ix("Year"),
        ix("Reg"),
        ix("AdmissionDate"),
        ix("LeavingDate"),
    )
    today = ctx.today

    def convert(row: list[str]) -> Student:
        entry = ctx.opt_date(row[i_adm], "AdmissionDate")
        exit_date = ctx.opt_date(row[i_leave], "LeavingDate")
        # The leaving date is the last day on roll, so a student leaving today is still on roll.
        if exit_date is not None and exit_date < today:
            status = EnrollmentStatus.TRANSFERRED
        elif entry is not None and entry > today:
            status = EnrollmentStatus.PRE_REGISTERED
        else:
            status = EnrollmentStatus.ACTIVE
        return Student(
            source_id=need(row[i_id], "StudentID"),
            school_id=ctx.school_id,
            legal_first_name=need(row[i_first], "LegalForename"),
            legal_last_name=need(row[i_last], "LegalSurname"),
            preferred_first_name=opt(row[i_pref]),
            preferred_last_name=None,
            date_of_birth=ctx.date(row[i_dob], "DOB"),
            grade_level=need(row[i_year], "Year"),
            homeroom=opt(row[i_reg]),
            enrollment_status=status,
            entry_date=entry,
            exit_date=exit_date,
        )

    return convert


def contacts(ix: Index, ctx: Ctx) -> Converter:
    """One row per student-contact pair: the contact (deduplicated later) and the link."""
    i_sid, i_cid, i_title, i_first, i_last = (
        ix(c) for c in ("StudentID", "ContactID", "Title", "ContactForename", "ContactSurname")
    )
    i_rel, i_prio, i_pr, i_lives = (
        ix("Relationship"),
        ix("Priority"),
        ix("ParentalResponsibility"),
        ix("LivesWith"),
    )
    i_court, i_portal, i_email, i_phone = (
        ix("CourtOrder"),
        ix("PortalAccess"),
        ix("PrimaryEmail"),
        ix("MobileNumber"),
    )
    flag, policy = ctx.flags, ctx.policy

    def convert(row: list[str]) -> tuple[Contact, StudentContact]:
        sid, cid = need(row[i_sid], "StudentID"), need(row[i_cid], "ContactID")
        prio = row[i_prio].strip()
        contact = Contact(
            source_id=cid,
            first_name=need(row[i_first], "ContactForename"),
            last_name=need(row[i_last], "ContactSurname"),
            title=opt(row[i_title]),
            email=opt(row[i_email]),
            phone=opt(row[i_phone]),
        )
        # Access-deciding flags are never guessed: a blank one sets the row aside.
        attrs: dict[str, str | int | bool | None] = {
            "relationship": row[i_rel].strip(),
            "parental_responsibility": flag(row[i_pr], "ParentalResponsibility"),
            "portal_access": flag(row[i_portal], "PortalAccess"),
            "lives_with": flag(row[i_lives], "LivesWith", blank=False),
            "court_order": flag(row[i_court], "CourtOrder"),
            "priority": parse_int(prio, "Priority", minimum=0) if prio else 1,
        }
        return contact, link_of(sid, cid, attrs, policy)

    return convert


def link_of(sid: str, cid: str, attrs: dict[str, str | int | bool | None], policy: Policy) -> StudentContact:
    """A student-contact link with the district's access rule applied to what the source says."""
    decision = policy.decide({k: v for k, v in attrs.items() if v != ""})

    def flag(name: str) -> bool | None:
        v = attrs.get(name)
        return v if isinstance(v, bool) else None

    prio = attrs.get("priority")
    return StudentContact(
        source_id=f"{sid}-{cid}",
        student_id=sid,
        contact_id=cid,
        relationship=str(attrs.get("relationship") or ""),
        parental_responsibility=flag("parental_responsibility"),
        portal_access=flag("portal_access"),
        lives_with=flag("lives_with"),
        court_order=flag("court_order"),
        priority=prio if isinstance(prio, int) and not isinstance(prio, bool) else None,
        entitled=decision.granted,
        access_rule=decision.rule,
    )


def classes(ix: Index, ctx: Ctx) -> Converter:
    i_id, i_subject, i_teacher, i_room = ix("ClassID"), ix("Subject"), ix("TeacherName"), ix("Room")

    def convert(row: list[str]) -> Section:
        cid = need(row[i_id], "ClassID")
        # The preset has no course code; a class id ("7MA1") is what UK timetables show.
        return Section(
            source_id=cid,
            school_id=ctx.school_id,
            course_name=need(row[i_subject], "Subject"),
            course_code=cid,
            teacher_name=opt(row[i_teacher]),
            room=opt(row[i_room]),
            term=None,
        )

    return convert


def class_members(ix: Index, ctx: Ctx) -> Converter:
    i_class, i_sid, i_start, i_end = ix("ClassID"), ix("StudentID"), ix("StartDate"), ix("EndDate")

    def convert(row: list[str]) -> Enrollment:
        cid, sid = need(row[i_class], "ClassID"), need(row[i_sid], "StudentID")
        return Enrollment(
            source_id=f"{sid}-{cid}",
            section_id=cid,
            student_id=sid,
            start_date=ctx.opt_date(row[i_start], "StartDate"),
            end_date=ctx.opt_date(row[i_end], "EndDate"),
        )

    return convert


_DAYS = {name: n for n, name in enumerate(("mon", "tue", "wed", "thu", "fri", "sat", "sun"), 1)}
_EVERY = {"", "every", "weekly", "all", "ab", "a/b"}


def _day(cell: str) -> int:
    s = cell.strip().casefold()
    if s.isascii() and s.isdigit() and 1 <= int(s) <= 7:
        return int(s)
    day = _DAYS.get(s[:3]) if len(s) >= 3 else None
    if day is None:
        raise BadCell("Day", "not a weekday (1-7 or Mon..Sun)")
    return day


def _week(cell: str) -> str:
    s = cell.strip().casefold().removeprefix("week").strip()
    if s in _EVERY:
        return "every"
    if len(s) == 1 and s.isalpha():
        return s.upper()
    raise BadCell("WeekPattern", "not a week letter (A/B) or blank for every week")


def timetable(ix: Index, ctx: Ctx) -> Converter:
    i_class, i_day, i_period = ix("ClassID"), ix("Day"), ix("Period")
    i_start, i_end, i_week = ix("StartTime"), ix("EndTime"), ix("WeekPattern")

    def convert(row: list[str]) -> TimetableEntry:
        cid, day, period, week = (
            need(row[i_class], "ClassID"),
            _day(row[i_day]),
            need(row[i_period], "Period"),
            _week(row[i_week]),
        )
        start, end = parse_time(row[i_start], "StartTime"), parse_time(row[i_end], "EndTime")
        if end <= start:
            raise BadCell("EndTime", "not after StartTime")
        return TimetableEntry(
            source_id=f"{cid}-{week}-{day}-{period}",
            section_id=cid,
            student_id=None,
            day=day,
            period=period,
            start_time=start,
            end_time=end,
            week_pattern=week,
            start_date=None,
            end_date=None,
        )

    return convert
