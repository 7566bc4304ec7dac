"""Rows of a Cloud-School-like export (the preset layout) for one school of a synthetic district.

One function per file yields the data rows as lists of strings, in the preset's
column order. Dates are written DD/MM/YYYY and date-times DD/MM/YYYY HH:MM in the
school's time zone, flags Y/N, ids exactly as the district has them (leading zeros).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from zoneinfo import ZoneInfo

from connectors import records as rec
from simulators.district.synthetic import SyntheticDistrict

Rows = Iterator[list[str]]

# Some names carry accents so that encodings are exercised (all are in Windows-1252).
_ACCENTS = str.maketrans({"e": "é", "o": "ö", "a": "à", "u": "ü", "i": "ï"})


def accented(name: str) -> str:
    """The name as the export writes it for accented students (first vowel accented)."""
    for i, ch in enumerate(name):
        if ch in "eoaui":
            return name[:i] + ch.translate(_ACCENTS) + name[i + 1 :]
    return name


def is_accented(student_id: str) -> bool:
    return student_id.endswith("7")


def _d(day: dt.date | None) -> str:
    return "" if day is None else f"{day.day:02d}/{day.month:02d}/{day.year:04d}"


def _yn(flag: bool) -> str:
    return "Y" if flag else "N"


def _num(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if value == int(value) else repr(value)


class SchoolRows:
    """Rows of every preset file for ``school_id`` (default: the district's first school)."""

    def __init__(self, district: SyntheticDistrict, school_id: str | None = None) -> None:
        self.d = district
        self.school = next(s for s in district.iter("school") if school_id in (None, s.source_id))
        assert isinstance(self.school, rec.School)
        self.zone = ZoneInfo(self.school.timezone)
        sid = self.school.source_id
        self.students = [
            s for s in district.iter("student") if isinstance(s, rec.Student) and s.school_id == sid
        ]
        self.student_ids = {s.source_id for s in self.students}
        self.sections = [
            s for s in district.iter("section") if isinstance(s, rec.Section) and s.school_id == sid
        ]
        self.section_ids = {s.source_id for s in self.sections}
        self.assignment_ids: set[str] = set()

    def _dt(self, at: dt.datetime | None) -> str:
        if at is None:
            return ""
        local = at.astimezone(self.zone)
        return f"{_d(local.date())} {local.hour:02d}:{local.minute:02d}"

    def files(self) -> dict[str, Callable[[], Rows]]:
        """Entity -> rows function, in the preset's file order."""
        return {
            "students": self.students_rows,
            "contacts": self.contacts_rows,
            "classes": self.classes_rows,
            "class_members": self.class_members_rows,
            "timetable": self.timetable_rows,
            "attendance": self.attendance_rows,
            "assignments": self.assignments_rows,
            "assignment_results": self.results_rows,
            "assessments": self.assessments_rows,
            "behaviour": self.behaviour_rows,
            "achievements": self.achievements_rows,
            "notices": self.notices_rows,
            "progress_reports": self.reports_rows,
        }

    def students_rows(self) -> Rows:
        for s in self.students:
            first = accented(s.legal_first_name) if is_accented(s.source_id) else s.legal_first_name
            yield [
                s.source_id, f"A{int(s.source_id):011d}" if s.source_id.isdigit() else "", first,
                s.legal_last_name, s.preferred_first_name or "", _d(s.date_of_birth), "",
                s.grade_level, s.homeroom or "", "", _d(s.entry_date), _d(s.exit_date),
            ]  # fmt: skip

    def contacts_rows(self) -> Rows:
        contacts = {c.source_id: c for c in self.d.iter("contact") if isinstance(c, rec.Contact)}
        for link in self.d.iter("link"):
            assert isinstance(link, rec.StudentContact)
            if link.student_id not in self.student_ids:
                continue
            c = contacts[link.contact_id]
            yield [
                link.student_id, c.source_id, c.title or "", c.first_name, c.last_name, link.relationship,
                str(link.priority), _yn(bool(link.parental_responsibility)), _yn(bool(link.lives_with)),
                _yn(bool(link.court_order)), _yn(bool(link.portal_access)), c.email or "", c.phone or "",
            ]  # fmt: skip

    def classes_rows(self) -> Rows:
        for s in self.sections:
            teacher = s.teacher_name or ""
            code = "".join(w[0] for w in teacher.split()[1:])[:3].upper() if teacher else ""
            yield [s.source_id, s.course_name, code, teacher, s.room or ""]

    def class_members_rows(self) -> Rows:
        for e in self.d.iter("enrollment"):
            assert isinstance(e, rec.Enrollment)
            if e.section_id in self.section_ids:
                yield [e.section_id, e.student_id, _d(e.start_date), _d(e.end_date)]

    def timetable_rows(self) -> Rows:
        for t in self.d.iter("timetable"):
            assert isinstance(t, rec.TimetableEntry)
            if t.section_id in self.section_ids:
                week = "" if t.week_pattern == "every" else t.week_pattern
                yield [t.section_id, str(t.day), t.period, t.start_time.strftime("%H:%M"),
                       t.end_time.strftime("%H:%M"), week]  # fmt: skip

    def attendance_rows(self) -> Rows:
        dates: dict[dt.date, str] = {}
        ids = self.student_ids
        for m in self.d.iter("attendance"):
            assert isinstance(m, rec.AttendanceMark)
            if m.student_id not in ids:
                continue
            day = dates.get(m.date) or dates.setdefault(m.date, _d(m.date))
            late = "" if m.minutes_late is None else str(m.minutes_late)
            yield [m.student_id, day, m.session, m.source_code, late]

    def assignments_rows(self) -> Rows:
        for a in self.d.iter("assignment"):
            assert isinstance(a, rec.Assignment)
            if a.section_id in self.section_ids:
                self.assignment_ids.add(a.source_id)
                yield [
                    a.source_id,
                    a.section_id,
                    a.title,
                    _d(a.set_date),
                    _d(a.due_date),
                    _num(a.points_possible),
                ]

    def results_rows(self) -> Rows:
        if not self.assignment_ids:
            for _ in self.assignments_rows():
                pass
        statuses = {rec.ResultStatus.NONE: ""}
        for r in self.d.iter("result"):
            assert isinstance(r, rec.AssignmentResult)
            if r.assignment_id in self.assignment_ids:
                status = statuses.get(r.status, r.status.value.capitalize())
                yield [r.assignment_id, r.student_id, _num(r.score), status, r.comment or ""]

    def assessments_rows(self) -> Rows:
        for g in self.d.iter("grade"):
            assert isinstance(g, rec.Grade)
            if g.section_id in self.section_ids:
                day = _d(g.updated_at.astimezone(self.zone).date())
                if g.mark is not None:
                    yield [g.student_id, g.section_id, g.term, "Grade", g.mark, day]
                if g.percent is not None:
                    yield [g.student_id, g.section_id, g.term, "Percentage", _num(g.percent), day]

    def _events(self, polarity: rec.Polarity) -> Iterator[rec.BehaviourEvent]:
        for b in self.d.iter("behaviour"):
            assert isinstance(b, rec.BehaviourEvent)
            if b.polarity is polarity and b.student_id in self.student_ids:
                yield b

    def behaviour_rows(self) -> Rows:
        for b in self._events(rec.Polarity.BEHAVIOUR):
            yield [b.source_id, b.student_id, self._dt(b.occurred_at), b.category, "Negative", str(b.points),
                   b.category, b.description or "", b.staff_name or ""]  # fmt: skip

    def achievements_rows(self) -> Rows:
        for b in self._events(rec.Polarity.ACHIEVEMENT):
            day = _d(b.occurred_at.astimezone(self.zone).date())
            yield [
                b.source_id,
                b.student_id,
                day,
                b.category,
                str(b.points),
                b.description or "",
                b.staff_name or "",
            ]

    def notices_rows(self) -> Rows:
        sid = self.school.source_id
        for n in self.d.iter("notice"):
            assert isinstance(n, rec.Notice)
            if n.audience is rec.Audience.DISTRICT:
                kind, target = "District", ""
            elif n.audience is rec.Audience.SCHOOL and n.school_id == sid:
                kind, target = "School", sid
            elif n.audience is rec.Audience.YEAR and n.school_id == sid:
                kind, target = "Year", n.year_group or ""
            elif n.audience is rec.Audience.SECTION and n.section_id in self.section_ids:
                kind, target = "Class", n.section_id or ""
            else:
                continue
            yield [
                n.source_id,
                kind,
                target,
                n.title,
                n.body,
                self._dt(n.publish_from),
                self._dt(n.publish_to),
            ]

    def reports_rows(self) -> Rows:
        for r in self.d.iter("report"):
            assert isinstance(r, rec.ProgressReport)
            if r.student_id in self.student_ids:
                yield [r.source_id, r.student_id, r.title, r.period, _d(r.issued_date), r.comments or ""]
