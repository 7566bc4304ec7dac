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
from collections.abc import Callable, Iterator
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


def yes(value: bool) -> str:
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
            portal_access=k.portal_access and not k.court_order, lives_with=k.lives_with,
            court_order=False, priority=k.priority,
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

    # --- rows of the record-backed tables ---------------------------------------------------

    def row(self, table: str, record: Any, txn: str) -> dict[str, Any]:
        return ROWS[table](self, record, txn)

    def _students(self, s: r.Student, txn: str) -> dict[str, Any]:
        grade = s.grade_level
        number = GRADE_NUMBERS.get(grade, grade)
        row: dict[str, Any] = {
            "dcid": s.source_id, "id": self.students_id(s.source_id),
            "student_number": self.student_number.get(s.source_id, str(int(s.source_id) + 7_000_000)),
            "first_name": s.legal_first_name, "last_name": s.legal_last_name,
            "lastfirst": f"{s.legal_last_name}, {s.legal_first_name}", "grade_level": str(number),
            "schoolid": self.school_number.get(s.school_id, "0"),
            "enroll_status": str(STATUS_CODES[s.enrollment_status]), "entrydate": s.entry_date.isoformat(),
            "exitdate": (s.exit_date or self.year_end + dt.timedelta(days=1)).isoformat(),
            "person_id": str(int(s.source_id) + 8_000_000), "transaction_date": txn,
        }  # fmt: skip
        if s.date_of_birth is not None:
            row["dob"] = s.date_of_birth.isoformat()
        if s.homeroom:
            row["home_room"] = s.homeroom
        parents = self.legacy.get(s.source_id, [])
        roles: dict[str, r.Contact] = {}
        for link, person in parents:
            role = "father" if link.relationship == "Father" else "mother"
            if role in roles:
                role = "mother" if role == "father" else "father"
            roles[role] = person
        emails = []
        for role in ("mother", "father"):
            named = roles.get(role)
            if named is not None:
                row[role] = f"{named.last_name}, {named.first_name}"
                if named.email:
                    emails.append(named.email)
        if emails:
            row["guardianemail"] = ",".join(emails)
        if parents:
            row["home_phone"] = parents[0][1].phone or ""
            row["allowwebaccess"] = yes(
                any(link.portal_access and not link.court_order for link, _ in parents)
            )
        return row

    def _sections(self, s: r.Section, txn: str) -> dict[str, Any]:
        row = {
            "dcid": s.source_id, "id": self.sections_id(s.source_id),
            "schoolid": self.school_number.get(s.school_id, "0"), "course_number": s.course_code,
            "section_number": "1", "termid": str(self.yearid * 100), "expression": "1(A-E)",
            "external_expression": "1(M-F)", "gradebooktype": "2", "transaction_date": txn,
        }  # fmt: skip
        staff = self.staff.get((s.school_id, s.teacher_name or ""))
        if staff:
            row["teacher"] = staff
        if s.room:
            row["room"] = s.room
        return row

    def _cc(self, e: r.Enrollment, txn: str) -> dict[str, Any]:
        dcid = int(e.source_id)
        section = self.sections_id(e.section_id)
        term = str(self.yearid * 100)
        if e.end_date is not None and e.end_date < self.today:
            section, term = f"-{section}", f"-{term}"  # dropped: PowerSchool negates both
        row = {
            "dcid": str(dcid), "id": str(dcid + ID_OFFSET), "studentid": self.students_id(e.student_id),
            "sectionid": section, "termid": term, "schoolid": self.number_of_section(e.section_id),
            "course_number": self.section[e.section_id].course_code if e.section_id in self.section else "",
            "section_number": "1", "transaction_date": txn,
        }  # fmt: skip
        if e.start_date:
            row["dateenrolled"] = e.start_date.isoformat()
        if e.end_date:
            row["dateleft"] = e.end_date.isoformat()
        return row

    def _section_meeting(self, t: r.TimetableEntry, txn: str) -> dict[str, Any]:
        return {
            "sectionid": self.sections_id(t.section_id), "schoolid": self.number_of_section(t.section_id),
            "year_id": str(self.yearid), "period_number": t.period, "cycle_day_letter": LETTERS[t.day - 1],
        }  # fmt: skip

    def _attendance(self, a: r.AttendanceMark, txn: str) -> dict[str, Any]:
        dcid = int(a.source_id)
        school = self.student_school.get(a.student_id, "")
        return {
            "dcid": a.source_id, "id": str(dcid + ID_OFFSET), "studentid": self.students_id(a.student_id),
            "schoolid": self.school_number.get(school, "0"), "yearid": str(self.yearid),
            "att_date": a.date.isoformat(), "att_mode_code": "ATT_ModeDaily",
            "attendance_codeid": self.code_id.get((school, a.source_code), "0"), "ccid": "0", "periodid": "0",
            "calendar_dayid": str(self.calendar_base.get(school, 0) + (a.date - self.year_start).days),
            "transaction_date": txn,
        }  # fmt: skip

    def _assignmentsection(self, a: r.Assignment, txn: str) -> dict[str, Any]:
        row = {
            "assignmentsectionid": a.source_id, "assignmentid": str(int(a.source_id) + ID_OFFSET),
            "sectionsdcid": a.section_id, "name": a.title, "duedate": a.due_date.isoformat(),
            "scoretype": "POINTS", "isscorespublish": "1", "publishoption": "Immediately",
            "iscountedinfinalgrade": "1", "yearid": str(self.yearid), "whencreated": txn, "whenmodified": txn,
        }  # fmt: skip
        if a.points_possible is not None:
            row["totalpointvalue"] = repr(a.points_possible)
        return row

    def _assignmentscore(self, a: r.AssignmentResult, txn: str) -> dict[str, Any]:
        s = a.status
        row = {
            "assignmentscoreid": a.source_id, "assignmentsectionid": a.assignment_id,
            "studentsdcid": a.student_id, "islate": yes(s is r.ResultStatus.LATE),
            "ismissing": yes(s is r.ResultStatus.MISSING), "isexempt": yes(s is r.ResultStatus.EXEMPT),
            "isincomplete": "0", "isabsent": "0",
            "iscollected": yes(s in (r.ResultStatus.SUBMITTED, r.ResultStatus.LATE)),
            "whencreated": txn, "whenmodified": txn,
        }  # fmt: skip
        if a.score is not None:
            row["scorepoints"] = repr(a.score)
            row["actualscoreentered"] = repr(a.score)
        elif s is r.ResultStatus.EXEMPT:
            row["actualscoreentered"] = "EX"
        return row

    def _grade_row(self, g: r.Grade, txn: str) -> dict[str, Any]:
        table, _, dcid = g.source_id.partition(":")
        row: dict[str, Any] = {
            "dcid": dcid, "studentid": self.students_id(g.student_id), "sectionid": self.sections_id(g.section_id),
            "transaction_date": txn,
        }  # fmt: skip
        first, last = self.quarter.get(g.term, (self.year_start, self.year_end))
        if table == "storedgrades":
            row.update(termid=self.quarter_id.get(g.term, "0"), schoolid=self.number_of_section(g.section_id),
                       storecode=g.term, datestored=last.isoformat())  # fmt: skip
            section = self.section.get(g.section_id)
            if section:
                row.update(course_number=section.course_code, course_name=section.course_name)
        else:
            row.update(id=dcid, finalgradename=g.term, startdate=first.isoformat(), enddate=last.isoformat(),
                       lastgradeupdate=min(last, self.today).isoformat(), gradebooktype="2")  # fmt: skip
        row["grade"] = g.mark if g.mark is not None else "--"
        if g.percent is not None:
            row["percent"] = repr(g.percent)
        return row

    def _log(self, b: r.BehaviourEvent, txn: str) -> dict[str, Any]:
        dcid = int(b.source_id)
        row = {
            "dcid": b.source_id, "id": str(dcid + ID_OFFSET), "studentid": self.students_id(b.student_id),
            "schoolid": self.number_of_student(b.student_id), "logtypeid": LOG_TYPE_IDS[POLARITY_TYPE[b.polarity]],
            "entry_date": b.occurred_at.astimezone(self.zone).date().isoformat(),
        }  # fmt: skip
        if b.description:
            row["entry"] = b.description
        return row

    def _notices(self, x: r.Notice, txn: str) -> dict[str, Any]:
        row: dict[str, Any] = {"id": x.source_id, "audience": x.audience.value, "title": x.title, "body": x.body,
                               "publish_from": self.local_text(x.publish_from)}  # fmt: skip
        if x.school_id:
            row["schoolid"] = self.school_number.get(x.school_id, "0")
        if x.year_group:
            row["grade_level"] = str(GRADE_NUMBERS.get(x.year_group, x.year_group))
        if x.section_id:
            row["sectionsdcid"] = x.section_id
        if x.publish_to:
            row["publish_to"] = self.local_text(x.publish_to)
        return row

    def _reports(self, p: r.ProgressReport, txn: str) -> dict[str, Any]:
        row = {"id": p.source_id, "studentsdcid": p.student_id, "title": p.title, "period": p.period,
               "issued_date": p.issued_date.isoformat()}  # fmt: skip
        if p.comments:
            row["comments"] = p.comments
        return row

    # --- the queries the Portico plugin installs ----------------------------------------------

    def _q_persons(self, c: r.Contact, txn: str) -> dict[str, Any]:
        row = {"person_id": c.source_id, "contact_first_name": c.first_name, "contact_last_name": c.last_name}
        if c.email:
            row["contact_email"] = c.email
        if c.phone:
            row["contact_phonenumber"] = c.phone
        return row

    def _q_links(self, k: r.StudentContact, txn: str) -> dict[str, Any]:
        return {
            "studentcontactassocid": k.source_id, "student_dcid": k.student_id, "person_id": k.contact_id,
            "contactpriorityorder": str(k.priority), "relationship": k.relationship,
            "iscustodial": yes(k.parental_responsibility), "liveswithflg": yes(k.lives_with),
            "person_isactive": "1", "has_data_access": yes(k.portal_access),
        }  # fmt: skip

    def _q_emails(self, s: r.Student, txn: str) -> dict[str, Any]:
        return {"student_dcid": s.source_id, "student_email": s.email or ""}

    # --- tables not backed by records (built once) ------------------------------------------------

    def static(self, table: str) -> list[dict[str, Any]]:
        return STATIC[table](self)

    def _t_schools(self) -> list[dict[str, Any]]:
        return [
            {"dcid": s.source_id, "id": str(i + 3), "school_number": self.school_number[s.source_id], "name": s.name,
             "abbreviation": "".join(w[0] for w in s.name.split()), "low_grade": "0", "high_grade": "12"}
            for i, s in enumerate(self.schools)
        ]  # fmt: skip

    def _t_terms(self) -> list[dict[str, Any]]:
        return [
            {"dcid": t.dcid, "id": t.id, "yearid": str(self.yearid), "schoolid": t.school_number, "name": t.name,
             "abbreviation": t.abbreviation, "firstday": t.first.isoformat(), "lastday": t.last.isoformat(),
             "isyearrec": yes(t.year), "portion": "1" if t.year else "4"}
            for t in self.terms
        ]  # fmt: skip

    def _t_courses(self) -> list[dict[str, Any]]:
        return [{"dcid": self.course_dcid[code], "id": str(int(self.course_dcid[code]) - 1000), "course_number": code,
                 "course_name": name, "credit_hours": "1"} for code, name in self.courses.items()]  # fmt: skip

    def _t_schoolstaff(self) -> list[dict[str, Any]]:
        return [{"id": sid, "dcid": str(int(sid) + 500), "users_dcid": str(int(sid) + 1000),
                 "schoolid": self.school_number[school]} for (school, _), sid in self.staff.items()]  # fmt: skip

    def _t_users(self) -> list[dict[str, Any]]:
        out = []
        for (_, name), sid in self.staff.items():
            title, _, last = name.partition(" ")
            out.append({"dcid": str(int(sid) + 1000), "first_name": title, "last_name": last,
                        "lastfirst": f"{last}, {title}"})  # fmt: skip
        return out

    def _t_attendance_code(self) -> list[dict[str, Any]]:
        out = []
        for school in self.schools:
            for k, (code, description, presence) in enumerate(CODES):
                cid = self.code_id[(school.source_id, code)]
                row = {"id": cid, "dcid": str(int(cid) + 100), "schoolid": self.school_number[school.source_id],
                       "yearid": str(self.yearid), "description": description, "presence_status_cd": presence,
                       "sortorder": str(k + 1)}  # fmt: skip
                if code:
                    row["att_code"] = code
                out.append(row)
        return out

    def _t_period(self) -> list[dict[str, Any]]:
        return [
            {"id": self.period_id[(s.source_id, name)], "dcid": str(int(self.period_id[(s.source_id, name)]) + 100),
             "schoolid": self.school_number[s.source_id], "year_id": str(self.yearid), "period_number": name,
             "abbreviation": name, "name": f"Period {name}", "sort_order": str(k + 1)}
            for s in self.schools for k, (name, _, _) in enumerate(PERIODS)
        ]  # fmt: skip

    def _t_cycle_day(self) -> list[dict[str, Any]]:
        return [
            {"id": self.cycle_id[(s.source_id, letter)], "dcid": str(int(self.cycle_id[(s.source_id, letter)]) + 50),
             "schoolid": self.school_number[s.source_id], "year_id": str(self.yearid), "letter": letter,
             "abbreviation": letter, "day_name": f"{letter} Day", "day_number": str(k + 1)}
            for s in self.schools for k, letter in enumerate(LETTERS)
        ]  # fmt: skip

    def _t_calendar_day(self) -> list[dict[str, Any]]:
        out = []
        for s in self.schools:
            day = self.year_start
            while day <= self.year_end:
                session = day in self.school_days
                row = {"id": str(self.calendar_base[s.source_id] + (day - self.year_start).days),
                       "schoolid": self.school_number[s.source_id], "date_value": day.isoformat(),
                       "insession": yes(session), "membershipvalue": yes(session)}  # fmt: skip
                if session:
                    row["cycle_day_id"] = self.cycle_id[(s.source_id, LETTERS[day.weekday()])]
                    row["bell_schedule_id"] = self.bell_id[s.source_id]
                    row["type"] = "In Session"
                else:
                    row["cycle_day_id"], row["bell_schedule_id"] = "0", "0"
                out.append(row)
                day += dt.timedelta(days=1)
        return out

    def _t_bell_schedule_items(self) -> list[dict[str, Any]]:
        def seconds(t: dt.time) -> str:
            return str(t.hour * 3600 + t.minute * 60)

        return [
            {"id": str(1600 + i * 10 + k), "bell_schedule_id": self.bell_id[s.source_id],
             "period_id": self.period_id[(s.source_id, name)], "start_time": seconds(start),
             "end_time": seconds(end), "minutes_attended": "50"}
            for i, s in enumerate(self.schools) for k, (name, start, end) in enumerate(PERIODS)
        ]  # fmt: skip

    def _t_gen(self) -> list[dict[str, Any]]:
        return [{"id": gid, "dcid": gid, "cat": "logtype", "name": name, "sortorder": str(k + 1)}
                for k, (name, gid) in enumerate(LOG_TYPE_IDS.items())]  # fmt: skip


ROWS: dict[str, Callable[[PowerSchoolModel, Any, str], dict[str, Any]]] = {
    "students": PowerSchoolModel._students,
    "sections": PowerSchoolModel._sections,
    "cc": PowerSchoolModel._cc,
    "section_meeting": PowerSchoolModel._section_meeting,
    "attendance": PowerSchoolModel._attendance,
    "assignmentsection": PowerSchoolModel._assignmentsection,
    "assignmentscore": PowerSchoolModel._assignmentscore,
    "storedgrades": PowerSchoolModel._grade_row,
    "pgfinalgrades": PowerSchoolModel._grade_row,
    "log": PowerSchoolModel._log,
    "u_portico_notices": PowerSchoolModel._notices,
    "u_portico_reports": PowerSchoolModel._reports,
    "com.portico.sis.contacts.persons": PowerSchoolModel._q_persons,
    "com.portico.sis.contacts.student_contacts": PowerSchoolModel._q_links,
    "com.portico.sis.students.emails": PowerSchoolModel._q_emails,
}
STATIC: dict[str, Callable[[PowerSchoolModel], list[dict[str, Any]]]] = {
    "schools": PowerSchoolModel._t_schools,
    "terms": PowerSchoolModel._t_terms,
    "courses": PowerSchoolModel._t_courses,
    "schoolstaff": PowerSchoolModel._t_schoolstaff,
    "users": PowerSchoolModel._t_users,
    "attendance_code": PowerSchoolModel._t_attendance_code,
    "period": PowerSchoolModel._t_period,
    "cycle_day": PowerSchoolModel._t_cycle_day,
    "calendar_day": PowerSchoolModel._t_calendar_day,
    "bell_schedule_items": PowerSchoolModel._t_bell_schedule_items,
    "gen": PowerSchoolModel._t_gen,
}
