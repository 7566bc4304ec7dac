"""The synthetic district as a PowerSchool server holds it: real tables, real namespaces.

:class:`PowerSchoolModel` gives every record the numbers a PowerSchool database would:

* a student's ``STUDENTS.DCID`` is the district's id, but its ``STUDENTS.ID`` is the
  DCID of the *next* student (so every child's ID names another child in the other
  namespace), and its ``STUDENT_NUMBER`` a third number;
* a school's ``SCHOOL_NUMBER`` is the DCID of the next school; a section's ``ID`` the
  DCID of the next section; a dropped enrolment's ``CC.SECTIONID`` and ``TERMID`` are
  negative; ``STOREDGRADES`` and ``PGFINALGRADES`` number their rows from the same base.

Its ``iter(kind, ...)`` yields canonical records keyed as a correct reader of the
server keys them (the source ids in PowerSchool's namespaces, and only what PowerSchool
can carry: no minutes late, no assignment categories, no court-order flag ...), so a test
can compare a connector's output with them. Fields a server stamps at write time
(``recorded_at`` of a mark, ``updated_at`` of a grade) come from the row's
``transaction_date``: :meth:`stamped` applies it.

The row functions (``row(table, record, txn)``) turn those records into table rows with
every column a server has, values as strings, null columns left out, timestamps in the
district's local time without an offset.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from connectors import records as r
from simulators.district.calendar import PERIODS, terms
from simulators.district.synthetic import SyntheticDistrict

LETTERS = "ABCDE"  # a five-day cycle: A is Monday
GRADE_NUMBERS = {"K": 0, "PK": -1, "PK3": -2}
STATUS_CODES = {
    r.EnrollmentStatus.PRE_REGISTERED: -1,
    r.EnrollmentStatus.ACTIVE: 0,
    r.EnrollmentStatus.INACTIVE: 1,
    r.EnrollmentStatus.TRANSFERRED: 2,
    r.EnrollmentStatus.GRADUATED: 3,
}
# ATTENDANCE_CODE rows of every school: (att_code, description, presence_status_cd).
CODES = (("", "Present (no code)", "Present"), ("P", "Present", "Present"), ("T", "Tardy", "Present"),
         ("E", "Absent - Excused", "Absent"), ("A", "Absent - Unexcused", "Absent"))  # fmt: skip
# The mapping a district writes for these codes (connector option attendance_codes).
ATTENDANCE_CODES = {"T": "late", "E": "authorised_absence", "A": "unauthorised_absence"}
# Log types (GEN, cat = logtype): the district reads the first two as behaviour.
LOG_TYPES = {"Merit": r.Polarity.ACHIEVEMENT, "Discipline": r.Polarity.BEHAVIOUR}
LOG_TYPE_IDS = {"Merit": "3101", "Discipline": "3102", "Health Office": "3103"}
POLARITY_TYPE = {r.Polarity.ACHIEVEMENT: "Merit", r.Polarity.BEHAVIOUR: "Discipline"}
# What a district whose server this is writes in the connector's YAML ``options:``
# (besides base_url and credentials): its attendance codes, its behaviour log types, and
# its own notices and progress-report tables.
CONNECTOR_OPTIONS: dict[str, object] = {
    "attendance_codes": ATTENDANCE_CODES,
    "log_types": {name: polarity.value for name, polarity in LOG_TYPES.items()},
    "notices_table": "u_portico_notices",
    "reports_table": "u_portico_reports",
}

# Bases of the bulk tables' numbers (DCID = base + position; ID = DCID + offset).
CC_BASE, ATT_BASE, SCORE_BASE, GRADE_BASE, LOG_BASE, ASSOC_BASE = (
    20_000_000, 100_000_000, 30_000_000, 40_000_000, 50_000_000, 60_000_000,
)  # fmt: skip
ID_OFFSET = 1_000_000_000


def yes(value: bool | None) -> str:
    return "1" if value else "0"


@dataclass(frozen=True)
class Term:
    dcid: str
    id: str
    school_number: str
    name: str
    abbreviation: str
    first: dt.date
    last: dt.date
    year: bool


class PowerSchoolModel:
    """A district's records in PowerSchool's namespaces, and the tables they fill."""

    def __init__(self, district: SyntheticDistrict) -> None:
        if district.style != "us":
            raise ValueError("the PowerSchool simulator serves us-style districts (numeric ids)")
        from simulators.powerschool.rows import ROWS  # the row functions need this class: bound here

        self._rows = ROWS
        self.district = district
        self.zone = ZoneInfo(district.timezone)
        self.timezone = district.timezone
        self.year_start, self.year_end, self.today = district.year_start, district.year_end, district.today
        self.yearid = self.year_start.year - 1990
        roster = district.roster
        n_schools = len(roster.schools)
        self.schools = roster.schools
        dcids = [s.source_id for s in roster.schools]
        self.school_number = {d: dcids[(i + 1) % n_schools] if n_schools > 1 else str(int(d) + 1)
                              for i, d in enumerate(dcids)}  # fmt: skip
        self.school_by_number = {v: k for k, v in self.school_number.items()}
        students = [s.source_id for s in roster.students]
        self.student_id = {d: students[(i + 1) % len(students)] for i, d in enumerate(students)}
        self.student_number = {d: str(300_000 + i) for i, d in enumerate(students)}
        self.student_school = {s.source_id: s.school_id for s in roster.students}
        sections = [s.source_id for s in roster.sections]
        self.section_id = {d: sections[(i + 1) % len(sections)] for i, d in enumerate(sections)}
        self.section = {s.source_id: s for s in roster.sections}
        self.person_of = {c.source_id: c for c in roster.contacts}
        # Terms: each school's year (yearid * 100) and quarters (yearid * 100 + q).
        self.terms: list[Term] = []
        quarters = terms(self.year_start, self.year_end, "us")
        for i, school in enumerate(roster.schools):
            number = self.school_number[school.source_id]
            label = f"{self.year_start.year}-{self.year_start.year + 1}"
            self.terms.append(Term(str(9000 + i * 10), str(self.yearid * 100), number, label, label,
                                   school.year_start_date, school.year_end_date, True))  # fmt: skip
            for q, (name, first, last) in enumerate(quarters, start=1):
                self.terms.append(Term(str(9000 + i * 10 + q), str(self.yearid * 100 + q), number, name, name,
                                       first, last, False))  # fmt: skip
        self.year_term_dcid = {t.school_number: t.dcid for t in self.terms if t.year}
        self.quarter_id = {
            name: str(self.yearid * 100 + q) for q, (name, _, _) in enumerate(quarters, start=1)
        }
        self.quarter = {name: (first, last) for name, first, last in quarters}
        # Grades: terms over by today are stored (STOREDGRADES), the rest are current (PGFINALGRADES).
        self.grade_split = 0
        for _name, _first, last, _start, end in district.grade_terms():
            if last < self.today:
                self.grade_split = end
        # Teachers: one staff member (and user) per school and name.
        self.staff: dict[tuple[str, str], str] = {}
        for s in roster.sections:
            if s.teacher_name:
                self.staff.setdefault((s.school_id, s.teacher_name), str(4000 + len(self.staff)))
        self.courses: dict[str, str] = {}
        for s in roster.sections:
            self.courses.setdefault(s.course_code, s.course_name)
        self.course_dcid = {code: str(7000 + i) for i, code in enumerate(self.courses)}
        self.code_id = {(school.source_id, code): str(50 + i * 10 + k)
                        for i, school in enumerate(roster.schools) for k, (code, _, _) in enumerate(CODES)}  # fmt: skip
        self.period_id = {(school.source_id, name): str(1200 + i * 10 + k)
                          for i, school in enumerate(roster.schools) for k, (name, _, _) in enumerate(PERIODS)}  # fmt: skip
        self.cycle_id = {(school.source_id, letter): str(900 + i * 10 + k)
                         for i, school in enumerate(roster.schools) for k, letter in enumerate(LETTERS)}  # fmt: skip
        self.bell_id = {school.source_id: str(800 + i) for i, school in enumerate(roster.schools)}
        self.calendar_base = {school.source_id: 30_000 + i * 1000 for i, school in enumerate(roster.schools)}
        self.school_days = set(district.school_days)
        # Parents on the student record (the older layout): the first two parental links.
        self.legacy: dict[str, list[tuple[r.StudentContact, r.Contact]]] = {}
        for link in roster.links:
            if link.parental_responsibility and link.relationship in (
                "Mother",
                "Father",
                "Parent",
                "Guardian",
            ):
                found = self.legacy.setdefault(link.student_id, [])
                if len(found) < 2:
                    found.append((link, self.person_of[link.contact_id]))

    # --- the District protocol (what the overlay pages through) -----------------------------

    def count(self, kind: str) -> int:
        return self.district.count(kind)

    def iter(self, kind: str, start: int = 0, stop: int | None = None) -> Iterator[Any]:
        convert = getattr(self, f"_as_{kind}", None)
        records = self.district.iter(kind, start, stop)
        if convert is None:
            return records
        return (convert(rec, i) for i, rec in enumerate(records, start=max(0, start)))

    def _as_student(self, s: r.Student, i: int) -> r.Student:
        return r.Student(
            source_id=s.source_id, school_id=s.school_id, legal_first_name=s.legal_first_name,
            legal_last_name=s.legal_last_name, preferred_first_name=None, preferred_last_name=None,
            date_of_birth=s.date_of_birth, grade_level=s.grade_level, homeroom=s.homeroom,
            enrollment_status=s.enrollment_status, entry_date=s.entry_date,
            # EXITDATE is always set: the day after the last day (the year's end for those on roll).
            exit_date=s.exit_date or self.year_end + dt.timedelta(days=1), email=s.email,
        )  # fmt: skip

    def _as_contact(self, c: r.Contact, i: int) -> r.Contact:
        return r.Contact(source_id=c.source_id, first_name=c.first_name, last_name=c.last_name, title=None,
                         email=c.email, phone=c.phone)  # fmt: skip

    def _as_link(self, k: r.StudentContact, i: int) -> r.StudentContact:
        # No court-order column: the district turns the parent's Data Access off instead.
        return r.StudentContact(
            source_id=str(ASSOC_BASE + i), student_id=k.student_id, contact_id=k.contact_id,
            relationship=k.relationship, parental_responsibility=k.parental_responsibility,
            portal_access=bool(k.portal_access and not k.court_order), lives_with=k.lives_with,
            court_order=None, priority=k.priority,
        )  # fmt: skip

    def _as_enrollment(self, e: r.Enrollment, i: int) -> r.Enrollment:
        return r.Enrollment(source_id=str(CC_BASE + i), section_id=e.section_id, student_id=e.student_id,
                            start_date=e.start_date, end_date=e.end_date)  # fmt: skip

    def _as_timetable(self, t: r.TimetableEntry, i: int) -> r.TimetableEntry:
        letter = LETTERS[t.day - 1]
        return r.TimetableEntry(
            source_id=f"{t.section_id}-{letter}-{t.period}", section_id=t.section_id, student_id=None,
            day=t.day, period=t.period, start_time=t.start_time, end_time=t.end_time, week_pattern="every",
            start_date=self.year_start, end_date=self.year_end,
        )  # fmt: skip

    def _as_attendance(self, a: r.AttendanceMark, i: int) -> r.AttendanceMark:
        return r.AttendanceMark(
            source_id=str(ATT_BASE + i), student_id=a.student_id, date=a.date, session=a.session,
            source_code=a.source_code, category=a.category, minutes_late=None, recorded_at=a.recorded_at,
        )  # fmt: skip

    def _as_assignment(self, a: r.Assignment, i: int) -> r.Assignment:
        return r.Assignment(source_id=a.source_id, section_id=a.section_id, title=a.title, category=None,
                            set_date=None, due_date=a.due_date, points_possible=a.points_possible)  # fmt: skip

    def _as_result(self, a: r.AssignmentResult, i: int) -> r.AssignmentResult:
        return r.AssignmentResult(source_id=str(SCORE_BASE + i), assignment_id=a.assignment_id,
                                  student_id=a.student_id, score=a.score, status=a.status, comment=None)  # fmt: skip

    def _as_grade(self, g: r.Grade, i: int) -> r.Grade:
        # The two grade tables number their rows independently: the same DCID can be in both.
        if i < self.grade_split:
            sid = f"storedgrades:{GRADE_BASE + i}"
        else:
            sid = f"pgfinalgrades:{GRADE_BASE + i - self.grade_split}"
        return r.Grade(source_id=sid, student_id=g.student_id, section_id=g.section_id, term=g.term,
                       mark=g.mark, percent=g.percent, updated_at=g.updated_at)  # fmt: skip

    def _as_behaviour(self, b: r.BehaviourEvent, i: int) -> r.BehaviourEvent:
        local = b.occurred_at.astimezone(self.zone).date()
        return r.BehaviourEvent(
            source_id=str(LOG_BASE + i), student_id=b.student_id,
            occurred_at=dt.datetime.combine(local, dt.time(), self.zone).astimezone(dt.UTC),
            polarity=b.polarity, points=0, category=POLARITY_TYPE[b.polarity], description=b.description,
            staff_name=None,
        )  # fmt: skip

    # --- what the server stamps --------------------------------------------------------------

    def local(self, txn: str) -> dt.datetime:
        """A row's offset-less ``transaction_date`` as the aware UTC instant it means."""
        return dt.datetime.fromisoformat(txn).replace(tzinfo=self.zone).astimezone(dt.UTC)

    def stamped(self, record: Any, txn: str) -> Any:
        """The record as a reader sees it: server-stamped fields taken from the row's stamp."""
        if isinstance(record, r.AttendanceMark):
            return r.AttendanceMark(
                source_id=record.source_id, student_id=record.student_id, date=record.date,
                session=record.session, source_code=record.source_code, category=record.category,
                minutes_late=None, recorded_at=self.local(txn),
            )  # fmt: skip
        if isinstance(record, r.Grade):
            return r.Grade(source_id=record.source_id, student_id=record.student_id, section_id=record.section_id,
                           term=record.term, mark=record.mark, percent=record.percent,
                           updated_at=self.local(txn))  # fmt: skip
        return record

    def note(self, record: Any) -> None:
        """A student or section inserted into the overlay: where it belongs."""
        if isinstance(record, r.Student):
            self.student_school[record.source_id] = record.school_id
        elif isinstance(record, r.Section):
            self.section[record.source_id] = record

    # --- keys ---------------------------------------------------------------------------

    def students_id(self, dcid: str) -> str:
        """STUDENTS.ID of the student with ``dcid`` (another student's DCID, by design)."""
        return self.student_id.get(dcid) or str(int(dcid) + ID_OFFSET)

    def sections_id(self, dcid: str) -> str:
        return self.section_id.get(dcid) or str(int(dcid) + ID_OFFSET)

    def number_of_student(self, dcid: str) -> str:
        return self.school_number.get(self.student_school.get(dcid, ""), "0")

    def number_of_section(self, dcid: str) -> str:
        section = self.section.get(dcid)
        return self.school_number.get(section.school_id, "0") if section else "0"

    def local_text(self, when: dt.datetime) -> str:
        return when.astimezone(self.zone).replace(tzinfo=None).isoformat(sep=" ")

    def row(self, table: str, record: Any, txn: str) -> dict[str, Any]:
        """The record's row in ``table`` (or a named query), stamped ``txn`` (:mod:`.rows`)."""
        return self._rows[table](self, record, txn)
