"""Canonical records: the one model every connector maps its source into.

The cache and the API know only these. Conventions:

* ``source_id`` is the record's key in its source, always a string (leading zeros
  matter); references to other records (``student_id``, ``section_id`` ...) are the
  *source ids* of those records within the same connector.
* ``*_date`` fields are ``datetime.date``; ``*_at`` fields are aware UTC datetimes.
* Records are plain frozen dataclasses so they are cheap to build in bulk and
  serialise with orjson as they are.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar, TypeAlias


class AttendanceCategory(StrEnum):
    """The statistical meaning of a mark (England's categories since 19 August 2024).

    ``late`` is a present mark that arrived late; ``not_required`` is "not counted in
    possible sessions" (the school was closed, the pupil was not required to attend or
    could not attend for an unavoidable cause)."""

    PRESENT = "present"
    LATE = "late"
    APPROVED_EDUCATIONAL_ACTIVITY = "approved_educational_activity"
    AUTHORISED_ABSENCE = "authorised_absence"
    UNAUTHORISED_ABSENCE = "unauthorised_absence"
    NOT_REQUIRED = "not_required"


class EnrollmentStatus(StrEnum):
    ACTIVE = "active"
    PRE_REGISTERED = "pre_registered"
    TRANSFERRED = "transferred"
    GRADUATED = "graduated"
    INACTIVE = "inactive"


class ResultStatus(StrEnum):
    NONE = "none"
    SUBMITTED = "submitted"
    MISSING = "missing"
    LATE = "late"
    EXEMPT = "exempt"
    # OneRoster 1.2 score statuses that say more than the ones above.
    GRADED = "graded"
    PARTIALLY_GRADED = "partially_graded"
    NOT_SUBMITTED = "not_submitted"


class Polarity(StrEnum):
    ACHIEVEMENT = "achievement"
    BEHAVIOUR = "behaviour"


class Audience(StrEnum):
    DISTRICT = "district"
    SCHOOL = "school"
    YEAR = "year"
    SECTION = "section"


@dataclass(frozen=True, slots=True, kw_only=True)
class School:
    kind: ClassVar[str] = "school"
    source_id: str
    name: str
    timezone: str
    year_start_date: dt.date
    year_end_date: dt.date


@dataclass(frozen=True, slots=True, kw_only=True)
class Student:
    kind: ClassVar[str] = "student"
    source_id: str
    school_id: str
    legal_first_name: str
    legal_last_name: str
    preferred_first_name: str | None
    preferred_last_name: str | None
    date_of_birth: dt.date | None  # a SIS may not know it
    grade_level: str
    homeroom: str | None
    enrollment_status: EnrollmentStatus
    entry_date: dt.date | None  # None when the source does not say (a contact list)
    exit_date: dt.date | None
    email: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Contact:
    kind: ClassVar[str] = "contact"
    source_id: str
    first_name: str
    last_name: str
    title: str | None
    email: str | None
    phone: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class StudentContact:
    """The link between a student and a contact; access is decided from it.

    The flags say what the source records (None: the source has no such field). When
    the district's written access rule decided (``connectors.rules``), ``entitled`` holds
    its decision and ``access_rule`` the rule that made it; otherwise access is
    parental responsibility and portal access allowed, without a court order."""

    kind: ClassVar[str] = "link"
    source_id: str
    student_id: str
    contact_id: str
    relationship: str
    parental_responsibility: bool | None
    portal_access: bool | None
    lives_with: bool | None
    court_order: bool | None
    priority: int | None
    entitled: bool | None = None
    access_rule: str | None = None

    @property
    def grants_access(self) -> bool:
        if self.entitled is not None:
            return self.entitled
        return bool(self.parental_responsibility and self.portal_access and not self.court_order)


@dataclass(frozen=True, slots=True, kw_only=True)
class Section:
    kind: ClassVar[str] = "section"
    source_id: str
    school_id: str
    course_name: str
    course_code: str
    teacher_name: str | None
    room: str | None
    term: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Enrollment:
    """A student's membership of a section (class)."""

    kind: ClassVar[str] = "enrollment"
    source_id: str
    section_id: str
    student_id: str
    start_date: dt.date | None
    end_date: dt.date | None


@dataclass(frozen=True, slots=True, kw_only=True)
class TimetableEntry:
    """A recurring lesson of a section (or of one student when ``student_id`` is set).

    ``day`` is the ISO weekday (1 = Monday); ``week_pattern`` is ``every`` or a
    week letter (``A``/``B``) for fortnightly timetables.
    """

    kind: ClassVar[str] = "timetable"
    source_id: str
    section_id: str
    student_id: str | None
    day: int
    period: str
    start_time: dt.time
    end_time: dt.time
    week_pattern: str
    start_date: dt.date | None
    end_date: dt.date | None


@dataclass(frozen=True, slots=True, kw_only=True)
class AttendanceMark:
    kind: ClassVar[str] = "attendance"
    source_id: str
    student_id: str
    date: dt.date
    session: str  # "AM"/"PM", a period name, or "day"
    source_code: str
    category: AttendanceCategory
    minutes_late: int | None
    recorded_at: dt.datetime
    meaning: str | None = None  # what the code means, for families (e.g. "Educational visit or trip")
    note: str | None = None  # e.g. a code no longer in use, accepted on a record from before


@dataclass(frozen=True, slots=True, kw_only=True)
class Assignment:
    kind: ClassVar[str] = "assignment"
    source_id: str
    section_id: str
    title: str
    category: str | None
    set_date: dt.date | None
    due_date: dt.date
    points_possible: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class AssignmentResult:
    kind: ClassVar[str] = "result"
    source_id: str
    assignment_id: str
    student_id: str
    score: float | None
    status: ResultStatus
    comment: str | None
    text_score: str | None = None  # a mark that is not a number ("B", "Merit")
    source_status: str | None = None  # the source's own status word, when it has more than ``status``


@dataclass(frozen=True, slots=True, kw_only=True)
class Grade:
    kind: ClassVar[str] = "grade"
    source_id: str
    student_id: str
    section_id: str
    term: str
    mark: str | None
    percent: float | None
    updated_at: dt.datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class BehaviourEvent:
    kind: ClassVar[str] = "behaviour"
    source_id: str
    student_id: str
    occurred_at: dt.datetime
    polarity: Polarity
    points: int
    category: str
    description: str | None
    staff_name: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Notice:
    """A school notice. ``school_id`` is set for school/year audiences,
    ``year_group`` for year audiences, ``section_id`` for section audiences."""

    kind: ClassVar[str] = "notice"
    source_id: str
    audience: Audience
    school_id: str | None
    year_group: str | None
    section_id: str | None
    title: str
    body: str
    publish_from: dt.datetime
    publish_to: dt.datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ProgressReport:
    kind: ClassVar[str] = "report"
    source_id: str
    student_id: str
    title: str
    period: str
    issued_date: dt.date
    comments: str | None


Record: TypeAlias = (
    School
    | Student
    | Contact
    | StudentContact
    | Section
    | Enrollment
    | TimetableEntry
    | AttendanceMark
    | Assignment
    | AssignmentResult
    | Grade
    | BehaviourEvent
    | Notice
    | ProgressReport
)

RECORD_TYPES: dict[str, type] = {
    cls.kind: cls
    for cls in (
        School,
        Student,
        Contact,
        StudentContact,
        Section,
        Enrollment,
        TimetableEntry,
        AttendanceMark,
        Assignment,
        AssignmentResult,
        Grade,
        BehaviourEvent,
        Notice,
        ProgressReport,
    )
}
